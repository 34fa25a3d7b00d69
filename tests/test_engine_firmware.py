"""Firmware and self-lock (contract v1.1 §F): UNAPPROVED_FIRMWARE on an update to a build
the register does not approve for the nozzle's model (critical for a known cheat hash),
SELF_LOCK_CLEARED on an unlock with no verification within 2 h, and dispensings
between a self-lock and its unlock as UNVERIFIED_USE — in any arrival order, resends
included, and with nothing said where there is no register to compare against."""

from __future__ import annotations

import random
from typing import Any

import msgspec
from factory import T0, City, flush_after, rules_of, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import natural_key, shuffled_within

from anxin.contract.parse import Parsed, parse_line
from anxin.contract.registry import Registry, RegistryError, parse_registry
from anxin.contract.times import US_PER_H, US_PER_MIN, parse_ts
from anxin.engine.firmware import firmware_finding

MODEL = "TQ-2200"
APPROVED = "a" * 64
REVOKED = "b" * 64
CHEAT = "c" * 64
FIRMWARE = [
    {"dispenser_model": MODEL, "version": "2.4.0", "sha256": APPROVED, "status": "approved"},
    {"dispenser_model": MODEL, "version": "2.3.9", "sha256": REVOKED, "status": "revoked"},
    {"dispenser_model": MODEL, "version": "2.4.0", "sha256": CHEAT, "status": "known_cheat"},
]


def reg_dict(city: City, *, firmware: list | None = FIRMWARE, model: str | None = MODEL) -> dict[str, Any]:
    doc = city.registry_dict()
    if firmware is not None:
        doc["firmware"] = firmware
    if model is not None:
        for n in doc["nozzles"]:
            n["dispenser_model"] = model
    return doc


def registry(city: City, **kw: Any) -> Registry:
    return parse_registry(msgspec.json.encode(reg_dict(city, **kw)))


def finish(city: City, recs: list[dict], hours: float = 6) -> list[dict]:
    last = max(parse_ts(r.get("end") or r["ts"]) for r in recs)
    return recs + flush_after(city, "S1-N2", last, hours)


def update(city: City, t: int, version: Any = "2.4.0", sha: Any = APPROVED, nozzle: str = "S1-N1") -> dict:
    return city.event(nozzle, t, "firmware_update", {"version": version, "sha256": sha})


def alarms(book, rule: str) -> list:
    return [a for a in book.alarms.values() if a.rule == rule]


# ------------------------------------------------------------------ UNAPPROVED_FIRMWARE
def test_an_authorised_update_to_an_approved_build_raises_nothing() -> None:
    city = City()
    recs = [update(city, T0), city.verification("S1-N1", T0 + 30 * US_PER_MIN)]
    assert rules_of(run(registry(city), finish(city, recs))) == []


def test_an_authorised_update_to_a_revoked_version_is_unapproved_firmware_major() -> None:
    city = City()
    ev = update(city, T0, "2.3.9", REVOKED)
    book = run(registry(city), finish(city, [ev, city.verification("S1-N1", T0 + 30 * US_PER_MIN)]))
    assert rules_of(book) == [("UNAPPROVED_FIRMWARE", "S1-N1", ev["seq"], None)]  # authorised: no breach
    (a,) = alarms(book, "UNAPPROVED_FIRMWARE")
    assert (a.severity, a.ts, a.evidence["finding"]) == ("major", ev["ts"], "revoked")
    assert a.evidence["listed"]["status"] == "revoked" and a.evidence["dispenser_model"] == MODEL
    assert "revoked for model TQ-2200" in a.message


def test_a_known_cheat_hash_is_critical_and_an_unauthorised_update_is_a_seal_breach_too() -> None:
    city = City()
    ev = update(city, T0, "2.4.0", CHEAT.upper())  # the hash compared without regard to case
    book = run(registry(city), finish(city, [ev]))
    assert [r[0] for r in rules_of(book)] == ["SEAL_BREACH", "UNAPPROVED_FIRMWARE"]
    (a,) = alarms(book, "UNAPPROVED_FIRMWARE")
    assert (a.severity, a.evidence["finding"]) == ("critical", "known_cheat")


def test_every_way_of_not_being_the_approved_build() -> None:
    city = City()
    reg = registry(city)
    cases = [
        (("2.4.0", APPROVED), None),
        (("2.4.0", "d" * 64), "hash_mismatch"),  # a relabelled build
        (("2.4.1", APPROVED), "hash_mismatch"),  # the approved build under another label
        (("9.9.9", "d" * 64), "not_listed"),
        (("2.3.9", "d" * 64), "revoked"),
        ((None, APPROVED), "no_version"),
        ((12, APPROVED), "no_version"),
        (("2.4.0", None), "no_sha256"),
        (("2.4.0", "not-a-hash"), "no_sha256"),
        (("2.4.0", ["x"]), "no_sha256"),
    ]
    for (version, sha), want in cases:
        got = firmware_finding(reg, MODEL, {"version": version, "sha256": sha})
        assert (got[0] if got else None) == want, (version, sha)
    assert firmware_finding(reg, MODEL, None)[0] == "no_version"  # type: ignore[index]
    assert firmware_finding(reg, MODEL, "junk")[0] == "no_version"  # type: ignore[index]


