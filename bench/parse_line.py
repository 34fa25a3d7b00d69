"""The cost of ``parse_line`` per line, the hot path of both ``anxin check`` and the live
service, on a simulated city (every scenario on): CPU time, best of several passes.

    .venv/bin/python bench/parse_line.py [--stations 100] [--days 1] [--passes 15]

Prints µs per line overall and per kind, and how many lines took the careful path
(a field beyond the contract's, nested event data, a value that does not fit:
contract v1.1 §A). The city is simulated once into bench-data/parse-<stations>x<days>/.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--passes", type=int, default=15)
    args = ap.parse_args()
    data = ROOT / "bench-data" / f"parse-{args.stations}x{args.days}"
    if not (data / "registry.json").exists():
        from anxin.sim import ScenarioSet, simulate

        simulate(data, stations=args.stations, days=args.days, seed=1, scenarios=ScenarioSet.all(), workers=2)
    from anxin.contract.parse import Parsed, parse_line
    from anxin.contract.records import kind_of

    lines = [ln for p in sorted(data.glob("*.jsonl")) for ln in p.read_bytes().split(b"\n") if ln.strip()]
    kinds: dict[str, list[bytes]] = defaultdict(list)
    careful: Counter[str] = Counter()
    for ln in lines:
        p = parse_line(ln)
        kind = kind_of(p.rec) if isinstance(p, Parsed) else "reject"
        kinds[kind].append(ln)
        if not isinstance(p, Parsed) or type(p.rec).__module__ != "anxin.contract.strict":
            careful[kind] += 1

    def best(sample: list[bytes]) -> float:
        t_best = float("inf")
        for _ in range(args.passes):
            gc.collect()
            gc.disable()
            t = time.process_time()
            for ln in sample:
                parse_line(ln)
            t_best = min(t_best, time.process_time() - t)
            gc.enable()
        return t_best / len(sample) * 1e6

    print(f"{len(lines)} lines, {sum(len(ln) for ln in lines) / len(lines):.0f} bytes on average", file=sys.stderr)
    print(f"all: {best(lines):.3f} µs/line")
    for kind, sample in sorted(kinds.items()):
        print(f"  {kind:13s} {len(sample):8d} lines  {best(sample):.3f} µs/line  careful path: {careful[kind]}")


if __name__ == "__main__":
    main()
