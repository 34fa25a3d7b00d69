"""One trial of a protocol, measured: a simulated city through ``anxin check`` joined with
its truth, or one tank scene through the witness. Each returns counts only (picklable,
summed by :mod:`anxin.certify.run`); nothing here reads a clock, so a trial gives the same
counts wherever and whenever it runs.

**Units** (what one trial of a rate counts; the report states them):

* probability of detection — per injected fault that must raise the rule (its ``expect``
  keys in the truth): detected when the check raised every one of them;
* false-alarm rate — an alarm no injected fault explains (neither an ``expect`` nor an
  ``allow`` key), per honest unit of the rule's kind: a sale, a metering record, any
  record, a nozzle-day, a nozzle, a tank or a station over a city's run — honest meaning
  that no injected fault touched it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from anxin.certify.protocol import CityTrial, TankTrial
from anxin.contract.times import parse_ts
from anxin.sim.scenarios import BY_NAME

US_PER_DAY = 86_400_000_000

# The honest unit each rule's false alarms are counted against (default: a nozzle-day).
UNITS = ("sale", "metering", "record", "nozzle_day", "nozzle", "tank", "station")
UNIT_OF: dict[str, str] = {
    "VOLUME_MISMATCH": "sale",
    "AMOUNT_MISMATCH": "sale",
    "PRICE_MISMATCH": "sale",
    "UNMATCHED_SETTLEMENT": "sale",
    "UNMATCHED_METERING": "metering",
    "BAD_SIGNATURE": "metering",
    "SEQUENCE_GAP": "metering",
    "DUPLICATE_SEQ": "metering",
    "METROLOGY_INCONSISTENT": "metering",
    "TOTALIZER_JUMP": "metering",
    "FLOW_IMPLAUSIBLE": "metering",
    "UNKNOWN_DEVICE": "record",
    "CLOCK_AHEAD": "record",
    "METER_DRIFT": "nozzle",
    "TANK_LOSS": "tank",
    "STATION_BIAS": "station",
}
DEFAULT_UNIT = "nozzle_day"
STATISTICAL_KINDS = frozenset({"legacy_rigged", "meter_drift", "tank_leak"})


def unit_of(rule: str) -> str:
    return UNIT_OF.get(rule, DEFAULT_UNIT)


class CityCounts(msgspec.Struct, kw_only=True):
    rule_trials: dict[str, list[int]]  # rule → [faults that must raise it, of them detected]
    kind_trials: dict[str, list[int]]  # fault kind (scenario) → [injected, detected]
    false_alarms: dict[str, int]  # rule → alarms no fault explains
    alarms: dict[str, int]  # rule → every alarm
    units: dict[str, int]  # honest unit → count
    records: int  # records checked (every kind)


def _as_of(trial: CityTrial, start_us: int) -> int:
    """The receipt time of every record: two days after the city's last day (fixed, so
    the check decides the same whenever it runs)."""
    return start_us + (trial.days + 2) * US_PER_DAY


def run_city(trial: CityTrial) -> CityCounts:
    """Simulate the city in a directory of its own, check it, join with the truth."""
    from anxin.check.run import run_check
    from anxin.contract.registry import load_registry
    from anxin.sim import simulate
    from anxin.sim.truth import read_faults, truth_dir_for

    root = Path(tempfile.mkdtemp(prefix="anxin-certify-"))
    try:
        data = root / "city"
        simulate(
            data, stations=trial.stations, days=trial.days, seed=trial.seed, scenarios=trial.scenario_set(), workers=1
        )
        start_us = parse_ts("2026-03-01T00:00:00+08:00")
        summary = run_check(data, root / "check", workers=0, as_of_us=_as_of(trial, start_us))
        faults = read_faults(truth_dir_for(data))
        registry = load_registry(data / "registry.json")
        alarms = [msgspec.json.decode(line) for line in (root / "check" / "alarms.jsonl").read_bytes().splitlines()]
        return join(faults, alarms, summary.records, registry, trial.days)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def join(faults: list, alarms: list[dict[str, Any]], records: dict[str, int], registry: Any, days: int) -> CityCounts:
    """Count detections per rule and per fault kind, the unexplained alarms per rule and
    the honest units, as :mod:`anxin.sim.evaluate` matches alarms with the truth."""
    from anxin.sim.evaluate import alarm_keys, truth_key

    expect: set[tuple] = set()
    allowed: set[tuple] = set()
    for f in faults:
        expect.update(truth_key(k) for k in f.expect)
        allowed.update(truth_key(k) for k in f.allow)
    matched: set[tuple] = set()
    false_alarms: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    for a in alarms:
        rule = str(a.get("rule"))
        by_rule[rule] = by_rule.get(rule, 0) + 1
        keys = alarm_keys(a)
        matched.update(k for k in keys if k in expect)
        if not any(k in expect or k in allowed for k in keys):
            false_alarms[rule] = false_alarms.get(rule, 0) + 1
    rule_trials: dict[str, list[int]] = {}
    kind_trials: dict[str, list[int]] = {}
    for f in faults:
        if not f.expect:
            continue  # an honest structure (an authorised K change): nothing to detect
        keys = [truth_key(k) for k in f.expect]
        kind = kind_trials.setdefault(f.scenario, [0, 0])
        kind[0] += 1
        kind[1] += all(k in matched for k in keys)
        for rule in sorted({k.rule for k in f.expect}):
            mine = [truth_key(k) for k in f.expect if k.rule == rule]
            row = rule_trials.setdefault(rule, [0, 0])
            row[0] += 1
            row[1] += all(k in matched for k in mine)
    return CityCounts(
        rule_trials=rule_trials,
        kind_trials=kind_trials,
        false_alarms=false_alarms,
        alarms=by_rule,
        units=_honest_units(faults, records, registry, days),
        records=sum(records.values()),
    )


def _honest_units(faults: list, records: dict[str, int], registry: Any, days: int) -> dict[str, int]:
    orders: set[tuple] = set()
    seqs: set[tuple] = set()
    nozzles: set[str] = set()
    tanks: set[str] = set()
    stations: set[str] = set()
    for f in faults:
        for k in [*f.expect, *f.allow]:
            if k.order_id is not None:
                orders.add((k.station_id, k.order_id))
            if k.seq is not None:
                seqs.add((k.nozzle_id, k.seq))
        info = BY_NAME.get(f.scenario)
        if info is not None and info.unit == "nozzles":  # a sale's fault leaves its nozzle's state honest
            nozzles.update(k.nozzle_id for k in [*f.expect, *f.allow] if k.nozzle_id is not None)
            if f.nozzle_id:
                nozzles.add(f.nozzle_id)
        if f.tank_id:
            tanks.add(f.tank_id)
        if f.scenario in STATISTICAL_KINDS:
            stations.add(f.station_id)
    registered = {n.nozzle_id for n in registry.nozzles}
    honest_nozzles = len(registered - nozzles)
    return {
        "sale": max(records.get("settlement", 0) - len(orders), 0),
        "metering": max(records.get("metering", 0) - len(seqs), 0),
        "record": max(sum(records.values()) - len(orders) - len(seqs), 0),
        "nozzle_day": honest_nozzles * days,
        "nozzle": honest_nozzles,
        "tank": max(len(registry.tanks) - len(tanks & set(registry.tank_by_id)), 0),
        "station": max(len(registry.stations) - len(stations), 0),
    }


class Honest(msgspec.Struct, array_like=True):
    """An honest nozzle of a tank scene: its true error, the final estimate (‰), the
    witness's status and whether the engine raised METER_DRIFT over its looks."""

    true: float
    est: float | None
    lo: float | None
    hi: float | None
    status: str | None
    drift: bool | None


