"""Issue 11, finding 3 — one future-dated record silenced a station: a ``tank_reading``
dated 2099 moved the station's watermark, so the live service never took (or took too
early) the day's pending decisions, and nothing showed it. Contract v1.1 §B: the
receipt time bounds the event time (``CLOCK_AHEAD``, quarantined, no watermark moved),
live (stored in the ledger, replayed as stored) and in batch (``anxin check --as-of``);
one station's records never move another's watermark; /metrics shows the lag unclamped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import msgspec
import pytest
from factory import T0, City, line
from fastapi.testclient import TestClient
from live import arrival_lines, uploads
from services import fresh_pg_database
from sqlalchemy import text
from typer.testing import CliRunner

from anxin.check.run import run_check
from anxin.contract.parse import Parsed, parse_line
from anxin.contract.times import US_PER_H, US_PER_MIN, US_PER_S, format_ts, parse_ts
from anxin.crypto.keys import KeyRing, authenticate
from anxin.engine import Engine
from anxin.ingest.service import IngestService
from anxin.serve.app import create_app
from anxin.serve.config import ServeConfig
from anxin.sim import ScenarioSet, simulate
from anxin.store.database import Store

FUTURE = "2099-06-01T08:00:00.000+08:00"
TOL = 5 * US_PER_MIN
LIVE_AS_OF = parse_ts("2026-12-01T12:00:00+08:00")  # the live tests' receipt time
# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("clock-ahead")


class Clock:
    """The platform's clock, set by the test."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _feed(engine: Engine, ring: KeyRing, rec: dict, received: int | None) -> list:
    p = parse_line(line(rec))
    assert isinstance(p, Parsed), p
    return engine.feed(p, authenticate(p, ring), received_us=received)


def _rx(rec: dict) -> int:
    """A receipt time a minute after the record's event time (an edge agent's batching)."""
    t = parse_ts(rec["end"] if rec["kind"] in ("metering", "delivery") else rec["ts"])
    return t + US_PER_MIN


def _day(city: City) -> list[dict]:
    """A morning of S1: honest sales, one off-book dispensing, one sale whose metering
    never comes, one seal opened without a verification — decisions that wait."""
    recs = city.honest_day("S1-N1", T0, 6, gap_min=10)
    off = city.metering("S1-N2", T0 + 15 * US_PER_MIN)  # UNMATCHED_METERING
    ghost = city.sale(city.metering("S1-N2", T0 + 25 * US_PER_MIN), pump_seq=99_999)  # UNMATCHED_SETTLEMENT
    seal = city.event("S1-N1", T0 + 40 * US_PER_MIN, "seal_open")  # SEAL_BREACH, after ±2 h
    recs += [off, ghost, seal]
    recs.sort(key=_rx)
    later = city.honest_day("S1-N1", T0 + 4 * US_PER_H, 3, gap_min=20)  # the watermark passes every horizon
    return recs + later


def _tank_reading(ts: str, station: str = "S1") -> dict:
    return {
        "kind": "tank_reading",
        "station_id": station,
        "tank_id": f"{station}-T1",
        "ts": ts,
        "level_um": 1_500_000,
        "water_um": 0,
        "temp_mc": 18_000,
    }


def _fingerprint(outputs: list) -> list[tuple]:
    return sorted((a.alarm_id, a.rule, a.ts, a.message) for a in outputs if hasattr(a, "rule"))


