"""The batch checker scaled out: the engine sharded by station across processes.

Stations share no engine state (pairing, sequences, watermarks are all per
station or per nozzle), so each worker process can own a set of stations and
do everything for them: parse, verify signatures, merge its lines of every
source by event time, and run its own engine. The main process only reads the
files and routes each line by its ``station_id`` — the same partitioning as the
scale-out deployment (a log partitioned by station).

Each shard merges its sources like the single-process pipeline: by (event time,
file, line), taking the next record only once every source that is not finished
has a line buffered (or is known to be finished), so the result does not depend
on how the main process interleaved its reading. The main process reads next
from the source that is furthest behind in event time, which is the one a shard
can be waiting for.
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing as mp
import queue
import signal
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from anxin.check.book import AlarmBook
from anxin.check.pipeline import parse_private
from anxin.check.reader import read_lines
from anxin.contract.parse import Parsed, Reject, parse_line
from anxin.contract.registry import Registry, parse_registry
from anxin.crypto.keys import KeyRing
from anxin.engine import Engine, EngineSettings
from anxin.privacy.policy import KEEP, Privacy

CHUNK = 1000  # lines read from one source at a time
QUEUE_DEPTH = 64  # chunks in flight to a shard before the reader waits
GC_THRESHOLD = 100_000  # allocations between the collector's young-generation passes in a shard


class _StationOnly(msgspec.Struct):
    station_id: str = ""


_station_decoder = msgspec.json.Decoder(_StationOnly)


def shard_of(raw: bytes | int, shards: int) -> int:
    """Which shard owns a line: by its station; unreadable lines go to shard 0 (to be rejected)."""
    if isinstance(raw, int):
        return 0
    try:
        station = _station_decoder.decode(raw).station_id
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # (deep nesting: rejected by its shard)
        return 0
    return zlib.crc32(station.encode()) % shards


class ShardFailed(Exception):
    """A shard process failed or died: the run cannot complete. One line, for the user."""


class _Failure(msgspec.Struct):
    """What a shard that failed sends in place of its result: why (and where)."""

    shard: int
    reason: str
    file: int = -1  # the line the engine failed on, when it did
    line: int = 0


class _LineFailed(Exception):
    def __init__(self, fi: int, n: int) -> None:
        super().__init__(fi, n)
        self.fi, self.n = fi, n


class ShardResult(msgspec.Struct):
    lines: int
    meters: bytes
    alarms: bytes  # msgspec-encoded, decoded again by the main process
    verifications: bytes
    rejects: list[tuple[int, int, str]]  # (file, line, reason)
    counts: dict[str, int]
    pending: dict[str, int]


class _Merger:
    """Release buffered records in (event time, file, line) order once every
    unfinished source has been read past their time.

    A source's progress is the event time of the last line the reader took from
    it (sent to every shard, whether or not the chunk held lines for it), so a
    shard never waits for a source that simply has no lines of its stations.
    """

    def __init__(self, files: int) -> None:
        self.heap: list[tuple] = []
        self.progress = [-(1 << 62)] * files
        self.done = [False] * files

    def add(self, items: list[tuple]) -> None:
        for it in items:
            heapq.heappush(self.heap, it)

    def advance(self, fi: int, progress: int | None, eof: bool) -> None:
        if eof:
            self.done[fi] = True
            self.progress[fi] = 1 << 62
        elif progress is not None and progress > self.progress[fi]:
            self.progress[fi] = progress

    def pop_ready(self):
        limit = min(self.progress) if self.progress else 1 << 62
        heap = self.heap
        while heap and heap[0][0] <= limit:
            yield heapq.heappop(heap)


def _shard_main(conn_in: Any, conn_out: Any, *args: Any) -> None:
    """A shard process: its work, or, when anything fails, one line saying why in place of
    its result (the main process then ends the run at once: see :class:`_Shards`)."""
    tail = mp.current_process().name.rsplit("-", 1)[-1]
    shard = int(tail) if tail.isdigit() else 0
    try:
        _shard_run(conn_in, conn_out, *args)
    except BaseException as exc:
        cause = exc.__cause__ if isinstance(exc, _LineFailed) and exc.__cause__ is not None else exc
        reason = f"{type(cause).__name__}: {cause}".splitlines()[0][:300]
        where = (exc.fi, exc.n) if isinstance(exc, _LineFailed) else (-1, 0)
        conn_out.put(_Failure(shard, reason, *where))
        conn_out.close()
        conn_out.join_thread()  # the reason leaves before the process ends
        sys.exit(1)


def _shard_run(
    conn_in: Any,
    conn_out: Any,
    registry: Registry | bytes,
    files: int,
    settings: EngineSettings | None,
    as_of_us: int | None = None,
    privacy: Privacy = KEEP,
) -> None:
    """``registry``: the main process's (a forked shard reads it where it lies, shared with
    the main process and the other shards, instead of a copy of its own), or its bytes."""
    if isinstance(registry, bytes):
        registry = parse_registry(registry)
    ring = KeyRing.from_registry(registry)
    engine = Engine(registry, settings) if settings else Engine(registry)
    # The shard holds a growing state (pending records, tank history) and makes almost no
    # reference cycles: the collector's young-generation passes, every 700 allocations by
    # default, walk it for nothing. Setup's objects are frozen out of its sight.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    book = AlarmBook()
    rejects: list[tuple[int, int, str]] = []
    merger = _Merger(files)
    lines_seen = 0
    while True:
        msg = conn_in.get()
        if msg is None:
            break
        fi, numbers, lines, progress, eof = msg
        lines_seen += len(lines)
        items = []
        for n, raw in zip(numbers, lines):
            p, verdict, _ = parse_private(raw, ring, privacy)
            if isinstance(p, Reject):
                rejects.append((fi, n, p.reason))
            else:
                items.append((p.t, fi, n, p, verdict))
        merger.add(items)
        merger.advance(fi, progress, eof)
        for _t, at_fi, at_n, p, verdict in merger.pop_ready():
            try:
                book.add(engine.feed(p, verdict, received_us=as_of_us))
            except Exception as exc:  # a bug: the run cannot complete, and says where
                raise _LineFailed(at_fi, at_n) from exc
    witness = engine.witness()
    book.add(witness.alarms)
    enc = msgspec.msgpack.Encoder()
    conn_out.put(
        ShardResult(
            lines=lines_seen,
            meters=enc.encode(witness.meters),
            alarms=enc.encode(list(book.alarms.values())),
            verifications=enc.encode(book.verifications),
            rejects=rejects,
            counts=dict(engine.counts),
            pending=engine.pending(),
        )
    )


def run_shards(
    paths: list[Path],
    registry_file: Path,
    *,
    registry: list[Registry] | None = None,
    shards: int,
    settings: EngineSettings | None = None,
    as_of_us: int | None = None,
    privacy: Privacy = KEEP,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> list[ShardResult]:
    """``registry``: the caller's registry, parsed from ``registry_file``, handed over in a
    list it empties: forked shards use it where it lies, and the main process lets it go
    once they have started. (A parsed register is 70 MiB for 1 000 stations, most of it
    the tanks' charts: each shard parsing its own copy besides the one it inherits cost
    the 1 000-station day 210 of its 1 290 MiB.) Not forked: each shard parses the file."""
    fork = "fork" in mp.get_all_start_methods()
    ctx = mp.get_context("fork") if fork else mp.get_context()
    given = registry.pop() if registry else None
    reg: Registry | bytes = given if fork and given is not None else registry_file.read_bytes()
    inboxes = [ctx.Queue(QUEUE_DEPTH) for _ in range(shards)]
    outbox = ctx.Queue()
    procs = [
        ctx.Process(
            target=_shard_main,
            args=(inboxes[i], outbox, reg, len(paths), settings, as_of_us, privacy),
            daemon=True,
            name=f"anxin-check-shard-{i}",
        )
        for i in range(shards)
    ]
    for p in procs:
        p.start()
    del given, reg  # (the started processes hold their arguments no more)
    pool = _Shards(procs, inboxes, outbox, [p.name for p in paths])
    try:
        _feed(paths, inboxes, shards, on_bytes, pool.put)
        for q in inboxes:
            pool.put(q, None)
        results = pool.results()
    except BaseException:
        for q in inboxes:  # nobody reads them any more: never wait at exit to flush them
            q.cancel_join_thread()
        raise
    finally:
        for p in procs:
            p.join(timeout=5 if pool.failed is None else 0)
            if p.is_alive():
                p.kill()
    return results


class _Shards:
    """The main process's side of the shards: it never waits on a shard that is dead. A
    shard that fails sends why (:class:`_Failure`); one that dies without a word (killed,
    out of memory) is seen by its exit code. Either ends the run at once with
    :class:`ShardFailed` — never a hang."""

    POLL_S = 0.2

    def __init__(self, procs: list, inboxes: list, outbox: Any, names: list[str]) -> None:
        self.procs, self.inboxes, self.outbox, self.names = procs, inboxes, outbox, names
        self.got: list[ShardResult] = []
        self.failed: str | None = None

    def put(self, q: Any, item: Any) -> None:
        """``q.put(item)``, looking at the shards while the queue is full."""
        while True:
            try:
                q.put(item, timeout=self.POLL_S)
                return
            except queue.Full:
                self.watch()

    def results(self) -> list[ShardResult]:
        while len(self.got) < len(self.procs):
            try:
                self._take(self.outbox.get(timeout=self.POLL_S))
            except queue.Empty:
                self.watch()
        return self.got

    def _take(self, msg: Any) -> None:
        if isinstance(msg, _Failure):
            where = f" on {self.names[msg.file]} line {msg.line}" if 0 <= msg.file < len(self.names) else ""
            self._fail(f"shard {msg.shard} of the check failed{where}: {msg.reason}")
        self.got.append(msg)

    def watch(self) -> None:
        """Raise ShardFailed when a shard ended without its result."""
        ended = [(i, p.exitcode) for i, p in enumerate(self.procs) if p.exitcode is not None]
        if len(ended) <= len(self.got) and all(code == 0 for _, code in ended):
            return  # those that ended sent their results
        deadline = time.monotonic() + 1.0  # its reason (or a result still in flight) may be on its way
        while time.monotonic() < deadline:
            try:
                self._take(self.outbox.get(timeout=self.POLL_S))
            except queue.Empty:
                continue
            if len(ended) <= len(self.got) and all(code == 0 for _, code in ended):
                return
        i, code = next(((i, c) for i, c in ended if c != 0), ended[0])
        self._fail(f"shard {i} of the check died ({_exit_text(code)}) without its results")

    def _fail(self, reason: str) -> None:
        self.failed = reason
        raise ShardFailed(reason)


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _feed(
    paths: list[Path],
    inboxes: list,
    shards: int,
    on_bytes: Callable[[int], None],
    put: Callable[[Any, Any], None] = lambda q, item: q.put(item),
) -> None:
    """Read every source in chunks, always from the one furthest behind in event time."""
    files = [p.open("rb") for p in paths]
    readers = [read_lines(f) for f in files]
    offsets = [0] * len(paths)
    progress = [-(1 << 62)] * len(paths)  # event time of the last line read, per source
    frontier = [(progress[i], i) for i in range(len(paths))]
    try:
        while frontier:
            _, fi = heapq.heappop(frontier)
            # A shard's part of the chunk goes as one message of two flat lists (line
            # numbers, lines): no tuple per line to build, pickle and unpickle.
            numbers: list[list[int]] = [[] for _ in range(shards)]
            lines: list[list[bytes | int]] = [[] for _ in range(shards)]
            count = 0
            last: bytes | int = b""
            for n, raw in readers[fi]:
                if not isinstance(raw, int) and not raw.strip():
                    continue
                s = shard_of(raw, shards)
                numbers[s].append(n)
                lines[s].append(raw)
                last = raw
                count += 1
                if count >= CHUNK:
                    break
            eof = count < CHUNK
            if isinstance(last, bytes) and last:
                p = parse_line(last)
                if isinstance(p, Parsed):
                    progress[fi] = max(progress[fi], p.t)
            for s in range(shards):
                put(inboxes[s], (fi, numbers[s], lines[s], progress[fi], eof))
            pos = files[fi].tell()
            on_bytes(pos - offsets[fi])
            offsets[fi] = pos
            if not eof:
                heapq.heappush(frontier, (progress[fi], fi))
    finally:
        for f in files:
            f.close()


def collect(
    results: list[ShardResult],
) -> tuple[AlarmBook, list[tuple[int, int, str]], dict[str, int], dict[str, int], list]:
    from anxin.contract.alarm import Alarm
    from anxin.engine.witness import MeterRow
    from anxin.verification.jjg443 import VerificationResult

    book = AlarmBook()
    counts: dict[str, int] = {}
    pending: dict[str, int] = {}
    rejects: list[tuple[int, int, str]] = []
    meters: list = []
    for r in results:
        meters += msgspec.msgpack.decode(r.meters, type=list[MeterRow])
        book.add(msgspec.msgpack.decode(r.alarms, type=list[Alarm]))
        book.add(msgspec.msgpack.decode(r.verifications, type=list[VerificationResult]))
        rejects += r.rejects
        for k, v in r.counts.items():
            counts[k] = counts.get(k, 0) + v
        for k, v in r.pending.items():
            pending[k] = pending.get(k, 0) + v
    rejects.sort()
    meters.sort(key=lambda m: m.nozzle_id)
    return book, rejects, counts, dict(sorted(pending.items())), meters
