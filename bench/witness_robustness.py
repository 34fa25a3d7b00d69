"""The tank witness across a family of worlds (issue 12, items 2, 3 and 5).

    .venv/bin/python bench/witness_robustness.py [--quick] [--worlds a,b] [--seeds 3]
                                                 [--days 7,30] [--tanks 8] [--looks all|7|none]
                                                 [--workers 2] [--json out.json]

For every world (``anxin.sim.world.WORLDS``) × seed × horizon, ``--tanks`` single-tank
scenes (``anxin.sim.robustness.make_scenes``): 2–8 nozzles as the world says, honest
nozzles N(0, 1‰) clipped inside ±2‰, one drifted nozzle (±7…±10‰) in every other tank,
a leak in 3 tanks of 8 (0.76 L/h at 7 days, 0.38 L/h at 30 days), the rest tight. Each
is estimated with ``estimate_tank(data, WitnessSettings())`` over its whole data, and at
every local midnight over the 30 days before it (the engine's daily looks; ``--looks 7``:
only in runs of ≤ 7 days, ``none``: never): a false METER_DRIFT is one the engine would
raise on an honest nozzle (a strong finding, or a candidate at two consecutive looks).

One table row per world and horizon, with PASS/FAIL against the targets of issue 12
(item 3: coverage 90–98 %, no honest violation, false METER_DRIFT ≤ 1 per 1,000 honest
nozzle-weeks, ±7‰ found ≥ 95 % in 7 days, RMSE ≤ 1.0‰ at 7 days and ≤ 0.5‰ at 30 days
over the nozzles not ``insufficient``; item 5: leak Pd/Pfa). ``--json`` writes every row
and every tank's outcome.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from anxin.engine.stats.models import WitnessSettings  # noqa: E402
from anxin.sim.robustness import TARGETS, TankOutcome, WorldRow, aggregate, evaluate_scene, make_scenes  # noqa: E402
from anxin.sim.world import WORLDS  # noqa: E402

QUICK_WORLDS = "default,independent,chart_scale,sparse_readings,twins,harsh"
SHORT = {"coverage": "cov", "violation": "viol", "drift_alarm": "MD", "found7": "±7", "rmse": "rmse", "leak": "leak"}


def run_one(task: tuple[str, int, float, int, int, bool]) -> list[TankOutcome]:
    """Scenes of one world, seed and horizon (one tank index at a time, for balance)."""
    from anxin.sim.robustness import score_scene

    name, seed, days, tanks, index, looks = task
    scene = make_scenes(WORLDS[name], seed, days, tanks=tanks, only=index)[0]
    return [score_scene(scene, evaluate_scene(scene, WitnessSettings(), looks=looks))]


def _fmt(x: float | None, spec: str, dash: str = "—") -> str:
    return dash if x is None else format(x, spec)


def table(rows: list[WorldRow]) -> str:
    head = (
        f"{'world':<20} {'days':>4} {'honest':>6} {'insuf':>5} {'RMSE‰':>6} {'cover':>6} {'z':>4} {'viol':>4} "
        f"{'MD/1knw':>8} {'±7 found':>9} {'leak L/h':>8} {'Pd':>5} {'Pfa':>5} {'pool‰':>6} {'chart L':>11}  verdict"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        fails = [SHORT[k] for k, v in r.passed.items() if v is False]
        verdict = "PASS" if not fails else "FAIL " + ",".join(fails)
        chart = "—" if r.chart_rmse_l is None else f"{r.chart_rmse_raw_l:.1f}→{r.chart_rmse_l:.1f}"
        found = "—" if r.found_pct is None else f"{r.drifted_found}/{r.drifted}"
        lines.append(
            f"{r.world:<20} {r.days:>4g} {r.honest:>6} {r.insufficient:>5} {_fmt(r.rmse_permille, '.2f'):>6} "
            f"{_fmt(None if r.coverage is None else 100 * r.coverage, '.0f'):>5}% {_fmt(r.z_rms, '.2f'):>4} "
            f"{r.honest_violation:>4} "
            f"{_fmt(r.false_drift_per_1000_nw, '.1f'):>8} {found:>9} {r.leak_rate_l_per_h:>8.2f} "
            f"{_fmt(None if r.pd is None else 100 * r.pd, '.0f'):>4}% {_fmt(None if r.pfa is None else 100 * r.pfa, '.0f'):>4}% "
            f"{_fmt(r.pooled_rmse_permille, '.2f'):>6} {chart:>11}  {verdict}"
        )
    return "\n".join(lines)


def legend(args: argparse.Namespace, worlds: list[str]) -> str:
    looks = {"all": "every run", "7": "runs of ≤ 7 days only", "none": "no run"}[args.looks]
    return "\n".join(
        [
            f"worlds {len(worlds)} × seeds {args.seeds} × days {args.days} × {args.tanks} tanks; "
            f"daily looks (30-day window, every local midnight) in {looks}.",
            "honest: nozzles N(0, 1‰) clipped inside ±2‰; insuf: of those, status insufficient (left out of RMSE, "
            "kept in coverage with their wide interval); cover: 95 % interval covers the truth (fails below 90 % as "
            "measured, or when the coverage's own Wilson 95 % interval lies wholly above 98 %); z: RMS of the error over its interval's "
            "SD (half-width / 1.96), ≈ 1 when the intervals are as wide as they need be; viol: honest "
            "violation in the final estimate; MD/1knw: false METER_DRIFT (as the engine raises it over the daily looks) "
            "per 1,000 honest nozzle-weeks looked at; ±7 found: drifted ±7…10‰ nozzles at violation or METER_DRIFT; "
            "Pd/Pfa: leak_suspected on leaking/tight tanks; pool‰: RMSE of the tank's pooled figure; chart L: RMS "
            "of the registered chart's error → after the learnt correction, over the corrected levels, mean removed.",
            "targets: " + "; ".join(f"{SHORT[k]}: {v}" for k, v in TARGETS.items()),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"worlds {QUICK_WORLDS}, 1 seed, 8 tanks, 7 and 30 days")
    ap.add_argument("--worlds", default="", help="comma-separated world names (default: all of them)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--days", default="7,30", help="comma-separated horizons (days)")
    ap.add_argument("--tanks", type=int, default=8, help="tanks per world, seed and horizon")
    ap.add_argument("--looks", choices=("all", "7", "none"), default="all", help="where to take the daily looks")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write every row and tank outcome here")
    args = ap.parse_args(argv)
    if args.quick:
        args.worlds = args.worlds or QUICK_WORLDS
        args.seeds = 1
    worlds = [w for w in args.worlds.split(",") if w] or list(WORLDS)
    unknown = [w for w in worlds if w not in WORLDS]
    if unknown:
        ap.error(f"unknown worlds {unknown}; known: {', '.join(WORLDS)}")
    horizons = [float(d) for d in args.days.split(",") if d]
    tasks = [
        (w, seed, days, args.tanks, i, args.looks == "all" or (args.looks == "7" and days <= 7))
        for days in horizons
        for w in worlds
        for seed in range(1, args.seeds + 1)
        for i in range(args.tanks)
    ]
    # Longest first (30-day runs with looks), so the two workers end together.
    order = sorted(range(len(tasks)), key=lambda k: (-tasks[k][2] * (1 + 4 * tasks[k][5]), k))
    began = time.perf_counter()
    results: list[TankOutcome] = []
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    pool = ctx.Pool(args.workers) if args.workers > 1 else None
    stream = pool.imap_unordered(run_one, [tasks[k] for k in order]) if pool else map(run_one, tasks)
    try:
        for done, outs in enumerate(stream, 1):
            results.extend(outs)
            _progress(done, len(tasks), time.perf_counter() - began)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    sys.stderr.write("\n")
    wall = time.perf_counter() - began
    rows = []
    for days in horizons:
        for w in worlds:
            mine = sorted((t for t in results if t.world == w and t.days == days), key=lambda t: (t.seed, t.index))
            rows.append(aggregate(w, days, mine))
    print(legend(args, worlds))
    print()
    print(table(rows))
    judged = [(r, k, v) for r in rows for k, v in r.passed.items() if v is not None]
    print()
    print(
        f"targets met: {sum(v for _, _, v in judged)}/{len(judged)} (world × horizon × target); "
        f"rows passing every target: {sum(all(v is not False for v in r.passed.values()) for r in rows)}/{len(rows)}"
    )
    print(f"wall time: {wall:.0f} s ({len(tasks)} tank runs, {args.workers} workers)")
    if args.json:
        from anxin.sim.robustness import to_jsonable

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "worlds": {w: WORLDS[w].to_dict() for w in worlds},
                    "wall_s": round(wall, 1),
                    "rows": to_jsonable(rows),
                    "tanks": to_jsonable(sorted(results, key=lambda t: (t.world, t.days, t.seed, t.index))),
                },
                ensure_ascii=False,
                indent=1,
            )
        )
    return 0


def _progress(done: int, total: int, elapsed: float) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    eta = elapsed / done * (total - done) if done else 0.0
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} tanks  {elapsed:.0f} s, ~{eta:.0f} s left"
    )
    sys.stderr.flush()


if __name__ == "__main__":
    raise SystemExit(main())
