"""Issue 11, finding 5 — a station that went silent was never decided: the watermark moved
only with its own records, so a rigged sale followed by silence stayed pending for
ever, and nothing alarmed that the station went quiet. Contract v1.1 §D: ``DATA_OUTAGE``
(station, tank gauge, module) on the platform's clock, with a note when data comes
again; a tick in the ledger after a day of silence takes the pending decisions; a
replay of the ledger raises the same alarms and notes; late records after a tick still
pair. The live path runs through ``anxin serve``'s app, its clock job driven by the
test's clock (no sleeping)."""

from __future__ import annotations

import pickle
import random

import msgspec
import pytest
from factory import T0, City, line
from fastapi.testclient import TestClient
from services import fresh_pg_database
from sqlalchemy import text

from anxin.contract.parse import Parsed, parse_line
from anxin.contract.registry import parse_registry
from anxin.contract.times import US_PER_DAY, US_PER_H, US_PER_MIN, US_PER_S, format_ts, parse_ts
from anxin.crypto.keys import KeyRing, authenticate
from anxin.engine import Engine, EngineSettings
from anxin.engine.clock import Tick
from anxin.ingest.service import IngestService
from anxin.reports.online import online_by_district
from anxin.serve.app import create_app
from anxin.serve.config import ServeConfig
from anxin.store.database import Store

ADMIN, METRICS = "a" * 32, "m" * 32


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _registry(city: City, hours: list[str] | None = None) -> dict:
    d = city.registry_dict()
    if hours is not None:
        d["stations"][0]["hours"] = hours
    return d


class Feeder:
    """An engine fed records with receipt times and ticks, every output kept."""

    def __init__(self, city: City, hours: list[str] | None = None, settings: EngineSettings | None = None) -> None:
        self.reg = parse_registry(msgspec.json.encode(_registry(city, hours)))
        self.engine = Engine(self.reg, settings or EngineSettings(witness_enabled=False))
        self.ring = KeyRing.from_registry(self.reg)
        self.out: list = []

    def feed(self, rec: dict, rx: int) -> list:
        p = parse_line(line(rec))
        assert isinstance(p, Parsed), p
        got = self.engine.feed(p, authenticate(p, self.ring), received_us=rx)
        self.out += got
        return got

    def clock(self, now: int) -> list:
        got = []
        for tick in self.engine.due_ticks(now):
            got += self.engine.tick(tick)
        self.out += got
        return got

    def alarms(self, rule: str) -> list:
        return [a for a in self.out if getattr(a, "rule", None) == rule]

    def notes(self, alarm_id: str) -> dict:
        return {n.key: n.value for n in self.out if getattr(n, "key", None) and n.alarm_id == alarm_id}


def _reading(ts: int, station: str = "S1") -> dict:
    return {
        "kind": "tank_reading",
        "station_id": station,
        "tank_id": f"{station}-T1",
        "ts": format_ts(ts),
        "level_um": 1_500_000,
        "water_um": 0,
        "temp_mc": 18_000,
    }


def _rigged(city: City, t: int) -> tuple[dict, dict]:
    """A dispensing and its sale: the sale is sent, the metering withheld."""
    m = city.metering("S1-N1", t)
    return m, city.sale(m)


