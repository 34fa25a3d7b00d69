"""One test per record-level rule of contract section 5: the rule fires on the
fault, names the record, and nothing else fires."""

from __future__ import annotations

import copy

from factory import PRICE, T0, City, K, flush_after, rules_of, run

from anxin.contract.times import US_PER_H, US_PER_MIN, parse_ts


def honest(city: City, nozzle: str = "S1-N1", n: int = 5) -> list[dict]:
    return city.honest_day(nozzle, T0, n)


def finish(city: City, recs: list[dict], hours: float = 5) -> list[dict]:
    last = max(parse_ts(r.get("end") or r.get("ts")) for r in recs)
    return recs + flush_after(city, "S1-N2", last, hours)


def only(book, rule: str) -> list:
    assert {a.rule for a in book.alarms.values()} == {rule}, rules_of(book)
    return [a for a in book.alarms.values() if a.rule == rule]


def test_honest_records_raise_nothing():
    city = City()
    recs = honest(city) + honest(city, "S1-N2") + city.honest_day("S1-N3", T0, 5, legacy=True)
    recs.sort(key=lambda r: r.get("end") or r.get("ts"))
    assert rules_of(run(city.registry(), finish(city, recs))) == []


def test_volume_mismatch_names_the_order():
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    s = city.sale(m, volume_ml=30_600)
    s["amount_fen"] = (30_600 * PRICE + 500) // 1000
    (a,) = only(run(city.registry(), finish(city, [m, s])), "VOLUME_MISMATCH")
    assert (a.order_id, a.seq, a.evidence["difference_ml"]) == (s["order_id"], m["seq"], 600)


def test_ten_ml_display_rounding_is_not_a_mismatch():
    city = City()
    m = city.metering("S1-N1", T0, 30_005)
    s = city.sale(m, volume_ml=m["volume_ml"] + 10)
    s["amount_fen"] = (s["volume_ml"] * PRICE + 500) // 1000
    assert rules_of(run(city.registry(), finish(city, [m, s]))) == []


def test_amount_mismatch_uses_the_sales_own_price_and_volume():
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    s = city.sale(m, amount_fen=24_500)
    (a,) = only(run(city.registry(), finish(city, [m, s])), "AMOUNT_MISMATCH")
    assert a.evidence["expected_amount_fen"] == 24_000


def test_price_mismatch_against_posted_price_at_dispensing_start():
    city = City()
    city.registry_extra["prices"] = [
        {"station_id": "S1", "product": "92", "from": "2026-01-01T00:00:00+08:00", "unit_price_fen": 800},
        {"station_id": "S1", "product": "92", "from": "2026-03-02T08:00:30+08:00", "unit_price_fen": 820},
        {"station_id": "S2", "product": "92", "from": "2026-01-01T00:00:00+08:00", "unit_price_fen": 800},
    ]
    m = city.metering("S1-N1", T0, 30_000)  # starts at 08:00:00, before the change
    ok = city.sale(m, price=800)
    m2 = city.metering("S1-N1", T0 + 10 * US_PER_MIN, 30_000)
    bad = city.sale(m2, price=800)  # after the change: 820 is posted
    flush = city.metering("S1-N2", T0 + 5 * US_PER_H, 30_000)
    recs = [m, ok, m2, bad, flush, city.sale(flush, price=820)]
    (a,) = only(run(city.registry(), recs), "PRICE_MISMATCH")
    assert (a.order_id, a.evidence["posted_price_fen"]) == (bad["order_id"], 820)


def test_unmatched_settlement_and_metering_after_the_horizon():
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    orphan_sale = city.sale(m, pump_seq=999_999)
    book = run(city.registry(), finish(city, [m, orphan_sale]))
    assert rules_of(book) == [
        ("UNMATCHED_METERING", "S1-N1", m["seq"], None),
        ("UNMATCHED_SETTLEMENT", "S1-N1", 999_999, orphan_sale["order_id"]),
    ]


def test_nothing_is_decided_inside_the_horizon():
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    book = run(city.registry(), [m] + flush_after(city, "S1-N2", T0, hours=1))
    assert rules_of(book) == []
    assert book.engine.pending()["metering awaiting settlement"] >= 1


def test_late_partner_still_pairs_and_is_noted():
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    s = city.sale(m)
    recs = [m] + flush_after(city, "S1-N2", T0, hours=3) + [s]
    book = run(city.registry(), recs)
    (a,) = only(book, "UNMATCHED_METERING")
    assert a.evidence["late_settlement"]["order_id"] == s["order_id"]


def test_bad_signature_is_quarantined_and_excluded():
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    forged = dict(m, volume_ml=m["volume_ml"] + 1000, totalizer_end_ml=m["totalizer_end_ml"] + 1000)
    book = run(city.registry(), finish(city, [m, city.sale(m), forged]))
    (a,) = only(book, "BAD_SIGNATURE")
    assert a.evidence["quarantined"] and a.evidence["record"]["sig"] == m["sig"]


