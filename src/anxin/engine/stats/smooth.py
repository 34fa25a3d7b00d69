"""The probe's temperature, smoothed within each segment, and remembered between looks.

A look re-reads every reading since its window's start, and a window grows by a day a
look: each closed segment is the one the last look smoothed, and the open one is last
look's with a day more. A segment is smoothed on its own readings alone, and each reading
on its neighbours alone (at most ``k`` each side), so the memo gives the same numbers, bit
for bit, as smoothing again: a segment seen before is taken as it is; a segment that grew
keeps the results of every reading whose neighbours are all unchanged and smooths only the
rest (the last ``k`` readings it had, and the new ones).

The memo is kept per tank: a look holds what its tank's window needs and nothing more
(a segment the window has left goes at the tank's next look), so it holds the same
whatever the number of tanks looked at in between.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# A segment's results (8 bytes a reading) are kept while it is in its tank's window: ≈ 60 kB
# for a tank over 30 days of 5-minute readings, ≈ 15 kB over a week. Beyond this, for more
# tanks than that in one process, the least recently used go first.
MEMO_BYTES = 128 << 20
MEMO_MIN_READINGS = 8  # readings that name a segment in the memo (its start: times and temperatures)
# (a shorter segment is smoothed again each time)


def smooth_temperature(
    t_h: np.ndarray, temp_c: np.ndarray, seg: np.ndarray, half_h: float, k: int, *, tank: str | None = None
):
    """Local quadratic fit of temperature in time within each segment (±``half_h`` hours,
    at most ``k`` readings each side). The true fuel temperature is smooth (daily cycle,
    slow relaxation after a delivery) while the probe's noise is white, and the
    probe's noise multiplied by β·V is the largest single noise in the book volume.
    ``tank``: whose window this is (its segments are remembered until its next look);
    None: nothing is remembered."""
    t_h = np.asarray(t_h, dtype=np.float64)  # (the memo compares float64 bytes)
    out = np.array(temp_c, dtype=np.float64)
    bounds = np.flatnonzero(np.diff(seg)) + 1
    used: list[tuple] = []
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, t_h.size]):
        n = hi - lo
        if n < 5:
            out[lo:hi] = out[lo:hi].mean() if n else out[lo:hi]
        elif tank is None or n < MEMO_MIN_READINGS:
            out[lo:hi] = local_quadratic(t_h[lo:hi], out[lo:hi], half_h, min(k, n - 1))
        else:
            out[lo:hi] = MEMO.segment((tank, half_h, k), t_h[lo:hi], out[lo:hi], used)
    if tank is not None:
        MEMO.settle((tank, half_h, k), used)
    return out


def local_quadratic(t_h: np.ndarray, temp_c: np.ndarray, half_h: float, kk: int) -> np.ndarray:
    """Each reading's local quadratic fit over its ``kk`` neighbours each side within
    ±``half_h`` (missing neighbours beyond the ends count as absent). Every reading's
    result depends on its own window alone."""
    pad = np.full(kk, np.nan)
    tw = sliding_window_view(np.r_[pad, t_h, pad], 2 * kk + 1)
    yw = sliding_window_view(np.r_[pad, temp_c, pad], 2 * kk + 1)
    d = tw - t_h[:, None]
    w = (np.abs(d) <= half_h) & np.isfinite(d)
    d = np.where(w, d / max(half_h, 1e-9), 0.0)
    y = np.where(w, yw, 0.0)
    wf = w.astype(np.float64)
    m = [np.sum(wf * d**p, axis=1) for p in range(5)]
    a = np.stack(
        [np.stack([m[0], m[1], m[2]], -1), np.stack([m[1], m[2], m[3]], -1), np.stack([m[2], m[3], m[4]], -1)],
        -2,
    )
    b = np.stack([np.sum(y, 1), np.sum(y * d, 1), np.sum(y * d * d, 1)], -1)
    ok = m[0] >= 5
    det = np.linalg.det(a)
    ok &= np.abs(det) > 1e-9 * np.maximum(m[0], 1.0) ** 3
    sol = np.zeros_like(b)
    if ok.any():
        sol[ok] = np.linalg.solve(a[ok], b[ok][..., None])[..., 0]
    mean = np.sum(y, 1) / np.maximum(m[0], 1.0)
    return np.where(ok, sol[:, 0], mean)


class SegmentMemo:
    """Smoothed segments by their owner (a tank, with the smoother's half-width and
    neighbours) and their first readings. Shared by the looks of one process (a shard,
    the live service's witness thread): thread-safe."""

    def __init__(self, max_bytes: int = MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        # (owner, head) → (the readings' digest, their number, the results)
        self._entries: OrderedDict[tuple, tuple[bytes, int, np.ndarray]] = OrderedDict()
        self._owned: dict[tuple, set[tuple]] = {}
        self._lock = threading.Lock()
        self.hits = self.extended = self.misses = 0

    def segment(self, owner: tuple, t_h: np.ndarray, temp_c: np.ndarray, used: list[tuple]) -> np.ndarray:
        """The segment smoothed (``owner`` = (tank, half_h, k)); its key is appended to
        ``used`` (for :meth:`settle`)."""
        _tank, half_h, k = owner
        n = t_h.size
        arrays = (t_h, temp_c)
        key = (owner, b"".join(a[:MEMO_MIN_READINGS].tobytes() for a in arrays))
        used.append(key)
        with self._lock:
            seen = self._entries.get(key)
            if seen is not None:
                self._entries.move_to_end(key)
        old, had = 0, None  # the readings this segment had when last met, if it only grew since
        if seen is not None and seen[1] <= n and seen[0] == _digest(arrays, seen[1]):
            old, had = seen[1], seen[2]
        if had is not None and old == n:
            self.hits += 1
            return had
        kk = min(k, n - 1)
        if had is not None and min(k, old - 1) == kk < old:
            # Readings before old - kk have all their neighbours among the old readings.
            keep = old - kk
            start = max(keep - kk, 0)
            tail = local_quadratic(t_h[start:], temp_c[start:], half_h, kk)[keep - start :]
            got = np.concatenate([had[:keep], tail])
            self.extended += 1
        else:
            got = local_quadratic(t_h, temp_c, half_h, kk)
            self.misses += 1
        got.setflags(write=False)  # handed to every later look that meets the segment
        with self._lock:
            self._drop(key)
            self._entries[key] = (_digest(arrays, n), n, got)
            self._owned.setdefault(owner, set()).add(key)
            self.bytes += got.nbytes
            while self.bytes > self.max_bytes and self._entries:
                self._drop(next(iter(self._entries)))
        return got

    def settle(self, owner: tuple, used: list[tuple]) -> None:
        """The owner's look is over: its segments this look did not meet have left its window."""
        with self._lock:
            for key in self._owned.get(owner, set()) - set(used):
                self._drop(key)

    def _drop(self, key: tuple) -> None:
        gone = self._entries.pop(key, None)
        if gone is not None:
            self.bytes -= gone[2].nbytes
            owned = self._owned[key[0]]
            owned.discard(key)
            if not owned:
                del self._owned[key[0]]


def _digest(arrays: tuple[np.ndarray, ...], n: int) -> bytes:
    """The first ``n`` readings of every array (BLAKE2b, 256 bits: what a segment held)."""
    h = hashlib.blake2b(digest_size=32)
    for a in arrays:
        h.update(a[:n].tobytes())
    return h.digest()


MEMO = SegmentMemo()
