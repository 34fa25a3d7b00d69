"""The registered chart's error as the witness models it (罐容表修正): a smooth part
(V(h)·P_k(x), Legendre k = 1…degree) and a strapping part (the tabulated volume at each
chart point off by its own amount: hat functions on the chart's points), both with
zero-mean priors; the overall scale (k = 0) is handled apart, through the delivery
notes (:mod:`anxin.engine.stats.fit`).

Tank data alone see only what the chart does between the levels a week of sales
covers, so the correction is reported there and nowhere else.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ChartModel", "chart_model", "coef_prior_sd"]


def coef_prior_sd(rms_permille: float, degree: int) -> float:
    """Prior SD of each Legendre coefficient k = 0…degree of the chart's smooth relative
    error (a fraction), when its RMS over the level range is ``rms_permille``."""
    if rms_permille <= 0:
        return 0.0
    ks = np.arange(degree + 1)
    return rms_permille / 1000.0 / math.sqrt(float(np.sum(1.0 / (2 * ks + 1))))


class ChartModel:
    """Basis columns (m³ scale, like the readings) and their prior SDs for one fit."""

    __slots__ = ("columns", "prior_sd", "knots", "knot_map", "degree", "top")

    def __init__(self, columns, prior_sd, knots, knot_map, degree: int, top: float):
        self.columns = columns
        self.prior_sd = prior_sd
        self.knots = knots
        self.knot_map = knot_map  # knot values (m³) = knot_map @ coefficients
        self.degree = degree
        self.top = top

    def evaluate(self, coef: np.ndarray, level: np.ndarray, vol: np.ndarray) -> np.ndarray:
        """The modelled chart error (mL, registered minus true) at these levels."""
        out = (_smooth(level, vol, self.top, self.degree) @ coef[: self.degree]) * 1e6
        if self.knots.size:
            out = out + (_hats(level, self.knots) @ (self.knot_map @ coef[self.degree :])) * 1e6
        return out


def _smooth(level: np.ndarray, vol: np.ndarray, top: float, degree: int) -> np.ndarray:
    x = 2.0 * level / max(top, 1.0) - 1.0
    cols = []
    for k in range(1, degree + 1):
        c = np.zeros(k + 1)
        c[k] = 1.0
        cols.append(vol * np.polynomial.legendre.legval(x, c) / 1e6)
    return np.stack(cols, 1) if cols else np.zeros((level.size, 0))


def _hats(level: np.ndarray, knots: np.ndarray) -> np.ndarray:
    if knots.size == 0:
        return np.zeros((level.size, 0))
    cols = np.zeros((level.size, knots.size))
    eye = np.eye(knots.size)
    for k in range(knots.size):
        cols[:, k] = np.interp(level, knots, eye[k])
    return cols


def knot_grid(level: np.ndarray, chart: np.ndarray, max_knots: int) -> np.ndarray:
    """The registered chart's points strictly inside the levels seen, with the range's
    ends (a dense chart gets an even grid of at most ``max_knots``)."""
    if level.size == 0:
        return np.zeros(0)
    lo, hi = float(level.min()), float(level.max())
    pts = chart[:, 0]
    inner = pts[(pts > lo) & (pts < hi)]
    if inner.size > max_knots:
        inner = np.linspace(lo, hi, max_knots + 2)[1:-1]
    return np.r_[lo, inner, hi] if inner.size else np.zeros(0)


def strapping_scale_ml(level: np.ndarray, resid_ml: np.ndarray, seg: np.ndarray, knots: np.ndarray) -> float:
    """How much of the residual is the chart's own fine structure (mL, 0 when the data
    show none): the residuals' means per level band and segment, compared between
    segments. Noise — even hours-long, like a temperature error — does not repeat when
    the level passes the same band on another day; an error in the tabulated volumes
    does. The estimate is the covariance of the band means across pairs of segments,
    kept when it is at least twice its standard error."""
    if knots.size < 3 or seg.size == 0:
        return 0.0
    nseg = int(seg.max()) + 1
    band = np.clip(np.searchsorted(knots, level, side="right") - 1, 0, knots.size - 2)
    nb = knots.size - 1
    key = seg * nb + band
    cnt = np.bincount(key, minlength=nseg * nb).reshape(nseg, nb)
    tot = np.bincount(key, resid_ml, nseg * nb).reshape(nseg, nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    # each segment's own offset is its intercept's, not the chart's
    mean = mean - np.nanmean(mean, axis=1, keepdims=True)
    prods = []
    for a in range(nseg):
        for b in range(a + 1, nseg):
            both = np.isfinite(mean[a]) & np.isfinite(mean[b])
            if both.sum() >= 3:
                prods.append(mean[a, both] * mean[b, both])
    if not prods:
        return 0.0
    allp = np.concatenate(prods)
    est = float(allp.mean())
    se = float(allp.std(ddof=1) / math.sqrt(allp.size)) if allp.size > 1 else math.inf
    return math.sqrt(est) if est > 2.0 * se and est > 0 else 0.0


def chart_model(level: np.ndarray, vol: np.ndarray, chart: np.ndarray, s, knot_sd_ml: float = 0.0) -> ChartModel:
    """The chart-error columns for readings at ``level`` (registered volume ``vol``):
    the smooth terms with the calibration prior, and — when ``knot_sd_ml`` > 0 (the data
    show the chart's fine structure, :func:`strapping_scale_ml`) — one hat per registered
    chart point inside the levels seen, each value with that prior SD. A hat whose
    support holds too few readings is left out (the level passed it once: its value
    would be whatever the readings around it say)."""
    top = float(chart[-1, 0])
    smooth = _smooth(level, vol, top, s.chart_degree)
    psd = [coef_prior_sd(s.chart_error_sd_permille, s.chart_degree)] * smooth.shape[1]
    knots = knot_grid(level, chart, s.max_knots) if knot_sd_ml > 0 else np.zeros(0)
    hats = _hats(level, knots)
    kmap = np.zeros((0, 0))
    if knots.size:
        support = (hats > 0.05).sum(0)
        keep = support >= s.min_knot_readings
        keep[[0, -1]] = True  # the ends carry the edges of the range
        knots = knots[keep]
        hats = _hats(level, knots)
        # Knot values c = D·Q·u with D the prior SDs and u ~ N(0, I): Q spans the
        # whitened knot space minus two directions the hats must not take — a constant
        # (the segments' intercepts carry it) and c ∝ V (the chart's scale, which moves
        # every nozzle alike and is the notes' to decide, not the readings').
        d = np.full(knots.size, knot_sd_ml / 1e6)
        kv = np.interp(knots, chart[:, 0], chart[:, 1])
        kmap = d[:, None] * _complement(np.column_stack([1.0 / d, kv / d]))
        hats = hats @ kmap
        psd += [1.0] * kmap.shape[1]
    cols = np.column_stack([smooth, hats]) if hats.shape[1] else smooth
    return ChartModel(cols, np.asarray(psd, dtype=np.float64), knots, kmap, s.chart_degree, top)


def _complement(a: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the complement of a's columns."""
    q, _ = np.linalg.qr(a, mode="complete")
    return q[:, a.shape[1] :]