# ---------------------------------------------------------------------------- engine
def test_a_silent_station_is_decided_by_a_tick_and_late_records_still_pair() -> None:
    city = City()
    f = Feeder(city)
    honest = city.honest_day("S1-N1", T0, 3)
    for rec in honest:
        f.feed(rec, parse_ts(rec.get("ts") or rec["end"]) + US_PER_MIN)
    m, sale = _rigged(city, T0 + US_PER_H)
    last_rx = parse_ts(sale["ts"]) + US_PER_MIN
    f.feed(sale, last_rx)  # then nothing: the station goes silent
    other = _reading(T0 + 2 * US_PER_H, "S2")
    f.feed(other, parse_ts(other["ts"]))
    w = f.engine.stations["S1"].watermark
    assert f.engine.pending()["settlement awaiting metering"] == 1
    assert f.engine.due_ticks(last_rx + 24 * US_PER_H - 1) == []  # 24 h of the platform's clock first
    now = last_rx + 24 * US_PER_H + 5 * US_PER_MIN
    (tick,) = f.engine.due_ticks(now)
    assert tick == Tick(received_us=now, station_id="S1", until_us=w + now - last_rx, silence_s=(now - last_rx) / 1e6)
    got = f.engine.tick(tick)
    (unmatched,) = [a for a in got if getattr(a, "rule", None) == "UNMATCHED_SETTLEMENT"]
    assert unmatched.order_id == sale["order_id"] and f.engine.pending() == {}
    assert f.engine.stations["S2"].watermark == parse_ts(other["ts"])  # S2 untouched by S1's tick
    assert f.engine.due_ticks(now + 25 * US_PER_H) == []  # nothing pending: no tick again
    # The withheld metering turns up late: it still pairs, and the alarm notes it.
    late = f.feed(m, now + US_PER_H)
    assert not [a for a in late if getattr(a, "rule", None) == "UNMATCHED_METERING"]
    (note,) = [n for n in late if getattr(n, "key", None) == "late_metering"]
    assert note.alarm_id == unmatched.alarm_id and note.value["seq"] == m["seq"]
    assert f.engine.counts["ticks"] == 1


def test_a_tick_is_a_record_that_moves_the_watermark_and_nothing_else() -> None:
    def day(c: City) -> list[dict]:
        recs = c.honest_day("S1-N1", T0, 5)
        recs.append(c.metering("S1-N2", T0 + 10 * US_PER_MIN))  # off-book
        recs.append(c.event("S1-N1", T0 + 20 * US_PER_MIN, "seal_open"))
        return recs

    until = T0 + 30 * US_PER_H
    a, b = Feeder(City()), Feeder(City())
    for f in (a, b):
        for rec in day(City()):
            f.feed(rec, T0 + US_PER_H)
    a.out += a.engine.tick(Tick(received_us=until, station_id="S1", until_us=until))
    b.feed(_reading(until), until)  # a record of that time instead: its own rules raise nothing
    fa = sorted((x.alarm_id, x.rule, x.message) for x in a.out if hasattr(x, "rule"))
    fb = sorted((x.alarm_id, x.rule, x.message) for x in b.out if hasattr(x, "rule"))
    assert fa == fb and {"UNMATCHED_METERING", "SEAL_BREACH"} <= {r for _, r, _ in fa}
    assert a.engine.pending() == b.engine.pending() == {}


def test_station_outage_within_its_opening_hours_and_the_note_when_it_returns() -> None:
    city = City()
    f = Feeder(city, hours=["06:00", "23:00"])
    evening = parse_ts("2026-03-02T22:40:00+08:00")
    rec = _reading(evening - 30 * US_PER_S)
    f.feed(rec, evening)
    assert f.clock(evening + 29 * US_PER_MIN) == []  # 20 min expected before closing, then the night
    assert f.clock(parse_ts("2026-03-03T06:09:59+08:00")) == []
    (outage,) = f.clock(parse_ts("2026-03-03T06:10:01+08:00"))
    assert outage.rule == "DATA_OUTAGE" and outage.severity == "major" and outage.station_id == "S1"
    assert outage.tank_id is None and outage.nozzle_id is None and outage.ts == rec["ts"]
    assert outage.evidence["level"] == "station" and outage.evidence["silent_since_us"] == evening
    assert "06:00–23:00" in outage.evidence["expected"]
    assert f.clock(parse_ts("2026-03-03T09:00:00+08:00")) == []  # one alarm per outage
    back = parse_ts("2026-03-03T09:30:00+08:00")
    got = f.feed(_reading(back - US_PER_MIN), back)
    (note,) = [n for n in got if getattr(n, "key", None) == "resumed"]
    assert note.alarm_id == outage.alarm_id
    assert note.value == {"received": format_ts(back), "received_us": back, "outage_s": (back - evening) / 1e6}
    assert f.engine.watch.open_outages() == {}
    (again,) = f.clock(back + 31 * US_PER_MIN)  # silent again: a new outage, a new alarm
    assert again.alarm_id != outage.alarm_id and again.evidence["silent_since_us"] == back


