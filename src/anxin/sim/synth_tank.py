"""Synthetic single-tank scenes for tests and benchmarks (deterministic given the seed).

Uses the simulator's tank physics (:func:`anxin.sim.tank.tank_readings`) with a simple
traffic model: each nozzle sells ~``sales_per_day`` times a day at 35 L/min on average,
fewer at night, and deliveries top the tank up in the small hours.
"""

from __future__ import annotations

import math

import numpy as np

from anxin.engine.stats.witness import TankData

__all__ = ["synth_tank"]

H = 3_600_000_000
T0 = 1_772_294_400_000_000  # 2026-03-01T00:00:00+08:00 in µs


def synth_tank(
    *,
    seed: int = 0,
    days: float = 7.0,
    errors: dict[str, float] | None = None,  # nozzle → error (fraction), or list of (from_us, error)
    segments: dict[str, list[tuple[int, float]]] | None = None,
    leak_ml_per_h: float = 0.0,
    noise_um: float = 25.0,
    temp_noise_c: float = 0.05,
    temp_cycle_c: float = 0.4,
    delivery_temp_sd_c: float = 3.0,
    chart_error_sd: float = 0.0015,
    chart_points: int = 120,
    sales_per_day: float = 110.0,
    water_um: float = 0.0,
    capacity_l: float = 30_000.0,
    interval_us: int = 300_000_000,
    delivery_error_sd: float = 0.001,
) -> tuple[TankData, dict]:
    """A tank with its dispensings and readings, and the truth (errors per segment, leak)."""
    from anxin.sim.tank import TankSpec, registry_chart, tank_readings  # sim only for synthesis

    rng = np.random.default_rng(seed)
    segs: dict[str, list[tuple[int, float]]] = {}
    for nz, e in (errors or {"N1": 0.0}).items():
        segs[nz] = [(T0, float(e))]
    for nz, lst in (segments or {}).items():
        segs[nz] = [(int(a), float(b)) for a, b in lst]
    d = 2600.0
    spec = TankSpec(
        tank_id="T1",
        station_id="S1",
        product="92",
        diameter_mm=d,
        length_mm=round(capacity_l * 1e6 / (math.pi * (d / 2) ** 2)),
        expansion_ppm_per_c=1200,
    )
    chart = registry_chart(spec, rng, points=chart_points, error_sd=chart_error_sd)
    end = T0 + int(days * 24 * H)
    draws, disp = [], []
    for nz, lst in segs.items():
        rate = sales_per_day / 24.0 / H  # per µs
        t = T0 + int(rng.exponential(1.0 / rate))
        while t < end - H:
            hour = ((t - T0) // H) % 24
            if 0 <= hour < 6 and rng.random() < 0.9:  # quiet nights
                t += int(rng.exponential(1.0 / rate))
                continue
            vol_true = float(rng.uniform(10_000.0, 60_000.0))
            dur = int(vol_true / rng.uniform(25_000.0, 45_000.0) * 60e6)
            k = max(i for i, (f, _) in enumerate(lst) if f <= t) if any(f <= t for f, _ in lst) else 0
            e = lst[k][1]
            metered = int(round(vol_true * (1.0 + e)))
            draws.append((t, t + dur, vol_true))
            disp.append((nz, k, t, t + dur, metered))
            t += dur + int(rng.exponential(1.0 / rate))
    draws.sort()
    disp.sort(key=lambda x: x[2])
    cap = spec.capacity_ml
    deliveries = []
    vol = 0.85 * cap
    drawn = np.array([v for _, _, v in draws])
    ends = np.array([e for _, e, _ in draws])
    cum = np.concatenate(([0.0], np.cumsum(drawn)))
    delivered = 0.0
    for day in range(int(math.ceil(days))):
        t = T0 + day * 24 * H + 2 * H
        if t > end - 6 * H:
            break
        now = vol + delivered - cum[np.searchsorted(ends, t, side="right")] - leak_ml_per_h * (t - T0) / H
        if now < 0.5 * cap:
            v = float(round((0.9 * cap - now) / 1000.0) * 1000.0)
            dur = int(v / 500_000.0 * 60e6)
            deliveries.append((t, t + dur, v))
            delivered += v
    recs = tank_readings(
        spec,
        start_us=T0,
        end_us=end,
        interval_us=interval_us,
        initial_volume20_ml=vol,
        draws=draws,
        deliveries=deliveries,
        rng=rng,
        leak_ml_per_h=leak_ml_per_h,
        noise_um=noise_um,
        temp_noise_c=temp_noise_c,
        water_um=water_um,
        ts_formatter=lambda x: "",
        temp_cycle_c=temp_cycle_c,
        delivery_temp_sd_c=delivery_temp_sd_c,
    )
    ts = list(range(T0, end, interval_us))
    data = TankData(
        tank_id="T1",
        station_id="S1",
        chart=chart,
        expansion_ppm_per_c=1200,
        reading_t=ts,
        reading_level_um=[float(r["level_um"]) for r in recs],
        reading_water_um=[float(r["water_um"]) for r in recs],
        reading_temp_mc=[float(r["temp_mc"]) for r in recs],
        deliveries=[(a, b, v * (1 + rng.normal(0, delivery_error_sd))) for a, b, v in deliveries],
        dispensings=disp,
    )
    truth = {"segments": segs, "leak_ml_per_h": leak_ml_per_h, "spec": spec}
    return data, truth
