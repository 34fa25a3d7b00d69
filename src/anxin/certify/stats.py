"""Proportions with exact (Clopper-Pearson) 95 % intervals.

Clopper-Pearson rather than Wilson: a published detection rate is read as a guarantee, and
the exact interval never covers less than its 95 % (Wilson's can, near 0 and 1 — where
every figure of this report lies). Computed from the binomial tails by bisection (no
scipy in the server install); the tests check it against scipy's beta quantiles."""

from __future__ import annotations

import math

import msgspec

ALPHA = 0.05
# Below this many trials a proportion is stated with its interval but called
# "insufficient data": 20 of 20 detected still leaves the lower bound at 83 %.
MIN_TRIALS = 20
DIGITS = 6  # significant digits: a run's JSON is the same bytes on every machine


def sig(x: float) -> float:
    """``x`` to :data:`DIGITS` significant digits (an upper bound of 9.2e-6 stays one)."""
    return float(f"{x:.{DIGITS}g}")


class Proportion(msgspec.Struct, kw_only=True, frozen=True):
    """``k`` of ``n`` trials; ``estimate`` and ``ci95`` are None when ``n`` is 0."""

    k: int
    n: int
    estimate: float | None
    ci95: tuple[float, float] | None
    sufficient: bool  # n ≥ MIN_TRIALS


def _log_pmf(i: int, n: int, p: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)


def _cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p), 0 < p < 1, summed over the shorter tail."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if k <= n - k:
        return min(1.0, sum(math.exp(_log_pmf(i, n, p)) for i in range(k + 1)))
    return max(0.0, 1.0 - sum(math.exp(_log_pmf(i, n, p)) for i in range(k + 1, n + 1)))


def _bisect(f, target: float) -> float:
    """The p in (0, 1) where the decreasing ``f(p)`` crosses ``target``."""
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def clopper_pearson(k: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """The exact two-sided ``1 − alpha`` interval of a proportion ``k``/``n`` (n > 0)."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"a proportion needs 0 ≤ k ≤ n and n > 0, not k={k}, n={n}")
    a = alpha / 2.0
    if k == 0:
        lower = 0.0
    elif k == n:
        lower = a ** (1.0 / n)
    else:  # P(X ≥ k | p) = a, increasing in p
        lower = _bisect(lambda p: _cdf(k - 1, n, p), 1.0 - a)
    if k == n:
        upper = 1.0
    elif k == 0:
        upper = 1.0 - a ** (1.0 / n)
    else:  # P(X ≤ k | p) = a, decreasing in p
        upper = _bisect(lambda p: _cdf(k, n, p), a)
    return lower, upper


def proportion(k: int, n: int) -> Proportion:
    if n == 0:
        return Proportion(k=0, n=0, estimate=None, ci95=None, sufficient=False)
    lo, hi = clopper_pearson(k, n)
    return Proportion(
        k=k,
        n=n,
        estimate=sig(k / n),
        ci95=(sig(lo), sig(hi)),
        sufficient=n >= MIN_TRIALS,
    )