def _run(city: City, recs: list[dict], received: list[int | None]) -> tuple[Engine, list]:
    reg = city.registry()
    engine, ring = Engine(reg), KeyRing.from_registry(reg)
    out: list = []
    for rec, rx in zip(recs, received, strict=True):
        out += _feed(engine, ring, rec, rx)
    return engine, out


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_future_dated_reading_is_clock_ahead_and_changes_nothing_else(where: str) -> None:
    city = City()
    recs = _day(city)
    received = [_rx(r) for r in recs]
    base_engine, base = _run(City(), _day(City()), received)  # the same records, without the 2099 line
    i = {"first": 0, "middle": len(recs) // 2, "last": len(recs)}[where]
    rx_future = received[i - 1] if i else received[0]
    engine, out = _run(city, [*recs[:i], _tank_reading(FUTURE), *recs[i:]], [*received[:i], rx_future, *received[i:]])
    ahead = [a for a in out if getattr(a, "rule", None) == "CLOCK_AHEAD"]
    assert len(ahead) == 1
    a = ahead[0]
    assert a.severity == "major" and a.station_id == "S1" and a.tank_id == "S1-T1"
    assert a.ts == format_ts(rx_future)  # the alarm's time is when it arrived
    assert a.evidence["event_time"] == format_ts(parse_ts(FUTURE)) and a.evidence["received"] == format_ts(rx_future)
    assert a.evidence["quarantined"] is True and parse_ts(a.evidence["record"]["ts"]) == parse_ts(FUTURE)
    # Nothing else changes: the station's day raises what it raises without the 2099 line.
    assert _fingerprint([x for x in out if x is not a]) == _fingerprint(base)
    assert {x.rule for x in base if hasattr(x, "rule")} >= {"UNMATCHED_METERING", "UNMATCHED_SETTLEMENT", "SEAL_BREACH"}
    assert engine.stations["S1"].watermark == base_engine.stations["S1"].watermark < parse_ts("2030-01-01T00:00:00Z")
    assert engine.pending() == base_engine.pending()
    assert engine.counts["clock_ahead"] == 1 and engine.counts["quarantined"] == 1


def test_the_tolerance_is_five_minutes_of_event_time_after_receipt() -> None:
    city = City()
    reg = city.registry()
    engine, ring = Engine(reg), KeyRing.from_registry(reg)
    rx = T0 + US_PER_H
    ok = _feed(engine, ring, _tank_reading(format_ts(rx + TOL)), rx)
    assert not [a for a in ok if getattr(a, "rule", None) == "CLOCK_AHEAD"]
    assert engine.stations["S1"].watermark == rx + TOL  # within the tolerance: an ordinary record
    late = _feed(engine, ring, _tank_reading(format_ts(rx + TOL + 1000)), rx)
    assert [a.rule for a in late if hasattr(a, "rule")] == ["CLOCK_AHEAD"]
    assert engine.stations["S1"].watermark == rx + TOL
    assert not _feed(engine, ring, _tank_reading(format_ts(rx + TOL + 1000)), rx)  # a resend: once


def test_every_kind_from_the_future_is_clock_ahead_with_its_own_ids() -> None:
    city = City()
    reg = city.registry()
    engine, ring = Engine(reg), KeyRing.from_registry(reg)
    t = parse_ts(FUTURE)
    m = city.metering("S1-N1", t)
    ev = city.event("S1-N2", t, "tamper")
    sale = city.sale(m)
    ver = city.verification("S1-N3", t)
    delivery = {"kind": "delivery", "station_id": "S1", "tank_id": "S1-T1", "start": FUTURE, "end": FUTURE}
    delivery["volume_ml"] = 10_000_000
    got = {}
    for rec in (m, ev, sale, ver, delivery, _tank_reading(FUTURE)):
        (a,) = [x for x in _feed(engine, ring, rec, T0) if hasattr(x, "rule")]
        got[rec["kind"]] = a
    assert {a.rule for a in got.values()} == {"CLOCK_AHEAD"}
    assert (got["metering"].nozzle_id, got["metering"].seq) == ("S1-N1", m["seq"])
    assert (got["event"].nozzle_id, got["event"].seq) == ("S1-N2", ev["seq"])
    assert (got["settlement"].order_id, got["settlement"].nozzle_id) == (sale["order_id"], "S1-N1")
    assert got["verification"].nozzle_id == "S1-N3" and got["delivery"].tank_id == "S1-T1"
    assert "S1" not in engine.stations or engine.stations["S1"].watermark < T0  # no watermark moved
    assert engine.counts["clock_ahead"] == 6 and not engine.nozzles.get("S1-N3")  # the verification took no effect


def test_a_forgery_from_the_future_is_a_bad_signature_first() -> None:
    city = City()
    reg = city.registry()
    engine, ring = Engine(reg), KeyRing.from_registry(reg)
    m = city.metering("S1-N1", parse_ts(FUTURE))
    m["volume_ml"] += 1000  # the signature no longer verifies
    unknown = dict(_tank_reading(FUTURE), tank_id="S9-T9")
    rules = [a.rule for rec in (m, unknown) for a in _feed(engine, ring, rec, T0) if hasattr(a, "rule")]
    assert rules == ["BAD_SIGNATURE", "UNKNOWN_DEVICE"]


def test_one_stations_records_never_move_another_stations_watermark() -> None:
    city = City()
    reg = city.registry()
    engine, ring = Engine(reg), KeyRing.from_registry(reg)
    m = city.metering("S1-N1", T0)
    _feed(engine, ring, m, _rx(m))  # S1's dispensing waits for its sale
    before = engine.pending()
    w1 = engine.stations["S1"].watermark
    # S2's records, far later in event time (and a day of receipt time later): S1 untouched.
    for k in range(1, 30):
        rec = _tank_reading(format_ts(T0 + k * US_PER_H), "S2")
        out = _feed(engine, ring, rec, _rx(rec))
        assert not [a for a in out if getattr(a, "station_id", "S2") != "S2"]
    sale_s2_nozzle = dict(city.sale(m), station_id="S2", order_id="X1")  # S1's nozzle in S2's name
    assert [a.rule for a in _feed(engine, ring, sale_s2_nozzle, T0 + 30 * US_PER_H) if hasattr(a, "rule")] == [
        "UNKNOWN_DEVICE"
    ]
    assert engine.stations["S1"].watermark == w1 and engine.pending() == before
    assert engine.stations["S2"].watermark == T0 + 29 * US_PER_H


# ---------------------------------------------------------------------------- batch
@pytest.fixture(scope="module")
def city_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ahead") / "city"
    simulate(out, stations=2, days=1, seed=12, scenarios=ScenarioSet.all(), workers=1, group_size=2)
    return out


def _with_future_line(city_dir: Path, where: Path) -> Path:
    shutil.copytree(city_dir, where)
    tank = json.loads((city_dir / "registry.json").read_text())["tanks"][0]
    rec = _tank_reading(FUTURE, tank["station_id"])
    rec["tank_id"] = tank["tank_id"]
    (where / "zz-future.jsonl").write_bytes(line(rec) + b"\n")
    return where


def _alarms(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "alarms.jsonl").read_text().splitlines()]


