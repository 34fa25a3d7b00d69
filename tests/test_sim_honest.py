"""An honest simulated city is valid contract-v1 data with the invariants of honest devices."""

from __future__ import annotations

import itertools
import json
import statistics
from collections import defaultdict
from pathlib import Path

import pytest

from anxin.contract.parse import Parsed, parse_line
from anxin.contract.records import Delivery, Event, Metering, Settlement, TankReading, Verification
from anxin.contract.registry import load_registry
from anxin.contract.times import local_day, to_us
from anxin.crypto.keys import KeyRing, KeyVerdict
from anxin.sim import City, ScenarioSet, simulate, truth_dir_for

MIN = 60_000_000
H = 60 * MIN


def _rhu(num: int, den: int) -> int:
    return (2 * num + den) // (2 * den)


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("sim-honest")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("honest") / "data"
    s = simulate(out, stations=3, days=3, seed=2026, scenarios=ScenarioSet.honest(), workers=1)
    assert s.stations == 3 and s.faults == {} and s.resends == 0 and s.malformed == 0
    return out


@pytest.fixture(scope="module")
def parsed(city: Path) -> dict[str, list[Parsed]]:
    out: dict[str, list[Parsed]] = {}
    for path in sorted(city.glob("*.jsonl")):
        rows = []
        for line in path.read_bytes().split(b"\n")[:-1]:
            p = parse_line(line)
            assert isinstance(p, Parsed), (path.name, p, line[:200])
            rows.append(p)
        out[path.name] = rows
    return out


def _all(parsed, kind):
    return [p for rows in parsed.values() for p in rows if isinstance(p.rec, kind)]


def test_registry_loads_and_truth_is_beside_the_data(city: Path) -> None:
    reg = load_registry(city / "registry.json")
    assert [s.station_id for s in reg.stations] == ["S0001", "S0002", "S0003"]
    truth = truth_dir_for(city)
    assert truth == city.parent / "data.truth" and truth.is_dir()
    assert not any(p.is_dir() for p in city.iterdir())
    assert {p.name for p in city.iterdir()} == {"registry.json"} | {
        f"g001.{k}.jsonl" for k in ("metering", "settlement", "event", "tank_reading", "delivery", "verification")
    }
    for name in ("faults.jsonl", "meters.jsonl", "tanks.jsonl", "rejects.json", "summary.json"):
        assert (truth / name).exists()
    assert len((truth / "meters.jsonl").read_bytes().splitlines()) == len(reg.nozzles)
    assert len((truth / "tanks.jsonl").read_bytes().splitlines()) == len(reg.tanks)
    for n in reg.nozzles:  # nozzle ids unique platform-wide, S0001-D2-N3 style
        assert n.nozzle_id.startswith(n.dispenser_id + "-N") and n.key_id == n.nozzle_id + "-k1"
        assert 95_000 <= n.k_pulses_per_m3 <= 125_000 and n.last_verification_passed
    prices = defaultdict(list)
    for p in reg.prices:
        prices[(p.station_id, p.product)].append(p.unit_price_fen)
        assert 700 <= p.unit_price_fen <= 880
    assert all(len(v) == 2 for v in prices.values())  # posted before the start + change on day 3


def test_every_signature_verifies(city: Path, parsed) -> None:
    ring = KeyRing.from_registry(load_registry(city / "registry.json"))
    signed = _all(parsed, Metering) + _all(parsed, Event)
    assert len(signed) > 2000
    for p in signed:
        r = p.rec
        verdict = ring.check(r.station_id, r.nozzle_id, r.key_id, p.t, p.canonical, p.sig)
        assert verdict == KeyVerdict.OK