def _learned_week(f: Feeder, start: int, days: int, *, until: int | None = None) -> int:
    """Tank readings every 5 min, received a minute later, for ``days`` days (to ``until``)."""
    t = start
    end = start + days * US_PER_DAY if until is None else until
    while t < end:
        f.feed(_reading(t), t + US_PER_MIN)
        t += 5 * US_PER_MIN
    return t


def test_learned_activity_a_gauge_silent_while_its_station_reports() -> None:
    city = City()
    f = Feeder(city)
    day0 = parse_ts("2026-03-02T00:00:00+08:00")
    stop = day0 + 8 * US_PER_DAY + 10 * US_PER_H
    _learned_week(f, day0, 0, until=stop)  # 8 days of readings, the ninth until 10:00
    assert f.alarms("DATA_OUTAGE") == []
    last_rx = stop - 5 * US_PER_MIN + US_PER_MIN
    # The POS still reports: the tank gauge's silence is its own outage.
    t = stop
    while t < stop + 50 * US_PER_MIN:
        m = city.metering("S1-N1", t)
        f.feed(m, t + 2 * US_PER_MIN)
        f.feed(city.sale(m), t + 2 * US_PER_MIN)
        t += 10 * US_PER_MIN
    (gauge,) = f.alarms("DATA_OUTAGE")
    assert gauge.tank_id == "S1-T1" and gauge.evidence["level"] == "tank"
    assert gauge.evidence["silent_since_us"] == last_rx and "learned activity" in gauge.evidence["expected"]
    back = f.feed(_reading(t), t + US_PER_MIN)
    assert [n.key for n in back if getattr(n, "alarm_id", None) == gauge.alarm_id] == ["resumed"]


def test_learned_activity_a_silent_station_is_one_outage_not_one_per_device() -> None:
    f = Feeder(City())
    day0 = parse_ts("2026-03-02T00:00:00+08:00")
    stop = day0 + 8 * US_PER_DAY + 10 * US_PER_H
    _learned_week(f, day0, 0, until=stop)
    f.clock(stop + 20 * US_PER_MIN)
    assert f.alarms("DATA_OUTAGE") == []
    (station,) = f.clock(stop + 40 * US_PER_MIN)
    assert station.evidence["level"] == "station" and "learned activity" in station.evidence["expected"]
    back = stop + 3 * US_PER_H
    got = f.feed(_reading(back), back + US_PER_MIN)
    assert [n.key for n in got if getattr(n, "key", None)] == ["resumed"]
    # Back: the gauge's silence counts from the station's return, not from before it.
    f.feed(City().metering("S1-N1", back + 20 * US_PER_MIN), back + 21 * US_PER_MIN)
    assert [a.evidence["level"] for a in f.alarms("DATA_OUTAGE")] == ["station"]
    # Too short a history teaches nothing: a gauge that reported for four days is not expected yet.
    g = Feeder(City())
    _learned_week(g, day0, 4)
    assert g.clock(day0 + 6 * US_PER_DAY) == [] and g.alarms("DATA_OUTAGE") == []


def test_a_module_silent_while_its_nozzle_sells() -> None:
    city = City()
    f = Feeder(city)
    first = city.metering("S1-N1", T0)
    f.feed(first, T0 + 2 * US_PER_MIN)
    f.feed(city.sale(first), T0 + 2 * US_PER_MIN)
    sales = []
    for k in range(1, 7):  # sales of S1-N1 every 10 min, its module silent
        m = city.metering("S1-N1", T0 + k * 10 * US_PER_MIN)
        s = city.sale(m, legacy=True)
        sales.append(m)
        f.feed(s, T0 + k * 10 * US_PER_MIN + 2 * US_PER_MIN)
    (module,) = f.alarms("DATA_OUTAGE")
    assert module.nozzle_id == "S1-N1" and module.evidence["level"] == "nozzle"
    assert module.ts == first["end"] and "sells" in module.evidence["expected"]
    got = f.feed(sales[0], T0 + 75 * US_PER_MIN)  # the module reports again
    assert [n.key for n in got if getattr(n, "alarm_id", None) == module.alarm_id] == ["resumed"]
    assert f.alarms("DATA_OUTAGE") == [module]  # (a nozzle that never sells is never expected)


