"""Station-level predominance (NIST Handbook 44): a station whose meters err mostly in its
own favour (positive JJG error: the customer receives less than indicated)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from anxin.engine.stats.dist import binom_greater_pvalue, t_ppf, t_sf
from anxin.engine.stats.models import MeterEstimate, WitnessSettings

__all__ = ["station_bias"]


def station_bias(meters: Iterable[MeterEstimate], settings: WitnessSettings) -> dict[str, Any] | None:
    """Evidence dict when the station's meters err predominantly in its favour, else None.

    One estimate per nozzle (the latest segment with the most dispensings). Two tests must
    both reject at ``1 − confidence``: a one-sided t-test that the mean error is > 0 (the
    spread between nozzles, which includes both estimation error and the meters' own
    dispersion, is the yardstick) and a one-sided sign (binomial) test that more nozzles
    err positively than negatively. The mean must also exceed ``bias_min_permille``
    (half the watch limit by default) so that a statistically clear but metrologically
    trivial lean is not an alarm. Every nozzle's estimate hangs on the delivery notes'
    scale, and a depot's loading meter off by ``decision_note_bias_permille`` would lean
    every meter of the station alike: the t-test is against that lean, and the floor is
    raised by it.
    """
    best: dict[str, MeterEstimate] = {}
    for m in meters:
        cur = best.get(m.nozzle_id)
        if cur is None or (m.n, m.segment) > (cur.n, cur.segment):
            best[m.nozzle_id] = m
    ms = sorted(best.values(), key=lambda m: m.nozzle_id)
    n = len(ms)
    if n < 3:
        return None
    e = np.array([m.error_permille for m in ms], dtype=np.float64)
    if not np.isfinite(e).all():
        return None
    alpha = 1.0 - settings.confidence
    n_pos = int((e > 0).sum())
    n_neg = int((e < 0).sum())
    sign_p = binom_greater_pvalue(n_pos, n_pos + n_neg)
    mean = float(e.mean())
    sd = float(e.std(ddof=1))
    # Each estimate's own standard error is a floor for the spread (identical estimates).
    # Nozzles of one tank share that tank's chart error, so within a tank they are taken
    # as fully correlated: Var(mean) = Σ_tanks (n_t/n)² · se_t².
    tanks: dict[str, list[float]] = {}
    for m in ms:
        tanks.setdefault(getattr(m, "tank_id", "") or m.nozzle_id, []).append(
            (m.ci95_permille[1] - m.ci95_permille[0]) / 3.92
        )
    se_own = math.sqrt(sum((len(v) / n) ** 2 * float(np.mean(v)) ** 2 for v in tanks.values()))
    se = max(sd / math.sqrt(n), se_own, 1e-9)
    # The tanks, not the nozzles, are the independent units of the common (chart) error.
    df = max(min(n, len(tanks)) - 1, 1)
    allowance = settings.decision_note_bias_permille
    tstat = (mean - allowance) / se
    t_p = t_sf(tstat, df)
    q = t_ppf(0.5 + settings.confidence / 2.0, df)
    min_mean = getattr(settings, "bias_min_permille", settings.watch_permille / 2.0)
    if not (t_p < alpha and sign_p < alpha and mean > min_mean + allowance):
        return None
    return {
        "n_nozzles": n,
        "n_positive": n_pos,
        "n_negative": n_neg,
        "mean_error_permille": round(mean, 4),
        "mean_ci95_permille": [round(mean - q * se, 4), round(mean + q * se, 4)],
        "test": "one-sided t-test on nozzle estimates and sign test (both at 1 - confidence)",
        "note_bias_allowance_permille": allowance,
        "t_statistic": round(tstat, 4),
        "p_value": max(t_p, sign_p),
        "t_p_value": t_p,
        "sign_p_value": sign_p,
        "nozzles": [
            {"nozzle_id": m.nozzle_id, "segment": m.segment, "error_permille": round(m.error_permille, 4)} for m in ms
        ],
    }
