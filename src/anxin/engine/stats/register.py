"""The verification register as the tank witness's second anchor (检定锚定).

The delivery notes pin a tank's chart scale, and with it the error common to all its
nozzles; a bias common to the notes (one depot's loading meter, or a station's own notes)
moves every nozzle alike, and no tank data can show it. The institute's verifications
can: a nozzle verified with the K in force has a measured error, so each verified
nozzle gives one reading of the common shift B = (estimate − verified error). Those are
combined with a prior on B (the depot's bias and the fit's own scale uncertainty) under
a Student-t likelihood: a meter that drifted — or was rigged — since its verification is
one reading unlike the others and moves nothing, while a shift all readings agree on is
taken. |B| is bounded (``depot_bias_max_permille`` plus the fit's scale uncertainty): a
larger common disagreement is not a depot's and stays with the meters. Where the
posterior has a second mode of some weight (two nozzles, one drifted, and no note to
say which), the intervals hold the estimates under both.

Pure and deterministic (a grid, then reweighting); all in δ = e/(1 + e), fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from anxin.engine.stats.models import WitnessSettings

__all__ = ["Shift", "register_shift"]


@dataclass(frozen=True, slots=True)
class Shift:
    """The common shift the register shows: subtract ``b`` from every δ of the tank. What
    is left of an estimate's error is its part about the tank's mean (``rel``) and the
    shift's own (``var_b``), less their covariance through ``a`` (``variance``)."""

    b: float
    var_b: float
    a: np.ndarray  # b's weights on the tank's estimates (0 where not verified)
    rel: np.ndarray  # the estimates' error covariance about the tank's mean
    used: int  # verified nozzles that agree with the shift (t-weight above one half)
    # a second shift the readings leave open (None: none with posterior mass ≥
    # register_alt_mass): every interval holds the estimate under it too
    alt: float | None = None

    def variance(self, w: np.ndarray) -> float:
        """Variance of wᵀ(δ − b) (w sums to 1: one nozzle, or the pooled figure): its
        part about the tank's mean, and the shift's."""
        return max(float(w @ self.rel @ w) + self.var_b - 2.0 * float(w @ self.rel @ self.a), 0.0)


def _objective(b: np.ndarray, d: np.ndarray, s2: np.ndarray, prior_var: float, nu: float) -> np.ndarray:
    """−log posterior of the shift on a grid: a Student-t prior (a depot may be further
    off than its class says) and a Student-t likelihood per reading."""
    r2 = (d[None, :] - b[:, None]) ** 2 / s2[None, :]
    return 0.5 * (nu + 1.0) * (np.log1p(b**2 / (nu * prior_var)) + np.log1p(r2 / nu).sum(axis=1))


def _basins(obj: np.ndarray) -> list[tuple[int, int, int]]:
    """The grid's basins of attraction as (start, stop, argmin), split at local maxima."""
    peaks = [i for i in range(1, obj.size - 1) if obj[i] > obj[i - 1] and obj[i] >= obj[i + 1]]
    edges = [0, *peaks, obj.size]
    return [(a, b, a + int(np.argmin(obj[a:b]))) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def register_shift(
    delta: np.ndarray,
    cov: np.ndarray,
    verified: dict[int, tuple[float, float]],
    s: WitnessSettings,
) -> Shift | None:
    """``delta``, ``cov``: the tank's estimates (δ) and their error covariance;
    ``verified``: column → (verified error ‰, its SD ‰). None when no nozzle of the tank
    was verified."""
    if not verified or s.register_sd_permille <= 0:
        return None
    cols = sorted(verified)
    e = np.array([verified[c][0] for c in cols]) / 1000.0
    d = delta[cols] - e / (1.0 + e)
    r = (s.register_sd_permille / 1000.0) ** 2 + (np.array([verified[c][1] for c in cols]) / 1000.0) ** 2
    # The estimates' errors as a common part (the chart's scale: what the shift takes
    # away) and the rest, relative to the tank's mean
    n = delta.size
    proj = np.eye(n) - 1.0 / n
    rel = proj @ cov @ proj
    prior_var = (s.depot_bias_sd_permille / 1000.0) ** 2 + max(float(cov.mean()), 0.0)
    css = rel[np.ix_(cols, cols)]
    s2 = np.diag(css) + r
    bmax = s.depot_bias_max_permille / 1000.0 + 3.0 * math.sqrt(max(float(cov.mean()), 0.0))
    nu = s.register_nu
    # which verified nozzles agree: two modes are possible (one nozzle drifted, or all
    # shifted), the grid finds the better, reweighting refines it
    grid = np.linspace(-bmax, bmax, 1601)
    obj = _objective(grid, d, s2, prior_var, nu)
    post = np.exp(-(obj - obj.min()))
    post /= post.sum()
    basins = sorted(_basins(obj), key=lambda x: -post[x[0] : x[1]].sum())
    lo, hi, best = basins[0]
    b = float(grid[best])
    main = post[lo:hi] / post[lo:hi].sum()
    main_var = float(main @ (grid[lo:hi] - main @ grid[lo:hi]) ** 2)
    # another explanation the readings leave open (two nozzles, one of them drifted, and
    # no note to say which): the intervals will hold it too
    alt = None
    if len(basins) > 1 and post[basins[1][0] : basins[1][1]].sum() >= s.register_alt_mass:
        alt = float(grid[basins[1][2]])
    for _ in range(20):
        w = (nu + 1.0) / (nu + (d - b) ** 2 / s2)
        nb = float(np.clip((w * d / s2).sum() / (1.0 / prior_var + (w / s2).sum()), -bmax, bmax))
        if abs(nb - b) < 1e-10:
            break
        b = nb
    w = np.minimum((nu + 1.0) / (nu + (d - b) ** 2 / s2), 1.0)  # as information, once at most
    # with those weights, generalised least squares of the readings on the common shift
    wm = np.linalg.inv(css + np.diag(r / np.maximum(w, 1e-6)))
    one = np.ones(len(cols))
    den = float(one @ wm @ one) + 1.0 / prior_var
    a = np.zeros(n)
    a[cols] = wm @ one / den
    b = float(np.clip(a[cols] @ d, -bmax, bmax))
    # the mode's own width where the heavy tails make it wider than least squares says
    var_b = max(1.0 / den, main_var)
    return Shift(b=b, var_b=var_b, a=a, rel=rel, used=int((w > 0.5).sum()), alt=alt)
