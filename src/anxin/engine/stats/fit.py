"""The witness's least squares (pure NumPy): a free fit that finds the segments, the
analysis of the delivery notes against the tank, and the anchored fit that gives the
estimates and their intervals.

Readings y_i (m³) of segment s(i): y_i = a_s + x_i·b + r_i, where the columns of x are
the free nozzle segments' cumulative metered volume (coefficient δ' = δ − g), the time
(the loss rate) and the chart-error basis (:mod:`anxin.engine.stats.chart`). The chart's
overall scale g moves every nozzle alike and enters only through its prior and the
anchors a_{s+1} − a_s − g·ΔK_s − β·D_s = D_s (D the declared volume, β a bias common to
the notes: one depot's meter), each with the note's own error (see the module docstring
of :mod:`anxin.engine.stats.witness` for why the readings get no scale column).

Intervals are sandwiches whose meat sums the reading scores over time blocks of
``hac_hours`` (batch means at four offsets, which approximates a Bartlett window at a
cost linear in the data), so hours-long correlation in the residuals — temperature
conversion, the chart's fine structure — does not make them overconfident; the
quantile is Student's t with one degree of freedom less than the blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Anchor",
    "AnchoredFit",
    "free_fit",
    "group_evidence",
    "analyse_anchors",
    "anchored_fit",
    "long_run_var",
]


class Anchor:
    """One boundary between consecutive segments and what the fit made of it."""

    __slots__ = ("k", "declared", "implied", "sd", "used", "reason", "delivery")

    def __init__(self, k: int, declared: float, delivery: bool):
        self.k = k
        self.declared = declared  # m³ (0 across a plain gap; NaN after an unexplained step)
        self.delivery = delivery
        self.implied: float | None = None
        self.sd = math.inf
        self.used = False
        self.reason = "step" if not math.isfinite(declared) else "unanchored"


@dataclass(slots=True)
class AnchoredFit:
    b: np.ndarray  # δ' per free nozzle segment, the loss rate (m³/h), the chart terms
    cov: np.ndarray  # covariance of [b | g | β]: the sandwich
    cov_model: np.ndarray  # the same from the model (readings weighted by their long-run variance)
    g: float  # the chart's scale error (fraction)
    a: np.ndarray  # segment intercepts (m³)
    resid: np.ndarray  # reading residuals (m³)
    lrv: float
    n: int
    dof: int
    blocks: int  # HAC time blocks (the t quantile's degrees of freedom + 1)
    anchored: bool
    scale_sd: float


def _blocks(t_h: np.ndarray, bw_h: float, offset_h: float) -> tuple[np.ndarray, int]:
    idx = np.floor((t_h - t_h[0] + offset_h) / max(bw_h, 1e-9)).astype(np.int64)
    return idx, int(idx[-1]) + 1 if idx.size else 0


# No gauge reads a tank's volume better than a few mL (1 µm of level is ~15 mL): the
# residual variance is floored there, or noiseless data would weigh the priors and the
# notes at nothing and exhaust double precision.
LRV_FLOOR = (5e-6) ** 2  # (5 mL)² in m⁶


def long_run_var(r: np.ndarray, t_h: np.ndarray, bw_h: float) -> float:
    """Per-reading long-run variance of residuals r (overlapping batch means), floored."""
    n = r.size
    if n == 0:
        return 0.0
    acc = 0.0
    offs = (0.0, 0.25, 0.5, 0.75)
    for o in offs:
        idx, nb = _blocks(t_h, bw_h, o * bw_h)
        acc += float(np.sum(np.bincount(idx, r, nb) ** 2))
    return max(acc / len(offs) / n, float(r @ r) / n, LRV_FLOOR)


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a⁻¹b for a symmetric, scaled (unit diagonal) normal matrix: Cholesky with a tiny
    jitter; a singular one (two nozzles that always sell together) falls back to the
    pseudo-inverse, which splits what cannot be told apart evenly."""
    try:
        c = np.linalg.cholesky(a + 1e-13 * np.eye(a.shape[0]))
        return np.linalg.solve(c.T, np.linalg.solve(c, b))
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a) @ b


