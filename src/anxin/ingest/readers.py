"""An upload's lines read (``anxin check``'s own :func:`anxin.check.pipeline.parse_private`:
parsed, authenticated, the privacy step) with their signatures checked in a worker process
beside the service's.

Why a process and not a thread: both verifiers release the GIL while they verify
(``bench/verify_gil.py``), but the thread screening an upload takes the GIL back after
every signature, and while other uploads' threads run Python each take-back can wait for
the switch interval; a worker costs one pipe round trip per upload, and the verifications'
CPU leaves the service's process. Why only the signatures: sending the records back
costs nearly what parsing them does (pickling and unpickling, 15 µs a line against 19),
while a signature check is tens of µs for a question and an answer of a few bytes.

How, without a second copy of the parse-and-verify code: the lines are read in-process
with a key ring whose verifiers say yes and note what they were asked
(:meth:`anxin.crypto.keys.KeyRing.with_verifiers`); the worker then checks those
signatures together; a line any of whose checks does not hold is read again with the real
key ring. A line whose checks all hold was therefore read exactly as the real ring reads
it, and every other line is read by the real ring: the outcome is ``read_line``'s,
line by line. A worker that cannot be reached or dies makes that upload read in-process.

``ANXIN_INGEST_READERS``: worker processes (default 1 where the machine has 2 cores or
more, else 0 = everything in-process).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection

from anxin.contract.parse import Parsed, Reject
from anxin.crypto.keys import KeyRing, KeyVerdict
from anxin.crypto.schemes import Verifier, load_verifier
from anxin.privacy.policy import Privacy

log = logging.getLogger("anxin.ingest")

# One line read: the record or its reject, its verdict, whether a fault of the platform's
# made it a reject, and the bytes to keep (see screen.read_line).
Read = tuple[Parsed | Reject, KeyVerdict | None, bool, bytes]
# A signature to check: (alg, public key text, message, signature)
Call = tuple[str, str, bytes, bytes]

GIVE_UP = 3  # consecutive failures of the worker after which uploads are read in-process
MIN_LINES = 32  # smaller uploads are read in-process (a round trip would cost more than it saves)


def default_readers() -> int:
    env = os.environ.get("ANXIN_INGEST_READERS", "").strip()
    if env.isdigit():
        return int(env)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if cores >= 2 else 0


_asked = threading.local()  # .calls: the signature checks noted while this thread reads an upload


class _Noted:
    """A key's verifier that says yes and notes the question (checked afterwards)."""

    __slots__ = ("alg", "text")

    def __init__(self, alg: str, text: str) -> None:
        self.alg, self.text = alg, text

    def verify(self, message: bytes, signature: bytes) -> bool:
        _asked.calls.append((self.alg, self.text, message, signature))
        return True


class RingSpec:
    """A key ring as the readers use it: the same ring with noting verifiers."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self.noting = ring.with_verifiers(_Noted)


# ------------------------------------------------------------ the worker's side
def _check(verifiers: dict[tuple[str, str], Verifier | None], calls: list[Call]) -> list[bool]:
    out: list[bool] = []
    for alg, text, message, signature in calls:
        if (alg, text) not in verifiers:
            if len(verifiers) > 100_000:
                verifiers.clear()
            try:
                verifiers[(alg, text)] = load_verifier(alg, text)
            except Exception:  # (the service reads the line again and answers as it would have)
                verifiers[(alg, text)] = None
        v = verifiers[(alg, text)]
        try:
            out.append(v is not None and bool(v.verify(message, signature)))
        except Exception:
            out.append(False)
    return out


def _serve(conn: Connection) -> None:
    """A worker's loop: signature checks in, their results out."""
    verifiers: dict[tuple[str, str], Verifier | None] = {}
    while True:
        try:
            calls = conn.recv()
        except EOFError:  # the service is gone
            return
        conn.send(_check(verifiers, calls))


