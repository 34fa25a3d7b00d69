"""The tank witness (油罐见证): every nozzle's meter error and the tank's unexplained loss,
from tank-gauge readings (pure, deterministic; no I/O, no clock).

Model, per valid reading i of segment s (segments are cut at deliveries, long gaps and
unexplained steps):

    V20_i = c_s − Σ_j M_j(t_i) / (1 + e_j) − L·τ_i − C(h_i) + ε_i

with V20 the 20 °C book volume (registered chart, water bottom subtracted, smoothed fuel
temperature), M_j the cumulative 20 °C metered volume of nozzle-segment j (a dispensing
spanning readings is split linearly in time), e_j its JJG error, L the loss rate, τ the
time in hours and C(h) the registered chart's error at the level h. With δ_j =
e_j/(1 + e_j) this is linear: z_i = V20_i + Σ_j M_j(t_i) = c_s + Σ_j δ_j M_j(t_i) − L·τ_i
+ C(h_i) + ε_i. The fit is on the cumulative (level) form, where gauge noise is white.

C(h) is modelled (:mod:`anxin.engine.stats.chart`) as a smooth part and a strapping part
(each tabulated volume off by its own amount), both with priors; its overall scale moves
every nozzle of the tank alike, so tank data alone cannot tell it from a common meter
error. The declared delivery volumes are the outside anchor (:mod:`anxin.engine.stats.fit`):
each note is compared with the jump the tank shows across it, notes the others contradict
are dropped, the notes' scatter sets their weight, and the kept ones pin the scale. What
the data determine well is the tank's pooled error (all its nozzles' metered volume
against what left the tank); a nozzle whose own interval is wider than
``insufficient_halfwidth_permille`` — its demand moves with its neighbours', or the tank
was too quiet — is reported ``insufficient``, with the pooled figure beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from anxin.engine.stats import fit as _fit
from anxin.engine.stats import readings as _rd
from anxin.engine.stats.chart import ChartModel, chart_model, coef_prior_sd, knot_grid, strapping_scale_ml
from anxin.engine.stats.dist import norm_ppf, t_ppf
from anxin.engine.stats.models import (
    MeterEstimate,
    TankData,
    TankDiagnostics,
    TankEstimate,
    WitnessSettings,
)
from anxin.engine.stats.prepare import Prepared, prepare
from anxin.engine.stats.register import Shift, register_shift

__all__ = ["WitnessSettings", "TankData", "MeterEstimate", "TankEstimate", "estimate_tank", "diagnose", "station_bias"]

_US_PER_H = 3_600_000_000


def meter_status(est: float, lo: float, hi: float, s: WitnessSettings, *, registered: bool = False) -> str:
    """ok | watch | violation | insufficient for an estimate and its interval (at
    ``confidence``). A violation is decided with a guard band (ILAC G8): the interval
    at ``decision_confidence`` must lie beyond the limit, so a meter just inside it is
    not accused on an unlucky week — nor on the delivery notes' common bias, which no tank
    data can reveal: the guarded interval must clear the limit by
    ``decision_note_bias_permille`` too, unless the verification register measured that
    bias (``registered``: its uncertainty is in the interval already)."""
    hw = (hi - lo) / 2.0
    guard = hw * norm_ppf(0.5 + s.decision_confidence / 2.0) / norm_ppf(0.5 + s.confidence / 2.0)
    c = (hi + lo) / 2.0
    # how far the guarded interval lies beyond zero, less what the depot could be off
    margin = max(c - guard, -c - guard) - (0.0 if registered else s.decision_note_bias_permille)
    if margin > s.mpe_permille and (hw <= s.violation_max_halfwidth_permille or margin > 2.0 * s.mpe_permille):
        return "violation"
    if hw > s.insufficient_halfwidth_permille:
        return "insufficient"
    if abs(est) > s.watch_permille:
        return "watch"
    return "ok"


def _step_cuts(resid_ml: np.ndarray, moved_ml: np.ndarray, seg: np.ndarray, s: WitnessSettings) -> np.ndarray:
    """Readings that start a new segment: the residual moved from the previous reading
    by far more than the noise there, and stayed moved (the mean of the next readings
    against the mean of the previous ones). The noise grows with the volume that moved
    between the two readings (the chart's fine structure, the timing of a sale against
    the reading), so its scale is robust in two parts: the quiet increments' spread,
    and the spread per litre moved; a wiggle of the chart returns, a missing record
    does not."""
    cut = np.zeros(seg.size, dtype=bool)
    if seg.size < 3 or s.step_sigma <= 0:
        return cut
    same = seg[1:] == seg[:-1]
    dr = np.diff(resid_ml)
    if same.sum() < 10:
        return cut
    mv = np.abs(np.diff(moved_ml))
    d, v = dr[same], mv[same]
    quiet = v <= np.median(v)
    sd0 = 1.4826 * float(np.median(np.abs(d[quiet] - np.median(d[quiet]))))
    busy = v > np.median(v)
    kappa = 1.4826 * float(np.median(np.abs(d[busy]) / np.maximum(v[busy], 1.0))) if busy.any() else 0.0
    thr = np.maximum(s.step_sigma * np.sqrt(sd0**2 + (kappa * mv) ** 2), s.step_min_ml)
    cand = same & (np.abs(dr) > thr)
    k = s.step_persist
    for i in np.flatnonzero(cand) + 1:
        lo, hi = max(i - k, 0), min(i + k, seg.size)  # the readings either side, in their own segments
        before = resid_ml[lo:i][seg[lo:i] == seg[i - 1]]
        after = resid_ml[i:hi][seg[i:hi] == seg[i]]
        if abs(float(np.mean(after)) - float(np.mean(before))) > 0.5 * thr[i - 1]:
            cut[i] = True
    return cut


@dataclass(slots=True)
class _Run:
    """Everything one estimate computed (the estimate and the diagnostics read it)."""

    p: Prepared
    free: list[int]
    chart: ChartModel
    fit: _fit.AnchoredFit
    anchors: list[_fit.Anchor]
    nseg: int
    hours: float
    note_sd: float
    scale_sd: float
    g_prior: float
    transient_sd: float  # the prior on the transients' amplitudes (°C) in the loss rate's fit
    mixing_h: float | None  # the tank's mixing time as the loss rate's fit took it (None: none)
    # The loss rate's own fit (_loss_fit; the meters keep theirs: see _run), or the
    # meters' fit where it could not be made.
    loss_fit: _fit.AnchoredFit


def _design(
    p: Prepared, free: list[int], s: WitnessSettings, knot_sd_ml: float = 0.0
) -> tuple[np.ndarray, np.ndarray, ChartModel]:
    chart = chart_model(p.level, p.vol, p.chart, s, knot_sd_ml)
    trans = _transients(p, s)
    x = np.column_stack([p.m[:, free] / 1e6, -p.t_h, chart.columns, trans])
    psd = np.r_[np.zeros(len(free) + 1), chart.prior_sd, np.full(trans.shape[1], s.transient_sd_c)]
    return x, psd, chart


def _transients(p: Prepared, s: WitnessSettings, taus: tuple[float, ...] | None = None) -> np.ndarray:
    """After a delivery the single-point probe may read a layer, not the bulk, until the
    new fuel has mixed: with a probe error e(t) = A·exp(−Δt/τ) from the delivery's end,
    the readings' 20 °C volume is off by β·V·e(t) and the dispensings converted with the
    probe's temperature by β·Σ v·e — together one column per τ of ``transient_tau_h`` and segment
    that starts within 3 τ of a delivery's end (after the delivery, or cut from such a
    segment by a gap or a step), with a prior of ``transient_sd_c`` on A; 0 before it,
    and after it the conversion error its sales left in the cumulative metered volume
    (leaving that out made every delivery's jump look short: 1‰ of common error in a
    stratified tank). With instant mixing their coefficients stay near 0."""
    taus = s.transient_tau_h if taus is None else taus
    if not taus or p.dl_us.size == 0 or s.transient_sd_c <= 0:
        return np.zeros((p.t_us.size, 0))
    first, last = p.first_last()
    ends = np.sort(p.dl_us[:, 1])
    ts = (p.t_us - p.t0) / 1e6
    mid = (p.d_start_s + p.d_end_s) / 2.0
    cols = []
    for a, b in zip(first, last):
        k = np.searchsorted(ends, p.t_us[a], side="right") - 1
        if k < 0 or p.cause[a] == "window":
            continue
        end_s = (ends[k] - p.t0) / 1e6
        seg_t = ts[a : b + 1]
        # sales from the delivery's end (or, cut from such a segment, from its last reading)
        since = end_s if p.cause[a] == "delivery" else max(end_s, float(ts[a - 1]))
        sel = (mid >= since) & (mid <= seg_t[-1])
        for tau in taus:
            if (seg_t[0] - end_s) / 3600.0 > 3.0 * tau:
                continue
            c = np.zeros(p.t_us.size)
            level_part = p.vol[a : b + 1] * np.exp(-(seg_t - end_s) / 3600.0 / tau)
            w = p.d_v20[sel] * np.exp(-(mid[sel] - end_s) / 3600.0 / tau)
            drawn = _rd.cumulative(p.d_start_s[sel], p.d_end_s[sel], w, seg_t)
            c[a : b + 1] = p.beta * (level_part + drawn) / 1e6
            # the metered volume is cumulative: what the segment's sales were converted
            # wrong stays in every later reading (later segments' own columns take the
            # level part of the tail, which decays alike from their start)
            c[b + 1 :] = p.beta * drawn[-1] / 1e6
            cols.append(c)
    return np.stack(cols, 1) if cols else np.zeros((p.t_us.size, 0))


def _loss_fit(
    p: Prepared, x: np.ndarray, psd: np.ndarray, ntr: int, nseg: int, hours: float, g_prior: float, s: WitnessSettings
) -> tuple[_fit.AnchoredFit | None, float, float | None]:
    """The loss rate's own fit: (fit, the transients' prior SD, the mixing time in h).

    * The book volume with the probe's temperatures as read (``loss_raw_temperature``):
      the smoother's error is correlated over hours, and the loss — told from the meters
      and the chart only by the quiet hours around each delivery — leans on few readings,
      so the sandwich did not see that error (the loss's z SD 1.3–1.7 over a week in five
      of seven worlds); white noise it sees.
    * The probe's transient after a delivery with the tank's own mixing time: one decaying
      column per post-delivery segment with a single time constant chosen from
      ``transient_mixing_h`` and the amplitudes' spread from ``transient_sd_grid_c``, both
      by type-II maximum likelihood (empty: the 4/12 h pair under ``transient_sd_c``),
      the best candidate refined between its neighbours (``transient_mixing_refine``).
      The loss is a trend within each segment, and a
      transient of tens of litres fitted with the wrong shape leaves one: in a `harsh`
      tank mixing over 6 h, the 4/12 h pair gave 0.06 L/h for a true 0.48, a single τ of
      4, 6, 8 or 12 h 0.81, 0.44, 0.10 and −0.51.
    * The learnt spread, where it is larger than ``transient_sd_learn_max_c`` (a layered
      probe), is taken only over a window of ``leak_fine_hours``; a shorter one keeps
      ``transient_sd_c`` (models: why)."""
    y = (p.z_raw if s.loss_raw_temperature else p.z) / 1e6
    ff = _fit.free_fit(x, y, p.t_h, p.seg, nseg, psd, s.hac_hours)
    if ff is None:
        return None, s.transient_sd_c, None
    grid = [g for g in s.transient_sd_grid_c if 0 < g <= s.transient_sd_c]
    taus = [t for t in s.transient_mixing_h if t > 0]
    sd, mixing = s.transient_sd_c, None
    if ntr > 0 and grid and taus:
        base, pb = x[:, : x.shape[1] - ntr], psd[: x.shape[1] - ntr]
        blocks = [_transients(p, s, (t,)) for t in taus]
        ev = _fit.group_evidence(base, pb, blocks, y, p.seg, nseg, ff[3], grid)
        k = max(range(len(ev)), key=lambda i: ev[i][1])
        if s.transient_mixing_refine > 0 and 0 < k < len(taus) - 1 and math.isfinite(ev[k][1]):
            # A real tank's mixing time is not a grid point, and the loss moves with it
            # (0.1–0.3 L/h per grid step in `harsh`): the evidence is maximised in log τ
            # between the best candidate's neighbours by successive parabolic steps.
            pts = [(math.log(taus[i]), ev[i][1], i) for i in (k - 1, k, k + 1)]
            lo_b, hi_b = pts[0][0], pts[2][0]
            for _ in range(s.transient_mixing_refine):
                best3 = sorted(pts, key=lambda q: -q[1])[:3]
                (u1, f1, _), (u2, f2, _), (u3, f3, _) = sorted(best3)
                den = (u2 - u1) * (f2 - f3) - (u2 - u3) * (f2 - f1)
                if den == 0 or not all(math.isfinite(f) for f in (f1, f2, f3)):
                    break
                u = u2 - 0.5 * ((u2 - u1) ** 2 * (f2 - f3) - (u2 - u3) ** 2 * (f2 - f1)) / den
                u = min(max(u, lo_b), hi_b)
                if min(abs(u - q[0]) for q in pts) < 0.01:
                    break
                tau = math.exp(u)
                blk = _transients(p, s, (tau,))
                e1 = _fit.group_evidence(base, pb, [blk], y, p.seg, nseg, ff[3], grid)[0]
                taus.append(tau)
                blocks.append(blk)
                ev.append(e1)
                pts.append((u, e1[1], len(taus) - 1))
            k = max(range(len(ev)), key=lambda i: ev[i][1])
        if math.isfinite(ev[k][1]) and blocks[k].shape[1]:
            sd, mixing = ev[k][0], taus[k]
            if sd > s.transient_sd_learn_max_c and hours < s.leak_fine_hours:
                sd = s.transient_sd_c
            x = np.column_stack([base, blocks[k]])
            psd = np.r_[pb, np.full(blocks[k].shape[1], sd)]
            ff2 = _fit.free_fit(x, y, p.t_h, p.seg, nseg, psd, s.hac_hours)
            if ff2 is None:
                return None, s.transient_sd_c, None
            ff = ff2
    return _anchored(p, x, psd, ff, nseg, g_prior, s, y)[3], sd, mixing


def _run(data: TankData, s: WitnessSettings) -> _Run | None:
    p = prepare(data, s)
    if p is None:
        return None
    # Unexplained steps (a dispensing whose metering record never came, a record of fuel
    # that never left): a sudden move of the book volume against the metered volume,
    # found in the residual increments of the free fit and given a free intercept of its
    # own (a cut); then the fit is repeated.
    n_steps = 0
    for it in range(s.step_passes + 1):
        nseg = p.renumber()
        hours = float(p.t_h[-1] - p.t_h[0]) if p.t_h.size else 0.0
        if p.t_h.size < 3 or hours < s.min_hours:
            return None
        free = [j for j in range(len(p.keys)) if p.counts[j] >= s.min_fit_dispensings]
        x, psd, chart = _design(p, free, s)
        ff = _fit.free_fit(x, p.z / 1e6, p.t_h, p.seg, nseg, psd, s.hac_hours)
        if ff is None:
            return None
        if it == s.step_passes:
            break
        cut = _step_cuts(ff[2] * 1e6, p.m.sum(axis=1), p.seg, s)
        if not cut.any():
            break
        n_steps += int(cut.sum())
        p.seg = p.seg + np.cumsum(cut)
        p.step |= cut
        p.cause = np.where(cut, "step", p.cause)
    if n_steps:
        p.rejected["step"] = n_steps
    # The chart's fine structure (errors in the tabulated volumes), learnt when the
    # data show it: the same level bands err alike on different days.
    knot_sd = 0.0
    if s.learn_strapping:
        knot_sd = strapping_scale_ml(p.level, ff[2] * 1e6, p.seg, knot_grid(p.level, p.chart, s.max_knots))
        if knot_sd > 0:
            x, psd, chart = _design(p, free, s, knot_sd)
            ff2 = _fit.free_fit(x, p.z / 1e6, p.t_h, p.seg, nseg, psd, s.hac_hours)
            if ff2 is not None:
                ff = ff2
            else:
                knot_sd = 0.0
                x, psd, chart = _design(p, free, s)
    g_prior = coef_prior_sd(s.chart_error_sd_permille, s.chart_degree)
    anchors, note_sd, g_sd, fit = _anchored(p, x, psd, ff, nseg, g_prior, s)
    # The loss rate from a fit of its own (_loss_fit): the tank's mixing time and the
    # transients' spread as the data show them (a tight spread gives the loss the quiet
    # hours after each delivery back), the probe's temperatures as read. The meters keep
    # the broad prior's fit: where the learnt prior moved them, it moved them across the
    # thresholds of an ambiguous tank both ways (a ±7‰ meter found lost, a twin's interval
    # too narrow), and a meter finding is an accusation.
    ntr = x.shape[1] - len(free) - 1 - chart.columns.shape[1]
    loss_fit, transient_sd, mixing_h = _loss_fit(p, x, psd, ntr, nseg, hours, g_prior, s)
    return _Run(
        p=p,
        free=free,
        chart=chart,
        fit=fit,
        anchors=anchors,
        nseg=nseg,
        hours=hours,
        note_sd=note_sd,
        scale_sd=g_sd,
        g_prior=g_prior,
        transient_sd=transient_sd,
        mixing_h=mixing_h,
        loss_fit=fit if loss_fit is None else loss_fit,
    )


def _anchored(
    p: Prepared,
    x: np.ndarray,
    psd: np.ndarray,
    ff: tuple,
    nseg: int,
    g_prior: float,
    s: WitnessSettings,
    y: np.ndarray | None = None,
) -> tuple[list[_fit.Anchor], float, float, _fit.AnchoredFit]:
    """The deliveries as anchors, judged against the free fit ``ff``, and the anchored fit
    under the priors ``psd``: (anchors, note SD, scale prior SD, fit)."""
    declared = p.declared() / 1e6
    anchors = [_fit.Anchor(k, float(d), bool(d > 0)) for k, d in enumerate(declared)]
    for an in anchors:
        if an.delivery and an.declared < s.min_note_ml / 1e6:
            # a note of next to nothing anchors nothing (and its SD would be zero)
            an.delivery, an.declared, an.reason = False, math.nan, "unanchored"
    b_sd = s.delivery_bias_sd_permille / 1000.0
    note_sd, g_sd, b_sd = _fit.analyse_anchors(anchors, ff[1], s, g_prior, b_sd)
    y = p.z / 1e6 if y is None else y
    fit = _fit.anchored_fit(x, y, p.t_h, p.seg, nseg, anchors, psd, g_sd, b_sd, ff[3], s)
    return anchors, note_sd, g_sd, fit


def _to_e(d: float) -> float:
    return d / (1.0 - d) * 1000.0 if d < 1.0 else math.inf


def _quantile(r: _Run, s: WitnessSettings) -> float:
    """Student's t on one degree of freedom less than the HAC blocks (at least 3)."""
    df = max(r.fit.blocks - 1, 3)
    return t_ppf(0.5 + s.confidence / 2.0, df)