def _inverse(a: np.ndarray) -> np.ndarray:
    try:
        inv = np.linalg.inv(a)
        if np.isfinite(inv).all() and np.abs(inv @ a - np.eye(a.shape[0])).max() < 1e-6:
            return inv
    except np.linalg.LinAlgError:
        pass
    return np.linalg.pinv(a)


def _block_sums(idx: np.ndarray, nb: int, v: np.ndarray) -> np.ndarray:
    """Row sums of v per block (idx non-decreasing, as time is sorted)."""
    out = np.zeros((nb,) + v.shape[1:])
    if v.shape[0] == 0:
        return out
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    out[idx[starts]] = np.add.reduceat(v, starts, axis=0)
    return out


def _seg_means(a: np.ndarray, seg: np.ndarray, nseg: int) -> np.ndarray:
    cnt = np.maximum(np.bincount(seg, minlength=nseg), 1).astype(np.float64)
    if a.ndim == 1:
        return np.bincount(seg, a, nseg) / cnt
    return np.stack([np.bincount(seg, a[:, k], nseg) for k in range(a.shape[1])], 1) / cnt[:, None]


def free_fit(x, y, t_h, seg, nseg, psd, bw_h):
    """Intercepts swept out (Frisch–Waugh), columns with psd > 0 under a zero-mean prior
    weighted by the residuals' long-run variance. Returns (b, a, resid, lrv) or None."""
    xd = x - _seg_means(x, seg, nseg)[seg]
    yd = y - _seg_means(y, seg, nseg)[seg]
    n, p = xd.shape
    if n - p - nseg < 3:
        return None
    norms = np.sqrt((xd * xd).sum(0))
    scale = np.where(norms > 0, norms, 1.0)
    xs = xd / scale
    xtx = xs.T @ xs
    xty = xs.T @ yd
    bh = _solve(xtx, xty)
    resid = yd - xs @ bh
    lrv = long_run_var(resid, t_h, bw_h)
    if (psd > 0).any():
        for _ in range(2):  # the weight depends on the residuals, which depend on the weight
            pen = np.where(psd > 0, lrv / np.where(psd > 0, psd * scale, 1.0) ** 2, 0.0)
            bh = _solve(xtx + np.diag(pen), xty)
            resid = yd - xs @ bh
            lrv = long_run_var(resid, t_h, bw_h)
    b = bh / scale
    a = _seg_means(y - x @ b, seg, nseg)
    return b, a, resid, lrv


def group_evidence(x, psd, groups, y, seg, nseg, lrv, grid) -> list[tuple[float, float]]:
    """Type-II maximum likelihood over alternative blocks of columns: for each block of
    ``groups`` (appended to the base columns ``x``, which keep their priors ``psd``, 0
    flat), its coefficients as draws from N(0, sd²) with sd over ``grid``; returns per
    block (the sd the data make most likely, that log-likelihood up to a constant common
    to the blocks). Intercepts flat and swept out, readings weighted by ``lrv`` as in
    :func:`free_fit`. The base columns are integrated out once (the block's information
    is their Schur complement), so each block and sd costs a solve of the block's size:
    log p(y | block, sd) = ½ (r'(S + Λ⁻¹)⁻¹r − log|Λ| − log|S + Λ⁻¹|) + const."""
    xd = x - _seg_means(x, seg, nseg)[seg]
    yd = y - _seg_means(y, seg, nseg)[seg]
    norms = np.sqrt((xd * xd).sum(0))
    scale = np.where(norms > 0, norms, 1.0)
    xs = xd / scale
    s2 = max(lrv, LRV_FLOOR)
    sd_b = psd * scale
    pen = np.where(sd_b > 0, 1.0 / np.where(sd_b > 0, sd_b, 1.0) ** 2, 0.0)
    abb_inv = _inverse_sym(xs.T @ xs / s2 + np.diag(pen))
    bb = xs.T @ yd / s2
    k_b = abb_inv @ bb
    out = []
    for tr in groups:
        if tr.shape[1] == 0:
            out.append((math.nan, -math.inf))
            continue
        td = tr - _seg_means(tr, seg, nseg)[seg]
        tn = np.sqrt((td * td).sum(0))
        tsc = np.where(tn > 0, tn, 1.0)
        ts = td / tsc
        abt = xs.T @ ts / s2
        schur = ts.T @ ts / s2 - abt.T @ abb_inv @ abt
        r = ts.T @ yd / s2 - abt.T @ k_b
        best = (math.nan, -math.inf)
        for g in grid:
            sd = g * tsc
            m = schur + np.diag(1.0 / sd**2)
            sign, logdet = np.linalg.slogdet(m)
            if sign <= 0:
                continue
            ll = 0.5 * (float(r @ np.linalg.solve(m, r)) - float(np.sum(np.log(sd**2))) - logdet)
            if ll > best[1]:
                best = (float(g), ll)
        out.append(best)
    return out