class TankCounts(msgspec.Struct, kw_only=True):
    world: str
    days: int
    leak_l_per_h: float
    leak_alarmed: bool | None  # None: no estimate
    honest: list[Honest]
    drifted: list[bool]  # per ±7…10‰ nozzle: found (violation or METER_DRIFT)


def run_tank(trial: TankTrial) -> TankCounts:
    from anxin.engine.stats.models import WitnessSettings
    from anxin.sim.robustness import evaluate_scene, make_scenes, score_scene
    from anxin.sim.world import WORLDS

    scene = make_scenes(WORLDS[trial.world], trial.seed, trial.days, tanks=trial.tanks, only=trial.index)[0]
    out = score_scene(scene, evaluate_scene(scene, WitnessSettings(), looks=trial.looks))
    return TankCounts(
        world=trial.world,
        days=trial.days,
        leak_l_per_h=out.leak_l_per_h,
        leak_alarmed=out.leak_suspected,
        honest=[
            Honest(true=n.true_permille, est=n.est_permille, lo=n.lo, hi=n.hi, status=n.status, drift=n.meter_drift)
            for n in out.nozzles
            if n.kind == "honest"
        ],
        drifted=[bool(n.status == "violation" or n.meter_drift) for n in out.nozzles if n.kind == "drift"],
    )
