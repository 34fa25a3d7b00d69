"""Synthetic single-tank scenes for tests and benchmarks (deterministic given the seed).

Uses the simulator's tank physics (:func:`anxin.sim.tank.gauge_series`). Without a
``world`` it is the scene it always was: each nozzle sells ~``sales_per_day`` times a day
at 35 L/min on average, fewer at night, and one delivery tops the tank up at 02:00 when
it is below half. With a ``world`` (:mod:`anxin.sim.world`) the scene is that world's:
its geometry, chart errors, gauge, delivery notes and depot, temperatures, water and
evaporation; the nozzles sell Poisson on the city's daily curve (some on a common
pattern in worlds with twins), and deliveries are planned as the city's are (whole
compartments, at night and when running low), so several tanks of a world look alike.
"""

from __future__ import annotations

import math
import random

import numpy as np

from anxin.engine.stats.witness import TankData
from anxin.sim.world import World

__all__ = ["synth_tank", "SynthTruth"]

H = 3_600_000_000
T0 = 1_772_294_400_000_000  # 2026-03-01T00:00:00+08:00 in µs

# The truth of a scene: a dict with "segments" (nozzle → [(from_us, error)]),
# "leak_ml_per_h", "spec", and in a world also "world", "evaporation_ml_per_h",
# "depot_bias_permille", "true_ml" (per dispensing, aligned with TankData.dispensings),
# "chart_error" ([(registered level µm, true − registered mL)]), "readings_planned".
SynthTruth = dict


def _legacy_synth(
    *,
    seed: int,
    days: float,
    errors: dict[str, float] | None,
    segments: dict[str, list[tuple[int, float]]] | None,
    leak_ml_per_h: float,
    noise_um: float,
    temp_noise_c: float,
    temp_cycle_c: float,
    delivery_temp_sd_c: float,
    chart_error_sd: float,
    chart_points: int,
    sales_per_day: float,
    water_um: float,
    capacity_l: float,
    interval_us: int,
    delivery_error_sd: float,
) -> tuple[TankData, dict]:
    """The scene as it was before worlds (kept draw for draw: tests rely on its seeds)."""
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


def synth_tank(
    *,
    seed: int = 0,
    days: float = 7.0,
    errors: dict[str, float] | None = None,  # nozzle → error (fraction)
    segments: dict[str, list[tuple[int, float]]] | None = None,  # nozzle → [(from_us, error)]
    leak_ml_per_h: float = 0.0,
    noise_um: float | None = None,
    temp_noise_c: float | None = None,
    temp_cycle_c: float | None = None,
    delivery_temp_sd_c: float | None = None,
    chart_error_sd: float | None = None,
    chart_points: int | None = None,
    sales_per_day: float | None = None,
    water_um: float = 0.0,
    capacity_l: float | None = None,
    interval_us: int | None = None,
    delivery_error_sd: float | None = None,
    world: World | str | None = None,
    nozzles: int | None = None,
    depot_bias_permille: float | None = None,
    ground_temp_c: float = 18.0,
) -> tuple[TankData, SynthTruth]:
    """A tank with its dispensings and readings, and the truth (errors per segment, leak).

    Arguments left at None take the world's value (without a world: the values of
    before). ``nozzles``: how many honest nozzles when ``errors`` and ``segments`` are not
    given (default: one without a world, the world's ``nozzles_per_tank`` with one).
    ``depot_bias_permille``: the bias of the depot the notes come from (default: drawn
    from the world's ``depot_bias_sd_permille``), so tanks can share a depot.
    """
    if world is None:
        d = World()
        return _legacy_synth(
            seed=seed,
            days=days,
            errors=errors if errors is not None or segments is not None or nozzles is None else _honest(nozzles),
            segments=segments,
            leak_ml_per_h=leak_ml_per_h,
            noise_um=d.level_noise_um if noise_um is None else noise_um,
            temp_noise_c=d.temp_noise_c if temp_noise_c is None else temp_noise_c,
            temp_cycle_c=d.temp_cycle_c if temp_cycle_c is None else temp_cycle_c,
            delivery_temp_sd_c=d.delivery_temp_sd_c if delivery_temp_sd_c is None else delivery_temp_sd_c,
            chart_error_sd=0.0015 if chart_error_sd is None else chart_error_sd,
            chart_points=120 if chart_points is None else chart_points,
            sales_per_day=110.0 if sales_per_day is None else sales_per_day,
            water_um=water_um,
            capacity_l=30_000.0 if capacity_l is None else capacity_l,
            interval_us=300_000_000 if interval_us is None else interval_us,
            delivery_error_sd=0.001 if delivery_error_sd is None else delivery_error_sd,
        )
    w = World.load(world) if isinstance(world, str) else world
    over: dict = {}
    for key, value in (
        ("level_noise_um", noise_um),
        ("temp_noise_c", temp_noise_c),
        ("temp_cycle_c", temp_cycle_c),
        ("delivery_temp_sd_c", delivery_temp_sd_c),
        ("chart_points", chart_points),
        ("sales_per_day", sales_per_day),
    ):
        if value is not None:
            over[key] = value
    if chart_error_sd is not None:
        over["chart_shape_rms_permille"] = chart_error_sd * 1000.0
    if delivery_error_sd is not None:
        over["note_sd_permille"] = delivery_error_sd * 1000.0
    if interval_us is not None:
        over["reading_interval_min"] = interval_us / 60e6
    if over:
        w = World.from_overrides({**w.to_dict(), **over}, default_name=w.name)
    return _world_synth(
        w,
        seed=seed,
        days=days,
        errors=errors,
        segments=segments,
        nozzles=nozzles,
        leak_ml_per_h=leak_ml_per_h,
        water_um=water_um,
        capacity_l=capacity_l,
        depot_bias_permille=depot_bias_permille,
        ground_temp_c=ground_temp_c,
    )


