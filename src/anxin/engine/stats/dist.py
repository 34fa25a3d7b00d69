"""The few distribution functions the tank witness needs (normal quantile, Student t
tail and quantile, the one-sided binomial sign test), in pure Python.

They replace SciPy so that the minimal install (a station gateway, `anxin check` on
ARM) needs NumPy only. Accuracy is about 1e-13 relative (tests compare with SciPy over
a grid); the witness rounds what it reports to 4 decimals.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_STD_NORMAL = NormalDist()


def norm_ppf(p: float) -> float:
    """Quantile of the standard normal distribution (Wichura's AS 241)."""
    return _STD_NORMAL.inv_cdf(p)


def binom_greater_pvalue(k: int, n: int) -> float:
    """P(X ≥ k) for X ~ Binomial(n, ½): the one-sided sign test's p-value, exact."""
    if n <= 0 or k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularised incomplete beta function I_x(a, b); ``y`` is 1 − x when the caller
    knows it more precisely than ``1 - x`` would give."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, y) / b


def t_sf(t: float, df: float) -> float:
    """Upper tail P(T > t) of Student's t with ``df`` degrees of freedom."""
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    t2 = t * t
    x, y = df / (df + t2), t2 / (df + t2)
    tail = 0.5 * betainc(df / 2.0, 0.5, x, y)  # y given exactly: small |t| keeps its precision
    return tail if t > 0 else 1.0 - tail


def _t_isf(q: float, df: float) -> float:
    """The t ≥ 0 with P(T > t) = q, for 0 < q ≤ ½ (bisection to full precision)."""
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > q:
        lo, hi = hi, hi * 2.0
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if t_sf(mid, df) > q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t: the t with P(T ≤ t) = p."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must lie strictly between 0 and 1")
    if p == 0.5:
        return 0.0
    return -_t_isf(p, df) if p < 0.5 else _t_isf(1.0 - p, df)