def test_no_register_no_accusation_but_a_known_cheat_hash_is_one() -> None:
    """A nozzle with no model, or a model the register lists nothing for, is judged by
    nothing — except a hash listed as a known cheat program, of any model."""
    for kw in ({"firmware": None}, {"model": None}, {"model": "OTHER-MODEL"}):
        city = City()
        recs = [update(city, T0, "9.9.9", "d" * 64), city.verification("S1-N1", T0 + 30 * US_PER_MIN)]
        assert rules_of(run(registry(city, **kw), finish(city, recs))) == [], kw
    for kw in ({"model": None}, {"model": "OTHER-MODEL"}):
        city = City()
        ev = update(city, T0, "2.4.0", CHEAT)
        recs = [ev, city.verification("S1-N1", T0 + 30 * US_PER_MIN)]
        book = run(registry(city, **kw), finish(city, recs))
        assert [(a.rule, a.severity) for a in book.alarms.values()] == [("UNAPPROVED_FIRMWARE", "critical")]


def test_hostile_update_data_is_accepted_named_and_bounded() -> None:
    """A module sending absurd or missing data is not a reject (that would hide its seal
    breach): the update is judged, and the message quotes at most 64 characters of it."""
    city = City()
    evs = [
        city.event("S1-N1", T0, "firmware_update", {}),
        city.event("S1-N1", T0 + US_PER_MIN, "firmware_update", {"version": "x" * 5000, "sha256": 7}),
        city.event("S1-N1", T0 + 2 * US_PER_MIN, "firmware_update", {"version": True, "sha256": None}),
        city.event("S1-N1", T0 + 3 * US_PER_MIN, "firmware_update", {"version": "\u202e2.4.0", "sha256": APPROVED}),
    ]
    for e in evs:
        assert isinstance(parse_line(msgspec.json.encode(e)), Parsed)
    book = run(registry(city), finish(city, [*evs, city.verification("S1-N1", T0 + 30 * US_PER_MIN)]))
    got = sorted((a.seq, a.evidence["finding"]) for a in alarms(book, "UNAPPROVED_FIRMWARE"))
    seqs = [e["seq"] for e in evs]
    assert got == [(seqs[0], "no_version"), (seqs[1], "no_sha256"), (seqs[2], "no_version"), (seqs[3], "hash_mismatch")]
    assert all(len(a.message) < 300 for a in book.alarms.values())
    assert rules_of(run(registry(city, firmware=None), finish(city, [*evs]))).count(("SEAL_BREACH",)) == 0


def test_the_register_says_one_thing_of_each_build() -> None:
    city = City()
    bad = [
        FIRMWARE + [{"dispenser_model": MODEL, "version": "2.4.2", "sha256": APPROVED, "status": "approved"}],
        FIRMWARE + [{"dispenser_model": MODEL, "version": "2.4.0", "sha256": "e" * 64, "status": "approved"}],
        FIRMWARE + [{"dispenser_model": "X", "version": "1", "sha256": CHEAT, "status": "approved"}],
        [{"dispenser_model": MODEL, "version": "1", "sha256": "abc", "status": "approved"}],
        [{"dispenser_model": MODEL, "version": "1", "sha256": APPROVED, "status": "trusted"}],
    ]
    for fw in bad:
        try:
            registry(city, firmware=fw)
        except RegistryError as exc:
            assert "firmware" in str(exc), exc
        else:
            raise AssertionError(fw)


# ------------------------------------------------------------------ self-lock
def _locked_day(city: City, *, authorised: bool, unlock: bool = True) -> tuple[list[dict], dict, dict | None, list]:
    lock = city.event("S1-N1", T0, "self_lock", {"reason": "连续超差"})
    recs = [lock]
    inside = []
    for i in range(2):  # dispensings while locked (a bypassed lock)
        m = city.metering("S1-N1", T0 + (10 + 10 * i) * US_PER_MIN, 20_000)
        inside.append(m)
        recs += [m, city.sale(m)]
    un = None
    if unlock:
        un = city.event("S1-N1", T0 + 40 * US_PER_MIN, "unlock")
        recs.append(un)
        if authorised:
            recs.append(city.verification("S1-N1", T0 + 60 * US_PER_MIN))
        m = city.metering("S1-N1", T0 + 3 * US_PER_H, 20_000)  # after the unlock: in use again
        recs += [m, city.sale(m)]
    return recs, lock, un, inside


def test_dispensings_between_a_self_lock_and_its_authorised_unlock_are_unverified_use() -> None:
    city = City()
    recs, lock, _, inside = _locked_day(city, authorised=True)
    book = run(registry(city), finish(city, recs))
    assert rules_of(book) == [("UNVERIFIED_USE", "S1-N1", inside[0]["seq"], None)]  # once per day
    (a,) = book.alarms.values()
    assert a.evidence["reason"] == f"dispenser self-locked (seq {lock['seq']}), not unlocked"


