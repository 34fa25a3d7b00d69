"""The batch checker's streaming pipeline (``anxin check``).

Each file is one source in arrival order. The main process reads lines in
chunks; a pool of worker processes parses each chunk and verifies its
signatures (verification is the floor of the whole run, so it gets every core)
while the main process reads ahead and runs the engine; verified chunks are merged
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
from anxin.contract.parse import _decoder as _typed_decoder
from anxin.contract.registry import Registry
from anxin.check.reader import read_lines
from anxin.crypto.keys import KeyRing, KeyVerdict

CHUNK = 2000  # lines per chunk at most
DEPTH = 3  # chunks read ahead per file while their signatures are verified
IN_FLIGHT = 120_000  # parsed records held ahead of the engine, across all files

_worker_ring: KeyRing | None = None

# What a worker returns for a line: (t, t0, digest, verdict byte or 255) or a reject reason.
LineResult = tuple[int, int, bytes, int] | str
NO_VERDICT = 255


def _init_worker(entries: dict, stations: dict) -> None:
    global _worker_ring
    _worker_ring = KeyRing(entries, stations)


def parse_and_verify(lines: list[bytes | int], ring: KeyRing) -> list[LineResult]:
    """Parse a chunk of lines and verify the signatures of its signed records.

    Only small tuples travel back to the main process (a parsed record would cost
    ten times more to pickle than to decode again from its line there).
    """
    out: list[LineResult] = []
    for raw in lines:
        if isinstance(raw, int):
            out.append(f"line of {raw} bytes exceeds the size limit")
            continue
        p = parse_line(raw)
        if isinstance(p, Reject):
            out.append(p.reason)
        elif p.canonical is None:
            out.append((p.t, p.t0, p.digest, NO_VERDICT))
        else:
            r = p.rec
            verdict = ring.check(r.station_id, r.nozzle_id, r.key_id, p.t, p.canonical, p.sig)  # type: ignore[union-attr,arg-type]
            out.append((p.t, p.t0, p.digest, int(verdict)))
    return out


def _worker_task(lines: list[bytes | int]) -> list[LineResult]:
    assert _worker_ring is not None
    return parse_and_verify(lines, _worker_ring)


class Workers:
    """Parses and verifies chunks in worker processes, or (workers=0) inline."""

    def __init__(self, ring: KeyRing, workers: int) -> None:
        self.ring = ring
        self.pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self.pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=ring.to_plain())

    def submit(self, lines: list[bytes | int]) -> Future[list[LineResult]] | list[LineResult]:
        if self.pool is None:
            return parse_and_verify(lines, self.ring)
        return self.pool.submit(_worker_task, lines)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


# An item of a file stream: (t, file index, line, Parsed | Reject, verdict)
Item = tuple[int, int, int, object, KeyVerdict | None]


class FileStream:
    """One source: lines read in chunks, parsed and verified ahead of consumption."""

    def __init__(self, index: int, path: Path, workers: Workers, on_bytes: Callable[[int], None],
                 chunk: int = CHUNK):  # fmt: skip
        self.index = index
        self.chunk = chunk
        self.path = path
        self.workers = workers
        self.on_bytes = on_bytes
        self.f = path.open("rb")
        self.lines = read_lines(self.f)
        self.pending: deque[tuple[list[int], list[bytes | int], Future | list]] = deque()
        self.eof = False
        self.pos = 0
        for _ in range(DEPTH):
            self._read_chunk()

    def _read_chunk(self) -> None:
        if self.eof:
            return
        numbers: list[int] = []
        lines: list[bytes | int] = []
        for n, raw in self.lines:
            if isinstance(raw, int) or raw.strip():
                numbers.append(n)
                lines.append(raw)
                if len(lines) >= self.chunk:
                    break
        else:
            self.eof = True
            self.f.close()
        pos = self.f.tell() if not self.f.closed else self.path.stat().st_size
        self.on_bytes(pos - self.pos)
        self.pos = pos
        if lines:
            self.pending.append((numbers, lines, self.workers.submit(lines)))

    def __iter__(self) -> Iterator[Item]:
        decode = _typed_decoder.decode
        verdicts = list(KeyVerdict)
        index = self.index
        while self.pending:
            numbers, lines, fut = self.pending.popleft()
            self._read_chunk()
            results = fut if isinstance(fut, list) else fut.result()
            for n, raw, res in zip(numbers, lines, results):
                if isinstance(res, str):
                    yield (-(1 << 62), index, n, Reject(res), None)  # rejects first: they carry no time
                else:
                    t, t0, digest, v = res
                    p = Parsed(decode(raw), t, t0, digest)  # type: ignore[arg-type]
                    yield (t, index, n, p, None if v == NO_VERDICT else verdicts[v])


def merged(paths: list[Path], registry: Registry, *, workers: int,
           on_bytes: Callable[[int], None] = lambda n: None) -> Iterator[Item]:  # fmt: skip
    """All records of all files, merged by event time, signatures verified."""
    pool = Workers(KeyRing.from_registry(registry), max(0, workers))
    try:
        # Many sources (a city uploads per station group) share one memory budget.
        chunk = min(CHUNK, max(50, IN_FLIGHT // (DEPTH * max(1, len(paths)))))
        streams = [iter(FileStream(i, p, pool, on_bytes, chunk)) for i, p in enumerate(paths)]
        # Items are (t, file, line, …): plain tuple order is (event time, file, line),
        # unique per item, so no key function is needed (it would cost a call per record).
        yield from heapq.merge(*streams)
    finally:
        pool.close()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
