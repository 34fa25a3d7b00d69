"""The tank witness: every nozzle's meter error and the tank's unexplained loss, from
tank-gauge readings (pure, deterministic; no I/O, no clock).

Model, per valid reading i of segment s (segments are cut at deliveries, long gaps and
unexplained steps):

    V20_i = c_s − Σ_j M_j(t_i) / (1 + e_j) − L·τ_i + ε_i

with V20 the 20 °C book volume (registered chart, water bottom subtracted, smoothed fuel
temperature), M_j the cumulative 20 °C metered volume of nozzle-segment j (a dispensing
spanning readings is split linearly in time), e_j its JJG error, L the loss rate and τ
the time in hours. With δ_j = e_j/(1 + e_j) this is linear: z_i = V20_i + Σ_j M_j(t_i)
= c_s + Σ_j δ_j M_j(t_i) − L·τ_i + ε_i. The fit is on the cumulative (level) form, where
gauge noise is white; the registered chart's smooth level-dependent error is absorbed by
nuisance regressors V(h)·P_k(x) with a zero-mean prior.

The chart's overall scale (k = 0) moves every nozzle of the tank alike, so tank data
alone cannot tell it from a common meter error. The declared delivery volumes are the
outside anchor: consecutive intercepts are tied by c_{s+1} − c_s = D_s, each with the
delivery note's uncertainty, which makes the scale identifiable. A declared volume the
tank plainly contradicts is dropped (and counted), so one wrong note cannot move the
meters; with no usable delivery the intercepts stay free and the scale's prior SD is
added to every meter's interval instead. Standard errors are Newey–West (Bartlett) on
the scores, so autocorrelated residuals do not make the intervals overconfident.
"""

from __future__ import annotations

import math

import numpy as np

from anxin.engine.stats import readings as _rd
from anxin.engine.stats.dist import norm_ppf
from anxin.engine.stats.models import MeterEstimate, TankData, TankEstimate, WitnessSettings

__all__ = ["WitnessSettings", "TankData", "MeterEstimate", "TankEstimate", "estimate_tank", "station_bias"]

_US_PER_H = 3_600_000_000


def meter_status(est: float, lo: float, hi: float, s: WitnessSettings) -> str:
    if lo > s.mpe_permille or hi < -s.mpe_permille:
        return "violation"
    if abs(est) > s.watch_permille:
        return "watch"
    return "ok"


def _chart_nuisance(level: np.ndarray, vol: np.ndarray, top: float, degree: int) -> np.ndarray:
    """V(h)·P_k(x), k = 1…degree: the chart's smooth relative error beyond its scale."""
    x = 2.0 * level / max(top, 1.0) - 1.0
    cols = []
    for k in range(1, degree + 1):
        c = np.zeros(k + 1)
        c[k] = 1.0
        cols.append(vol * np.polynomial.legendre.legval(x, c) / 1e6)  # m³ scale
    return np.stack(cols, 1) if cols else np.zeros((level.size, 0))


def _demean(a: np.ndarray, seg: np.ndarray, nseg: int) -> np.ndarray:
    cnt = np.bincount(seg, minlength=nseg).astype(np.float64)
    if a.ndim == 1:
        return a - (np.bincount(seg, a, nseg) / np.maximum(cnt, 1))[seg]
    means = np.stack([np.bincount(seg, a[:, k], nseg) for k in range(a.shape[1])], 1)
    return a - (means / np.maximum(cnt, 1)[:, None])[seg]


def _lagged(u: np.ndarray, t_h: np.ndarray, bw_h: float, seg: np.ndarray | None = None) -> np.ndarray:
    """A_i = Σ_{l ≥ 1} w_l(i)·u_{i−l}: Bartlett weights on the time lag (hours), within
    a segment when ``seg`` is given."""
    acc = np.zeros_like(u)
    n = u.shape[0]
    if n < 2 or bw_h <= 0:
        return acc
    step = float(np.median(np.diff(t_h)))
    maxlag = min(n - 1, int(math.ceil(bw_h / max(step, 1e-9))))
    for lag in range(1, maxlag + 1):
        w = np.clip(1.0 - (t_h[lag:] - t_h[:-lag]) / bw_h, 0.0, None)
        if seg is not None:
            w *= seg[lag:] == seg[:-lag]
        if not (w > 0).any():
            break
        acc[lag:] += u[:-lag] * w[:, None]
    return acc