def _inverse_sym(a: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric information matrix, taken on its unit-diagonal scaling."""
    sc = np.sqrt(np.clip(np.diag(a), 1e-300, None))
    return _inverse(a / np.outer(sc, sc)) / np.outer(sc, sc)


def analyse_anchors(
    anchors: list[Anchor], a_free: np.ndarray, s, g_sd: float, b_sd: float
) -> tuple[float, float, float]:
    """Compare each declared delivery with the jump the tank itself shows across it
    (the free fit's intercepts: that jump is (1 + g)·D up to the note's error), drop a
    note the others contradict, and return (note SD, scale prior SD, note-bias prior SD)
    as fractions.

    The note SD is the kept notes' own scatter combined with ``delivery_sd_permille`` as
    a prior worth ``delivery_sd_prior_notes`` notes (a scaled-inverse-χ² posterior).
    Three notes or more that agree among themselves but not with the chart's prior say
    the prior was wrong for this tank (a chart with the wrong heads, a scale off by 5‰):
    the prior is widened so the notes decide — up to
    ``max_chart_scale_permille``; beyond it no registered chart is that far off, and
    the notes are as suspect as the chart. One or two notes cannot be judged by each
    other. In both cases, when notes and chart disagree (beyond twice what the priors
    allow), either may be wrong, so neither wins — the excess is shared
    between the chart's scale and the notes' common bias, and the common error's
    interval holds both (wide, and honest)."""
    note_sd = s.delivery_sd_permille / 1000.0
    deliv = [an for an in anchors if an.delivery]
    for an in anchors:
        an.implied = float(a_free[an.k + 1] - a_free[an.k]) if math.isfinite(an.declared) else None
    if note_sd <= 0:
        for an in deliv:
            an.reason = "unanchored"
        return 0.0, g_sd, b_sd
    # a delivery's declared volume is finite and > 0, so its implied jump is set
    ratio = np.array([(float(an.implied or 0.0) - an.declared) / an.declared for an in deliv])  # ≈ g + β + note error
    keep = np.ones(ratio.size, dtype=bool)
    if ratio.size >= 3:
        med = float(np.median(ratio))
        mad = 1.4826 * float(np.median(np.abs(ratio - med)))
        keep = np.abs(ratio - med) <= s.anchor_reject_sigma * max(note_sd, mad)
    kept = ratio[keep]
    if kept.size >= 3:
        nu0, obs = s.delivery_sd_prior_notes, float(np.var(kept, ddof=1))
        post = (nu0 * note_sd * note_sd + (kept.size - 1) * obs) / (nu0 + kept.size - 1)
        note_sd = max(math.sqrt(post), s.delivery_sd_min_permille / 1000.0)
    if kept.size and g_sd > 0:
        mean, se = float(kept.mean()), note_sd / math.sqrt(kept.size)
        allowed = se * se + g_sd * g_sd + b_sd * b_sd
        plausible = abs(mean) <= s.max_chart_scale_permille / 1000.0
        if kept.size >= 3 and plausible:
            excess = mean * mean - se * se - b_sd * b_sd
            if excess > g_sd * g_sd + (s.anchor_reject_sigma * se) ** 2:
                g_sd = math.sqrt(excess)
        elif mean * mean > 4.0 * allowed:
            half = (mean * mean - allowed) / 2.0
            g_sd, b_sd = math.sqrt(g_sd * g_sd + half), math.sqrt(b_sd * b_sd + half)
    for an, ok in zip(deliv, keep):
        an.used = bool(ok)
        an.reason = "used" if ok else "contradicted"
        an.sd = abs(an.declared) * note_sd
    for an in anchors:
        if not an.delivery and math.isfinite(an.declared):
            an.used, an.reason, an.sd = True, "gap", s.gap_sd_ml / 1e6
    return note_sd, g_sd, b_sd


def anchored_fit(x, y, t_h, seg, nseg, anchors: list[Anchor], psd, g_sd, b_sd, lrv, s) -> AnchoredFit:
    """Weighted least squares over θ = [b | g | β | a_s], built from segment sums (no
    dense intercept columns): readings weighted by their long-run variance (floored at
    ``LRV_FLOOR``), the priors and the kept anchors as pseudo-observations; the
    sandwich's meat sums the reading scores over time blocks."""
    px = x.shape[1]
    gi, bi, ai = px, px + 1, px + 2
    p = ai + nseg
    n = y.size
    w_r = 1.0 / max(lrv, LRV_FLOOR)
    cnt = np.bincount(seg, minlength=nseg).astype(np.float64)
    sx = _block_sums(seg, nseg, x)  # segments follow time, so seg is non-decreasing
    info = np.zeros((p, p))
    info[:px, :px] = w_r * (x.T @ x)
    info[:px, ai:] = w_r * sx.T
    info[ai:, :px] = w_r * sx
    info[ai:, ai:] = w_r * np.diag(cnt)
    rhs = np.zeros(p)
    rhs[:px] = w_r * (x.T @ y)
    rhs[ai:] = w_r * np.bincount(seg, y, nseg)
    pseudo = np.zeros((p, p))
    pri = np.r_[psd, g_sd, b_sd]
    for j in np.flatnonzero(pri > 0):
        pseudo[j, j] += 1.0 / pri[j] ** 2
    anchored = any(an.used and an.delivery for an in anchors)
    if g_sd <= 0 and not anchored:
        pseudo[gi, gi] += 1e12  # no prior and no note: no scale term (g ≡ 0); with notes a flat prior
    if b_sd <= 0:
        pseudo[bi, bi] += 1e12
    k_s = _seg_means(y, seg, nseg)
    used = [an for an in anchors if an.used]
    if used:
        rows = np.zeros((len(used), p))
        for i, an in enumerate(used):
            k = an.k
            rows[i, ai + k + 1], rows[i, ai + k], rows[i, gi] = 1.0, -1.0, -(k_s[k + 1] - k_s[k])
            if an.delivery:
                rows[i, bi] = -an.declared
        w = np.array([1.0 / max(an.sd, 1e-9) ** 2 for an in used])  # 1 mL: no anchor is surer
        pseudo += (rows * w[:, None]).T @ rows
        rhs += rows.T @ (w * np.array([an.declared for an in used]))
    info += pseudo
    inv = _inverse_sym(info)
    theta = inv @ rhs
    b, a = theta[:px], theta[ai:]
    res = y - x @ b - a[seg]
    dof = max(n - px - nseg, 1)
    meat = np.zeros((p, p))
    offs = (0.0, 0.25, 0.5, 0.75)
    ux = x * res[:, None]
    nb_min = 1 << 62
    for o in offs:
        idx, nb = _blocks(t_h, s.hac_hours, o * s.hac_hours)
        nb_min = min(nb_min, nb)
        sb = np.zeros((nb, p))
        sb[:, :px] = _block_sums(idx, nb, ux)
        sb[:, ai:] = np.bincount(idx * nseg + seg, res, nb * nseg).reshape(nb, nseg)
        meat += sb.T @ sb
    meat *= w_r * w_r * (n / dof) / len(offs)
    cov = inv @ (meat + pseudo) @ inv
    return AnchoredFit(
        b=b,
        cov=cov[: px + 2, : px + 2],
        cov_model=inv[: px + 2, : px + 2],
        g=float(theta[gi]),
        a=a,
        resid=res,
        lrv=lrv,
        n=n,
        dof=dof,
        blocks=nb_min,
        anchored=anchored,
        scale_sd=g_sd,
    )
