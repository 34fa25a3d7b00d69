"""JJG 443 燃油加油机 verification computations (智慧检定), recomputed by the platform.

The verification institute sends raw runs (standard measure vs. dispenser
reading); the platform derives every run error, the per-flow 示值误差 and
重复性, and the 检定结论 itself so a certificate can be checked rather than
trusted (contract v1 §3, DESIGN.md "Domain facts to get right").

Pure code: no I/O, no clock; malformed runs never raise, they fail the verdict
with a reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from anxin.contract.records import Quantity, Verification, VerificationRun

BETA_GASOLINE_PER_C = 12e-4  # β_Y, gasoline
BETA_DIESEL_PER_C = 9e-4  # β_Y, diesel
BETA_STAINLESS_PER_C = 50e-6  # β_B, stainless-steel standard measure (标准金属量器)
DEFAULT_BETA_Y_PER_C = BETA_GASOLINE_PER_C
REFERENCE_TEMP_C = 20.0

# Range-method coefficients d_n (极差法系数) for n = 2..10 runs.
D_N: dict[int, float] = {
    2: 1.13,
    3: 1.69,
    4: 2.06,
    5: 2.33,
    6: 2.53,
    7: 2.70,
    8: 2.85,
    9: 2.97,
    10: 3.08,
}

_ROUND = 9  # decimal places kept before comparing with a limit


class VerificationLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits as fractions: national MPE ±0.30 %, Hangzhou target ±0.20 %, repeatability 0.10 %."""

    mpe: float = 0.003
    target: float = 0.002
    repeatability: float = 0.001


DEFAULT_LIMITS = VerificationLimits()


class RunResult(msgspec.Struct, frozen=True, kw_only=True):
    """One run: standard volume corrected to dispenser conditions and its relative error."""

    flow_ml_per_min: Quantity
    standard_ml: Quantity
    indicated_ml: Quantity
    corrected_standard_ml: float
    error: float
    error_permille: float


class FlowPointResult(msgspec.Struct, frozen=True, kw_only=True):
    """One flow point (流量点): 示值误差 = mean run error, 重复性 by the range method.

    ``repeatability`` is None when the flow point has a single run (not assessed).
    """

    flow_ml_per_min: Quantity
    runs: int
    error: float
    error_permille: float
    repeatability: float | None
    repeatability_permille: float | None
    passes_mpe: bool
    passes_repeatability: bool


class VerificationResult(msgspec.Struct, frozen=True, kw_only=True):
    """The platform's 检定结论 for one verification record.

    ``max_abs_error_permille`` is over flow-point errors (None if no valid run).
    ``within_target`` reports the Hangzhou ±0.20 % target beside the verdict; it
    does not affect ``passed``. ``reasons`` explains a failure; ``notes`` holds
    remarks that do not fail the verdict (e.g. repeatability not assessed).
    """

    station_id: str
    nozzle_id: str
    ts: str
    type: str
    org: str
    certificate_no: str
    k_pulses_per_m3: int
    valid_until: str
    runs: list[RunResult]
    flow_points: list[FlowPointResult]
    max_abs_error_permille: float | None
    passed: bool
    within_target: bool
    reasons: list[str]
    notes: list[str]


def beta_for_product(expansion_ppm_per_c: int | None) -> float:
    """Registry ``expansion_ppm_per_c`` → β_Y per °C; unknown (None or ≤ 0) → gasoline 12×10⁻⁴."""
    if expansion_ppm_per_c is None or expansion_ppm_per_c <= 0:
        return DEFAULT_BETA_Y_PER_C
    return expansion_ppm_per_c / 1_000_000


def d_n(n: int) -> float:
    """Range-method coefficient for ``n`` ≥ 2 runs.

    JJG 443 tables d_n only up to 10 runs; beyond that 3.08 (n = 10) is used.
    The true d_n keeps growing with n, so this slightly overstates E_r: the
    approximation can only make the repeatability check stricter, never laxer.
    """
    if n < 2:
        raise ValueError("the range method needs at least 2 runs")
    return D_N.get(n, D_N[10])


def corrected_standard_ml(
    run: VerificationRun, beta_y_per_c: float, beta_b_per_c: float = BETA_STAINLESS_PER_C
) -> float:
    """V_B = V_s · [1 + β_Y (t_J − t_B) + β_B (t_B − 20)].

    Brings the standard measure's volume to the fuel temperature at the
    dispenser (β_Y term) and corrects the measure's own expansion away from its
    20 °C calibration (β_B term). Temperature differences are taken in m°C
    first so equal temperatures give exactly V_B = V_s.
    """
    dt_fuel = (run.dispenser_temp_mc - run.standard_temp_mc) / 1000
    dt_measure = (run.standard_temp_mc - REFERENCE_TEMP_C * 1000) / 1000
    return run.standard_ml * (1.0 + beta_y_per_c * dt_fuel + beta_b_per_c * dt_measure)


def run_error(indicated_ml: float, corrected_ml: float) -> float:
    """E = (V_J − V_B) / V_B: positive when the dispenser shows more than it delivers."""
    return (indicated_ml - corrected_ml) / corrected_ml


def _permille(x: float) -> float:
    return round(x * 1000, 3)


def _within(x: float, limit: float) -> bool:
    # Rounding first so an error of exactly 0.30 % is not lost to float noise.
    return round(abs(x), _ROUND) <= round(limit, _ROUND)


