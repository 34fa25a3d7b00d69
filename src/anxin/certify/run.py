"""Run a protocol (at most two processes) and sum its trials into the report.

The trials run in any order on the workers; their counts are summed in the protocol's
order, so the report does not depend on which worker finished first."""

from __future__ import annotations

import math
import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any

import anxin
from anxin.certify.measure import (
    UNITS,
    CityCounts,
    TankCounts,
    run_city,
    run_tank,
    unit_of,
)
from anxin.certify.protocol import CityTrial, Protocol, TankTrial
from anxin.certify.report import (
    CityRun,
    FaultKindFigures,
    LeakFigures,
    Report,
    RuleFigures,
    WitnessFigures,
)
from anxin.certify.stats import ALPHA, MIN_TRIALS, proportion, sig
from anxin.contract.alarm import LIVE_ONLY_RULES, RECORD_LEVEL_RULES, RULES
from anxin.sim.robustness import LEAK_LONG_L_PER_H, LEAK_SHORT_L_PER_H
from anxin.sim.scenarios import SCENARIOS

MAX_WORKERS = 2
L_PER_GAL = 3.785411784
EPA_PD, EPA_PFA = 0.95, 0.05

Progress = Callable[[int, int], None]


def _one(task: tuple[int, CityTrial | TankTrial]) -> tuple[int, CityCounts | TankCounts]:
    i, trial = task
    return i, run_city(trial) if isinstance(trial, CityTrial) else run_tank(trial)


def _cost(trial: CityTrial | TankTrial) -> float:
    """Seconds of CPU, roughly: longest first, so the two workers end together."""
    if isinstance(trial, CityTrial):
        return 1.0 * trial.stations * trial.days
    return 0.15 * trial.days * (1 + 4 * trial.looks) if trial.days <= 7 else 4.0


def execute(protocol: Protocol, *, workers: int = MAX_WORKERS, progress: Progress | None = None) -> Report:
    trials: list[CityTrial | TankTrial] = [*protocol.cities, *protocol.tanks]
    order = sorted(range(len(trials)), key=lambda k: (-_cost(trials[k]), k))
    tasks = [(k, trials[k]) for k in order]
    results: dict[int, CityCounts | TankCounts] = {}
    workers = max(1, min(workers, MAX_WORKERS, len(tasks)))
    if workers == 1:
        stream: Any = map(_one, tasks)
        pool = None
    else:
        # fork: the workers inherit the loaded modules (spawn where fork does not exist)
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        pool = ctx.Pool(workers, maxtasksperchild=8)
        stream = pool.imap_unordered(_one, tasks)
    if progress:  # (after the fork: a progress bar's thread is not forked with a lock held)
        progress(0, len(tasks))
    try:
        for done, (k, counts) in enumerate(stream, 1):
            results[k] = counts
            if progress:
                progress(done, len(tasks))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    cities = [(t, results[k]) for k, t in enumerate(trials) if isinstance(t, CityTrial)]
    tanks = [results[k] for k, t in enumerate(trials) if isinstance(t, TankTrial)]
    return summarise(protocol, cities, tanks)  # type: ignore[arg-type]


def summarise(
    protocol: Protocol, cities: Sequence[tuple[CityTrial, CityCounts]], tanks: Sequence[TankCounts]
) -> Report:
    rule_n: dict[str, list[int]] = {}
    kind_n: dict[str, list[int]] = {}
    false_n: dict[str, int] = {}
    alarms_n: dict[str, int] = {}
    units = dict.fromkeys(UNITS, 0)
    runs = []
    for trial, c in cities:
        for src, dst in ((c.rule_trials, rule_n), (c.kind_trials, kind_n)):
            for key, (n, k) in src.items():
                row = dst.setdefault(key, [0, 0])
                row[0] += n
                row[1] += k
        for rule, n in c.false_alarms.items():
            false_n[rule] = false_n.get(rule, 0) + n
        for rule, n in c.alarms.items():
            alarms_n[rule] = alarms_n.get(rule, 0) + n
        for u, n in c.units.items():
            units[u] += n
        runs.append(
            CityRun(
                family=trial.family,
                seed=trial.seed,
                stations=trial.stations,
                days=trial.days,
                records=c.records,
                faults=sum(n for n, _ in c.kind_trials.values()),
                alarms=sum(c.alarms.values()),
                false_alarms=sum(c.false_alarms.values()),
            )
        )
    # The engine's own list (rules added to it are certified, or said to be unmeasured),
    # then any rule an alarm or a fault named that the list lacks.
    rules = [*RULES, *sorted((set(rule_n) | set(alarms_n)) - set(RULES))]
    kinds_of: dict[str, list[str]] = {}
    for s in SCENARIOS:
        if s.primary_rule:
            kinds_of.setdefault(s.primary_rule, []).append(s.name)
    rows = []
    for rule in rules:
        n, k = rule_n.get(rule, [0, 0])
        live = rule in LIVE_ONLY_RULES
        unit = unit_of(rule)
        rows.append(
            RuleFigures(
                rule=rule,
                level="live" if live else ("record" if rule in RECORD_LEVEL_RULES else "statistical"),
                status="live_only" if live else ("measured" if n else "no_fault_kind"),
                pd=proportion(k, n),
                pfa=None if live else proportion(false_n.get(rule, 0), max(units[unit], false_n.get(rule, 0))),
                pfa_unit=unit,
                alarms=alarms_n.get(rule, 0),
                fault_kinds=kinds_of.get(rule, []),
            )
        )
    kinds = [
        FaultKindFigures(
            kind=s.name,
            primary_rule=s.primary_rule,
            record_level=s.record_level,
            pd=proportion(kind_n[s.name][1], kind_n[s.name][0]),
        )
        for s in SCENARIOS
        if s.name in kind_n
    ]
    return Report(
        anxin_version=anxin.__version__,
        protocol=protocol,
        worlds="anxin.sim",
        confidence=1.0 - ALPHA,
        min_trials=MIN_TRIALS,
        rules=rows,
        fault_kinds=kinds,
        units=units,
        cities=runs,
        witness=_witness(tanks),
        leaks=_leaks(tanks),
    )


