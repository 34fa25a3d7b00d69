"""Tank witness decisions (油罐见证): METER_DRIFT, TANK_LOSS and STATION_BIAS from the
per-tank estimates of ``engine.stats``, with the evidence a regulator needs.

Statistical findings are not tied to one record: they are taken over the tank
data collected so far (the whole batch, or the live service's window), and
their alarm ids name the nozzle and K segment, the tank or the station, so a
re-estimate never makes a second alarm for the same finding.
"""

from __future__ import annotations

from typing import Any

import msgspec

from anxin.contract.alarm import Alarm
from anxin.contract.times import format_ts
from anxin.engine.outputs import make_alarm
from anxin.engine.stats import MeterEstimate, TankEstimate, WitnessSettings
from anxin.engine.tanklog import TankLogs


class MeterRow(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of ``meters.jsonl`` (contract §6), plus the tank and the K segment."""

    nozzle_id: str
    error_permille: float
    ci95_permille: tuple[float, float]
    n: int
    status: str  # ok | watch | violation | insufficient (contract v1.1 §G)
    tank_id: str
    k_pulses_per_m3: int
    # beside an "insufficient" nozzle: the tank's pooled error, which the data does determine
    pooled_permille: float | None = None
    pooled_ci95_permille: tuple[float, float] | None = None


class WitnessLook(msgspec.Struct, kw_only=True):
    """A scheduled look of the tank witness at one station (an engine output): the
    estimates at that instant, for the live service's trend and the console."""

    station_id: str
    ts: str
    tests: bool  # TANK_LOSS / STATION_BIAS were tested at this look
    meters: list[MeterRow]
    tanks: list[TankEstimate]


class WitnessResult(msgspec.Struct, kw_only=True):
    alarms: list[Alarm]
    meters: list[MeterRow]
    tanks: list[TankEstimate]
    # the final look of a batch as one WitnessLook per station, for the store to keep (the
    # live service and the demo store every look; a batch keeps meters.jsonl)
    looks: list[WitnessLook] = []
    # METER_DRIFT findings that are raised only when the station's next look finds them
    # again (two consecutive looks); ``alarms`` holds those that need no second look
    candidates: list[Alarm] = []


def model_checks(tank: TankEstimate, s: WitnessSettings) -> list[str]:
    """The checks a METER_DRIFT finding must survive, as the message keys of those that
    fail: the residuals must look like a gauge's (a tank the model does not describe —
    a wrong chart, a faulty gauge — gives no finding), and the chart's scale must be
    anchored by a delivery note the tank agrees with."""
    failed = []
    if tank.residual_sd_ml > s.max_residual_sd_ml:
        failed.append("witness.check.residuals")
    if not tank.scale_anchored:
        failed.append("witness.check.unanchored")
    if tank.hours < s.drift_min_hours:
        failed.append("witness.check.short_window")
    return failed


def drift_finding(m: MeterEstimate, tank: TankEstimate, s: WitnessSettings) -> str | None:
    """What one look makes of a nozzle estimate: "strong" — alarmed at once: its whole
    interval beyond twice the limit and narrow enough to mean it (a rigged board; a
    second look would add nothing) —, "candidate" — alarmed when the station's next
    look finds it again, if the model's checks pass: an interval pinned to ±3‰, or one
    wider but lying beyond twice the limit — or None. A tank whose residuals no gauge
    gives raises nothing."""
    if m.status != "violation":
        return None
    failed = model_checks(tank, s)
    if "witness.check.residuals" in failed:
        return None
    lo, hi = m.ci95_permille
    hw = (hi - lo) / 2.0
    far = lo > 2.0 * s.mpe_permille or hi < -2.0 * s.mpe_permille
    if far and hw <= s.violation_max_halfwidth_permille:
        return "strong"
    if failed or not (far or hw <= s.drift_max_halfwidth_permille):
        return None  # not pinned down: a nozzle its neighbours' demand hides cannot be accused
    return "candidate"


def _meter_alarm(m: MeterEstimate, tank: TankEstimate, ts_us: int, since_us: int | None) -> Alarm:
    lo, hi = m.ci95_permille
    side = "customer receives less than indicated" if m.error_permille > 0 else "customer receives more than indicated"
    return make_alarm(
        "METER_DRIFT",
        key=(m.nozzle_id, m.segment),
        station_id=tank.station_id,
        nozzle_id=m.nozzle_id,
        tank_id=tank.tank_id,
        ts_us=ts_us,
        message=f"meter error {m.error_permille:+.2f}‰ (95 % CI {lo:+.2f}…{hi:+.2f}‰) beyond ±3‰: {side}",
        evidence={
            "error_permille": m.error_permille,
            "ci95_permille": [lo, hi],
            "dispensings": m.n,
            "k_pulses_per_m3": m.segment,
            "tank_id": tank.tank_id,
            "tank_hours": tank.hours,
            "window_start": format_ts(since_us) if since_us is not None else None,
            "window_end": format_ts(ts_us),
            "readings_used": tank.readings_used,
            "residual_sd_ml": tank.residual_sd_ml,
            "deliveries_used": tank.deliveries_declared - tank.deliveries_inconsistent,
            "deliveries_declared": tank.deliveries_declared,
            "scale_anchored": tank.scale_anchored,
            "register_nozzles": tank.register_nozzles,
            "register_shift_permille": tank.register_shift_permille,
            "pooled_permille": tank.pooled_permille,
            "method": tank.method,
        },
    )


def _loss_alarm(tank: TankEstimate, ts_us: int, threshold: float) -> Alarm:
    lo, hi = tank.loss_ci95_l_per_h
    return make_alarm(
        "TANK_LOSS",
        key=(tank.tank_id,),
        station_id=tank.station_id,
        tank_id=tank.tank_id,
        ts_us=ts_us,
        message=f"tank loses {tank.loss_l_per_h:.2f} L/h more than its metered dispensings explain "
        f"(95 % CI {lo:.2f}…{hi:.2f} L/h; leak test at {threshold} L/h)",
        evidence={
            "loss_l_per_h": tank.loss_l_per_h,
            "loss_ci95_l_per_h": [lo, hi],
            "hours": tank.hours,
            "readings_used": tank.readings_used,
            "readings_rejected": tank.readings_rejected,
            "residual_sd_ml": tank.residual_sd_ml,
        },
    )


def _bias_alarm(station_id: str, evidence: dict[str, Any], ts_us: int) -> Alarm:
    return make_alarm(
        "STATION_BIAS",
        key=(station_id,),
        station_id=station_id,
        ts_us=ts_us,
        message="the station's meters err predominantly in its own favour (NIST Handbook 44 predominance)",
        evidence=evidence,
    )


def witness_station(
    logs: TankLogs,
    station_id: str,
    tank_ids: list[str],
    settings: WitnessSettings,
    *,
    since: int | None = None,
    until: int | None = None,
    tests: bool = True,
    ts_us: int | None = None,
) -> WitnessResult:
    """Estimate a station's tanks over event times [since, until); decide and explain.

    ``tests``: also the periodic tests (``TANK_LOSS``, ``STATION_BIAS``), whose false-alarm
    rate is per test, so they run on their own, slower cadence. ``ts_us``: the alarms'
    time (a scheduled look's instant); by default the tank's last reading. Pure: same
    logs, same result."""
    from anxin.engine.stats import estimate_tank, station_bias  # NumPy/SciPy: only when it runs

    alarms: list[Alarm] = []
    candidates: list[Alarm] = []
    meters: list[MeterRow] = []
    tanks: list[TankEstimate] = []
    ests: list[MeterEstimate] = []
    last_t = None
    for tank_id in sorted(tank_ids):
        first, last, count = logs.span(tank_id, since, until)
        if count < 3 or (last - first) / 3.6e9 < settings.min_hours:
            continue  # not enough history for a decision: skip before preparing anything
        data = logs.tank_data(tank_id, since, until)
        est = estimate_tank(data, settings)
        if est is None:
            continue
        ts = last if ts_us is None else ts_us
        tanks.append(est)
        last_t = ts if last_t is None else max(ts, last_t)
        # the K segment in force is the one that dispensed last
        seg_end: dict[tuple[str, int], int] = {}
        for nz, k, _t0, t, _v in data.dispensings:
            if t > seg_end.get((nz, k), -1):
                seg_end[(nz, k)] = t
        latest: dict[str, MeterEstimate] = {}
        for m in est.meters:
            finding = drift_finding(m, est, settings)
            if finding is not None:
                (alarms if finding == "strong" else candidates).append(_meter_alarm(m, est, ts, since))
            prev = latest.get(m.nozzle_id)
            if prev is None or seg_end.get((m.nozzle_id, m.segment), 0) > seg_end.get(
                (prev.nozzle_id, prev.segment), 0
            ):
                latest[m.nozzle_id] = m
        for m in latest.values():
            meters.append(
                MeterRow(
                    nozzle_id=m.nozzle_id,
                    error_permille=m.error_permille,
                    ci95_permille=m.ci95_permille,
                    n=m.n,
                    status=m.status,
                    tank_id=tank_id,
                    k_pulses_per_m3=m.segment,
                    pooled_permille=m.pooled_permille,
                    pooled_ci95_permille=m.pooled_ci95_permille,
                )
            )
            ests.append(m)
        if tests and est.leak_suspected:
            alarms.append(_loss_alarm(est, ts, est.leak_test_l_per_h or settings.leak_threshold_l_per_h))
    if tests and ests and last_t is not None:
        evidence = station_bias(ests, settings)
        if evidence is not None:
            alarms.append(_bias_alarm(station_id, evidence, last_t))
    return WitnessResult(alarms=alarms, meters=meters, tanks=tanks, candidates=candidates)


def merge_results(results: list[WitnessResult]) -> WitnessResult:
    """Several stations' results as one (meters sorted by nozzle)."""
    alarms = [a for r in results for a in r.alarms]
    meters = sorted((m for r in results for m in r.meters), key=lambda r: r.nozzle_id)
    return WitnessResult(
        alarms=alarms,
        meters=meters,
        tanks=[t for r in results for t in r.tanks],
        looks=[lk for r in results for lk in r.looks],
        candidates=[a for r in results for a in r.candidates],
    )