def test_check_as_of_plays_the_receipt_time_and_is_in_the_summary(city_dir: Path, tmp_path: Path) -> None:
    data = _with_future_line(city_dir, tmp_path / "data")
    plain = run_check(city_dir, tmp_path / "plain", workers=0)
    as_of = parse_ts("2026-12-01T12:00:00.123456+08:00")
    s = run_check(data, tmp_path / "a", workers=0, as_of_us=as_of)
    assert parse_ts(s.as_of) == as_of and s.clock_ahead == 1 and s.quarantined == plain.quarantined + 1
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["as_of"] == s.as_of and summary["clock_ahead"] == 1
    alarms = _alarms(tmp_path / "a")
    (ahead,) = [a for a in alarms if a["rule"] == "CLOCK_AHEAD"]
    assert ahead["ts"] == format_ts(as_of) and ahead["tank_id"]
    assert [a for a in alarms if a is not ahead] == _alarms(tmp_path / "plain")  # nothing else changes
    quarantine = [json.loads(x) for x in (tmp_path / "a" / "quarantine.jsonl").read_text().splitlines()]
    assert ahead["alarm_id"] in {q["alarm_id"] for q in quarantine}
    # The summary's as_of repeats the run exactly, sharded or not.
    again = run_check(data, tmp_path / "b", workers=2, as_of_us=parse_ts(summary["as_of"]))
    assert (tmp_path / "b" / "alarms.jsonl").read_bytes() == (tmp_path / "a" / "alarms.jsonl").read_bytes()
    assert again.clock_ahead == 1
    # As of a time before the city's own days, all of it is ahead: quarantined, no other rule.
    early = run_check(data, tmp_path / "c", workers=0, as_of_us=parse_ts("2026-01-01T00:00:00+08:00"))
    assert sum(early.records.values()) == 0 and early.clock_ahead > 1000
    assert early.alarms_by_rule["CLOCK_AHEAD"] == early.clock_ahead
    assert set(early.alarms_by_rule) <= {"CLOCK_AHEAD", "BAD_SIGNATURE", "UNKNOWN_DEVICE"}  # (those come first)