def _r(x: float | None) -> float | None:
    return None if x is None else sig(x)


def _witness_row(world: str, days: int, tanks: Sequence[TankCounts]) -> WitnessFigures:
    honest = [h for t in tanks for h in t.honest]
    errors = [h.est - h.true for h in honest if h.est is not None and h.status != "insufficient"]
    with_ci = [(h.lo, h.hi, h.true) for h in honest if h.lo is not None and h.hi is not None]
    covered = sum(1 for lo, hi, true in with_ci if lo <= true <= hi)
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else None
    drifted = [d for t in tanks for d in t.drifted]
    false_drift = sum(1 for h in honest if h.status == "violation" or h.drift)
    leaky = [t for t in tanks if t.leak_l_per_h > 0]
    tight = [t for t in tanks if t.leak_l_per_h == 0]
    rate = max((t.leak_l_per_h for t in leaky), default=0.0)
    return WitnessFigures(
        world=world,
        days=days,
        tanks=len(tanks),
        honest_nozzles=len(honest),
        insufficient=sum(1 for h in honest if h.status == "insufficient"),
        rmse_permille=_r(rmse),
        coverage=proportion(covered, len(with_ci)),
        drift_found=proportion(sum(drifted), len(drifted)),
        false_drift=proportion(false_drift, len(honest)),
        leak_l_per_h=rate,
        leak_pd=proportion(sum(bool(t.leak_alarmed) for t in leaky), len(leaky)),
        leak_pfa=proportion(sum(bool(t.leak_alarmed) for t in tight), len(tight)),
    )


def _witness(tanks: Sequence[TankCounts]) -> list[WitnessFigures]:
    out = []
    for days in sorted({t.days for t in tanks}):
        mine = [t for t in tanks if t.days == days]
        out.append(_witness_row("*", days, mine))
        worlds = list(dict.fromkeys(t.world for t in mine))
        if len(worlds) > 1:
            out.extend(_witness_row(w, days, [t for t in mine if t.world == w]) for w in worlds)
    return out


def _leaks(tanks: Sequence[TankCounts]) -> list[LeakFigures]:
    out = []
    for rate, days in ((LEAK_SHORT_L_PER_H, 7), (LEAK_LONG_L_PER_H, 30)):
        mine = [t for t in tanks if t.days == days]
        leaky = [t for t in mine if t.leak_l_per_h == rate]
        tight = [t for t in mine if t.leak_l_per_h == 0]
        pd = proportion(sum(bool(t.leak_alarmed) for t in leaky), len(leaky))
        pfa = proportion(sum(bool(t.leak_alarmed) for t in tight), len(tight))
        met = None
        if pd.sufficient and pfa.sufficient and pd.estimate is not None and pfa.estimate is not None:
            met = pd.estimate >= EPA_PD and pfa.estimate <= EPA_PFA
        out.append(
            LeakFigures(
                leak_l_per_h=rate,
                leak_gal_per_h=round(rate / L_PER_GAL, 3),
                days=days,
                pd=pd,
                pfa=pfa,
                epa_pd_min=EPA_PD,
                epa_pfa_max=EPA_PFA,
                epa_met=met,
            )
        )
    return out