def _newey_west(u: np.ndarray, t_h: np.ndarray, bw_h: float) -> np.ndarray:
    """Σ_l w_l (Γ_l + Γ_lᵀ): the lagged scores are summed first, so the cost is
    O(lags·n·p + n·p²) rather than a p×p product per lag."""
    g = u.T @ _lagged(u, t_h, bw_h)
    return u.T @ u + g + g.T


def _coef_prior_sd(s: WitnessSettings) -> float:
    """Prior SD of each Legendre coefficient of the chart's relative error (fraction):
    the RMS over the level range is chart_error_sd, shared equally by k = 0…degree."""
    if s.chart_error_sd_permille <= 0:
        return 0.0
    ks = np.arange(s.chart_degree + 1)
    return s.chart_error_sd_permille / 1000.0 / math.sqrt(float(np.sum(1.0 / (2 * ks + 1))))


def _fit(m, t_h, level, vol, z, seg, nseg, jumps, top, s, anchor=True):
    """Meter errors, loss and chart terms of one tank (see the module docstring).

    Pass 1 is the free fit: segment intercepts swept out (Frisch–Waugh), chart shape
    terms with their prior; it gives the jump each segment boundary shows. Pass 2 adds
    the chart scale g: with z = V20 + ΣM nearly constant within a segment, g·V(h)
    equals g·K_s − g·ΣM up to second-order terms (K_s the segment's mean z), so the
    readings see only δ'_j = δ_j − g and a_s = c_s + g·K_s, and g enters through the
    declared volumes alone, a_{s+1} − a_s − g·(K_{s+1} − K_s) = D_s, and through its
    prior. (Giving the readings a V(h) column instead lets their second-order, nearly
    collinear information outweigh the anchors.) ``jumps`` holds D per boundary: 0
    across a plain gap, NaN after an unexplained step, whose size stays free.

    Returns (coef, se, reading residuals, n, dof, anchored, dropped anchors) or None;
    coef: δ per free nozzle segment (fraction), L (m³/h). ``anchor=False``: pass 1 only.
    """
    nfree = m.shape[1]
    x = np.column_stack([m / 1e6, -t_h, _chart_nuisance(level, vol, top, s.chart_degree)])
    y = z / 1e6
    g_sd = _coef_prior_sd(s)
    psd = np.zeros(x.shape[1])
    psd[nfree + 1 :] = g_sd
    out1 = _wls(_demean(x, seg, nseg), _demean(y, seg, nseg), t_h, s, nseg, psd)
    if out1 is None:
        return None
    coef1, se1, resid1, n, dof, lrv = out1
    if not anchor:
        return coef1[: nfree + 1], se1[: nfree + 1], resid1, n, dof, False, 0
    cnt = np.maximum(np.bincount(seg, minlength=nseg), 1).astype(np.float64)
    k_s = np.bincount(seg, y, nseg) / cnt
    dk = np.diff(k_s) * 1e6  # mL
    use = np.zeros(max(nseg - 1, 0), dtype=bool)
    dropped = 0
    sd = np.full(use.size, np.inf)
    if s.delivery_sd_permille > 0 and use.size:
        # A declared volume the tank plainly contradicts (a wrong note, a missed
        # compartment) must not move the chart scale: anchors farther from the jump
        # the free fit shows than anchor_reject_sigma SDs are dropped and counted.
        implied = np.diff(np.bincount(seg, y - x @ coef1, nseg) / cnt) * 1e6
        fin = np.isfinite(jumps)
        dd = np.nan_to_num(jumps)
        sd = np.where(dd > 0, dd * s.delivery_sd_permille / 1000.0, s.gap_sd_ml)
        room = s.anchor_reject_sigma * np.sqrt(sd**2 + (g_sd * dk) ** 2)
        use = fin & (np.abs(implied - dd) <= room)
        dropped = int((fin & ~use & (dd > 0)).sum())
    anchored = bool((use & (np.nan_to_num(jumps) > 0)).any())
    if not anchored and g_sd <= 0:
        return coef1[: nfree + 1], se1[: nfree + 1], resid1, n, dof, False, dropped
    return _anchored_fit(x, y, t_h, seg, nseg, jumps, use, sd, dk, lrv, g_sd, nfree, n, dof, dropped, s)