def test_check_as_of_defaults_to_now_and_the_command_validates_it(city_dir: Path, tmp_path: Path) -> None:
    from anxin.cli import app

    s = run_check(city_dir, tmp_path / "d", workers=0)
    assert abs(parse_ts(s.as_of) - __import__("time").time_ns() // 1000) < 600 * US_PER_S and s.clock_ahead == 0
    res = CliRunner().invoke(app, ["check", str(city_dir), "--out", str(tmp_path / "e"), "--as-of", "yesterday"])
    assert res.exit_code != 0 and "--as-of" in res.output
    res = CliRunner().invoke(
        app, ["check", str(city_dir), "--out", str(tmp_path / "f"), "--workers", "0", "--as-of", "2026-12-01T00:00:00Z"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "f" / "summary.json").read_text())["as_of"] == "2026-12-01T08:00:00.000+08:00"


# ---------------------------------------------------------------------------- live
@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "db.sqlite")
    else:
        with fresh_pg_database() as url:
            yield url


def _ids(store: Store, station: str | None = None) -> set[str]:
    q = "SELECT alarm_id FROM alarms" + (" WHERE station_id = :s" if station else "")
    with store.engine.connect() as c:
        return set(c.execute(text(q), {"s": station}).scalars())


@pytest.fixture(scope="module")
def checked_as_of(city_dir: Path, tmp_path_factory) -> tuple[list[dict], list[dict]]:
    """``anxin check --as-of`` the live tests' receipt time, on the city with the 2099 line
    and without it: the alarms each live run must equal (the same records and time whatever
    the database and wherever the line comes in the uploads: checked once, not per run)."""
    root = tmp_path_factory.mktemp("ahead-checks")
    data = _with_future_line(city_dir, root / "data")
    run_check(data, root / "batch", workers=0, as_of_us=LIVE_AS_OF)
    run_check(city_dir, root / "plain", workers=0, as_of_us=LIVE_AS_OF)
    return _alarms(root / "batch"), _alarms(root / "plain")