def _scripted(seed: int) -> list[tuple[str, dict | int, int]]:
    """Records with receipt times, and clock readings, of a station that reports and then
    falls silent — twice — with its neighbour going on."""
    rnd = random.Random(seed)
    city = City()
    steps: list[tuple[str, dict | int, int]] = []
    t = parse_ts("2026-03-02T07:00:00+08:00")
    for _ in range(2):
        for _ in range(rnd.randint(5, 15)):
            m = city.metering("S1-N1", t)
            rx = t + rnd.randint(60, 300) * US_PER_S
            steps += [("rec", m, rx)]
            if rnd.random() < 0.8:
                steps += [("rec", city.sale(m), rx)]
            steps += [("rec", _reading(t, "S2"), rx)]
            t += rnd.randint(5, 20) * US_PER_MIN
        silence = rnd.choice([40 * US_PER_MIN, 3 * US_PER_H, 26 * US_PER_H])
        for k in range(1, 6):
            steps += [("clock", 0, t + k * silence // 5)]
        t += silence
    return steps


def _play(steps, hours, cut: int | None = None) -> list:
    f = Feeder(City(), hours=hours)
    out = []
    for i, (what, rec, rx) in enumerate(steps):
        if cut is not None and i == cut:  # a restart: the state as a checkpoint keeps it
            f.engine = pickle.loads(pickle.dumps(f.engine))
        if what == "rec":
            assert isinstance(rec, dict)
            out += f.feed(rec, rx)
        else:
            out += f.clock(rx)
    return [msgspec.to_builtins(o) for o in out]


@pytest.mark.parametrize("seed", range(6))
def test_a_restart_anywhere_decides_the_same(seed: int) -> None:
    steps = _scripted(seed)
    hours = ["06:00", "23:00"] if seed % 2 else None
    base = _play(steps, hours)
    assert _play(steps, hours, cut=random.Random(seed).randrange(len(steps))) == base


# ---------------------------------------------------------------------------- live
@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "db.sqlite")
    else:
        with fresh_pg_database() as url:
            yield url


def _alarms(store: Store) -> dict[str, tuple[str, dict]]:
    with store.engine.connect() as c:
        rows = c.execute(text("SELECT alarm_id, rule, evidence FROM alarms")).all()
    return {a: (r, e if isinstance(e, dict) else msgspec.json.decode(e)) for a, r, e in rows}


def test_live_a_station_that_goes_silent_is_alarmed_decided_and_replayed_the_same(store_url: str) -> None:
    """The issue's probe through ``anxin serve``'s app: S1 uploads a morning with a rigged
    sale (its metering withheld), then nothing. Its outage is alarmed within the opening
    hours, its sale is decided after a day of silence, both stand in the ledger, and a
    replay of the ledger raises the same alarms with the same notes."""
    city = City()
    clock = Clock(T0)
    svc = IngestService(Store(store_url), clock=clock)
    svc.set_registry(msgspec.json.encode(_registry(city, ["06:00", "23:00"])), author="test", reason="test")
    cfg = ServeConfig(db=svc.store.url, admin_token=ADMIN, metrics_token=METRICS, clock_every_s=3600)
    app = create_app(cfg, svc)
    with TestClient(app) as c:  # the lifespan starts the clock job (it reads the clock once at start)
        assert app.state.clock_job.ran.wait(30) and app.state.clock_job._thread.is_alive()
        tok = c.post("/v1/stations/S1/token", headers={"Authorization": f"Bearer {ADMIN}"}).json()["token"]
        h = {"Authorization": f"Bearer {tok}", "Content-Type": "application/x-ndjson"}

        def upload(recs: list[dict], at: int) -> None:
            clock.now = at
            r = c.post("/v1/records", content=b"\n".join(line(x) for x in recs), headers=h)
            assert r.status_code == 200, r.text

        for k in range(4):
            recs = city.honest_day("S1-N1", T0 + k * 15 * US_PER_MIN, 1)
            upload(recs, T0 + (k * 15 + 2) * US_PER_MIN)
        m, sale = _rigged(city, T0 + US_PER_H)
        last = T0 + US_PER_H + 3 * US_PER_MIN
        upload([sale], last)
        run = app.state.clock_job.run_once
        clock.now = last + 29 * US_PER_MIN
        assert run() == 0 and "DATA_OUTAGE" not in {r for r, _ in _alarms(svc.store).values()}
        clock.now = last + 31 * US_PER_MIN
        assert run() == 1  # a clock tick: the outage is decided from the ledger's own time
        (outage_id,) = [a for a, (r, _) in _alarms(svc.store).items() if r == "DATA_OUTAGE"]
        metrics = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"}).text
        assert 'anxin_outages_open{level="station"} 1.0' in metrics and "anxin_clock_ticks_total 1.0" in metrics
        assert "UNMATCHED_SETTLEMENT" not in {r for r, _ in _alarms(svc.store).values()}
        clock.now = last + 24 * US_PER_H + 30 * US_PER_S
        assert run() == 1  # the day of silence: a tick for S1 takes its pending decisions
        rules = {r for r, _ in _alarms(svc.store).values()}
        assert "UNMATCHED_SETTLEMENT" in rules and svc.engine is not None and svc.engine.pending() == {}
        with svc.store.engine.connect() as conn:
            ticks = conn.execute(
                text(
                    "SELECT station_id, received_us, event_time_us, source FROM ledger WHERE kind = 'tick' ORDER BY id"
                )
            ).all()
        assert [(s, rx, src) for s, rx, _, src in ticks] == [
            ("", last + 31 * US_PER_MIN, "clock"),
            ("S1", clock.now, "clock"),
        ]
        assert ticks[1][2] == svc.engine.stations["S1"].watermark
        assert run() == 0  # nothing more to decide
        upload([m], clock.now + US_PER_H)  # the withheld metering, late: it pairs, both alarms noted
        got = _alarms(svc.store)
    (unmatched,) = [ev for r, ev in got.values() if r == "UNMATCHED_SETTLEMENT"]
    assert unmatched["late_metering"]["seq"] == m["seq"]
    assert got[outage_id][1]["resumed"]["outage_s"] == pytest.approx((clock.now - last) / 1e6)
    assert "UNMATCHED_METERING" not in {r for r, _ in got.values()}
    # Replays: a restart (checkpoint + ledger), then from nothing but the ledger.
    IngestService(svc.store, clock=Clock(T0 + 400 * US_PER_DAY))
    assert _alarms(svc.store) == got
    with svc.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM alarms"))
        conn.execute(text("DELETE FROM checkpoints"))
    rows = svc.store.ledger_max_id()
    cold = IngestService(svc.store, clock=Clock(T0 + 400 * US_PER_DAY))
    assert cold.replayed == rows == svc.store.ledger_max_id()  # the replay read the clock's decisions, added none
    assert _alarms(svc.store) == got


def test_online_rate_from_the_outage_record(tmp_path) -> None:
    city = City()
    clock = Clock(T0)
    svc = IngestService(Store(str(tmp_path / "db.sqlite")), clock=clock)
    svc.set_registry(msgspec.json.encode(_registry(city, ["06:00", "23:00"])), author="test", reason="test")
    day = parse_ts("2026-03-02T00:00:00+08:00")
    for station, at in (("S1", day + 8 * US_PER_H), ("S2", day + 8 * US_PER_H)):
        clock.now = at
        svc.ingest(station, [line(_reading(at - US_PER_MIN, station))], source="test")
    clock.now = day + 11 * US_PER_H  # S1 silent since 08:00 (3 h of its hours); S2 has no hours, nothing learned
    assert svc.tick() == 1
    clock.now = day + 12 * US_PER_H
    svc.ingest("S1", [line(_reading(clock.now - US_PER_MIN))], source="test")  # back at 12:00: 4 h out
    reg = svc.registry
    assert reg is not None
    parts = online_by_district(svc.store, reg, lo_us=day, hi_us=day + US_PER_DAY, now_us=day + 20 * US_PER_H)
    (district,) = parts.values()
    s1_expected, s1_out = district.by_station["S1"]
    assert s1_expected == 12 * US_PER_H and s1_out == 4 * US_PER_H  # 08:00–20:00 within 06:00–23:00
    assert district.by_station["S2"] == (12 * US_PER_H, 0)
    assert district.rate == pytest.approx(1 - 4 / 24) and district.open_outages == 0
    from anxin.reports.figures import period_figures

    fig = period_figures(svc.store, reg, start="2026-03-02", end="2026-03-02", now_us=day + 20 * US_PER_H)
    assert fig.online_rate == pytest.approx(1 - 4 / 24) and fig.online_outage_h == pytest.approx(4.0)
    assert fig.online_by_district == {"上城区": pytest.approx(1 - 4 / 24)}
    rows = dict(fig.rows("zh"))
    assert rows["在线率（应报时段有数据）"] == "83.3%" and rows["  其中 上城区"] == "83.3%"
    assert dict(fig.rows("en"))["Online rate (expected time with data)"] == "83.3%"


def test_online_rate_on_the_console_overview_in_the_exports_and_the_report(tmp_path) -> None:
    import io
    import re

    import openpyxl
    from typer.testing import CliRunner

    from anxin.auth import create_user
    from anxin.cli import app as cli
    from anxin.reports import period_figures, to_xlsx

    city = City()
    day = parse_ts("2026-03-02T00:00:00+08:00")
    clock = Clock(day + 8 * US_PER_H)
    db = str(tmp_path / "db.sqlite")
    svc = IngestService(Store(db), clock=clock)
    svc.set_registry(msgspec.json.encode(_registry(city, ["06:00", "23:00"])), author="test", reason="test")
    for station in ("S1", "S2"):
        svc.ingest(station, [line(_reading(clock.now - US_PER_MIN, station))], source="test")
    clock.now = day + 10 * US_PER_H
    assert svc.tick() == 1  # S1 silent since 08:00, within its hours: an outage, still open
    password = "correct horse battery staple"
    create_user(
        svc.store,
        username="zhang",
        display_name="张科长",
        role="regulator",
        password=password,
        actor="test",
        reason="test",
        now_us=clock.now,
    )
    app = create_app(ServeConfig(db=db, clock_every_s=0, cookie_secure=False), svc)
    c = TestClient(app)
    token = re.search(r'name="form_token" value="([^"]+)"', c.get("/console/login").text)
    data = {"username": "zhang", "password": password, "next": "/console"}
    if token is not None:
        data["form_token"] = token.group(1)
    c.post("/console/login", data=data)
    page = c.get("/console").text
    # The last 24 h: S1 monitored 08:00–10:00 (2 h, 2 h out), S2 the same 2 h with data.
    assert "在线率（近24小时）" in page and "50.0%" in page and "rule=DATA_OUTAGE" in page
    assert "Online rate (last 24 h)" in c.get("/console?lang=en").text
    reg = svc.registry
    assert reg is not None
    fig = period_figures(svc.store, reg, start="2026-03-02", end="2026-03-02", now_us=clock.now)
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(fig))).active
    rows = {r[0]: r[1] for r in sheet.iter_rows(values_only=True)}
    assert rows["在线率（应报时段有数据）"] == "50.0%" and rows["  其中 上城区"] == "50.0%"
    svc.store.close()
    res = CliRunner().invoke(cli, ["report", "--period", "2026-03-02", "--db", db, "--lang", "zh"])
    assert res.exit_code == 0, res.output
    assert "在线率" in res.output
