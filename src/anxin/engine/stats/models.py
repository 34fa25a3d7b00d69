"""The tank witness's settings, inputs and results (light: no numerical imports, so
the engine can carry them without loading NumPy/SciPy in every process)."""

from __future__ import annotations

import msgspec


class WitnessSettings(msgspec.Struct, frozen=True, kw_only=True):
    mpe_permille: float = 3.0  # METER_DRIFT when the 95 % interval lies entirely beyond ±3‰
    watch_permille: float = 2.0  # status "watch" when |estimate| > 2‰
    confidence: float = 0.95
    decision_confidence: float = 0.99  # a violation's interval (the guard band), wider than the one reported
    # The notes anchor the scale, and a depot's loading meter may be off (class 0.2:
    # ±2‰) by an amount that moves every note alike and that no tank data can show: a
    # violation must hold were the depot this far off (‰; half that MPE).
    decision_note_bias_permille: float = 1.0
    leak_threshold_l_per_h: float = 0.76  # EPA SIR: detect 0.76 L/h with P ≥ 95 %, false alarms ≤ 5 %
    leak_false_alarm: float = 0.05
    # Over a month the test is finer (Warren Rogers' SIR level, 0.1 gph): 0.38 L/h with
    # P ≥ 99 % and false alarms ≤ 1 %, once the window spans leak_fine_hours.
    leak_fine_threshold_l_per_h: float = 0.38
    leak_fine_false_alarm: float = 0.01
    leak_fine_hours: float = 26 * 24.0
    # the fine test also needs L̂ above this × 0.38 L/h: a real but small loss (a tank's
    # evaporation, ~0.2 L/h at most) is not a leak
    leak_fine_min_fraction: float = 0.75
    # A nozzle whose interval is wider than ± this is a violation only when even its
    # guarded interval lies beyond twice the limit (a rigged board on two days of data);
    # otherwise so wide an interval says the data cannot tell (status insufficient).
    violation_max_halfwidth_permille: float = 6.0
    # A tank whose residuals are wider than this (mL, SD) is not described by the model
    # (a wrong chart, a faulty gauge): its violations raise no METER_DRIFT.
    max_residual_sd_ml: float = 10_000.0
    # A window shorter than this (h) raises a METER_DRIFT only on a strong finding: a few
    # days of levels cannot yet tell a chart's shape from a meter.
    drift_min_hours: float = 72.0
    # ... nor on an estimate whose 95 % interval is wider than ± this (‰)
    drift_max_halfwidth_permille: float = 3.0
    min_dispensings: int = 30  # fewer: no estimate for that nozzle segment
    min_hours: float = 24.0  # less tank history than this: no decision
    # --- reading validation
    max_water_um: float = 100_000.0
    min_temp_c: float = -30.0
    max_temp_c: float = 60.0
    delivery_pre_us: int = 0
    delivery_settle_us: int = 30 * 60 * 1_000_000
    frozen_min_ml: float = 20_000.0  # identical level while this much was dispensed: frozen
    jump_ml: float = 40_000.0  # book volume this far from its running median: a jump
    jump_window: int = 6  # ± readings of that running median
    gap_us: int = 30 * 60 * 1_000_000  # counted as a gap
    segment_gap_us: int = 6 * 3600 * 1_000_000  # longer gaps start a new segment
    # --- model
    temp_smooth_h: float = 2.0  # half-window of the local quadratic temperature smoother
    temp_smooth_max: int = 48
    # the water bottom as a line within each segment unless a reading strays this far (µm;
    # 0: as read)
    water_smooth_um: float = 2_000.0
    # After a delivery the probe may read a layer until the new fuel mixes: a decaying
    # error per post-delivery segment, a sum of exponentials with these time constants (h),
    # with a prior SD (°C) on each one's initial size. Measured: 3/12 h left 0.7‰ of meter
    # error at a 6 h mixing time, 4/12 h 0.4‰ and 0.25‰ at 12 h; a third, short constant
    # (1.5 h) let the transients' persisting conversion error mimic a leak (Pd 56 %), three
    # (3/6/12 h, 1.5 °C) met fewer targets across the worlds (146 against 152 of 169), and
    # the mixing time read from the probe's own relaxation was confounded with the bulk's
    # slow return to the ground temperature and the day's cycle.
    transient_tau_h: tuple[float, ...] = (4.0, 12.0)
    transient_sd_c: float = 3.0
    # ...unless the data show the probe reads the bulk: the amplitudes' spread is learnt
    # per tank (type-II maximum likelihood over these °C), and when it is at most
    # transient_sd_learn_max_c the prior takes it (empty grid: always transient_sd_c).
    # Free columns of 4 h and 12 h on segments of a day take the quiet hours after every
    # delivery, half of what the readings say about the loss rate: where the amplitudes
    # are ~0 the loss error's SD fell from 0.08 to 0.05 L/h at a 0.2 °C probe (0.026 to
    # 0.013 L/h in the default world). A larger learnt spread keeps 3 °C in a window
    # shorter than leak_fine_hours: in `harsh` (6 h mixing, stratified) a prior of 1 °C
    # sharpened the loss, but narrowed an interval already too narrow there (z SD 1.6)
    # into a false 7-day leak. Over a month the learnt spread is taken whatever it is:
    # `harsh`'s loss error 0.158 → 0.127 L/h, its bias −0.10 → −0.05, Pd 56 → 78 %,
    # its tight tanks at most 0.175 L/h (the test's floor 0.285); the other worlds as
    # before or better. (The loss rate only: the meters keep 3 °C, see witness._run.)
    transient_sd_grid_c: tuple[float, ...] = (3.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05)
    transient_sd_learn_max_c: float = 0.5
    # The loss rate's own fit (witness._loss_fit): the book volume with the probe's
    # temperatures as read, and the transient with a single mixing time per tank, chosen
    # from these (h) by type-II maximum likelihood (empty: the meters' 4/12 h pair, 3 °C).
    # Measured (docs/meter-estimation.md, Limits): the loss's z SD 1.3–1.7 → 0.8–0.95 in
    # five worlds over a week; `harsh` loss error SD 0.33 → 0.17 L/h (7 days), 0.127 →
    # 0.095 (30 days), `slow_mixing_plume` 0.057 → 0.014 (30 days).
    loss_raw_temperature: bool = True
    transient_mixing_h: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 18.0, 24.0)
    # The best candidate refined between its neighbours by up to this many successive
    # parabolic steps of the same evidence in log τ (0: the grid only). Every world of the
    # bench mixes at a grid point (6 or 12 h); moved off it (same draws otherwise), the
    # grid alone left the loss's z SD at 1.31–2.09 over a month and missed 0.38 L/h leaks, refined
    # 0.76–0.99 with every leak found (docs/meter-estimation.md, method item 6).
    transient_mixing_refine: int = 4
    chart_degree: int = 3  # nuisance V(h)·P_k(x), k = 1..degree (0: none)
    min_fit_dispensings: int = 3  # nozzle segments with fewer are taken at face value (e = 0)
    hac_hours: float = 12.0  # Newey–West bandwidth
    # The declared volume of each delivery (the delivery note's 20 °C volume from the
    # depot's loading meter) errs independently with this SD; it anchors the chart's
    # scale. ≤ 0: free intercepts, the declared volumes never enter.
    delivery_sd_permille: float = 2.0
    # ...as a prior worth this many notes: with more notes their own scatter (about the
    # jumps the tank shows) decides their SD — a scaled-inverse-χ² posterior — floored at
    # delivery_sd_min_permille.
    delivery_sd_prior_notes: float = 4.0
    delivery_sd_min_permille: float = 0.3
    # An anchor farther than this many SDs from the jump the tank itself shows is a wrong
    # note (or a missed compartment): dropped and counted, never allowed to move the meters.
    anchor_reject_sigma: float = 4.0
    # Notes that agree among themselves decide the chart's scale up to this (‰); a
    # larger disagreement is no chart's (a note inflated to hide short measure?): the
    # interval then holds both readings of it.
    max_chart_scale_permille: float = 20.0
    min_note_ml: float = 1_000.0  # a declared delivery smaller than this anchors nothing
    # Prior on the registered chart's smooth relative error (RMS over its level range, ‰;
    # its calibration uncertainty): every Legendre coefficient k = 0…degree of V(h)·P_k(x)
    # gets a zero-mean prior with SD chart_error_sd / sqrt(Σ 1/(2k+1)). The scale (k = 0)
    # moves every nozzle of the tank alike and tank data cannot see it: without a usable
    # delivery its prior is what widens each meter's interval. Without the prior the
    # degree-2/3 terms, over the narrow band of levels a week of sales covers, are nearly
    # collinear with a common meter error and make every nozzle of a tank err alike.
    chart_error_sd_permille: float = 1.5
    # A bias common to every note of the window (one depot's loading meter): SD, ‰. The
    # notes cannot reveal it (it moves them all alike), so it only widens the intervals.
    delivery_bias_sd_permille: float = 0.3
    # --- the verification register as the second anchor (检定锚定): a nozzle the
    # institute verified with the K in force has a measured error; the notes' common bias
    # (one depot's loading meter, a station's own notes) is what the tank's estimates and
    # those measurements disagree by, alike across its nozzles. A verification's error
    # as the witness takes it: the institute's measurement and an honest meter's drift
    # since (SD, ‰), heavy-tailed (Student's t, ν) because a meter may have drifted or been
    # rigged since — one nozzle unlike the others moves nothing.
    register_sd_permille: float = 0.5
    register_nu: float = 3.0
    # the notes' common bias: prior SD (‰; a class 0.2 loading meter's MPE) and the
    # most the register may take away (‰): a larger common disagreement is no depot's,
    # it stays with the meters
    depot_bias_sd_permille: float = 1.0
    depot_bias_max_permille: float = 4.0
    # a second explanation of the readings with at least this posterior mass widens
    # every interval of the tank to hold it
    register_alt_mass: float = 0.01
    # The registered chart's strapping error (each tabulated volume off by its own
    # amount), learnt when the data show it — the same level bands err alike on different
    # days — with a prior of the size they show. At most max_knots hats, each needing
    # min_knot_readings readings on its support.
    learn_strapping: bool = True
    max_knots: int = 150
    min_knot_readings: int = 6
    # A nozzle whose 95 % interval is wider than ± this is "insufficient" (the data cannot
    # tell it from its neighbours); the tank's pooled figure stands beside it.
    insufficient_halfwidth_permille: float = 2.0
    gap_sd_ml: float = 2_000.0  # intercept continuity across a gap without a delivery
    leak_min_fraction: float = 0.5  # TANK_LOSS also needs L̂ above this × threshold
    # --- unexplained steps (missing or phantom dispensings): a residual increment beyond
    # step_sigma robust SDs (and step_min_ml) starts a new segment; at most step_passes refits.
    step_sigma: float = 6.0
    step_min_ml: float = 2_000.0
    step_persist: int = 3  # readings each side whose means must differ too
    step_passes: int = 4


