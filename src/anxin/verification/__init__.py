"""智慧检定 — JJG 443 verification computations (run errors, flow points, verdict)."""

from anxin.verification.jjg443 import (
    BETA_DIESEL_PER_C,
    BETA_GASOLINE_PER_C,
    BETA_STAINLESS_PER_C,
    DEFAULT_BETA_Y_PER_C,
    DEFAULT_LIMITS,
    FlowPointResult,
    RunResult,
    VerificationLimits,
    VerificationResult,
    beta_for_product,
    corrected_standard_ml,
    d_n,
    evaluate_verification,
    measured_error,
    run_error,
)

__all__ = [
    "BETA_DIESEL_PER_C",
    "BETA_GASOLINE_PER_C",
    "BETA_STAINLESS_PER_C",
    "DEFAULT_BETA_Y_PER_C",
    "DEFAULT_LIMITS",
    "FlowPointResult",
    "RunResult",
    "VerificationLimits",
    "VerificationResult",
    "beta_for_product",
    "corrected_standard_ml",
    "d_n",
    "evaluate_verification",
    "measured_error",
    "run_error",
]
