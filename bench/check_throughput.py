"""Throughput and memory of ``anxin check`` on a simulated city-day, against the floor:
the time to only verify the same signatures on the same cores.

    .venv/bin/python bench/check_throughput.py [--stations 1000] [--days 1] [--workers 2]

Prints records/s, wall times, the ratio check/verify-only, and peak RSS (the
main process, and all processes of the run together). The city is simulated
once into bench-data/ and reused.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_city(data_dir: Path, stations: int, days: int, seed: int) -> None:
    if (data_dir / "registry.json").exists():
        return
    from anxin.sim import ScenarioSet, simulate

    t = time.perf_counter()
    simulate(data_dir, stations=stations, days=days, seed=seed, scenarios=ScenarioSet.all(), workers=2)
    print(f"simulated {stations} stations × {days} day(s) in {time.perf_counter() - t:.1f} s")


# ------------------------------------------------------------ verify-only floor
_TASKS: list = []


def _verify_slice(args: tuple[int, int]) -> int:
    from anxin.crypto.schemes import load_verifier

    lo, hi = args
    cache: dict = {}
    ok = 0
    for alg, key, msg, sig in _TASKS[lo:hi]:
        v = cache.get(key) or cache.setdefault(key, load_verifier(alg, key))
        ok += v.verify(msg, sig)
    return ok


def verify_only(data_dir: Path, workers: int) -> tuple[int, float]:
    """Extract every signed record's (key, canonical bytes, signature) untimed; time only verifying them."""
    from anxin.check.reader import data_files, read_lines
    from anxin.contract.parse import Parsed, parse_line
    from anxin.contract.registry import load_registry

    reg = load_registry(data_dir / "registry.json")
    keys = {n.nozzle_id: (n.key_alg, n.public_key) for n in reg.nozzles}
    for path in data_files(data_dir):
        if not any(k in path.name for k in ("metering", "event")):
            continue
        with path.open("rb") as f:
            for _, raw in read_lines(f):
                if isinstance(raw, bytes):
                    p = parse_line(raw)
                    nozzle = getattr(p.rec, "nozzle_id", None) if isinstance(p, Parsed) else None
                    if isinstance(p, Parsed) and p.canonical is not None and nozzle in keys:
                        _TASKS.append((*keys[nozzle], p.canonical, p.sig))
    n = len(_TASKS)
    step = -(-n // workers)
    ctx = get_context("fork")  # the children inherit the extracted tasks
    with ctx.Pool(workers) as pool:
        pool.map(_verify_slice, [(0, 0)] * workers)  # warm the workers before timing
        t = time.perf_counter()
        pool.map(_verify_slice, [(i, min(n, i + step)) for i in range(0, n, step)], chunksize=1)
        return n, time.perf_counter() - t


# ----------------------------------------------------------------- the check
def _tree(pid: int) -> list[int]:
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for c in children:
        out += _tree(int(c))
    return out


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_check(data_dir: Path, out_dir: Path, workers: int, *extra: str) -> tuple[float, int, int]:
    cmd = [
        str(ROOT / ".venv/bin/anxin"),
        "check",
        str(data_dir),
        "--out",
        str(out_dir),
        "--workers",
        str(workers),
        *extra,
    ]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak_main = peak_total = 0
    while proc.poll() is None:
        pids = _tree(proc.pid)
        rss = [_rss_kib(p) for p in pids]
        peak_main = max(peak_main, rss[0])
        peak_total = max(peak_total, sum(rss))
        time.sleep(0.2)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"anxin check failed with {proc.returncode}")
    return wall, peak_main, peak_total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=1000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args()
    data_dir = args.data or ROOT / f"bench-data/city-{args.stations}x{args.days}"
    ensure_city(data_dir, args.stations, args.days, args.seed)
    import msgspec

    out = data_dir.with_suffix(".check")
    runs = {flag: run_check(data_dir, out, args.workers, flag) for flag in ("--no-witness", "--witness")}
    summary = msgspec.json.decode((out / "summary.json").read_bytes())
    n_sigs, verify_wall = verify_only(data_dir, args.workers)
    records = summary["lines"]
    print(f"data: {data_dir}  ({records:,} lines, {summary['records']['settlement']:,} sales, {n_sigs:,} signatures)")
    print(f"verify-only on {args.workers} processes: {verify_wall:.1f} s ({n_sigs / verify_wall:,.0f} signatures/s)")
    for flag, (wall, peak_main, peak_total) in runs.items():
        print(
            f"anxin check --workers {args.workers} {flag}: {wall:.1f} s wall, {records / wall:,.0f} records/s, "
            f"ratio to verify-only {wall / verify_wall:.2f}, peak RSS main {peak_main / 1024:.0f} MiB, "
            f"all processes {peak_total / 1024:.0f} MiB"
        )
    print(f"alarms: {summary['alarms']:,}  rejects: {summary['rejects']:,}  meters: {summary['meters']}")


if __name__ == "__main__":
    main()