class TankData(msgspec.Struct, kw_only=True):
    tank_id: str
    station_id: str
    chart: list[tuple[int, int]]
    expansion_ppm_per_c: int
    reading_t: list[int]
    reading_level_um: list[float]
    reading_water_um: list[float]
    reading_temp_mc: list[float]
    deliveries: list[tuple[int, int, float]]
    dispensings: list[tuple[str, int, int, int, int]]
    # the register's latest passing verification per nozzle and K before the window's
    # end: (nozzle_id, k_pulses_per_m3, error ‰, its SD ‰ from the runs' scatter)
    verified: list[tuple[str, int, float, float]] = []


class MeterEstimate(msgspec.Struct, kw_only=True):
    nozzle_id: str
    segment: int
    error_permille: float
    ci95_permille: tuple[float, float]
    n: int
    status: str  # "ok" | "watch" | "violation" | "insufficient" (contract v1.1 §G)
    se_permille: float = 0.0
    tank_id: str = ""  # nozzles of one tank share its chart's error: not independent
    # "insufficient": the tank's data cannot tell this nozzle from its neighbours; the
    # interval above is the honest, wide one, and the tank's pooled figure (the error
    # common to its nozzles, which the data does determine) stands beside it.
    pooled_permille: float | None = None
    pooled_ci95_permille: tuple[float, float] | None = None


