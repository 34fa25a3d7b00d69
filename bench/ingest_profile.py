"""Where the live ingest's time goes: cProfile (CPU time) of ``IngestService.ingest`` in
this process, on ``bench/ingest_load.py``'s city (500-line uploads, per station in order,
one at a time), on a fresh SQLite database (or ``--db``).

    .venv/bin/python bench/ingest_profile.py [--uploads 100] [--db URL] [--no-profile]

``ANXIN_INGEST_READERS=0`` reads every line in this process (the signatures' worker off).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ingest_load import city  # noqa: E402

from anxin.ingest.service import IngestService  # noqa: E402
from anxin.sim.replay import arrival_lines, station_lines  # noqa: E402
from anxin.store.access import open_store  # noqa: E402


def uploads(data: Path, batch: int) -> list[tuple[str, list[bytes]]]:
    """Every station's lines in uploads of ``batch``, the stations taking turns."""
    per = station_lines(arrival_lines(data), "S0001")
    out: list[tuple[str, list[bytes]]] = []
    at = dict.fromkeys(per, 0)
    while any(at[s] < len(v) for s, v in per.items()):
        for s, v in per.items():
            if at[s] < len(v):
                out.append((s, v[at[s] : at[s] + batch]))
                at[s] += batch
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uploads", type=int, default=100)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--db", default=None)
    ap.add_argument("--no-profile", action="store_true", help="time only")
    args = ap.parse_args()
    data = city(150)
    work = uploads(data, args.batch)[: args.uploads + 1]
    tmp = ROOT / "bench-data" / "ingest-db"
    tmp.mkdir(parents=True, exist_ok=True)
    scratch = None if args.db else tmp / f"{uuid.uuid4().hex[:8]}.sqlite"
    svc = IngestService(open_store(args.db or f"sqlite:///{scratch}", "migrate"))
    svc.set_registry((data / "registry.json").read_bytes(), author="bench", reason="ingest profile")
    svc.ingest(work[0][0], work[0][1], source="bench")  # (warm: first keys loaded)
    work = work[1:]
    prof = None if args.no_profile else cProfile.Profile(time.process_time)
    wall, cpu = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    for sid, lines in work:
        svc.ingest(sid, lines, source="bench")
    if prof is not None:
        prof.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = sum(len(lines) for _sid, lines in work)
    print(f"{n:,} lines: {n / wall:,.0f} lines/s, {cpu / n * 1e6:.0f} µs of this process's CPU a line")
    svc.store.close()
    if scratch is not None:
        for f in tmp.glob(scratch.name + "*"):
            f.unlink()
    if prof is not None:
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
