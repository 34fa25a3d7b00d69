"""Two settings of the live service compared back to back: ``bench/ingest_load.py``'s
throughput step, alternating ``--env`` NAME=A,B for ``--rounds`` rounds (A B, B A, …), the
verify-only floor measured before and after; prints each run and each setting's mean
as pairs/s and as a share of the mean floor. On a machine others load, neighbouring runs
are what can be compared.

    .venv/bin/python bench/ingest_ab.py --env ANXIN_INGEST_READERS=0,1 [--rounds 3] [--seconds 10] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import ingest_load as il  # noqa: E402
from check_throughput import verify_only  # noqa: E402


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", required=True, help="NAME=A,B")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--backend", default="sqlite")
    ap.add_argument("--stations", type=int, default=150)
    args = ap.parse_args()
    name, values = args.env.split("=", 1)
    a, b = values.split(",")
    run = argparse.Namespace(seconds=args.seconds, batch=500, clients=8)
    data = il.city(args.stations)
    per = il.station_lines(il.arrival_lines(data), "S0001")
    tmp = ROOT / "bench-data" / "ingest-db"
    tmp.mkdir(parents=True, exist_ok=True)

    def floor() -> float:
        sigs, secs = verify_only(data, 2)
        return sigs / secs

    before = floor()
    print(f"floor before: {before:,.0f} signatures/s (load {_load()})", flush=True)
    got: dict[str, list[float]] = {a: [], b: []}
    for i in range(args.rounds):
        for v in (a, b) if i % 2 == 0 else (b, a):
            os.environ[name] = v  # the server is a child process: it takes the environment
            tp = il.throughput(args.backend, data, per, run, tmp)
            got[v].append(tp["pairs_per_s"])
            print(f"  {name}={v}: {tp['pairs_per_s']:,.0f} signed pairs/s (load {_load()})", flush=True)
    after = floor()
    mean_floor = (before + after) / 2
    print(f"floor after: {after:,.0f} signatures/s")
    for v, xs in got.items():
        m = sum(xs) / len(xs)
        runs = ", ".join(f"{x:,.0f}" for x in xs)
        print(f"{args.backend} {name}={v}: mean {m:,.0f} pairs/s = {m / mean_floor:.2f} × the mean floor ({runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
