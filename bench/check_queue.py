"""What handing lines to the shards costs in ``anxin check``, alone: the real reader
(``shards._feed``) into real ``multiprocessing`` queues, each shard only taking its
messages and walking their lines as ``shards._shard_run`` does — no parse, no verify.

    .venv/bin/python bench/check_queue.py [--data bench-data/city-30x7] [--shards 2] [--runs 5] [--real OUT]

Prints, per run, the CPU of the main process (reading, routing, pickling, the queues'
feeder threads), that of reading and routing alone (the messages dropped, not pickled),
and that of the shards (taking and unpickling): the queue is the main's difference plus
the shards'. CPU time, not wall: it holds on a loaded machine where wall time does not.
Also the pickling alone, both ways, best of the runs; with ``--real``, first a whole
check in this process: the main process's CPU against the shards'.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import pickle
import resource
import time
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

from anxin.check import shards
from anxin.check.reader import data_files

ROOT = Path(__file__).resolve().parents[1]


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _lines(msg: tuple) -> Any:
    """A message's (line number, line) pairs as ``_shard_run`` walks them: (file, numbers,
    lines, progress, eof) — or, before issue 14's change, (file, pairs, progress, eof)."""
    return msg[1] if len(msg) == 4 else zip(msg[1], msg[2])


def _drain(inbox: Any, out: Any) -> None:
    """A shard that only takes its messages and walks their lines."""
    t, lines = time.process_time(), 0
    while (msg := inbox.get()) is not None:
        for _n, _raw in _lines(msg):
            lines += 1
    out.put((lines, time.process_time() - t))


def through_queues(paths: list[Path], n: int) -> tuple[int, float, float]:
    """(lines, main CPU, shards' CPU) of one pass through real queues."""
    ctx = mp.get_context("fork")
    inboxes = [ctx.Queue(shards.QUEUE_DEPTH) for _ in range(n)]
    out = ctx.Queue()
    procs = [ctx.Process(target=_drain, args=(q, out)) for q in inboxes]
    for p in procs:
        p.start()
    c = _cpu_self()
    shards._feed(paths, inboxes, n, lambda b: None)
    for q in inboxes:
        q.put(None)
    got = [out.get() for _ in procs]
    main = _cpu_self() - c
    for p in procs:
        p.join()
    return sum(g[0] for g in got), main, sum(g[1] for g in got)


def messages(paths: list[Path], n: int) -> tuple[list, float]:
    """The messages of one pass, kept, and the CPU of reading and routing them."""
    sink: list = []
    c = time.process_time()
    shards._feed(paths, [None] * n, n, lambda b: None, lambda q, item: sink.append(item))
    return sink, time.process_time() - c


def pickling(msgs: list) -> tuple[float, int]:
    """CPU of pickling the messages and unpickling them, and their size."""
    c = time.process_time()
    blobs = [ForkingPickler.dumps(m) for m in msgs]
    for b in blobs:
        pickle.loads(b)
    return time.process_time() - c, sum(len(b) for b in blobs)


def real_run(data: Path, out: Path, n: int) -> None:
    """A whole ``anxin check`` in this process, as the CLI runs it: the main process's CPU
    (imports aside) against the shards'."""
    from anxin.check.run import run_check

    c, t = _cpu_self(), time.perf_counter()
    run_check(data, out, workers=n, as_of_us=1_796_400_000_000_000)  # 2026-12-05T00:00:00+08:00
    wall, main = time.perf_counter() - t, _cpu_self() - c
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"anxin check --workers {n}: {wall:.1f} s wall, main process {main:.2f} CPU-s, shards {r.ru_utime + r.ru_stime:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT / "bench-data/city-30x7")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--real", type=Path, default=None, help="also run the whole check, writing here")
    args = ap.parse_args()
    paths = data_files(args.data)
    if args.real:
        real_run(args.data, args.real, args.shards)
    best_pickle = float("inf")
    for _ in range(args.runs):
        lines, main_cpu, shards_cpu = through_queues(paths, args.shards)
        msgs, route = messages(paths, args.shards)
        pk, size = pickling(msgs)
        best_pickle = min(best_pickle, pk)
        queue = main_cpu - route + shards_cpu
        print(
            f"{lines:,} lines, {len(msgs):,} messages ({size / len(msgs) / 1e3:.0f} kB each): main {main_cpu:.2f} s "
            f"(read + route alone {route:.2f}), shards {shards_cpu:.2f} s; the queue {queue:.2f} s "
            f"= {1e6 * queue / lines:.2f} µs/line"
        )
    print(f"pickling alone, both ways: {1e6 * best_pickle / lines:.2f} µs/line (best of {args.runs})")


if __name__ == "__main__":
    main()