def _anchored_fit(x, y, t_h, seg, nseg, jumps, use, sd, dk, lrv, g_sd, nfree, n, dof, dropped, s):
    """Pass 2: weighted least squares over θ = [b | g | a_s], built from segment sums
    (no dense intercept columns): readings weighted by their long-run variance (floored
    at (1 mL)², or noiseless data would exhaust double precision against the anchors),
    the priors and the kept anchors as pseudo-observations; Newey–West sandwich with
    the lags taken within each segment."""
    px = x.shape[1]
    gi = px  # index of g; intercepts follow
    p = px + 1 + nseg
    w_r = 1.0 / max(lrv, 1e-12)
    cnt = np.bincount(seg, minlength=nseg).astype(np.float64)
    sx = np.stack([np.bincount(seg, x[:, k], nseg) for k in range(px)], 1)  # (nseg, px)
    info = np.zeros((p, p))
    info[:px, :px] = w_r * (x.T @ x)
    info[:px, gi + 1 :] = w_r * sx.T
    info[gi + 1 :, :px] = w_r * sx
    info[gi + 1 :, gi + 1 :] = w_r * np.diag(cnt)
    rhs = np.zeros(p)
    rhs[:px] = w_r * (x.T @ y)
    rhs[gi + 1 :] = w_r * np.bincount(seg, y, nseg)
    pseudo = np.zeros((p, p))  # information of the priors and anchors (their own variance)
    if g_sd > 0:  # chart terms (shape and scale): zero-mean prior
        for j in [*range(nfree + 1, px), gi]:
            pseudo[j, j] += 1.0 / g_sd**2
    for k in np.flatnonzero(use):
        r = np.zeros(p)
        r[gi + 2 + k], r[gi + 1 + k], r[gi] = 1.0, -1.0, -dk[k] / 1e6
        w = 1.0 / (sd[k] / 1e6) ** 2
        pseudo += w * np.outer(r, r)
        rhs += w * r * (float(np.nan_to_num(jumps[k])) / 1e6)
    info += pseudo
    scale = np.sqrt(np.clip(np.diag(info), 1e-300, None))
    inv = np.linalg.pinv(info / np.outer(scale, scale)) / np.outer(scale, scale)
    theta = inv @ rhs
    b, a = theta[:px], theta[gi + 1 :]
    res = y - x @ b - a[seg]
    # Reading scores u_i = w_r·[x_i r_i | 0 | r_i e_s(i)]; lagged sums within segments.
    ux = x * res[:, None]
    acc = _lagged(np.column_stack([ux, res]), t_h, s.hac_hours, seg)
    acc_x, acc_r = acc[:, :px], acc[:, px]
    meat = np.zeros((p, p))
    g = ux.T @ acc_x
    meat[:px, :px] = ux.T @ ux + g + g.T
    xa = ux * (res + acc_r)[:, None] + acc_x * res[:, None]
    cross = np.stack([np.bincount(seg, xa[:, k], nseg) for k in range(px)], 1)
    meat[:px, gi + 1 :] = cross.T
    meat[gi + 1 :, :px] = cross
    meat[gi + 1 :, gi + 1 :] = np.diag(np.bincount(seg, res * res + 2.0 * res * acc_r, nseg))
    meat *= w_r * w_r * (n / max(dof, 1))
    cov = inv @ (meat + pseudo) @ inv
    # δ_j = δ'_j + g (the loss is unaffected to first order).
    coef = b[: nfree + 1].copy()
    coef[:nfree] += theta[gi]
    var = np.diag(cov)[: nfree + 1].copy()
    var[:nfree] += cov[gi, gi] + 2.0 * cov[:nfree, gi]
    anchored = bool((use & (np.nan_to_num(jumps) > 0)).any())
    return coef, np.sqrt(np.clip(var, 0.0, None)), res, n, dof, anchored, dropped