def test_an_unauthorised_unlock_is_self_lock_cleared_with_its_lock_as_evidence() -> None:
    city = City()
    recs, lock, un, inside = _locked_day(city, authorised=False)
    book = run(registry(city), finish(city, recs))
    assert un is not None
    assert rules_of(book) == [
        ("SELF_LOCK_CLEARED", "S1-N1", un["seq"], None),
        ("UNVERIFIED_USE", "S1-N1", inside[0]["seq"], None),
    ]
    (a,) = alarms(book, "SELF_LOCK_CLEARED")
    assert a.severity == "critical" and a.ts == un["ts"]
    assert a.evidence["self_lock"] == {"seq": lock["seq"], "ts": lock["ts"], "reason": "连续超差"}


def test_a_second_unlock_clears_no_lock_and_says_so() -> None:
    city = City()
    recs, lock, un, _ = _locked_day(city, authorised=False)
    again = city.event("S1-N1", T0 + 4 * US_PER_H, "unlock")
    book = run(registry(city), finish(city, [*recs, again]))
    got = {a.seq: a.evidence.get("self_lock") for a in alarms(book, "SELF_LOCK_CLEARED")}
    assert un is not None and got[un["seq"]]["seq"] == lock["seq"] and got[again["seq"]] is None


def test_a_lock_never_unlocked_makes_every_later_day_unverified() -> None:
    city = City()
    recs, _, _, inside = _locked_day(city, authorised=False, unlock=False)
    m = city.metering("S1-N1", T0 + 26 * US_PER_H, 20_000)
    book = run(registry(city), finish(city, [*recs, m, city.sale(m)]))
    assert rules_of(book) == [
        ("UNVERIFIED_USE", "S1-N1", inside[0]["seq"], None),
        ("UNVERIFIED_USE", "S1-N1", m["seq"], None),
    ]


def test_self_lock_rules_need_no_firmware_register() -> None:
    city = City()
    recs, _, un, _ = _locked_day(city, authorised=False)
    assert un is not None
    got = {r[0] for r in rules_of(run(registry(city, firmware=None, model=None), finish(city, recs)))}
    assert got == {"SELF_LOCK_CLEARED", "UNVERIFIED_USE"}


# ------------------------------------------------------------------ order and resends
def _mixed(seed: int) -> tuple[City, list[dict]]:
    """A day with every §F case on three nozzles, honest sales between, in event time."""
    rnd = random.Random(seed)
    city = City()
    recs: list[dict] = []
    t = T0
    for nozzle in ("S1-N1", "S1-N2", "S1-N3"):
        choice = rnd.randrange(4)
        if choice == 0:
            recs.append(update(city, t, "2.3.9", REVOKED, nozzle=nozzle))
            recs.append(city.verification(nozzle, t + 20 * US_PER_MIN))
        elif choice == 1:
            recs.append(update(city, t, "2.4.0", CHEAT, nozzle=nozzle))
        else:
            recs.append(city.event(nozzle, t, "self_lock", {"reason": "r"}))
            m = city.metering(nozzle, t + 5 * US_PER_MIN, 15_000)
            recs += [m, city.sale(m), city.event(nozzle, t + 15 * US_PER_MIN, "unlock")]
            if choice == 2:
                recs.append(city.verification(nozzle, t + 30 * US_PER_MIN))
        for i in range(3):
            m = city.metering(nozzle, t + (40 + 7 * i) * US_PER_MIN, 10_000 + 1000 * i)
            recs += [m, city.sale(m)]
        t += rnd.randint(5, 50) * US_PER_MIN
    recs.sort(key=lambda r: parse_ts(r.get("end") or r["ts"]))
    return city, finish(city, recs)


def _fingerprint(book) -> list[tuple]:
    return sorted((a.alarm_id, a.rule, a.severity, a.seq, a.ts, a.message) for a in book.alarms.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), shuffle=st.integers(0, 10_000), resend=st.integers(0, 10_000))
def test_any_arrival_order_within_the_horizon_and_any_resends_give_the_same_alarms(
    seed: int, shuffle: int, resend: int
) -> None:
    city, recs = _mixed(seed)
    reg = registry(city)
    base = _fingerprint(run(reg, recs))
    assert {r[1] for r in base} & {"UNAPPROVED_FIRMWARE", "UNVERIFIED_USE", "SELF_LOCK_CLEARED"}
    moved = shuffled_within(recs, random.Random(shuffle), 20 * US_PER_MIN)
    rnd = random.Random(resend)
    again = [r for r in moved for _ in range(2 if rnd.random() < 0.3 else 1)]  # identical resends
    assert _fingerprint(run(reg, again)) == base
    assert len({natural_key(r) for r in again}) == len({natural_key(r) for r in recs})