def test_unknown_device_unregistered_nozzle_and_foreign_key():
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    clone = city.sign("S1-N1", dict(copy.deepcopy(m), nozzle_id="S1-N2"))  # signed by N1's key
    stranger = dict(m, nozzle_id="S1-N9")
    sale_stranger = city.sale(stranger)
    book = run(city.registry(), finish(city, [m, city.sale(m), clone, stranger, sale_stranger]))
    assert sorted((a.rule, a.nozzle_id) for a in book.alarms.values()) == [
        ("UNKNOWN_DEVICE", "S1-N2"),
        ("UNKNOWN_DEVICE", "S1-N9"),
        ("UNKNOWN_DEVICE", "S1-N9"),
    ]


def test_retired_key_is_accepted_only_before_its_retirement():
    city = City()
    reg = city.registry_dict()
    old = reg["nozzles"][0]
    from anxin.crypto.schemes import generate_signer

    new_signer = generate_signer("ed25519", b"rotated!" * 4)
    old["previous_keys"] = [
        {
            "key_id": old["key_id"],
            "key_alg": "ed25519",
            "public_key": old["public_key"],
            "retired_at": "2026-03-02T09:00:00+08:00",
        }
    ]
    old.update(key_id="S1-N1-k2", public_key=new_signer.public_key_text)
    import msgspec

    from anxin.contract.registry import parse_registry

    registry = parse_registry(msgspec.json.encode(reg))
    before = city.metering("S1-N1", T0, 30_000)
    after = city.metering("S1-N1", T0 + 2 * US_PER_H, 30_000)
    recs = [before, city.sale(before), after, city.sale(after)]
    book = run(registry, finish(city, recs))
    # the quarantined record does not pair, so its sale is unmatched too
    assert sorted((a.rule, a.seq) for a in book.alarms.values()) == [
        ("UNKNOWN_DEVICE", after["seq"]),
        ("UNMATCHED_SETTLEMENT", after["seq"]),
    ]


def test_sequence_gap_one_alarm_per_missing_number():
    city = City()
    recs = honest(city, n=6)
    del recs[4:6]  # the third dispensing and its sale vanish
    recs = [r for r in recs]
    deleted_seq = city.nozzles["S1-N1"].seq - 3
    # its sale is gone too, so the only trace is the seq
    book = run(city.registry(), finish(city, recs))
    (a,) = only(book, "SEQUENCE_GAP")
    assert a.seq == deleted_seq


def test_deleted_metering_with_its_sale_kept():
    city = City()
    recs = honest(city, n=4)
    m = recs.pop(2)  # the metering of the second dispensing
    book = run(city.registry(), finish(city, recs))
    assert sorted((a.rule, a.seq) for a in book.alarms.values()) == [
        ("SEQUENCE_GAP", m["seq"]),
        ("UNMATCHED_SETTLEMENT", m["seq"]),
    ]


def test_duplicate_seq_keeps_the_first_and_identical_resend_is_silent():
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    other = city.sign("S1-N1", {k: v for k, v in m.items() if k != "sig"} | {"volume_ml": 1})
    book = run(city.registry(), finish(city, [m, city.sale(m), m, m, other]))
    (a,) = only(book, "DUPLICATE_SEQ")
    assert a.seq == m["seq"] and book.engine.counts["resends"] == 2


def test_metrology_inconsistent_pulses_and_totalizers():
    city = City()
    m1 = city.metering("S1-N1", T0, 30_000)
    m1 = city.sign("S1-N1", {k: v for k, v in m1.items() if k != "sig"} | {"pulses": m1["pulses"] + 5})
    recs = [m1, city.sale(m1)]
    book = run(city.registry(), finish(city, recs))
    (a,) = only(book, "METROLOGY_INCONSISTENT")
    assert a.seq == m1["seq"]


def test_totalizer_jump_not_across_a_gap_and_events_skipped():
    city = City()
    m1 = city.metering("S1-N1", T0, 30_000)
    ev = city.event("S1-N1", T0 + 5 * US_PER_MIN, "power_loss")
    city.nozzles["S1-N1"].totalizer += 777  # 777 mL dispensed off the record
    m2 = city.metering("S1-N1", T0 + 10 * US_PER_MIN, 30_000)
    city.nozzles["S1-N1"].seq += 1  # a gap: no jump check across it
    city.nozzles["S1-N1"].totalizer += 555
    m3 = city.metering("S1-N1", T0 + 20 * US_PER_MIN, 30_000)
    recs = [m1, city.sale(m1), ev, m2, city.sale(m2), m3, city.sale(m3)]
    book = run(city.registry(), finish(city, recs))
    assert sorted((a.rule, a.seq) for a in book.alarms.values()) == [
        ("SEQUENCE_GAP", m3["seq"] - 1),
        ("TOTALIZER_JUMP", m2["seq"]),
    ]
    (jump,) = [a for a in book.alarms.values() if a.rule == "TOTALIZER_JUMP"]
    assert jump.evidence["jump_ml"] == 777