def test_sequence_and_totalizers_are_continuous(parsed) -> None:
    by_nozzle: dict[str, dict[int, object]] = defaultdict(dict)
    for p in _all(parsed, Metering) + _all(parsed, Event):
        assert p.rec.seq not in by_nozzle[p.rec.nozzle_id]
        by_nozzle[p.rec.nozzle_id][p.rec.seq] = p.rec
    for nozzle, recs in by_nozzle.items():
        seqs = sorted(recs)
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), nozzle
        prev = None
        for s in seqs:
            r = recs[s]
            if isinstance(r, Metering):
                assert r.volume_ml == round(r.pulses * 1e6 / r.k_pulses_per_m3)
                assert r.totalizer_end_ml - r.totalizer_start_ml == r.volume_ml
                if prev is not None:
                    assert r.totalizer_start_ml == prev.totalizer_end_ml
                    assert to_us(r.start) >= to_us(prev.end) + 30_000_000  # never overlapping
                prev = r


def test_sales_follow_the_metering(city: Path, parsed) -> None:
    reg = load_registry(city / "registry.json")
    meters = {(p.rec.nozzle_id, p.rec.seq): p.rec for p in _all(parsed, Metering)}
    sales = [p.rec for p in _all(parsed, Settlement)]
    assert len(sales) == len(meters)
    orders = set()
    for s in sales:
        assert (s.station_id, s.order_id) not in orders
        orders.add((s.station_id, s.order_id))
        m = meters[(s.nozzle_id, s.pump_seq)]
        assert s.volume_ml == 10 * _rhu(m.volume_ml, 10)
        assert s.amount_fen == _rhu(s.volume_ml * s.unit_price_fen, 1000)
        assert 0 <= s.paid_fen <= s.amount_fen
        assert s.payment in ("wechat", "alipay", "unionpay", "cash", "fuel_card")
        product = reg.nozzle_by_id[s.nozzle_id].product
        assert s.unit_price_fen == reg.posted_price(s.station_id, product, to_us(m.start))
        gap = to_us(s.ts) - to_us(m.end)
        assert 2_000_000 <= gap <= 60_000_000