class TankEstimate(msgspec.Struct, kw_only=True):
    tank_id: str
    station_id: str
    loss_l_per_h: float
    loss_ci95_l_per_h: tuple[float, float]
    leak_suspected: bool
    hours: float
    readings_used: int
    readings_rejected: dict[str, int]
    meters: list[MeterEstimate]
    residual_sd_ml: float
    loss_se_l_per_h: float = 0.0
    leak_conclusive: bool = True  # the test has the EPA power (se small enough for 0.76 L/h)
    scale_anchored: bool = False  # chart scale tied by declared delivery volumes
    deliveries_declared: int = 0  # delivery boundaries inside the data
    deliveries_inconsistent: int = 0  # of those, declared volumes the tank contradicts (dropped)
    # The tank's pooled meter error: all its nozzles' metered volume against what left the
    # tank (the figure the data determines even when the nozzles cannot be told apart).
    pooled_permille: float | None = None
    pooled_ci95_permille: tuple[float, float] | None = None
    # The registered chart's correction learnt from the data (AccuChart-style): mL to add
    # to the registered volume at each registered chart level inside the levels seen.
    chart_correction: list[tuple[int, float]] = []
    method: str = ""  # how the estimate was made, for the evidence (a message key)
    leak_test_l_per_h: float = 0.0  # the leak rate the test was at (0.76, or 0.38 over a month)
    # The verification register's anchor: nozzles whose verified error took part, and the
    # common error it removed from every nozzle of the tank (‰; the notes' or the
    # chart's bias; None: no verification in the tank)
    register_nozzles: int = 0
    register_shift_permille: float | None = None