def test_flow_implausible():
    city = City()
    fast = city.metering("S1-N1", T0, 60_000, duration_s=30)  # 120 L/min on a 50 L/min nozzle
    backwards = city.metering("S1-N1", T0 + 10 * US_PER_MIN, 10_000, duration_s=0)
    recs = [fast, city.sale(fast), backwards, city.sale(backwards)]
    book = run(city.registry(), finish(city, recs))
    assert sorted((a.rule, a.seq) for a in book.alarms.values()) == [
        ("FLOW_IMPLAUSIBLE", fast["seq"]),
        ("FLOW_IMPLAUSIBLE", backwards["seq"]),
    ]


def k_change(city: City, t: int, new: int) -> list[dict]:
    return [
        city.event("S1-N1", t, "seal_open"),
        city.event("S1-N1", t + US_PER_MIN, "k_factor_change", {"old": K, "new": new}),
        city.event("S1-N1", t + 2 * US_PER_MIN, "seal_close"),
    ]


def test_k_change_with_verification_is_authorised():
    city = City()
    new = K * 98 // 100
    recs = k_change(city, T0, new) + [city.verification("S1-N1", T0 + 90 * US_PER_MIN, k=new)]
    m = city.metering("S1-N1", T0 + 10 * US_PER_MIN, 30_000, k=new)
    recs += [m, city.sale(m)]
    assert rules_of(run(city.registry(), finish(city, recs, hours=8))) == []


def test_k_change_without_verification_then_unverified_use_once_per_day():
    city = City()
    new = K * 98 // 100
    recs = k_change(city, T0, new)
    for i in range(3):  # three dispensings the same day
        m = city.metering("S1-N1", T0 + (10 + i * 10) * US_PER_MIN, 30_000, k=new)
        recs += [m, city.sale(m)]
    next_day = city.metering("S1-N1", T0 + 24 * US_PER_H, 30_000, k=new)
    recs += [next_day, city.sale(next_day)]
    book = run(city.registry(), finish(city, recs, hours=8))
    got = sorted((a.rule, a.seq) for a in book.alarms.values())
    first = recs[3]["seq"]
    assert got == [
        ("K_FACTOR_CHANGE", recs[1]["seq"]),
        ("SEAL_BREACH", recs[0]["seq"]),
        ("UNVERIFIED_USE", first),
        ("UNVERIFIED_USE", next_day["seq"]),
    ]


def test_undeclared_k_in_metering():
    city = City()
    m = city.metering("S1-N1", T0, 30_000, k=K * 97 // 100)
    book = run(city.registry(), finish(city, [m, city.sale(m)]))
    (a,) = only(book, "K_FACTOR_CHANGE")
    assert a.evidence["k_in_force"] == K


def test_expired_and_failed_verification():
    city = City(verified_until="2026-03-02T12:00:00+08:00")
    before = city.metering("S1-N1", T0, 30_000)
    after = city.metering("S1-N1", T0 + 5 * US_PER_H, 30_000)
    failed = city.verification("S1-N2", T0 + US_PER_H, passed=False)
    n2 = city.metering("S1-N2", T0 + 2 * US_PER_H, 30_000)
    recs = [before, city.sale(before), failed, n2, city.sale(n2), after, city.sale(after)]
    book = run(city.registry(), finish(city, recs, hours=8))
    got = sorted((a.rule, a.nozzle_id, a.seq) for a in book.alarms.values())
    assert ("UNVERIFIED_USE", "S1-N1", after["seq"]) in got
    assert ("UNVERIFIED_USE", "S1-N2", n2["seq"]) in got
    assert ("UNVERIFIED_USE", "S1-N1", before["seq"]) not in got
    (v,) = [v for v in book.verifications if v.nozzle_id == "S1-N2"]
    assert not v.passed


def test_legacy_pos_pairs_with_latest_unpaired_metering_in_window():
    city = City()
    m1 = city.metering("S1-N3", T0, 30_000)
    m2 = city.metering("S1-N3", T0 + 2 * US_PER_MIN, 20_000)
    s2 = city.sale(m2, legacy=True, delay_s=30)
    s1 = city.sale(m1, legacy=True, delay_s=60)  # after m2 ended? no: m1 ends 08:01, sale 08:02
    late = city.sale(m1, legacy=True, delay_s=20 * 60)  # 20 min after: outside the window
    book = run(city.registry(), finish(city, [m1, s1, m2, s2, late]))
    (a,) = only(book, "UNMATCHED_SETTLEMENT")
    assert a.order_id == late["order_id"]


def test_verification_results_are_computed():
    city = City()
    v = city.verification("S1-N1", T0)
    book = run(city.registry(), finish(city, [v]))
    (r,) = book.verifications
    assert r.passed and abs(r.flow_points[0].error_permille - 0.5) < 1e-6


def test_a_counter_jump_is_one_alarm_not_one_per_number():
    city = City()
    m1 = city.metering("S1-N1", T0, 30_000)
    city.nozzles["S1-N1"].seq += 1_000_000
    m2 = city.metering("S1-N1", T0 + 10 * US_PER_MIN, 30_000)
    book = run(city.registry(), finish(city, [m1, city.sale(m1), m2, city.sale(m2)]))
    (a,) = only(book, "SEQUENCE_GAP")
    assert a.seq == m1["seq"] + 1 and a.evidence["counter_jump"] == 1_000_000