def _wls(x, y, t_h, s, nseg, prior_sd=None):
    """Least squares with a Newey–West sandwich; columns with prior_sd > 0 get a
    zero-mean Gaussian prior (ridge weighted by the residuals' long-run variance)."""
    norms = np.sqrt((x * x).sum(0))
    scale = np.where(norms > 0, norms, 1.0)
    xs = x / scale
    n, p = xs.shape
    dof = n - p - nseg
    if dof < 3:
        return None
    xtx = xs.T @ xs
    xtx_inv = np.linalg.pinv(xtx)
    bh = xtx_inv @ (xs.T @ y)
    resid = y - xs @ bh

    def long_run_var(r):
        lrv = float(_newey_west(r[:, None], t_h, s.hac_hours)[0, 0]) / n
        return max(lrv, float(r @ r) / n)

    # Long-run variance of the residuals (Bartlett), used to weight readings against anchors.
    lrv = long_run_var(resid)
    meat_extra = np.zeros((p, p))
    if prior_sd is not None and (np.asarray(prior_sd) > 0).any():
        for _ in range(2):  # the weight depends on the residuals, which depend on the weight
            psd = np.asarray(prior_sd, dtype=np.float64) * scale  # prior SD of the scaled coefficient
            pen = np.where(psd > 0, lrv / np.where(psd > 0, psd, 1.0) ** 2, 0.0) * n / max(dof, 1)
            xtx_inv = np.linalg.pinv(xtx + np.diag(pen))
            bh = xtx_inv @ (xs.T @ y)
            resid = y - xs @ bh
            lrv = long_run_var(resid)
        # The pseudo-observations' own variance: pen² · psd² = pen · (lrv · n/dof).
        meat_extra = np.diag(pen * pen * np.where(psd > 0, psd, 0.0) ** 2)
    meat = _newey_west(xs * resid[:, None], t_h, s.hac_hours) * (n / dof) + meat_extra
    cov = xtx_inv @ meat @ xtx_inv
    return bh / scale, np.sqrt(np.clip(np.diag(cov), 0.0, None)) / scale, resid, n, dof, lrv


def _step_cuts(resid_ml: np.ndarray, seg: np.ndarray, s: WitnessSettings) -> np.ndarray:
    """Readings that start a new segment because the residual moved from the previous
    reading by far more than the gauge noise (robust scale of the increments)."""
    cut = np.zeros(seg.size, dtype=bool)
    if seg.size < 3 or s.step_sigma <= 0:
        return cut
    same = seg[1:] == seg[:-1]
    dr = np.diff(resid_ml)
    if same.sum() < 10:
        return cut
    d = dr[same]
    sd = 1.4826 * float(np.median(np.abs(d - np.median(d))))
    thr = max(s.step_sigma * sd, s.step_min_ml)
    cut[1:] = same & (np.abs(dr) > thr)
    return cut


