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

    __slots__ = ("columns", "prior_sd", "knots", "degree", "top")

    def __init__(self, columns: np.ndarray, prior_sd: np.ndarray, knots: np.ndarray, degree: int, top: float):
        self.columns = columns
        self.prior_sd = prior_sd
        self.knots = knots
        self.degree = degree
        self.top = top

    def evaluate(self, coef: np.ndarray, level: np.ndarray, vol: np.ndarray) -> np.ndarray:
        """The modelled chart error (mL, registered minus true) at these levels."""
        return (_smooth(level, vol, self.top, self.degree) @ coef[: self.degree]) * 1e6 + (
            _hats(level, self.knots) @ coef[self.degree :]
        ) * 1e6


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


def chart_model(level: np.ndarray, vol: np.ndarray, chart: np.ndarray, s) -> ChartModel:
    """The chart-error columns for readings at ``level`` (registered volume ``vol``):
    the smooth terms with the calibration prior, and — when ``s.strap_sd_permille`` > 0 —
    one hat per registered chart point strictly inside the levels seen (a dense chart
    gets an even grid of at most ``s.max_knots``), with a prior of that fraction of the
    volume there. A hat whose support holds too few readings is left out (the level
    passed it once: its value would be whatever the readings around it say)."""
    top = float(chart[-1, 0])
    smooth = _smooth(level, vol, top, s.chart_degree)
    psd = [coef_prior_sd(s.chart_error_sd_permille, s.chart_degree)] * smooth.shape[1]
    knots = np.zeros(0)
    if s.strap_sd_permille > 0 and level.size:
        lo, hi = float(level.min()), float(level.max())
        pts = chart[:, 0]
        inner = pts[(pts > lo) & (pts < hi)]
        if inner.size > s.max_knots:
            inner = np.linspace(lo, hi, s.max_knots + 2)[1:-1]
        if inner.size:
            knots = np.r_[lo, inner, hi]
    hats = _hats(level, knots)
    if knots.size:
        support = (hats > 0.05).sum(0)
        keep = support >= s.min_knot_readings
        keep[[0, -1]] = True  # the ends carry the edges of the range
        hats, knots = hats[:, keep], knots[keep]
        hats = _hats(level, knots)
        kv = np.interp(knots, chart[:, 0], chart[:, 1])
        psd += list(s.strap_sd_permille / 1000.0 * kv / 1e6)
    cols = np.column_stack([smooth, hats]) if hats.shape[1] else smooth
    return ChartModel(cols, np.asarray(psd, dtype=np.float64), knots, s.chart_degree, top)
