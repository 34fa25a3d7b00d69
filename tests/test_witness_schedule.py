"""The tank witness's scheduled looks inside the engine (live and batch alike): one look
per station at each local midnight, over the window before it, once the watermark is a
horizon past it; a finding is alarmed once; the periodic tests on their weekly cadence."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec
import pytest

from anxin.check.pipeline import merged
from anxin.check.reader import data_files
from anxin.contract.alarm import Alarm
from anxin.contract.parse import Parsed
from anxin.contract.registry import load_registry
from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY, US_PER_H
from anxin.contract.times import parse_ts as to_us
from anxin.engine import Engine, EngineSettings
from anxin.engine.witness import WitnessLook
from anxin.sim import ScenarioSet, simulate, truth_dir_for

START = dt.date(2026, 3, 7)  # a Saturday: looks on Sunday (< 24 h, none), Monday (tests), Tuesday
DAYS = 4


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("witness-schedule")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sched") / "data"
    simulate(
        out,
        stations=2,
        days=DAYS,
        seed=8,
        scenarios=ScenarioSet.parse("honest,legacy_rigged=0.4"),
        start=START,
        workers=1,
        group_size=2,
    )
    return out


def _run(city: Path, settings: EngineSettings = EngineSettings()) -> tuple[Engine, list]:
    reg = load_registry(city / "registry.json")
    eng = Engine(reg, settings)
    outs: list = []
    for _t, _fi, _n, p, v in merged(data_files(city), reg):
        if isinstance(p, Parsed):
            outs.extend(eng.feed(p, v))
    return eng, outs


@pytest.fixture(scope="module")
def default_run(city: Path) -> tuple[Engine, list]:
    return _run(city)


def _midnight(ts: str) -> bool:
    return (to_us(ts) + LOCAL_OFFSET_US) % US_PER_DAY == 0


def test_looks_at_local_midnights_over_the_past_only(default_run) -> None:
    _, outs = default_run
    looks = [o for o in outs if isinstance(o, WitnessLook)]
    t0 = to_us(f"{START.isoformat()}T00:00:00+08:00")
    days = sorted({(to_us(lk.ts) - t0) // US_PER_DAY for lk in looks})
    assert days == [2, 3]  # day 1 has less than 24 h of history; day 4 is the end of the data
    assert len(looks) == 2 * 2  # both stations, both looks
    for lk in looks:
        assert _midnight(lk.ts)
        for tank in lk.tanks:  # only what came before the look
            assert tank.hours <= (to_us(lk.ts) - t0) / US_PER_H
        weekday = dt.datetime.fromtimestamp((to_us(lk.ts) + LOCAL_OFFSET_US) / 1e6, tz=dt.UTC).weekday()
        assert lk.tests == (weekday == 0)
    assert any(lk.tests for lk in looks)


def test_rigged_boards_alarmed_once_at_the_first_look(city: Path, default_run) -> None:
    eng, outs = default_run
    drift = [o for o in outs if isinstance(o, Alarm) and o.rule == "METER_DRIFT"]
    assert len({a.alarm_id for a in drift}) == len(drift)  # one alarm per finding, whatever the looks
    truth = [json.loads(line) for line in (truth_dir_for(city) / "meters.jsonl").read_text().splitlines()]
    rigged = {t["nozzle_id"] for t in truth if t["scenario"] == "legacy_rigged"}
    assert rigged and {a.nozzle_id for a in drift} == rigged
    first = min(to_us(a.ts) for a in drift)
    assert all(_midnight(a.ts) for a in drift) and all(to_us(a.ts) == first for a in drift)
    # The end of a batch looks once more: the same findings, nothing new to raise.
    final = eng.witness()
    assert {a.alarm_id for a in final.alarms if a.rule == "METER_DRIFT"} == {a.alarm_id for a in drift}


def test_window_bounds_what_a_look_sees(city: Path) -> None:
    short = EngineSettings(witness_window_us=2 * US_PER_DAY)
    _, outs = _run(city, short)
    looks = [o for o in outs if isinstance(o, WitnessLook)]
    assert looks
    for lk in looks:
        assert all(t.hours <= 48 for t in lk.tanks)
    last = max(looks, key=lambda lk: lk.ts)
    assert any(t.hours > 40 for t in last.tanks)


def test_no_looks_when_switched_off(city: Path) -> None:
    eng, outs = _run(city, EngineSettings(witness_every_us=0))
    assert not any(isinstance(o, WitnessLook) for o in outs)
    assert not any(isinstance(o, Alarm) and o.rule == "METER_DRIFT" for o in outs)
    assert any(a.rule == "METER_DRIFT" for a in eng.witness().alarms)


def test_looks_serialise(default_run) -> None:
    _, outs = default_run
    lk = next(o for o in outs if isinstance(o, WitnessLook))
    back = msgspec.json.decode(msgspec.json.encode(lk), type=WitnessLook)
    assert back == lk
