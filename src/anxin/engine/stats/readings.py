"""Tank-gauge reading validation, segmentation and temperature smoothing (pure numpy).

Everything here works on one tank's readings. Reasons for rejecting a reading:

* ``duplicate`` — a second reading with the same ``t`` (the first arrival is kept);
* ``out_of_range`` — non-finite, level/water outside the chart, temperature implausible;
* ``water`` — water bottom above ``max_water_um`` or above the liquid level;
* ``delivery`` — taken while fuel was being unloaded (or settling just after);
* ``frozen`` — the gauge repeated the same level while fuel was being dispensed;
* ``jump`` — the 20 °C book volume leaves its running median by more than ``jump_ml``
  (decided in :mod:`anxin.engine.stats.witness`, which knows the dispensings).

``gap`` counts intervals between consecutive valid readings longer than ``gap_us``
(the readings themselves are kept); a gap longer than ``segment_gap_us`` or a delivery
starts a new segment with its own free intercept.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from anxin.engine.stats.smooth import smooth_temperature

__all__ = ["validate", "segment_ids", "smooth_temperature", "smooth_water", "cumulative", "rolling_median"]


def validate(
    t: np.ndarray,
    level: np.ndarray,
    water: np.ndarray,
    temp_mc: np.ndarray,
    *,
    chart_max_um: float,
    deliveries: np.ndarray,
    disp_start: np.ndarray,
    disp_end: np.ndarray,
    disp_vol: np.ndarray,
    s,  # WitnessSettings
) -> tuple[np.ndarray, dict[str, int]]:
    """Indices (into the arrival-order arrays) of the valid readings, sorted by time,
    and the rejection counts by reason."""
    rejected: dict[str, int] = {}

    def reject(reason: str, count: int) -> None:
        if count:
            rejected[reason] = rejected.get(reason, 0) + int(count)

    order = np.argsort(t, kind="stable")  # stable: the first arrival of a t comes first
    ts = t[order]
    first = np.ones(ts.size, dtype=bool)
    first[1:] = ts[1:] != ts[:-1]
    reject("duplicate", int((~first).sum()))
    idx = order[first]

    lv, wt, tc = level[idx], water[idx], temp_mc[idx]
    bad = ~(np.isfinite(lv) & np.isfinite(wt) & np.isfinite(tc))
    bad |= (lv < 0) | (lv > chart_max_um) | (wt < 0)
    bad |= (tc < s.min_temp_c * 1000.0) | (tc > s.max_temp_c * 1000.0)
    reject("out_of_range", int(bad.sum()))
    idx, lv, wt = idx[~bad], lv[~bad], wt[~bad]

    bad = (wt > s.max_water_um) | (wt >= lv)
    reject("water", int(bad.sum()))
    idx, lv = idx[~bad], lv[~bad]

    if deliveries.size:
        tt = t[idx]
        during = np.zeros(idx.size, dtype=bool)
        for ds, de in deliveries[:, :2]:
            during |= (tt >= ds - s.delivery_pre_us) & (tt <= de + s.delivery_settle_us)
        reject("delivery", int(during.sum()))
        idx, lv = idx[~during], lv[~during]

    # Frozen gauge: a run of identical levels across which fuel was dispensed.
    if idx.size > 1 and s.frozen_min_ml > 0:
        tt = (t[idx] - t.min()) / 1e6  # seconds since the first reading, like the dispensings
        same = np.concatenate(([False], lv[1:] == lv[:-1]))
        run_start = np.maximum.accumulate(np.where(~same, np.arange(idx.size), 0))
        drawn = _drawn_between(disp_start, disp_end, disp_vol, tt[run_start], tt)
        frozen = same & (drawn > s.frozen_min_ml)
        reject("frozen", int(frozen.sum()))
        idx = idx[~frozen]
    return idx, rejected


def _drawn_between(s: np.ndarray, e: np.ndarray, v: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Metered volume dispensed in (a, b] per pair (linear over each dispensing)."""
    if v.size == 0:
        return np.zeros(a.shape)
    return cumulative(s, e, v, b.astype(np.float64)) - cumulative(s, e, v, a.astype(np.float64))


def segment_ids(t: np.ndarray, deliveries: np.ndarray, segment_gap_us: int, gap_us: int):
    """Segment number per (sorted, valid) reading, and the number of gaps > gap_us."""
    if t.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    cut = np.zeros(t.size, dtype=bool)
    dt = np.diff(t)
    cut[1:] = dt > segment_gap_us
    if deliveries.size:
        # A new segment after every delivery that started between two readings.
        pos = np.searchsorted(t, deliveries[:, 0].astype(np.int64), side="left")
        pos = pos[(pos > 0) & (pos < t.size)]
        cut[pos] = True
    return np.cumsum(cut), int((dt > gap_us).sum())


def smooth_water(t_h: np.ndarray, water_um: np.ndarray, seg: np.ndarray, max_dev_um: float) -> np.ndarray:
    """The water bottom as a straight line in time within each segment. Water comes in
    slowly, but the float reads it in steps of its resolution (0.5 mm is common): each
    step moves the book volume by litres at once, a staircase the model would otherwise
    explain with whatever else steps (the transients' conversion error, a leak). A
    segment whose readings stray more than ``max_dev_um`` from the line had a real event
    (water drawn off, rain): it keeps its readings."""
    out = water_um.copy()
    bounds = np.flatnonzero(np.diff(seg)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, t_h.size]):
        if hi - lo < 3:
            continue
        tt, w = t_h[lo:hi] - t_h[lo], water_um[lo:hi]
        if np.ptp(w) == 0:
            continue
        coef = np.polyfit(tt, w, 1)
        line = np.polyval(coef, tt)
        if np.max(np.abs(w - line)) <= max_dev_um:
            out[lo:hi] = line
    return out


def rolling_median(z: np.ndarray, seg: np.ndarray, k: int) -> np.ndarray:
    """Centred running median over ±k readings within each segment."""
    out = z.copy()
    bounds = np.flatnonzero(np.diff(seg)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, z.size]):
        n = hi - lo
        if n < 3:
            continue
        kk = min(k, (n - 1) // 2)
        pad = np.full(kk, np.nan)
        out[lo:hi] = np.nanmedian(sliding_window_view(np.r_[pad, z[lo:hi], pad], 2 * kk + 1), axis=1)
    return out


def cumulative(start: np.ndarray, end: np.ndarray, amount: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Σ amount · clip((t − start)/(end − start), 0, 1) at times t, in O((m + n) log m).

    Each dispensing counts linearly over [start, end] (a dispensing spanning several
    readings is split in proportion to time); instant ones (end ≤ start) count from end.
    """
    out = np.zeros(t.shape, dtype=np.float64)
    if amount.size == 0:
        return out
    start = start.astype(np.float64)
    end = end.astype(np.float64)
    inst = end <= start
    if inst.any():
        o = np.argsort(end[inst], kind="stable")
        cs = np.concatenate(([0.0], np.cumsum(amount[inst][o])))
        out += cs[np.searchsorted(end[inst][o], t, side="right")]
    ramp = ~inst
    if ramp.any():
        s, e, a = start[ramp], end[ramp], amount[ramp]
        rate = a / (e - s)
        for x, sign in ((s, 1.0), (e, -1.0)):
            o = np.argsort(x, kind="stable")
            xs = x[o]
            r_cs = np.concatenate(([0.0], np.cumsum(rate[o])))
            rx_cs = np.concatenate(([0.0], np.cumsum(rate[o] * xs)))
            i = np.searchsorted(xs, t, side="right")
            out += sign * (t * r_cs[i] - rx_cs[i])
    return out
