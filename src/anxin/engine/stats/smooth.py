"""The probe's temperature, smoothed within each segment, and remembered between looks.

A look re-reads every reading since its window's start, and a window grows by a day a
look: each closed segment is the one the last look smoothed, and the open one is last
look's with a day more. A segment is smoothed on its own readings alone, and each reading
on its neighbours alone (at most ``k`` each side), so the memo gives the same numbers, bit
for bit, as smoothing again: a segment seen before is taken as it is; a segment that grew
keeps the results of every reading whose neighbours are all unchanged and smooths only the
rest (the last ``k`` readings it had, and the new ones).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# What the memo may hold (its keys' bytes and its results: 24 bytes a reading of the
# smoother), the least recently used segment out first: a look of a station with 3 tanks
# over 30 days of 5-minute readings holds ≈ 0.6 MB, so a shard's 30 MB keep ~50 stations'
# windows. A segment longer than two weeks of 5-minute readings is smoothed again each time.
MEMO_BYTES = 30 << 20
MEMO_MAX_READINGS = 4096
MEMO_MIN_READINGS = 8  # readings that name a segment in the memo (its start: times and temperatures)
# (a shorter segment is smoothed again each time)


def smooth_temperature(t_h: np.ndarray, temp_c: np.ndarray, seg: np.ndarray, half_h: float, k: int):
    """Local quadratic fit of temperature in time within each segment (±``half_h`` hours,
    at most ``k`` readings each side). The true fuel temperature is smooth (daily cycle,
    slow relaxation after a delivery) while the probe's noise is white, and the
    probe's noise multiplied by β·V is the largest single noise in the book volume."""
    t_h = np.asarray(t_h, dtype=np.float64)  # (the memo compares float64 bytes)
    out = np.array(temp_c, dtype=np.float64)
    bounds = np.flatnonzero(np.diff(seg)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, t_h.size]):
        n = hi - lo
        if n < 5:
            out[lo:hi] = out[lo:hi].mean() if n else out[lo:hi]
        elif not MEMO_MIN_READINGS <= n <= MEMO_MAX_READINGS:
            out[lo:hi] = local_quadratic(t_h[lo:hi], out[lo:hi], half_h, min(k, n - 1))
        else:
            out[lo:hi] = MEMO.segment(
                "temperature",
                (t_h[lo:hi], out[lo:hi]),
                (half_h, k),
                lambda n: min(k, n - 1),
                lambda a, kk: local_quadratic(a[0], a[1], half_h, kk),
            )
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
    """Per-reading results of a segment (a window function: each reading's result depends
    only on the readings within ``kk`` of it), by the segment's first readings, least
    recently used first out. Shared by the looks of one process (a shard, the live
    service's witness thread): thread-safe."""

    def __init__(self, max_bytes: int = MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple, tuple[tuple[bytes, ...], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.extended = self.misses = 0

    def segment(
        self,
        what: str,
        arrays: tuple[np.ndarray, ...],
        params: tuple,
        kk_of: Callable[[int], int],
        compute: Callable[[tuple[np.ndarray, ...], int], np.ndarray],
    ) -> np.ndarray:
        """``compute(arrays, kk)``: every reading's result with ``kk`` neighbours each side
        (absent beyond the ends); ``kk_of(n)``: the ``kk`` a segment of ``n`` readings takes."""
        n = arrays[0].size
        raw = tuple(a.tobytes() for a in arrays)
        key = (what, *(b[: 8 * MEMO_MIN_READINGS] for b in raw), params)
        with self._lock:
            seen = self._entries.get(key)
            if seen is not None:
                self._entries.move_to_end(key)
        if seen is not None and seen[0] == raw:
            self.hits += 1
            return seen[1]
        old = seen[1].size if seen is not None and all(b.startswith(o) for b, o in zip(raw, seen[0])) else 0
        kk = kk_of(n)
        if seen is not None and 0 < old < n and kk_of(old) == kk < old:
            # Readings before old - kk have all their neighbours among the old readings.
            keep = old - kk
            start = max(keep - kk, 0)
            tail = compute(tuple(a[start:] for a in arrays), kk)[keep - start :]
            got = np.concatenate([seen[1][:keep], tail])
            self.extended += 1
        else:
            got = compute(arrays, kk)
            self.misses += 1
        got.setflags(write=False)  # handed to every later look that meets the segment
        with self._lock:
            if (gone := self._entries.pop(key, None)) is not None:
                self.bytes -= _size(gone)
            self._entries[key] = (raw, got)
            self.bytes += _size((raw, got))
            while self.bytes > self.max_bytes and self._entries:
                self.bytes -= _size(self._entries.popitem(last=False)[1])
        return got


def _size(entry: tuple[tuple[bytes, ...], np.ndarray]) -> int:
    return sum(map(len, entry[0])) + entry[1].nbytes


MEMO = SegmentMemo()