def _honest(n: int) -> dict[str, float]:
    return {f"N{i + 1}": 0.0 for i in range(n)}


def _world_synth(
    w: World,
    *,
    seed: int,
    days: float,
    errors: dict[str, float] | None,
    segments: dict[str, list[tuple[int, float]]] | None,
    nozzles: int | None,
    leak_ml_per_h: float,
    water_um: float,
    capacity_l: float | None,
    depot_bias_permille: float | None,
    ground_temp_c: float,
) -> tuple[TankData, SynthTruth]:
    from anxin.sim.layout import chart_errors, tank_shape
    from anxin.sim.scenarios import ScenarioSet
    from anxin.sim.specs import CityConfig, TankInfo
    from anxin.sim.station import HOUR_WEIGHTS
    from anxin.sim.supply import plan_deliveries
    from anxin.sim.tank import design_tank, gauge_series, registry_chart, volumes_ml

    rng = np.random.default_rng(seed)
    aux = np.random.default_rng([seed, 0x5EED])  # everything the legacy scene did not draw
    n_days = max(1, math.ceil(days))
    end = T0 + int(days * 24 * H)
    segs: dict[str, list[tuple[int, float]]] = {}
    if errors is None and segments is None:
        lo, hi = w.nozzles_per_tank
        n = nozzles if nozzles is not None else int(aux.integers(lo, hi + 1))
        errors = _honest(n)
    for nz, e in (errors or {}).items():
        segs[nz] = [(T0, float(e))]
    for nz, lst in (segments or {}).items():
        segs[nz] = [(int(a), float(b)) for a, b in lst]
    names = list(segs)

    # Demand: Poisson on the city's daily curve; twins sell on the first nozzle's pattern.
    weights = np.asarray(HOUR_WEIGHTS) / float(np.mean(HOUR_WEIGHTS))
    n_twins = round(w.twin_share * (len(names) - 1))

    def arrivals() -> tuple[np.ndarray, np.ndarray]:
        per_hour = aux.poisson(w.sales_per_day / 24.0 * np.tile(weights, n_days))
        hours = np.repeat(np.arange(per_hour.size), per_hour)
        t = T0 + ((hours + aux.random(hours.size)) * H).astype(np.int64)
        t.sort()
        return t, _volumes(aux, t.size)

    lead_t, lead_v = arrivals()
    draws: list[tuple[int, int, float]] = []
    disp: list[tuple[str, int, int, int, int]] = []
    true_of: list[float] = []
    daily_ml = 0.0
    for i, nz in enumerate(names):
        if i == 0:
            at, vols = lead_t, lead_v
        elif i <= n_twins:  # near-identical demand: the same customers, a little later
            at = lead_t + (aux.uniform(0.5, 3.0, lead_t.size) * 60e6).astype(np.int64)
            vols = lead_v * aux.uniform(0.9, 1.1, lead_v.size)
        else:
            at, vols = arrivals()
        lst = segs[nz]
        prev_end = T0 - H
        for a, vol_true in zip(at.tolist(), vols.tolist()):
            s = max(a, prev_end + 30_000_000)
            s -= s % 1000
            dur = int(vol_true / float(aux.uniform(30_000.0, 45_000.0)) * 60e6)
            if s + dur >= end - 62_000_000:
                break
            k = max((j for j, (f, _) in enumerate(lst) if f <= s), default=0)
            metered = int(round(vol_true * (1.0 + lst[k][1])))
            draws.append((s, s + dur, vol_true))
            disp.append((nz, k, s, s + dur, metered))
            prev_end = s + dur
            daily_ml += vol_true / max(days, 1e-9)
    order = sorted(range(len(disp)), key=lambda j: (disp[j][2], disp[j][0]))
    disp = [disp[j] for j in order]
    true_of = [draws[j][2] for j in order]
    draws.sort()

    # The tank: sized as the city sizes its tanks (about 2.2 days of sales), unless given.
    if capacity_l is None:
        cap_m3 = min(60.0, max(20.0, 5.0 * round(2.2 * daily_ml / 1e6 / 5.0 + 0.5)))
        capacity_l = cap_m3 * 1000.0
    spec = design_tank("T1", "S1", "92", capacity_l, 1200, rng, **tank_shape(w))
    chart = registry_chart(spec, rng, **chart_errors(w), aux_rng=np.random.default_rng([seed, 0xC4A27]))
    fill = float(aux.uniform(0.55, 0.85))
    cfg = CityConfig(
        seed=seed,
        start="2026-03-01",
        days=n_days,
        t0_us=T0,
        t_end_us=end,
        scenarios=ScenarioSet.honest(),
        price_change_us=None,
        world=w,
    )
    info = TankInfo(spec=spec, chart=chart, leak_ml_per_h=leak_ml_per_h, water_um=water_um, initial_fill=fill)
    deliveries = plan_deliveries(random.Random(seed), info, draws, cfg)
    g = gauge_series(
        spec,
        start_us=T0,
        end_us=end,
        initial_volume20_ml=fill * spec.capacity_ml,
        draws=draws,
        deliveries=deliveries,
        rng=rng,
        ground_temp_c=ground_temp_c,
        leak_ml_per_h=leak_ml_per_h,
        water_um=water_um,
        world=w,
        **w.reading_kwargs(),
    )
    if depot_bias_permille is None:
        depot_bias_permille = float(aux.normal(0.0, w.depot_bias_sd_permille)) if w.depot_bias_sd_permille else 0.0
    bias = depot_bias_permille / 1000.0
    note_sd = w.note_sd_permille / 1000.0
    notes = [(a, b, v * (1.0 + bias + float(aux.normal(0.0, note_sd)))) for a, b, v in deliveries]
    data = TankData(
        tank_id="T1",
        station_id="S1",
        chart=chart,
        expansion_ppm_per_c=1200,
        reading_t=g.t_us.tolist(),
        reading_level_um=g.level_um.astype(np.float64).tolist(),
        reading_water_um=g.water_um.astype(np.float64).tolist(),
        reading_temp_mc=g.temp_mc.astype(np.float64).tolist(),
        deliveries=notes,
        dispensings=disp,
    )
    levels = np.asarray([lv for lv, _ in chart], dtype=np.float64)
    true_chart = volumes_ml(spec, levels)
    truth: SynthTruth = {
        "segments": segs,
        "leak_ml_per_h": leak_ml_per_h,
        "spec": spec,
        "world": w.name,
        "evaporation_ml_per_h": w.evaporation_ml_per_h,
        "depot_bias_permille": depot_bias_permille,
        "true_ml": true_of,
        "chart_error": [(int(lv), float(tv) - float(v)) for (lv, v), tv in zip(chart, true_chart.tolist())],
        "readings_planned": g.readings_planned,
        "deliveries_true": deliveries,
        "capacity_ml": spec.capacity_ml,
    }
    return data, truth


def _volumes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Volumes (mL at the fuel's temperature) of n customers, as the city's petrol nozzles
    sell: scooters and cans, preset amounts, and cars around 36 L."""
    u = rng.random(n)
    cars = np.clip(rng.lognormal(3.58, 0.22, n), 18.0, 60.0)
    small = rng.uniform(5.0, 20.0, n)
    preset = rng.choice(np.array([13.0, 19.5, 26.0, 26.0, 39.0]), n)  # ¥100–300 at ¥7.7/L
    return np.where(u < 0.2, small, np.where(u < 0.32, preset, cars)) * 1000.0