@pytest.mark.parametrize("where", ["first", "middle"])
def test_live_a_2099_reading_silences_no_station(
    city_dir: Path, checked_as_of: tuple[list[dict], list[dict]], tmp_path: Path, store_url: str, where: str
) -> None:
    """The issue's probe: the day's lines of S0001 uploaded as its edge agent would, with a
    tank reading dated 2099 among them. Live now raises what ``anxin check --as-of`` raises
    on the same records with the same receipt time — and, the 2099 line aside, what the
    check raises without it."""
    data = _with_future_line(city_dir, tmp_path / "data")
    future = (data / "zz-future.jsonl").read_bytes().strip()
    station = json.loads(future)["station_id"]
    batches = uploads(arrival_lines(city_dir), "S0001", size=200)
    mine = [i for i, (sid, _) in enumerate(batches) if sid == station]
    k = mine[0] if where == "first" else mine[len(mine) // 2]
    sid, lines = batches[k]
    batches[k] = (sid, [*lines[: len(lines) // 2], future, *lines[len(lines) // 2 :]])
    as_of = LIVE_AS_OF
    svc = IngestService(Store(store_url), clock=Clock(as_of))
    svc.set_registry((city_dir / "registry.json").read_bytes(), author="test", reason="test city")
    for sid, lines in batches:
        svc.ingest(sid, lines, source="test")
    batch_alarms, plain_alarms = checked_as_of  # anxin check --as-of on `data` and on the city without the line
    batch = {a["alarm_id"] for a in batch_alarms}
    plain = {a["alarm_id"] for a in plain_alarms}
    live = _ids(svc.store)
    assert live == batch
    ahead = {a["alarm_id"] for a in batch_alarms if a["rule"] == "CLOCK_AHEAD"}
    assert len(ahead) == 1 and live - ahead == plain
    with svc.store.engine.connect() as c:
        row = c.execute(
            text("SELECT quarantined, received_us FROM ledger WHERE event_time_us = :t"), {"t": parse_ts(FUTURE)}
        ).one()
    assert row[0] and row[1] == as_of  # kept as evidence, with the receipt time it was judged by
    # A restart replays with the stored receipt times (not the clock of the restart).
    with svc.store.engine.begin() as c:
        c.execute(text("DELETE FROM alarms"))
        c.execute(text("DELETE FROM checkpoints"))
    again = IngestService(svc.store, clock=Clock(parse_ts(FUTURE) + US_PER_H))
    assert again.replayed > 0 and _ids(again.store) == batch


def test_live_clock_ahead_is_reported_per_line_and_on_metrics(city_dir: Path, tmp_path: Path) -> None:
    now = parse_ts("2026-12-01T12:00:00+08:00")
    clock = Clock(now)
    svc = IngestService(Store(str(tmp_path / "db.sqlite")), clock=clock)
    svc.set_registry((city_dir / "registry.json").read_bytes(), author="test", reason="test city")
    app = create_app(ServeConfig(db=svc.store.url, clock_every_s=0, metrics_token="m" * 32, admin_token="a" * 32), svc)
    c = TestClient(app)
    token = c.post("/v1/stations/S0001/token", headers={"Authorization": "Bearer " + "a" * 32}).json()["token"]
    tank = next(t for t in json.loads((city_dir / "registry.json").read_text())["tanks"] if t["station_id"] == "S0001")
    ahead3 = dict(_tank_reading(format_ts(now + 3 * US_PER_MIN), "S0001"), tank_id=tank["tank_id"])
    far = dict(_tank_reading(FUTURE, "S0001"), tank_id=tank["tank_id"])
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    r = c.post("/v1/records", content=line(ahead3) + b"\n" + line(far), headers=h)
    assert r.status_code == 207, r.text
    ok, q = r.json()["results"]
    assert ok["status"] == "accepted" and q["status"] == "quarantined" and "CLOCK_AHEAD" in q["reason"]
    assert "2099" in q["reason"] and format_ts(now) in q["reason"]
    clock.now += 10 * US_PER_S
    m = c.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).text
    lag = next(x for x in m.splitlines() if x.startswith('anxin_station_lag_seconds{station="S0001"}'))
    assert float(lag.split()[-1]) == pytest.approx(-170.0)  # 3 min ahead, 10 s later: negative, not clamped
    age = next(x for x in m.splitlines() if x.startswith('anxin_station_receipt_age_seconds{station="S0001"}'))
    assert float(age.split()[-1]) == pytest.approx(10.0)
    assert "anxin_clock_ahead_quarantined_total 1.0" in m
    # The same far line again: a duplicate of the quarantined record, not a second quarantine.
    again = c.post("/v1/records", content=line(far), headers=h).json()["results"][0]
    assert again["status"] == "quarantined" and "already received" in again["reason"]
    assert (
        "anxin_clock_ahead_quarantined_total 1.0"
        in c.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).text
    )
    assert msgspec.json.decode(r.content)["quarantined"] == 1
