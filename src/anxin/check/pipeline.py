"""The batch checker's streaming pipeline (``anxin check``).

Each file is one source in arrival order. The main process reads and parses
lines in chunks; the signatures of a chunk are verified by a pool of worker
processes (signature verification is the floor of the whole run, so it gets
every core) while the main process reads ahead; verified chunks are merged
across files by event time (then file, then line, so the order is
deterministic) and fed to the engine. Memory is bounded by the engine's state
plus a fixed number of chunks in flight per file, not by the size of the input.
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from anxin.contract.parse import Parsed, Reject, parse_line
from anxin.contract.registry import Registry
from anxin.check.reader import read_lines
from anxin.crypto.keys import KeyRing, KeyVerdict

CHUNK = 2000  # lines per chunk at most
DEPTH = 3  # chunks read ahead per file while their signatures are verified
IN_FLIGHT = 120_000  # parsed records held ahead of the engine, across all files

# (station_id, nozzle_id, key_id, t, canonical, sig)
SigTask = tuple[str, str, str, int, bytes, bytes]

_worker_ring: KeyRing | None = None


def _init_worker(entries: dict, stations: dict) -> None:
    global _worker_ring
    _worker_ring = KeyRing(entries, stations)


def _verify_batch(tasks: list[SigTask]) -> bytes:
    ring = _worker_ring
    assert ring is not None
    return bytes(ring.check(*t) for t in tasks)


def sig_task(p: Parsed) -> SigTask:
    r = p.rec
    return (r.station_id, r.nozzle_id, r.key_id, p.t, p.canonical, p.sig)  # type: ignore[union-attr,return-value]


class Verifier:
    """Verifies chunks of signatures, in worker processes or (workers=0) inline."""

    def __init__(self, ring: KeyRing, workers: int) -> None:
        self.ring = ring
        self.pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self.pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=ring.to_plain())

    def submit(self, tasks: list[SigTask]) -> Future[bytes] | bytes:
        if not tasks:
            return b""
        if self.pool is None:
            return bytes(self.ring.check(*t) for t in tasks)
        return self.pool.submit(_verify_batch, tasks)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


# An item of a file stream: (t, file index, line, Parsed | Reject, verdict)
Item = tuple[int, int, int, object, KeyVerdict | None]


class FileStream:
    """One source: lines parsed in chunks, signatures verified ahead of consumption."""

    def __init__(self, index: int, path: Path, verifier: Verifier, on_bytes: Callable[[int], None],
                 chunk: int = CHUNK):  # fmt: skip
        self.index = index
        self.chunk = chunk
        self.path = path
        self.verifier = verifier
        self.on_bytes = on_bytes
        self.f = path.open("rb")
        self.lines = read_lines(self.f)
        self.pending: deque[tuple[list, Future[bytes] | bytes]] = deque()
        self.eof = False
        self.pos = 0
        for _ in range(DEPTH):
            self._read_chunk()

    def _read_chunk(self) -> None:
        if self.eof:
            return
        items: list = []
        tasks: list[SigTask] = []
        for n, raw in self.lines:
            if isinstance(raw, int):
                items.append((n, Reject(f"line of {raw} bytes exceeds the size limit"), False))
            elif raw.strip():
                p = parse_line(raw)
                signed = isinstance(p, Parsed) and p.canonical is not None
                if signed:
                    tasks.append(sig_task(p))  # type: ignore[arg-type]
                items.append((n, p, signed))
            if len(items) >= self.chunk:
                break
        else:
            self.eof = True
            self.f.close()
        pos = self.f.tell() if not self.f.closed else self.path.stat().st_size
        self.on_bytes(pos - self.pos)
        self.pos = pos
        if items:
            self.pending.append((items, self.verifier.submit(tasks)))

    def __iter__(self) -> Iterator[Item]:
        while self.pending:
            items, fut = self.pending.popleft()
            self._read_chunk()
            verdicts = fut if isinstance(fut, bytes) else fut.result()
            j = 0
            for n, p, signed in items:
                verdict = None
                if signed:
                    verdict = KeyVerdict(verdicts[j])
                    j += 1
                t = p.t if isinstance(p, Parsed) else -(1 << 62)  # rejects first: they carry no time
                yield (t, self.index, n, p, verdict)


def merged(paths: list[Path], registry: Registry, *, workers: int,
           on_bytes: Callable[[int], None] = lambda n: None) -> Iterator[Item]:  # fmt: skip
    """All records of all files, merged by event time, signatures verified."""
    workers = max(0, workers)
    verifier = Verifier(KeyRing.from_registry(registry), workers)
    try:
        # Many sources (a city uploads per station group) share one memory budget.
        chunk = min(CHUNK, max(50, IN_FLIGHT // (DEPTH * max(1, len(paths)))))
        streams = [iter(FileStream(i, p, verifier, on_bytes, chunk)) for i, p in enumerate(paths)]
        # Items are (t, file, line, …): plain tuple order is (event time, file, line),
        # unique per item, so no key function is needed (it would cost a call per record).
        yield from heapq.merge(*streams)
    finally:
        verifier.close()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