def _estimate(r: _Run, data: TankData, s: WitnessSettings) -> TankEstimate:
    p, f = r.p, r.fit
    nfree = len(r.free)
    gi = f.b.size  # g follows b in the fit's covariance
    cov = f.cov
    delta = f.b[:nfree] + f.g
    # δ = δ' + g: the covariance of δ through the map [I | 0 | 1]
    amap = np.zeros((nfree, cov.shape[0]))
    amap[:, :nfree] = np.eye(nfree)
    amap[:, gi] = 1.0
    cov_d = amap @ cov @ amap.T
    # The sandwich estimates the covariance from a few dozen time blocks: in directions
    # the data barely determine (nozzles that always sell together) it can come out far
    # too small. The model's own covariance is the floor of every variance reported.
    cov_m = amap @ f.cov_model @ amap.T
    q = _quantile(r, s)
    var = np.maximum(np.maximum(np.diag(cov_d), np.diag(cov_m)), 0.0)
    # the sandwich's covariance with the model's variances as its floor
    d0 = np.diag(cov_d)
    up = np.sqrt(var / np.where(d0 > 0, d0, 1.0))
    cov_f = cov_d * np.outer(up, up)
    np.fill_diagonal(cov_f, var)
    shift = register_shift(delta, cov_f, _verified_columns(r, data), s)
    if shift is not None:
        delta = delta - shift.b
        var = np.array([shift.variance(u) for u in np.eye(nfree)])
    vol_j = p.m[-1, r.free] - p.m[0, r.free]
    pooled = pooled_ci = None
    if nfree and vol_j.sum() > 0:
        w = vol_j / vol_j.sum()
        pvar = max(float(w @ cov_d @ w), float(w @ cov_m @ w), 0.0)
        if shift is not None:
            pvar = shift.variance(w)
        pd, pse = float(w @ delta), math.sqrt(pvar)
        pooled = _to_e(pd)
        pooled_ci = _interval(pd, q * pse, shift)
    meters: list[MeterEstimate] = []
    for col, j in enumerate(r.free):
        if p.counts[j] < s.min_dispensings:
            continue
        d_hat = float(delta[col])
        d_se = math.sqrt(float(var[col]))
        est, (lo, hi) = _to_e(d_hat), _interval(d_hat, q * d_se, shift)
        status = meter_status(est, lo, hi, s, registered=shift is not None and shift.used > 0)
        meters.append(
            MeterEstimate(
                nozzle_id=p.keys[j][0],
                segment=int(p.keys[j][1]),
                error_permille=est,
                ci95_permille=(lo, hi),
                n=int(p.counts[j]),
                status=status,
                se_permille=d_se * 1000.0 / (1.0 - d_hat) ** 2,
                tank_id=data.tank_id,
                pooled_permille=pooled if status == "insufficient" else None,
                pooled_ci95_permille=pooled_ci if status == "insufficient" else None,
            )
        )
    li, lf = nfree, r.loss_fit
    loss = float(lf.b[li]) * 1000.0  # m³/h → L/h
    loss_se = math.sqrt(max(float(lf.cov[li, li]), float(lf.cov_model[li, li]), 0.0)) * 1000.0
    fine = r.hours >= s.leak_fine_hours
    z1 = norm_ppf(1.0 - (s.leak_fine_false_alarm if fine else s.leak_false_alarm))
    thr = s.leak_fine_threshold_l_per_h if fine else s.leak_threshold_l_per_h
    floor = (s.leak_fine_min_fraction if fine else s.leak_min_fraction) * thr
    leak = bool(loss > max(z1 * loss_se, floor))
    conclusive = bool(thr - max(z1 * loss_se, floor) >= z1 * loss_se)
    return TankEstimate(
        tank_id=data.tank_id,
        station_id=data.station_id,
        loss_l_per_h=loss,
        loss_ci95_l_per_h=(loss - q * loss_se, loss + q * loss_se),
        leak_suspected=leak,
        hours=r.hours,
        readings_used=int(f.n),
        readings_rejected=dict(sorted(p.rejected.items())),
        meters=meters,
        residual_sd_ml=float(np.sqrt(f.resid @ f.resid / max(f.dof, 1))) * 1e6,
        loss_se_l_per_h=loss_se,
        leak_conclusive=conclusive,
        scale_anchored=bool(f.anchored),
        deliveries_declared=sum(1 for a in r.anchors if a.delivery),
        deliveries_inconsistent=sum(1 for a in r.anchors if a.delivery and a.reason == "contradicted"),
        pooled_permille=pooled,
        pooled_ci95_permille=pooled_ci,
        chart_correction=_chart_correction(r),
        method=_method(f.anchored, shift),
        leak_test_l_per_h=thr,
        register_nozzles=0 if shift is None else shift.used,
        register_shift_permille=None if shift is None else shift.b * 1000.0,
    )