class _Worker:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")  # the service has threads (a fork could copy a held lock)
        self.conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(theirs,), daemon=True, name="anxin-verify")
        self.proc.start()
        theirs.close()

    def call(self, calls: list[Call], timeout_s: float) -> list[bool]:
        self.conn.send(calls)
        if not self.conn.poll(timeout_s):  # a worker that hangs must not hang the uploads
            raise TimeoutError(f"the verifying worker did not answer within {timeout_s:g} s")
        got = self.conn.recv()
        if not isinstance(got, list) or len(got) != len(calls):
            raise RuntimeError("the worker answered something else")
        return got

    def stop(self) -> None:
        self.conn.close()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(1)


# ------------------------------------------------------------ the service's side
class Readers:
    """The reading of uploads' lines, their signatures checked in ``workers`` processes
    (0: in-process). The thread that ingests an upload talks to a worker itself (pickling,
    the pipe): no helper thread in between to wait for the GIL."""

    def __init__(self, workers: int | None = None, *, min_lines: int = MIN_LINES, timeout_s: float = 30.0) -> None:
        self.workers = default_readers() if workers is None else workers
        self.min_lines = min_lines
        self.timeout_s = timeout_s  # for one upload's signatures (then: that upload in-process)
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._cond = threading.Condition()
        self._failures = 0  # consecutive

    def _take(self) -> _Worker:
        with self._cond:
            while not self._idle:
                if len(self._all) < self.workers:
                    w = _Worker()
                    self._all.append(w)
                    return w
                self._cond.wait()
            return self._idle.pop()

    def _give(self, w: _Worker, ok: bool) -> None:
        with self._cond:
            if ok:
                self._idle.append(w)
            elif w in self._all:
                self._all.remove(w)
            self._cond.notify()
        if not ok:
            w.stop()

    def _call(self, calls: list[Call]) -> list[bool]:
        w, ok = self._take(), False
        try:
            got = w.call(calls, self.timeout_s)
            ok = True
            return got
        finally:
            self._give(w, ok)  # (a worker that failed is stopped: none is left half-way)

    def close(self) -> None:
        with self._cond:
            workers, self._all, self._idle = self._all, [], []
        for w in workers:
            w.stop()

    def warm(self) -> None:
        """Start the missing workers now (a service's start, a new registry), not on the
        first upload; they load in the background (an upload waits for one still loading)."""
        with self._cond:
            try:
                while len(self._all) < self.workers:
                    w = _Worker()
                    self._all.append(w)
                    self._idle.append(w)
            except Exception:  # the first upload tries again (and says why)
                log.exception("the verifying worker could not start")
            self._cond.notify_all()

    def read(self, raws: Sequence[bytes], ring: KeyRing, spec: RingSpec | None, privacy: Privacy) -> list[Read]:
        """Each line read as :func:`anxin.ingest.screen.read_line` reads it with ``ring``,
        in order (``spec``: made from ``ring``)."""
        from anxin.ingest.screen import read_line

        if self.workers > 0 and spec is not None and len(raws) >= self.min_lines:
            try:
                calls: list[Call] = []
                first: list[tuple[Read, int, int]] = []
                _asked.calls = calls
                try:
                    for raw in raws:
                        i = len(calls)
                        got = read_line(raw, spec.noting, privacy)
                        first.append((got, i, len(calls)))
                finally:
                    _asked.calls = None
                held = self._call(calls) if calls else []
                self._failures = 0
            except Exception:  # the worker died or cannot start: this upload in-process, a new worker next time
                self._failures += 1
                if self._failures >= GIVE_UP:  # it cannot start here (e.g. a __main__ without its guard)
                    self.workers = 0
                    log.error(
                        "the verifying worker failed %d times: uploads are verified in-process from now on", GIVE_UP
                    )
                else:
                    log.exception("the verifying worker failed: this upload verified in-process")
            else:
                return [
                    got if all(held[i:j]) else read_line(raw, ring, privacy) for raw, (got, i, j) in zip(raws, first)
                ]
        return [read_line(raw, ring, privacy) for raw in raws]


_shared: Readers | None = None
_shared_lock = threading.Lock()


def shared_readers() -> Readers:
    """The process's readers: every ingest service of the process uses the same workers
    (a worker is asked about keys, not registries: it keeps the verifiers it loaded)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Readers()
        return _shared


__all__ = ["Readers", "shared_readers", "RingSpec", "Read", "default_readers", "MIN_LINES"]