class SegmentInfo(msgspec.Struct, kw_only=True):
    """One segment of the fit (a stretch of readings with its own intercept)."""

    index: int
    start_us: int
    end_us: int
    readings: int
    level_min_um: float
    level_max_um: float
    cause: str  # what started it: "window" | "delivery" | "gap" | "step"


class DeliveryInfo(msgspec.Struct, kw_only=True):
    """One declared delivery and what the fit made of it."""

    start_us: int
    end_us: int
    declared_ml: float
    implied_ml: float | None  # the jump the tank itself shows across it (None: not measurable)
    used: bool
    reason: str  # "used" | "contradicted" | "no_readings" (no segment on one side) | "unanchored"


class TankDiagnostics(msgspec.Struct, kw_only=True):
    """Everything ``anxin witness explain`` prints for one tank (pure data)."""

    tank_id: str
    station_id: str
    estimate: TankEstimate | None
    segments: list[SegmentInfo]
    deliveries: list[DeliveryInfo]
    anchor_pull_permille: float | None  # how far the anchors moved the common error
    anchor_pull_se_permille: float | None
    residual_by_level: list[tuple[float, float, int]]  # (level_um bin centre, mean residual mL, n)
    residual_by_hour: list[tuple[int, float, int]]  # (local hour, mean residual mL, n)
    residual_lag1: float | None  # autocorrelation of consecutive residuals
    notes: list[str]  # message keys for what the fit decided (e.g. "witness.note.insufficient")