def _interval(d: float, half: float, shift: Shift | None) -> tuple[float, float]:
    """The interval (‰) of d ± half, holding too the estimate under a second shift the
    register's readings leave open."""
    lo, hi = d - half, d + half
    if shift is not None and shift.alt is not None:
        other = d + shift.b - shift.alt
        lo, hi = min(lo, other - half), max(hi, other + half)
    return _to_e(lo), _to_e(hi)


def _method(anchored: bool, shift: Shift | None) -> str:
    if shift is not None and shift.used:
        return "witness.method.register"
    return "witness.method.anchored" if anchored else "witness.method.prior"


def _verified_columns(r: _Run, data: TankData) -> dict[int, tuple[float, float]]:
    """Fit column → (verified error ‰, SD ‰) for the nozzle segments the register has."""
    if not data.verified:
        return {}
    by_key = {(nz, int(k)): (float(e), float(sd)) for nz, k, e, sd in data.verified}
    out = {}
    for col, j in enumerate(r.free):
        v = by_key.get((r.p.keys[j][0], int(r.p.keys[j][1])))
        # a figure no verification gives (or one too loose to anchor anything) is left out
        if v is not None and math.isfinite(v[0]) and abs(v[0]) < 1000.0 and 0.0 <= v[1] <= 10.0:
            out[col] = v
    return out