def _fmt_flow(flow: Quantity) -> str:
    if isinstance(flow, float) and flow.is_integer():
        return str(int(flow))
    return str(flow)


def _fmt_limit(limit: float) -> str:
    return f"{limit * 1000:g}"


def _check_run(run: VerificationRun) -> str | None:
    """Why a run cannot be evaluated, or None if it can."""
    values = (
        run.flow_ml_per_min,
        run.standard_ml,
        run.indicated_ml,
        run.standard_temp_mc,
        run.dispenser_temp_mc,
    )
    if not all(math.isfinite(v) for v in values):
        return "quantities must be finite"
    if run.standard_ml <= 0:
        return "standard volume must be positive"
    if run.flow_ml_per_min <= 0:
        return "flow rate must be positive"
    return None


def _flow_point(flow: Quantity, errors: Sequence[float], limits: VerificationLimits) -> FlowPointResult:
    n = len(errors)
    mean = math.fsum(errors) / n  # fsum: exact sum, so run order cannot change the mean
    rep = (max(errors) - min(errors)) / d_n(n) if n >= 2 else None
    return FlowPointResult(
        flow_ml_per_min=flow,
        runs=n,
        error=mean,
        error_permille=_permille(mean),
        repeatability=rep,
        repeatability_permille=None if rep is None else _permille(rep),
        passes_mpe=_within(mean, limits.mpe),
        passes_repeatability=rep is None or _within(rep, limits.repeatability),
    )


def evaluate_verification(
    v: Verification,
    *,
    beta_y_per_c: float = DEFAULT_BETA_Y_PER_C,
    beta_b_per_c: float = BETA_STAINLESS_PER_C,
    limits: VerificationLimits = DEFAULT_LIMITS,
) -> VerificationResult:
    """Recompute a verification record: run errors, flow points and the verdict.

    The verdict fails if any flow point's 示值误差 exceeds the MPE or its 重复性
    exceeds the repeatability limit, or if any run had to be excluded as
    invalid (run numbers in reasons are 1-based, in record order). Flow points
    are listed by ascending flow rate.
    """
    reasons: list[str] = []
    notes: list[str] = []
    runs: list[RunResult] = []
    by_flow: dict[Quantity, list[float]] = {}

    for i, run in enumerate(v.runs, start=1):
        problem = _check_run(run)
        vb = 0.0
        if problem is None:
            vb = corrected_standard_ml(run, beta_y_per_c, beta_b_per_c)
            if not (math.isfinite(vb) and vb > 0):
                problem = "corrected standard volume must be positive"
        if problem is not None:
            reasons.append(f"run {i}: {problem}")
            continue
        err = run_error(run.indicated_ml, vb)
        runs.append(
            RunResult(
                flow_ml_per_min=run.flow_ml_per_min,
                standard_ml=run.standard_ml,
                indicated_ml=run.indicated_ml,
                corrected_standard_ml=vb,
                error=err,
                error_permille=_permille(err),
            )
        )
        by_flow.setdefault(run.flow_ml_per_min, []).append(err)

    points = [_flow_point(f, by_flow[f], limits) for f in sorted(by_flow)]
    for p in points:
        flow = _fmt_flow(p.flow_ml_per_min)
        if not p.passes_mpe:
            reasons.append(f"flow {flow} mL/min: error {p.error * 1000:+.2f}‰ exceeds ±{_fmt_limit(limits.mpe)}‰")
        if not p.passes_repeatability:
            assert p.repeatability is not None
            reasons.append(
                f"flow {flow} mL/min: repeatability {p.repeatability * 1000:.2f}‰"
                f" exceeds {_fmt_limit(limits.repeatability)}‰"
            )
        if p.repeatability is None:
            notes.append(f"flow {flow} mL/min: single run, repeatability not assessed")
    if not points:
        reasons.append("no valid runs")

    return VerificationResult(
        station_id=v.station_id,
        nozzle_id=v.nozzle_id,
        ts=v.ts.isoformat(timespec="milliseconds"),
        type=v.type,
        org=v.org,
        certificate_no=v.certificate_no,
        k_pulses_per_m3=v.k_pulses_per_m3,
        valid_until=v.valid_until.isoformat(timespec="milliseconds"),
        runs=runs,
        flow_points=points,
        max_abs_error_permille=(max(_permille(abs(p.error)) for p in points) if points else None),
        passed=not reasons,
        within_target=bool(points) and all(_within(p.error, limits.target) for p in points),
        reasons=reasons,
        notes=notes,
    )


def measured_error(result: VerificationResult) -> tuple[float, float] | None:
    """The meter's error as this verification measured it, for the tank witness's register
    anchor: (mean of the flow points' errors ‰, its standard error ‰ from the runs'
    scatter about their flow point's mean), or None without two valid runs."""
    if not result.flow_points or len(result.runs) < 2:
        return None
    mean = math.fsum(p.error for p in result.flow_points) / len(result.flow_points)
    by_flow = {p.flow_ml_per_min: p.error for p in result.flow_points}
    dev = [r.error - by_flow[r.flow_ml_per_min] for r in result.runs]
    dof = max(len(dev) - len(result.flow_points), 1)
    sd = math.sqrt(math.fsum(d * d for d in dev) / dof)
    if not (math.isfinite(mean) and math.isfinite(sd)):
        return None
    return _permille(mean), _permille(sd / math.sqrt(len(dev)))
