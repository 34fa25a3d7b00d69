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
from anxin.engine.outputs import make_alarm
from anxin.engine.stats import MeterEstimate, TankEstimate, WitnessSettings
from anxin.engine.tanklog import TankLogs


class MeterRow(msgspec.Struct, kw_only=True):
    """One line of ``meters.jsonl`` (contract §6), plus the tank and the K segment."""

    nozzle_id: str
    error_permille: float
    ci95_permille: tuple[float, float]
    n: int
    status: str
    tank_id: str
    k_pulses_per_m3: int


class WitnessResult(msgspec.Struct, kw_only=True):
    alarms: list[Alarm]
    meters: list[MeterRow]
    tanks: list[TankEstimate]


def _meter_alarm(m: MeterEstimate, tank: TankEstimate, ts_us: int) -> Alarm:
    lo, hi = m.ci95_permille
    side = "customer receives less than indicated" if m.error_permille > 0 else "customer receives more than indicated"
    return make_alarm(
        "METER_DRIFT", key=(m.nozzle_id, m.segment), station_id=tank.station_id, nozzle_id=m.nozzle_id,
        tank_id=tank.tank_id, ts_us=ts_us,
        message=f"meter error {m.error_permille:+.2f}‰ (95 % CI {lo:+.2f}…{hi:+.2f}‰) beyond ±3‰: {side}",
        evidence={"error_permille": m.error_permille, "ci95_permille": [lo, hi], "dispensings": m.n,
                  "k_pulses_per_m3": m.segment, "tank_id": tank.tank_id, "tank_hours": tank.hours,
                  "readings_used": tank.readings_used, "residual_sd_ml": tank.residual_sd_ml},
    )  # fmt: skip


def _loss_alarm(tank: TankEstimate, ts_us: int, threshold: float) -> Alarm:
    lo, hi = tank.loss_ci95_l_per_h
    return make_alarm(
        "TANK_LOSS", key=(tank.tank_id,), station_id=tank.station_id, tank_id=tank.tank_id, ts_us=ts_us,
        message=f"tank loses {tank.loss_l_per_h:.2f} L/h more than its metered dispensings explain "
        f"(95 % CI {lo:.2f}…{hi:.2f} L/h; leak test at {threshold} L/h)",
        evidence={"loss_l_per_h": tank.loss_l_per_h, "loss_ci95_l_per_h": [lo, hi], "hours": tank.hours,
                  "readings_used": tank.readings_used, "readings_rejected": tank.readings_rejected,
                  "residual_sd_ml": tank.residual_sd_ml},
    )  # fmt: skip


def _bias_alarm(station_id: str, evidence: dict[str, Any], ts_us: int) -> Alarm:
    return make_alarm(
        "STATION_BIAS", key=(station_id,), station_id=station_id, ts_us=ts_us,
        message="the station's meters err predominantly in its own favour (NIST Handbook 44 predominance)",
        evidence=evidence,
    )


def run_witness(logs: TankLogs, settings: WitnessSettings) -> WitnessResult:
    """Estimate every tank with data; decide and explain. Pure: same logs, same result."""
    from anxin.engine.stats import estimate_tank, station_bias  # NumPy/SciPy: only when it runs

    alarms: list[Alarm] = []
    meters: list[MeterRow] = []
    tanks: list[TankEstimate] = []
    by_station: dict[str, list[MeterEstimate]] = {}
    last_t: dict[str, int] = {}
    for tank_id in sorted(logs.logs):
        log = logs.logs[tank_id]
        if not log.r_t:
            continue
        ts = max(log.r_t)
        if (ts - min(log.r_t)) / 3.6e9 < settings.min_hours:
            continue  # not enough history for a decision: skip before preparing anything
        est = estimate_tank(logs.tank_data(tank_id), settings)
        if est is None:
            continue
        tanks.append(est)
        last_t[est.station_id] = max(ts, last_t.get(est.station_id, ts))
        # the K segment in force is the one that dispensed last
        seg_end: dict[tuple[str, int], int] = {}
        for n, k, t in zip(log.d_nozzle, log.d_k, log.d_t):
            key = (logs.nozzle_ids[n], k)
            if t > seg_end.get(key, -1):
                seg_end[key] = t
        latest: dict[str, MeterEstimate] = {}
        for m in est.meters:
            if m.status == "violation":
                alarms.append(_meter_alarm(m, est, ts))
            prev = latest.get(m.nozzle_id)
            if prev is None or seg_end.get((m.nozzle_id, m.segment), 0) > seg_end.get((prev.nozzle_id, prev.segment), 0):
                latest[m.nozzle_id] = m
        for m in latest.values():
            meters.append(MeterRow(nozzle_id=m.nozzle_id, error_permille=m.error_permille,
                                   ci95_permille=m.ci95_permille, n=m.n, status=m.status,
                                   tank_id=tank_id, k_pulses_per_m3=m.segment))  # fmt: skip
            by_station.setdefault(est.station_id, []).append(m)
        if est.leak_suspected:
            alarms.append(_loss_alarm(est, ts, settings.leak_threshold_l_per_h))
    for station_id in sorted(by_station):
        evidence = station_bias(by_station[station_id], settings)
        if evidence is not None:
            alarms.append(_bias_alarm(station_id, evidence, last_t[station_id]))
    meters.sort(key=lambda r: r.nozzle_id)
    return WitnessResult(alarms=alarms, meters=meters, tanks=tanks)