def _chart_correction(r: _Run) -> list[tuple[int, float]]:
    """mL to add to the registered volume at each registered chart point inside the
    levels seen: minus the modelled chart error (its scale from the anchors, its shape
    and strapping terms from the readings)."""
    p, f = r.p, r.fit
    if p.level.size == 0:
        return []
    lo, hi = float(p.level.min()), float(p.level.max())
    pts = p.chart[(p.chart[:, 0] >= lo) & (p.chart[:, 0] <= hi)]
    if pts.size == 0:
        return []
    coef = f.b[len(r.free) + 1 : len(r.free) + 1 + r.chart.columns.shape[1]]
    err = f.g * pts[:, 1] + r.chart.evaluate(coef, pts[:, 0], pts[:, 1])
    return [(int(h), round(-float(e), 1)) for h, e in zip(pts[:, 0], err)]


def estimate_tank(data: TankData, settings: WitnessSettings = WitnessSettings()) -> TankEstimate | None:
    """Meter errors and loss rate of one tank; None when there is not enough data."""
    r = _run(data, settings)
    return None if r is None else _estimate(r, data, settings)


def diagnose(
    data: TankData, settings: WitnessSettings = WitnessSettings(), *, local_offset_us: int = 8 * _US_PER_H
) -> TankDiagnostics:
    """What the estimate rests on, for ``anxin witness explain``: segments, every
    declared delivery with the jump the tank shows across it, the anchors' pull on the
    common error, and the residuals' structure against level and time."""
    from anxin.engine.stats.explain import diagnostics

    r = _run(data, settings)
    est = None if r is None else _estimate(r, data, settings)
    return diagnostics(data, r, est, settings, local_offset_us)


def station_bias(meters: list[MeterEstimate], settings: WitnessSettings = WitnessSettings()) -> dict | None:
    from anxin.engine.stats.bias import station_bias as _sb

    return _sb(meters, settings)