def test_dispensings_are_plausible(city: Path, parsed) -> None:
    reg = load_registry(city / "registry.json")
    per_nozzle_day: dict[tuple[str, int], int] = defaultdict(int)
    vols = []
    for p in _all(parsed, Metering):
        m = p.rec
        dur = to_us(m.end) - to_us(m.start)
        assert dur > 0
        flow = m.volume_ml / (dur / MIN)
        assert flow <= reg.nozzle_by_id[m.nozzle_id].max_flow_ml_per_min
        assert 4_900 <= m.volume_ml <= 310_000
        per_nozzle_day[(m.nozzle_id, local_day(p.t0))] += 1
        vols.append(m.volume_ml)
    assert 70 <= statistics.mean(per_nozzle_day.values()) <= 160
    assert 25_000 <= statistics.median(vols) <= 45_000
    hours = defaultdict(int)
    for p in _all(parsed, Metering):
        hours[((p.t0 // H) + 8) % 24] += 1
    assert hours[8] + hours[18] > 3 * (hours[2] + hours[3])  # peaks and a quiet night


def test_tank_readings_and_deliveries(city: Path, parsed) -> None:
    reg = load_registry(city / "registry.json")
    readings = defaultdict(list)
    for p in _all(parsed, TankReading):
        readings[p.rec.tank_id].append(p.t)
    assert set(readings) == {t.tank_id for t in reg.tanks}
    for ts in readings.values():
        ts.sort()
        assert len(ts) == 3 * 288 and all(b - a == 5 * MIN for a, b in itertools.pairwise(ts))
    deliveries = [p.rec for p in _all(parsed, Delivery)]
    assert deliveries
    for d in deliveries:
        assert 1 <= ((to_us(d.start) // H) + 8) % 24 <= 5  # in the small hours
        # A compartment (5–15 m³), as the delivery note states it: within 1‰-SD of the truth.
        assert 4_900_000 * 0.995 <= d.volume_ml <= 15_000_000 * 1.005
    lines = (truth_dir_for(city) / "tanks.jsonl").read_bytes().splitlines()
    truth = {t["tank_id"]: t for t in map(json.loads, lines)}
    declared = defaultdict(int)
    for d in deliveries:
        declared[d.tank_id] += d.volume_ml
    for tid, v in declared.items():
        assert truth[tid]["declared_ml"] == v
        assert abs(v - truth[tid]["delivered_ml"]) <= 0.005 * truth[tid]["delivered_ml"]
    assert any(v != truth[tid]["delivered_ml"] for tid, v in declared.items())  # notes are not exact


def test_files_are_in_arrival_order(parsed) -> None:
    """Within a file, a station's records come in event-time order (batch uploads), and no
    line is more than 30 minutes out of event-time order."""
    for name, rows in parsed.items():
        latest: dict[str, int] = {}
        high = 0
        for p in rows:
            assert p.t >= high - 30 * MIN
            high = max(high, p.t)
            if not isinstance(p.rec, (Delivery, Verification)):
                assert p.t >= latest.get(p.rec.station_id, 0), name
                latest[p.rec.station_id] = p.t


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    def run(name: str, workers: int) -> dict[str, bytes]:
        out = tmp_path / name
        simulate(out, stations=4, days=1, seed=9, scenarios=ScenarioSet.all(), workers=workers, group_size=2)
        files = {p.name: p.read_bytes() for p in out.iterdir()}
        truth = truth_dir_for(out)
        files |= {"truth/" + p.name: p.read_bytes() for p in truth.iterdir() if p.name != "summary.json"}
        return files

    a, b = run("a", 1), run("b", 2)
    assert sorted(a) == sorted(b) and any(n.startswith("g002.") for n in a)
    assert all(a[n] == b[n] for n in a)
    out = tmp_path / "c"
    simulate(out, stations=4, days=1, seed=10, scenarios=ScenarioSet.all(), workers=1, group_size=2)
    assert (out / "g001.metering.jsonl").read_bytes() != a["g001.metering.jsonl"]


def test_day_stream_replays_the_files(tmp_path: Path) -> None:
    out = tmp_path / "data"
    sc = ScenarioSet.parse("all")
    simulate(out, stations=2, days=2, seed=77, scenarios=sc, workers=1)
    city = City.build(stations=2, seed=77, days=2, scenarios=sc)
    assert city.registry_json() == (out / "registry.json").read_bytes()
    lines: dict[str, list[bytes]] = defaultdict(list)
    last = 0
    for day in range(2):
        for arrival, source, line in city.day_stream(day):
            assert arrival >= last
            last = arrival
            lines[source].append(line)
    for source, got in lines.items():
        assert (out / source).read_bytes() == b"".join(x + b"\n" for x in got), source


def test_city_layout_is_hangzhou_like() -> None:
    city = City.build(stations=200, seed=1, days=1)
    nozzles = [n for st in city.stations for n in st.nozzles]
    assert 8.0 <= len(nozzles) / 200 <= 10.0
    assert 0.06 <= sum(n.key_alg == "sm2" for n in nozzles) / len(nozzles) <= 0.14
    assert 0.10 <= sum(not n.anti_cheat for n in nozzles) / len(nozzles) <= 0.20
    for st in city.stations:
        assert 2 <= len(st.tanks) <= 4
        assert 2 <= len({n.dispenser_id for n in st.nozzles}) <= 4
        assert 29.8 <= st.lat <= 30.6 and 119.4 <= st.lon <= 120.7
        assert st.name.endswith("加油站")
        for n in st.nozzles:
            tank = next(t for t in st.tanks if t.spec.tank_id == n.tank_id)
            assert tank.spec.product == n.product
            assert n.max_flow == (60_000 if n.product == "0" else 50_000)
    assert len({st.name for st in city.stations}) == 200
    assert len({st.district for st in city.stations}) == 10
    assert not any(st.legacy_pos for st in city.stations)  # honest: modern POS everywhere
