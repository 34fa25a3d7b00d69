"""The tank witness's looks in the live service's store (issue 12, item 7): every scheduled
look and the final one stored, each nozzle's estimate and each tank's figures (loss, pooled
error, chart correction), on SQLite and PostgreSQL; the console's reads of them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from anxin.check.pipeline import merged
from anxin.check.reader import data_files
from anxin.contract.parse import Parsed
from anxin.contract.registry import load_registry
from anxin.demo.live import replay
from anxin.engine import Engine
from anxin.engine.witness import WitnessLook
from anxin.ingest.service import IngestService
from anxin.sim import ScenarioSet, simulate
from anxin.store import schema as T
from anxin.store import witness as W
from anxin.store.database import Store

START = dt.date(2026, 3, 7)  # looks at the 9th's and 10th's midnights (the 8th's has < 24 h), then the final one


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("witness-store")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wstore") / "data"
    simulate(
        out,
        stations=2,
        days=4,
        seed=8,
        scenarios=ScenarioSet.parse("honest,legacy_rigged=0.4"),
        start=START,
        workers=1,
        group_size=2,
    )
    return out


@pytest.fixture(scope="module")
def expected(city: Path) -> list[WitnessLook]:
    """The looks the engine takes on the city, batch-wise, and the final one."""
    reg = load_registry(city / "registry.json")
    eng = Engine(reg)
    looks: list[WitnessLook] = []
    for _t, _fi, _n, p, v in merged(data_files(city), reg):
        if isinstance(p, Parsed):
            looks.extend(o for o in eng.feed(p, v) if isinstance(o, WitnessLook))
    return looks + eng.witness().looks


def test_every_look_is_stored_with_its_tanks(city: Path, expected: list[WitnessLook], store: Store) -> None:
    service = IngestService(store)
    service.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    replay(city, service, speed=0)
    scheduled = [lk for lk in expected if lk.ts.endswith("T00:00:00.000+08:00")]
    assert len({lk.ts for lk in scheduled}) == 2 and len(expected) > len(scheduled)  # two midnights, and the end
    with store.engine.connect() as c:
        meters = {(r.nozzle_id, r.ts): r for r in c.execute(select(T.meter_estimates)).all()}
        tanks = {(r.tank_id, r.ts): r for r in c.execute(select(T.tank_estimates)).all()}
        want_meters = {(m.nozzle_id, lk.ts): m for lk in expected for m in lk.meters}
        want_tanks = {(e.tank_id, lk.ts): e for lk in expected for e in lk.tanks}
        assert set(meters) == set(want_meters) and set(tanks) == set(want_tanks)
        for key, m in want_meters.items():
            row = meters[key]
            assert row.error_permille == pytest.approx(m.error_permille) and row.status == m.status
            assert (row.pooled_permille is None) == (m.pooled_permille is None)
        for key, e in want_tanks.items():
            row = tanks[key]
            assert row.loss_l_per_h == pytest.approx(e.loss_l_per_h)
            assert (row.loss_ci_lo_l_per_h, row.loss_ci_hi_l_per_h) == pytest.approx(e.loss_ci95_l_per_h)
            assert row.leak_suspected == e.leak_suspected and row.scale_anchored == e.scale_anchored
            assert row.readings_used == e.readings_used and row.method == e.method
            assert [x[0] for x in row.chart_correction] == [c[0] for c in e.chart_correction]
            assert [x[1] for x in row.chart_correction] == pytest.approx([c[1] for c in e.chart_correction])
        # what the console reads: the latest per nozzle and per tank, a nozzle's trend
        station = expected[-1].station_id
        last = max(lk.ts for lk in expected if lk.station_id == station)
        now = W.station_meter_estimates(c, station)
        assert now and all(r["ts"] == last for r in now.values())
        assert set(now) == {
            m.nozzle_id for lk in expected if lk.ts == last for m in lk.meters if lk.station_id == station
        }
        now_tanks = W.station_tank_estimates(c, station)
        assert now_tanks and all(r["ts"] == last for r in now_tanks.values())
        nozzle = next(iter(now))
        trend = W.nozzle_estimates(c, nozzle)
        assert [r["ts"] for r in trend] == sorted(k[1] for k in want_meters if k[0] == nozzle)
        latest_tank = W.tank_estimate(c, next(iter(now_tanks)))
        assert latest_tank is not None and latest_tank["ts"] == last
        assert W.tank_estimate(c, "no-such-tank") is None
    # a replay of the ledger (recovery) takes the same looks and stores nothing twice
    again = IngestService(store)
    again.final_look()
    with store.engine.connect() as c:
        assert len(c.execute(select(T.meter_estimates)).all()) == len(meters)
