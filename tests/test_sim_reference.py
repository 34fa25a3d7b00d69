"""The simulator's truth agrees with contract v1, checked by a small reference checker.

``reference_check`` applies the record-level rules of contract section 5 to a whole
data directory at once (records merged by event time, ties in file order). It is
deliberately simple — no streaming, no horizons — and exists to prove that every
injected fault produces exactly the alarms its truth line promises, and that honest
data produces none. The platform's engine is tested elsewhere against the same truth.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import msgspec
import pytest

from anxin.contract.parse import Reject, parse_line
from anxin.contract.records import Delivery, Event, Metering, Settlement, TankReading, Verification
from anxin.contract.registry import load_registry
from anxin.contract.times import local_day, to_us
from anxin.crypto.keys import KeyRing, KeyVerdict
from anxin.sim import City, ScenarioSet, evaluate, simulate, truth_dir_for
from anxin.sim.scenarios import BY_NAME, NAMES
from anxin.sim.station import plan_station
from anxin.sim.truth import read_faults
from anxin.verification.jjg443 import beta_for_product, evaluate_verification

H = 3_600_000_000
MIN = 60_000_000


def _rhu(num: int, den: int) -> int:
    return (2 * num + den) // (2 * den)


def reference_check(data_dir: Path) -> tuple[list[dict], list[dict]]:
    """(alarms, rejects) of the record-level rules over a whole data directory."""
    reg = load_registry(data_dir / "registry.json")
    ring = KeyRing.from_registry(reg)
    rejects: list[dict] = []
    recs = []
    for fi, path in enumerate(sorted(data_dir.glob("*.jsonl"))):
        for n, line in enumerate(path.read_bytes().split(b"\n")[:-1], 1):
            p = parse_line(line)
            if isinstance(p, Reject):
                rejects.append({"file": path.name, "line": n, "reason": p.reason})
            else:
                recs.append((p.t, fi, n, p))
    recs.sort(key=lambda r: r[:3])
    alarms: list[dict] = []

    def alarm(rule, station, ts, nozzle=None, seq=None, order=None, tank=None):
        alarms.append(
            {
                "alarm_id": f"{len(alarms)}",
                "rule": rule,
                "severity": "major",
                "station_id": station,
                "nozzle_id": nozzle,
                "tank_id": tank,
                "seq": seq,
                "order_id": order,
                "ts": ts,
                "message": rule,
                "evidence": {},
            }
        )

    met: dict[str, dict[int, Metering]] = {}
    evs: dict[str, dict[int, Event]] = {}
    digest: dict[tuple, bytes] = {}
    sales: list[Settlement] = []
    vers: dict[str, list[tuple[int, Verification, bool]]] = {}
    for t, _, _, p in recs:
        r = p.rec
        if isinstance(r, (Metering, Event)):
            verdict = ring.check(r.station_id, r.nozzle_id, r.key_id, t, p.canonical, p.sig)
            if verdict != KeyVerdict.OK:
                rule = "BAD_SIGNATURE" if verdict == KeyVerdict.BAD_SIGNATURE else "UNKNOWN_DEVICE"
                alarm(rule, r.station_id, str(t), r.nozzle_id, r.seq)
                continue
            key = (r.nozzle_id, r.seq)
            if key in digest:
                if digest[key] != p.digest:
                    alarm("DUPLICATE_SEQ", r.station_id, str(t), r.nozzle_id, r.seq)
                continue
            digest[key] = p.digest
            (met if isinstance(r, Metering) else evs).setdefault(r.nozzle_id, {})[r.seq] = r
        elif isinstance(r, Settlement):
            nz = reg.nozzle_by_id.get(r.nozzle_id)
            if nz is None or nz.station_id != r.station_id:
                alarm("UNKNOWN_DEVICE", r.station_id, str(t), r.nozzle_id, order=r.order_id)
                continue
            key = ("S", r.station_id, r.order_id)
            if key not in digest:
                digest[key] = p.digest
                sales.append(r)
        elif isinstance(r, Verification):
            key = ("V", r.nozzle_id, t)
            if key not in digest:
                digest[key] = p.digest
                nz = reg.nozzle_by_id[r.nozzle_id]
                beta = beta_for_product(reg.product_by_id[nz.product].expansion_ppm_per_c)
                passed = evaluate_verification(r, beta_y_per_c=beta).passed
                vers.setdefault(r.nozzle_id, []).append((t, r, passed))
        else:
            assert isinstance(r, (TankReading, Delivery))

    def authorised(nozzle: str, t: int) -> bool:
        return any(abs(vt - t) <= 2 * H for vt, _, _ in vers.get(nozzle, ()))

    paired: set[tuple[str, int]] = set()
    for s in sorted(sales, key=lambda s: to_us(s.ts)):
        ts = to_us(s.ts)
        m = None
        if s.pump_seq is not None:
            m = met.get(s.nozzle_id, {}).get(s.pump_seq)
        else:
            cands = [
                x
                for x in met.get(s.nozzle_id, {}).values()
                if (x.nozzle_id, x.seq) not in paired and to_us(x.end) <= ts <= to_us(x.end) + 15 * MIN
            ]
            m = max(cands, key=lambda x: to_us(x.end)) if cands else None
        nz = reg.nozzle_by_id[s.nozzle_id]

        def sale_alarm(rule: str, s: Settlement = s) -> None:
            alarm(rule, s.station_id, s.ts.isoformat(), s.nozzle_id, order=s.order_id)

        if m is None:
            sale_alarm("UNMATCHED_SETTLEMENT")
            price_t = ts
        else:
            paired.add((m.nozzle_id, m.seq))
            price_t = to_us(m.start)
            if abs(s.volume_ml - m.volume_ml) > 10:
                sale_alarm("VOLUME_MISMATCH")
        if abs(s.amount_fen - _rhu(s.volume_ml * s.unit_price_fen, 1000)) > 1:
            sale_alarm("AMOUNT_MISMATCH")
        if s.unit_price_fen != reg.posted_price(s.station_id, nz.product, price_t):
            sale_alarm("PRICE_MISMATCH")

    for nz in reg.nozzles:
        nid, sid = nz.nozzle_id, nz.station_id
        ms_, es = met.get(nid, {}), evs.get(nid, {})
        seqs = sorted(set(ms_) | set(es))
        present = set(seqs)
        for a, b in itertools.pairwise(seqs):
            for missing in range(a + 1, b):
                alarm("SEQUENCE_GAP", sid, "", nid, missing)
        mseq = sorted(ms_)
        for a, b in itertools.pairwise(mseq):
            no_gap = all(x in present for x in range(a, b + 1))
            if no_gap and ms_[b].totalizer_start_ml != ms_[a].totalizer_end_ml:
                alarm("TOTALIZER_JUMP", sid, "", nid, b)
        for m in ms_.values():
            if (m.nozzle_id, m.seq) not in paired:
                alarm("UNMATCHED_METERING", sid, m.end.isoformat(), nid, m.seq)
            by_pulses = m.pulses * 1e6 / m.k_pulses_per_m3
            if abs(by_pulses - m.volume_ml) > 1 or m.totalizer_end_ml - m.totalizer_start_ml != m.volume_ml:
                alarm("METROLOGY_INCONSISTENT", sid, "", nid, m.seq)
            dur = to_us(m.end) - to_us(m.start)
            if dur <= 0 or m.volume_ml / (dur / MIN) > 1.1 * nz.max_flow_ml_per_min:
                alarm("FLOW_IMPLAUSIBLE", sid, "", nid, m.seq)
        # K in force, seal events, unverified use.
        changes = [(to_us(e.ts), e.data["new"]) for e in es.values() if e.event == "k_factor_change"]
        changes += [(vt, v.k_pulses_per_m3) for vt, v, _ in vers.get(nid, ())]
        changes.sort()
        timeline: list[tuple[int, str, int]] = []  # (t, what, valid_until)
        for e in es.values():
            t = to_us(e.ts)
            if e.event in ("seal_open", "tamper", "firmware_update", "k_factor_change") and not authorised(nid, t):
                rule = "K_FACTOR_CHANGE" if e.event == "k_factor_change" else "SEAL_BREACH"
                alarm(rule, sid, e.ts.isoformat(), nid, e.seq)
                timeline.append((t, "bad", 0))
        for vt, v, passed in vers.get(nid, ()):
            timeline.append((vt, "pass", to_us(v.valid_until)) if passed else (vt, "bad", 0))
        timeline.sort()
        until, bad, ti = to_us(nz.verified_until), False, 0
        days: set[int] = set()
        for m in sorted(ms_.values(), key=lambda m: to_us(m.start)):
            start = to_us(m.start)
            k = nz.k_pulses_per_m3
            for t, kk in changes:
                if t <= start:
                    k = kk
            if m.k_pulses_per_m3 != k:
                alarm("K_FACTOR_CHANGE", sid, m.end.isoformat(), nid, m.seq)
            while ti < len(timeline) and timeline[ti][0] < start:
                _, what, valid = timeline[ti]
                bad, until = (False, valid) if what == "pass" else (True, until)
                ti += 1
            if (bad or start > until) and local_day(start) not in days:
                days.add(local_day(start))
                alarm("UNVERIFIED_USE", sid, m.start.isoformat(), nid)
    return alarms, rejects


def _write(check: Path, alarms: list[dict], rejects: list[dict]) -> None:
    check.mkdir(parents=True, exist_ok=True)
    enc = msgspec.json.Encoder()
    (check / "alarms.jsonl").write_bytes(b"".join(enc.encode(a) + b"\n" for a in alarms))
    (check / "rejects.jsonl").write_bytes(b"".join(enc.encode(r) + b"\n" for r in rejects))


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("sim-reference")


@pytest.fixture(scope="module")
def honest_city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("honest") / "data"
    sc = ScenarioSet.parse("honest,legacy_pos=0.5")
    simulate(out, stations=3, days=2, seed=11, scenarios=sc, workers=1)
    return out


@pytest.fixture(scope="module")
def faulty_city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("all") / "data"
    simulate(out, stations=4, days=3, seed=5, scenarios=ScenarioSet.all(), workers=1)
    return out


def test_honest_city_raises_no_record_level_alarm(honest_city: Path) -> None:
    reg = load_registry(honest_city / "registry.json")
    assert any(n.key_alg == "sm2" for n in reg.nozzles) or len(reg.nozzles) < 20
    alarms, rejects = reference_check(honest_city)
    assert rejects == []
    assert alarms == []


def test_every_record_level_fault_is_found_and_nothing_else(faulty_city: Path, tmp_path: Path) -> None:
    alarms, rejects = reference_check(faulty_city)
    _write(tmp_path, alarms, rejects)
    report = evaluate(faulty_city, tmp_path)
    assert report.record_level_faults > 20
    assert report.missed == []
    assert report.all_record_level_detected
    assert report.unexplained == []
    assert report.false_alarms == 0
    assert report.rejects_ok and report.rejects_expected == len(rejects) >= 8


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("legacy_pos", "resends", "malformed")])
def test_each_scenario_alone_is_injected(name: str) -> None:
    """A 3-station, 2-day city with only that scenario on shows it at least once (planning
    only: the rendered records are checked by the all-scenarios test above)."""
    city = City.build(stations=3, seed=3, days=2, scenarios=ScenarioSet.parse(name))
    faults = [f for st in city.stations for f in plan_station(st, city.config).faults]
    assert faults and {f.scenario for f in faults} == {name}
    info = BY_NAME[name]
    if info.primary_rule is not None:
        assert all(f.expect and f.expect[0].rule == info.primary_rule for f in faults)
    else:
        assert all(f.expect == [] for f in faults)
    assert all(f.record_level == info.record_level for f in faults)
    for f in faults:  # keys carry what matching needs
        for k in f.expect + f.allow:
            if k.order_id is None and k.rule not in ("UNVERIFIED_USE", "METER_DRIFT", "TANK_LOSS"):
                assert k.nozzle_id and k.seq is not None
            if k.rule == "UNVERIFIED_USE":
                assert k.day and k.nozzle_id
            if k.rule == "TANK_LOSS":
                assert k.tank_id


def test_structural_switches(tmp_path: Path) -> None:
    out = tmp_path / "data"
    sc = ScenarioSet.parse("legacy_pos,resends,malformed")
    s = simulate(out, stations=3, days=2, seed=4, scenarios=sc, workers=1)
    assert s.legacy_pos_stations >= 1 and s.resends >= 1 and s.malformed >= 8
    assert read_faults(truth_dir_for(out)) == []
    alarms, rejects = reference_check(out)
    assert alarms == []
    assert len(rejects) == s.malformed
    _write(tmp_path / "check", alarms, rejects)
    assert evaluate(out, tmp_path / "check").rejects_ok


def test_last_hours_are_fault_free(faulty_city: Path) -> None:
    end = to_us(dt.datetime(2026, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    for f in read_faults(truth_dir_for(faulty_city)):
        start = f.detail.get("start")
        if start:
            assert to_us(dt.datetime.fromisoformat(start)) < end - 4 * H