def estimate_tank(data: TankData, settings: WitnessSettings = WitnessSettings()) -> TankEstimate | None:
    """Meter errors and loss rate of one tank; None when there is not enough data."""
    s = settings
    chart = np.asarray(data.chart, dtype=np.float64).reshape(-1, 2)
    if chart.shape[0] < 2 or len(data.reading_t) < 3:
        return None
    t_all = np.asarray(data.reading_t, dtype=np.int64)
    t0 = int(t_all.min())
    dl = np.asarray(data.deliveries, dtype=np.float64).reshape(-1, 3)
    dl_us = np.asarray([(a, b) for a, b, _ in data.deliveries], dtype=np.int64).reshape(-1, 2)
    disp = data.dispensings
    d_nz = [d[0] for d in disp]
    d_seg = np.asarray([d[1] for d in disp], dtype=np.int64)
    d_s = (np.asarray([d[2] for d in disp], dtype=np.int64) - t0) / 1e6  # seconds since t0
    d_e = (np.asarray([d[3] for d in disp], dtype=np.int64) - t0) / 1e6
    d_v = np.asarray([d[4] for d in disp], dtype=np.float64)

    idx, rejected = _rd.validate(
        t_all,
        np.asarray(data.reading_level_um, dtype=np.float64),
        np.asarray(data.reading_water_um, dtype=np.float64),
        np.asarray(data.reading_temp_mc, dtype=np.float64),
        chart_max_um=float(chart[-1, 0]),
        deliveries=dl_us,
        disp_start=d_s,
        disp_end=d_e,
        disp_vol=d_v,
        s=s,
    )
    # validate() takes times in the same unit as the dispensings for the frozen test.
    if idx.size < 3:
        return None
    t_us = t_all[idx]
    ts = (t_us - t0) / 1e6
    t_h = ts / 3600.0
    level = np.asarray(data.reading_level_um, dtype=np.float64)[idx]
    water = np.asarray(data.reading_water_um, dtype=np.float64)[idx]
    temp = np.asarray(data.reading_temp_mc, dtype=np.float64)[idx] / 1000.0
    seg, _ = _rd.segment_ids(t_us, dl_us, s.segment_gap_us, s.gap_us)
    n_gaps = int((np.diff(np.unique(t_all)) > s.gap_us).sum())  # gaps in what the gauge sent
    if n_gaps:
        rejected["gap"] = n_gaps
    beta = data.expansion_ppm_per_c * 1e-6
    temp_s = _rd.smooth_temperature(t_h, temp, seg, s.temp_smooth_h, s.temp_smooth_max)
    vol = np.interp(level, chart[:, 0], chart[:, 1]) - np.interp(water, chart[:, 0], chart[:, 1])
    v20 = vol / (1.0 + beta * (temp_s - 20.0))

    # Nozzle segments (unknowns) and their cumulative 20 °C metered volume at each reading.
    keys = sorted(set(zip(d_nz, d_seg.tolist())))
    kidx = {k: i for i, k in enumerate(keys)}
    d_k = np.asarray([kidx[(a, b)] for a, b in zip(d_nz, d_seg.tolist())], dtype=np.int64)
    d_temp = np.interp((d_s + d_e) / 2.0, ts, temp_s) if d_v.size else d_v
    d_v20 = d_v / (1.0 + beta * (d_temp - 20.0))
    m = np.zeros((ts.size, len(keys)))
    counts = np.zeros(len(keys), dtype=np.int64)
    for j in range(len(keys)):
        sel = d_k == j
        counts[j] = int(sel.sum())
        m[:, j] = _rd.cumulative(d_s[sel], d_e[sel], d_v20[sel], ts)
    z = v20 + m.sum(axis=1)

    # Jumps: the book volume away from its running median (sudden level steps, spikes).
    med = _rd.rolling_median(z, seg, s.jump_window)
    ok = np.abs(z - med) <= s.jump_ml
    if not ok.all():
        rejected["jump"] = rejected.get("jump", 0) + int((~ok).sum())
        t_us, ts, t_h, level, vol, z, m, seg = (a[ok] for a in (t_us, ts, t_h, level, vol, z, m, seg))
    # Unexplained steps (a dispensing whose metering record never came, a record of fuel
    # that never left): a sudden move of the book volume against the metered volume,
    # found in the residual increments of a fit and given a free intercept of its own
    # (a cut), then the fit is repeated.
    n_steps = 0
    step = np.zeros(seg.size, dtype=bool)  # readings that start a segment at an unexplained step
    for it in range(s.step_passes + 1):
        # Segments with a single reading carry no information.
        seg = np.unique(seg, return_inverse=True)[1]
        cnt = np.bincount(seg)
        keep = cnt[seg] >= 2
        t_us, ts, t_h, level, vol, z, m, seg, step = (a[keep] for a in (t_us, ts, t_h, level, vol, z, m, seg, step))
        seg = np.unique(seg, return_inverse=True)[1]
        nseg = int(seg.max()) + 1 if seg.size else 0
        hours = float(t_h[-1] - t_h[0]) if t_h.size else 0.0
        if t_h.size < 3 or hours < s.min_hours:
            return None

        free = [j for j in range(len(keys)) if counts[j] >= s.min_fit_dispensings]
        # Declared volume between consecutive segments (deliveries; 0 across a plain gap;
        # NaN after an unexplained step, whose size is what the cut leaves free).
        first = np.r_[0, np.flatnonzero(np.diff(seg)) + 1]
        last = np.r_[first[1:] - 1, seg.size - 1]
        bnd_t = [(int(t_us[last[k]]), int(t_us[first[k + 1]])) for k in range(nseg - 1)]
        jumps = (
            np.array([float(dl[(dl_us[:, 0] >= a) & (dl_us[:, 0] < b), 2].sum()) for a, b in bnd_t])
            if nseg > 1
            else np.zeros(0)
        )
        jumps[step[first[1:]]] = np.nan
        args = (m[:, free], t_h, level, vol, z, seg, nseg, jumps, float(chart[-1, 0]), s)
        fit = _fit(*args, anchor=False)  # the free fit finds the steps; the last one is anchored
        if fit is None:
            return None
        cut = None if it == s.step_passes else _step_cuts(fit[2] * 1e6, seg, s)
        if cut is None or not cut.any():
            fit = _fit(*args)
            break
        n_steps += int(cut.sum())
        seg = seg + np.cumsum(cut)
        step |= cut
    if n_steps:
        rejected["step"] = n_steps
    coef, se, resid, n, dof, anchored, dropped = fit
    zc = norm_ppf(0.5 + s.confidence / 2.0)

    meters: list[MeterEstimate] = []
    for col, j in enumerate(free):
        if counts[j] < s.min_dispensings:
            continue
        d_hat = float(coef[col])
        d_se = float(se[col])

        def to_e(d: float) -> float:
            return d / (1.0 - d) * 1000.0 if d < 1.0 else math.inf

        est, lo, hi = to_e(d_hat), to_e(d_hat - zc * d_se), to_e(d_hat + zc * d_se)
        meters.append(
            MeterEstimate(
                nozzle_id=keys[j][0],
                segment=int(keys[j][1]),
                error_permille=est,
                ci95_permille=(lo, hi),
                n=int(counts[j]),
                status=meter_status(est, lo, hi, s),
                se_permille=d_se * 1000.0 / (1.0 - d_hat) ** 2,
                tank_id=data.tank_id,
            )
        )
    li = len(free)
    n_deliv = int(np.count_nonzero(np.nan_to_num(jumps) > 0))
    loss = float(coef[li]) * 1000.0  # m³/h → L/h
    loss_se = float(se[li]) * 1000.0
    z1 = norm_ppf(1.0 - s.leak_false_alarm)
    thr = s.leak_threshold_l_per_h
    leak = bool(loss > max(z1 * loss_se, s.leak_min_fraction * thr))
    conclusive = bool(thr - max(z1 * loss_se, s.leak_min_fraction * thr) >= z1 * loss_se)
    return TankEstimate(
        tank_id=data.tank_id,
        station_id=data.station_id,
        loss_l_per_h=loss,
        loss_ci95_l_per_h=(loss - zc * loss_se, loss + zc * loss_se),
        leak_suspected=leak,
        hours=hours,
        readings_used=int(n),
        readings_rejected=dict(sorted(rejected.items())),
        meters=meters,
        residual_sd_ml=float(np.sqrt(resid @ resid / max(dof, 1))) * 1e6,
        loss_se_l_per_h=loss_se,
        leak_conclusive=conclusive,
        scale_anchored=bool(anchored),
        deliveries_declared=n_deliv,
        deliveries_inconsistent=int(dropped),
    )


def station_bias(meters: list[MeterEstimate], settings: WitnessSettings = WitnessSettings()) -> dict | None:
    from anxin.engine.stats.bias import station_bias as _sb

    return _sb(meters, settings)
