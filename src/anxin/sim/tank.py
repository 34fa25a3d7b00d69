"""Physical model of an underground horizontal cylindrical tank (卧式罐) for the city simulator.

The simulator needs the *truth* that the platform's tank reconciliation tries to recover:
the exact geometry (the registered 罐容表 is only an approximation of it), a fuel
temperature that makes volumes breathe (so that reconciliation has to correct to 20 °C),
and an automatic tank gauge (液位仪) that reports noisy levels. Everything here is pure
and deterministic: randomness comes only from the caller's ``numpy.random.Generator``.

Geometry is solved in the dimensionless form ``c = φ − sin φ`` (φ the central angle of
the wetted segment, ``c = 2·A/r²``), so one universal table serves every tank.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from anxin.engine.stats.readings import cumulative as _cumulative  # one piecewise-linear accumulator for both sides
from anxin.sim.world import World

_DEFAULT_WORLD = World()

__all__ = [
    "TankSpec",
    "design_tank",
    "registry_chart",
    "true_volume_ml",
    "true_level_um",
    "volumes_ml",
    "levels_um",
    "tank_readings",
    "gauge_series",
    "GaugeSeries",
    "reading_records",
    "segment_area_mm2",
]

_RELAX_H = 36.0  # time constant (h) for a delivery's temperature anomaly to fade into the ground
_PEAK_LOCAL_H = 15.0  # the daily cycle peaks mid-afternoon, UTC+08:00
_US_PER_H = 3_600_000_000

# Universal inverse table for the lower half (φ ∈ [0, π]): φ as a function of cbrt(φ − sin φ),
# which is smooth even at the bottom where the volume grows like level^1.5.
_PHI_TAB = np.linspace(0.0, math.pi, 1025)
_S_TAB = np.cbrt(_PHI_TAB - np.sin(_PHI_TAB))


class TankSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The true (not the registered) geometry of one tank."""

    tank_id: str
    station_id: str
    product: str
    diameter_mm: float
    length_mm: float  # cylinder length (without the heads)
    expansion_ppm_per_c: int  # 1200 gasoline, 900 diesel
    head_depth_mm: float = 0.0  # ellipsoidal heads this deep at both ends (0: flat ends; r: hemispheres)
    tilt_deg: float = 0.0  # the axis tilted along the length
    gauge_position: float = 0.5  # where the gauge measures, as a fraction of the length from the low end

    @property
    def capacity_ml(self) -> int:
        """Nominal capacity of the true geometry: π r² L plus the heads (1 mL = 1000 mm³)."""
        r = self.diameter_mm / 2.0
        if self.head_depth_mm > 0:
            return round((math.pi * r * r * self.length_mm + 4.0 / 3.0 * math.pi * r * r * self.head_depth_mm) / 1000.0)
        return round(math.pi * r * r * self.length_mm / 1000.0)

    @property
    def plain(self) -> bool:
        """A level, flat-ended cylinder (the closed form applies)."""
        return self.head_depth_mm <= 0 and self.tilt_deg == 0


def design_tank(
    tank_id: str,
    station_id: str,
    product: str,
    capacity_l: float,
    expansion_ppm_per_c: int,
    rng: np.random.Generator,
    *,
    head_depth: float = 0.0,
    tilt_deg: float = 0.0,
    gauge_position: float = 0.5,
) -> TankSpec:
    """A horizontal cylindrical underground tank of about that capacity.

    Typical Chinese station tanks hold 20–50 m³ with a diameter of 2.2–3.0 m; bigger tanks
    tend to be fatter. Dimensions are rounded to 10 mm as on a fabrication drawing.
    ``head_depth`` (fraction of the radius, 0: flat ends) gives it ellipsoidal heads, whose
    volume the cylinder is shortened by; ``tilt_deg`` and ``gauge_position`` how it lies.
    """
    if capacity_l <= 0:
        raise ValueError("capacity_l must be positive")
    base_m = float(np.interp(capacity_l / 1000.0, [20.0, 50.0], [2.4, 2.8]))
    d_mm = round(float(np.clip(base_m + rng.uniform(-0.2, 0.2), 2.2, 3.0)) * 100) * 10.0
    r = d_mm / 2.0
    head_mm = round(head_depth * r)
    cyl_l = capacity_l - 4.0 / 3.0 * math.pi * r * r * head_mm / 1e6 if head_mm > 0 else capacity_l
    length_mm = max(100.0, round(cyl_l * 1e6 / (math.pi * r * r) / 10.0) * 10.0)
    if head_mm > 0 or tilt_deg:
        return TankSpec(
            tank_id=tank_id,
            station_id=station_id,
            product=product,
            diameter_mm=d_mm,
            length_mm=length_mm,
            expansion_ppm_per_c=expansion_ppm_per_c,
            head_depth_mm=float(head_mm),
            tilt_deg=float(tilt_deg),
            gauge_position=float(gauge_position),
        )
    return TankSpec(
        tank_id=tank_id,
        station_id=station_id,
        product=product,
        diameter_mm=d_mm,
        length_mm=length_mm,
        expansion_ppm_per_c=expansion_ppm_per_c,
    )


def segment_area_mm2(diameter_mm: float, h_mm: np.ndarray) -> np.ndarray:
    """Wetted cross-section (mm²) of a circle of that diameter filled to ``h_mm`` (clipped)."""
    r = diameter_mm / 2.0
    h = np.clip(np.asarray(h_mm, dtype=np.float64), 0.0, diameter_mm)
    phi = 4.0 * np.arcsin(np.sqrt(h / diameter_mm))
    return r * r / 2.0 * (phi - np.sin(phi))


def _area_integral_mm3(diameter_mm: float, h_mm: np.ndarray) -> np.ndarray:
    """∫₀ʰ A(u) du (mm³ per mm of length), A extended by 0 below the bottom and πr² above the top."""
    r = diameter_mm / 2.0
    h = np.asarray(h_mm, dtype=np.float64)
    hc = np.clip(h, 0.0, diameter_mm)

    def psi(y: np.ndarray) -> np.ndarray:  # Ψ' = r² acos(y/r) − y √(r² − y²), y = r − u
        root = np.sqrt(np.clip(r * r - y * y, 0.0, None))
        return r * r * (y * np.arccos(np.clip(y / r, -1.0, 1.0)) - root) + root**3 / 3.0

    inside = psi(np.full_like(hc, r)) - psi(r - hc)
    return inside + math.pi * r * r * np.clip(h - diameter_mm, 0.0, None)


def _general_volumes_ml(spec: TankSpec, level_um: np.ndarray) -> np.ndarray:
    """True volume (mL) at gauge levels of a tilted tank with ellipsoidal heads.

    The liquid surface is level; the tank's axis rises by tan θ per mm from its low end, so
    the depth at x is h(x) = h_g + (x_g − x)·tan θ (h_g the gauge's level at x_g). The
    cylinder holds ∫₀ᴸ A(h(x)) dx = (F(h(0)) − F(h(L)))/tan θ, F the integral of the
    segment area (exact); each head holds (a/2r)·π h²(3r − h)/3 at the depth of its end.
    """
    d = spec.diameter_mm
    r = d / 2.0
    length = spec.length_mm
    h = np.asarray(level_um, dtype=np.float64) / 1000.0
    tan = math.tan(math.radians(spec.tilt_deg))
    xg = spec.gauge_position * length
    if tan > 0:
        h0, h1 = h + xg * tan, h - (length - xg) * tan
        cyl = (_area_integral_mm3(d, h0) - _area_integral_mm3(d, h1)) / tan
    else:
        h0 = h1 = h
        cyl = segment_area_mm2(d, h) * length
    a = spec.head_depth_mm
    heads = np.zeros_like(h)
    if a > 0:
        for he in (np.clip(h0, 0.0, d), np.clip(h1, 0.0, d)):
            heads = heads + a / (2.0 * r) * math.pi * he * he * (3.0 * r - he) / 3.0
    return (cyl + heads) / 1000.0


_TABLE_POINTS = 20_001
_tables: dict[TankSpec, tuple[np.ndarray, np.ndarray]] = {}


def _table(spec: TankSpec) -> tuple[np.ndarray, np.ndarray]:
    """(levels µm, volumes mL) on a 0.13 mm grid: interpolation errs by < 0.1 mL."""
    tab = _tables.get(spec)
    if tab is None:
        lv = np.linspace(0.0, spec.diameter_mm * 1000.0, _TABLE_POINTS)
        vol = np.maximum.accumulate(_general_volumes_ml(spec, lv))
        if len(_tables) > 256:
            _tables.clear()
        tab = _tables[spec] = (lv, vol)
    return tab


def volumes_ml(spec: TankSpec, level_um: np.ndarray | float) -> np.ndarray:
    """Vectorised exact volume (mL) at liquid levels (µm), clipped to the tank."""
    if not spec.plain:
        lv, vol = _table(spec)
        return np.asarray(np.interp(np.asarray(level_um, dtype=np.float64), lv, vol))
    d = spec.diameter_mm
    h = np.clip(np.asarray(level_um, dtype=np.float64) / 1000.0, 0.0, d)
    lower = h <= d / 2.0
    hm = np.where(lower, h, d - h)  # by symmetry, solve the upper half from the top
    phi = 4.0 * np.arcsin(np.sqrt(hm / d))  # half-angle form stays accurate near the bottom
    r = d / 2.0
    k = spec.length_mm * r * r / 2000.0  # mL per unit of c
    vm = k * (phi - np.sin(phi))
    return np.where(lower, vm, 2.0 * math.pi * k - vm)


def levels_um(spec: TankSpec, volume_ml: np.ndarray | float) -> np.ndarray:
    """Vectorised exact inverse of :func:`volumes_ml` (table guess + Newton, ≪ 0.1 µm)."""
    if not spec.plain:
        lv, vol = _table(spec)
        return np.asarray(np.interp(np.asarray(volume_ml, dtype=np.float64), vol, lv))
    d = spec.diameter_mm
    r = d / 2.0
    k = spec.length_mm * r * r / 2000.0
    c = np.clip(np.asarray(volume_ml, dtype=np.float64) / k, 0.0, 2.0 * math.pi)
    upper = c > math.pi
    cm = np.where(upper, 2.0 * math.pi - c, c)
    phi = np.interp(np.cbrt(cm), _S_TAB, _PHI_TAB)
    for _ in range(3):  # f = φ − sin φ − c, f' = 1 − cos φ = 2 sin²(φ/2)
        fp = 2.0 * np.sin(phi / 2.0) ** 2
        step = np.divide(phi - np.sin(phi) - cm, fp, out=np.zeros_like(phi), where=fp > 0)
        phi = np.clip(phi - step, 0.0, math.pi)
    hm = d * np.sin(phi / 4.0) ** 2
    return np.where(upper, d - hm, hm) * 1000.0


def true_volume_ml(spec: TankSpec, level_um: float) -> float:
    """Exact horizontal-cylinder volume (mL) at a level (µm)."""
    return float(volumes_ml(spec, level_um))


def true_level_um(spec: TankSpec, volume_ml: float) -> float:
    """Exact level (µm) at which the tank holds ``volume_ml``."""
    return float(levels_um(spec, volume_ml))


def registry_chart(
    spec: TankSpec,
    rng: np.random.Generator,
    *,
    points: int = 120,
    error_sd: float = 0.0015,
    scale: float = 0.0,
    point_sd: float = 0.0,
    capacity_range: tuple[float, float] = (0.0, 0.0),
    heads: str = "true",
    aux_rng: np.random.Generator | None = None,
) -> list[tuple[int, int]]:
    """The station's registered 罐容表: [(level_um, volume_ml)] from 0 to the full diameter.

    A strapping chart comes from a one-off calibration, so its error is systematic: the
    true chart times (1 + e(level)) with e a random cubic (Legendre basis) whose RMS over
    the level range is ``error_sd``. That is what makes a tank "lose" fuel on paper at
    some fill heights and gain at others. Rounded to integers, then nudged to be strictly
    increasing as the registry loader demands.

    The worlds of :mod:`anxin.sim.world` add, from ``aux_rng`` (so ``rng`` is used as
    always): an overall ``scale`` error (fraction, sign drawn), per-point strapping errors
    uniform within ±``point_sd`` of the volume and of ``capacity_range`` (fractions of
    capacity, magnitude uniform in the range, random sign). The registered chart assumes
    a level tank (tilt ignored); ``heads`` = "flat" computes it for a flat-ended cylinder
    of the true capacity, "true" includes the heads.
    """
    if points < 2:
        raise ValueError("a chart needs at least 2 points")
    levels = np.rint(np.linspace(0.0, spec.diameter_mm * 1000.0, points)).astype(np.int64)
    coef = rng.standard_normal(4)
    x = 2.0 * levels / levels[-1] - 1.0
    shape = np.polynomial.legendre.legval(x, coef)
    grid = np.polynomial.legendre.legval(np.linspace(-1.0, 1.0, 1001), coef)
    rms = float(np.sqrt(np.mean(grid * grid)))
    err = shape * (error_sd / rms if rms > 0 else 0.0)
    if spec.plain:
        base = volumes_ml(spec, levels)
    elif heads == "flat" and spec.head_depth_mm > 0:
        r = spec.diameter_mm / 2.0
        base = spec.capacity_ml * segment_area_mm2(spec.diameter_mm, levels / 1000.0) / (math.pi * r * r)
    else:
        base = volumes_ml(msgspec.structs.replace(spec, tilt_deg=0.0), levels)
    extra = scale or point_sd or capacity_range[1] > 0
    if not extra:
        vols = np.rint(base * (1.0 + err)).astype(np.int64)
    else:
        aux = aux_rng if aux_rng is not None else np.random.default_rng(0)
        sign = 1.0 if aux.random() < 0.5 else -1.0
        reg = base * (1.0 + err) * (1.0 + sign * scale)
        reg = reg + base * aux.uniform(-point_sd, point_sd, points)
        lo, hi = capacity_range
        signs = np.where(aux.random(points) < 0.5, -1.0, 1.0)
        reg = reg + signs * aux.uniform(lo, hi, points) * spec.capacity_ml
        vols = np.rint(reg).astype(np.int64)
    vols[0] = 0
    idx = np.arange(points, dtype=np.int64)
    vols = np.maximum.accumulate(vols - idx) + idx  # v[i] ≥ v[i-1] + 1
    return [(int(lv), int(v)) for lv, v in zip(levels.tolist(), vols.tolist())]


def _as_events(events: Sequence[tuple[int, int, float]], t0_us: int) -> np.ndarray:
    """(n, 3) float array of (start_s, end_s, volume) relative to ``t0_us`` (exact for µs)."""
    a = np.array(events, dtype=np.float64).reshape(-1, 3)
    a[:, :2] = (a[:, :2] - float(t0_us)) / 1e6
    return a


class GaugeSeries(msgspec.Struct, kw_only=True):
    """What the gauge reported (the kept readings) and the truth behind it."""

    t_us: np.ndarray  # reading instants (int64), gaps removed
    level_um: np.ndarray  # reported (noise, resolution), int64
    water_um: np.ndarray  # reported water bottom, int64
    temp_mc: np.ndarray  # reported probe temperature, int64
    true_level_um: np.ndarray  # float, at the kept readings
    true_temp_c: np.ndarray  # bulk (volume-weighted) temperature
    probe_temp_c: np.ndarray  # what the probe's point saw, before noise
    v20_ml: np.ndarray  # the true 20 °C fuel volume
    readings_planned: int  # before the gaps
    evaporated_ml: float  # over the whole period


def gauge_series(
    spec: TankSpec,
    *,
    start_us: int,
    end_us: int,
    interval_us: int = 300_000_000,
    initial_volume20_ml: float,
    draws: Sequence[tuple[int, int, float]],
    deliveries: Sequence[tuple[int, int, float]],
    rng: np.random.Generator,
    ground_temp_c: float = 18.0,
    leak_ml_per_h: float = 0.0,
    noise_um: float = 25.0,
    temp_noise_c: float = 0.05,
    water_um: float = 0.0,
    temp_cycle_c: float = 0.4,
    delivery_temp_sd_c: float = 3.0,
    world: World | None = None,
) -> GaugeSeries:
    """The gauge's readings every ``interval_us`` in [start_us, end_us), as arrays.

    The conserved quantity is the volume at 20 °C: V20(t) = initial − Σ draws(→20 °C)
    + Σ deliveries − leak·hours, events counted linearly over [start, end] and only from
    ``start_us`` on (``initial_volume20_ml`` is the V20 at ``start_us``). Draws are given
    at the fuel's temperature and converted with v / (1 + β(T − 20)) at their midpoint.

    Fuel temperature T = ground + daily cycle (``temp_cycle_c`` amplitude, afternoon peak)
    + an anomaly: each delivery arrives ``N(0, delivery_temp_sd_c)`` °C off ground, mixes in
    by volume while unloading and then relaxes with a ~1.5-day time constant. The gauge
    measures the total liquid height, so a water bottom of ``water_um`` (its volume from
    the true geometry) lies under the fuel; fuel = V(level) − V(water).

    ``world`` (default: the default world) adds the physics of :mod:`anxin.sim.world`
    beyond these arguments: uniform or tank-relative delivery temperatures, slow mixing
    with a single-point probe in its layer, the relaxation time, level / temperature /
    water resolution, gaps, water ingress and evaporation (a real loss beside the leak).

    RNG use, in order: one offset per delivery, level noise, temperature noise, then (only
    in worlds with gaps) the gaps.
    """
    w = world if world is not None else _DEFAULT_WORLD
    if interval_us <= 0:
        raise ValueError("interval_us must be positive")
    beta = spec.expansion_ppm_per_c * 1e-6
    t_us = np.arange(start_us, end_us, interval_us, dtype=np.int64)
    t = (t_us - start_us).astype(np.float64) / 1e6  # seconds since start
    dr = _as_events(draws, start_us)
    dl = _as_events(deliveries, start_us)
    if w.delivery_temp_range_c > 0:
        offsets = rng.uniform(-w.delivery_temp_range_c, w.delivery_temp_range_c, size=len(dl))
    else:
        offsets = rng.normal(0.0, delivery_temp_sd_c, size=len(dl))
    tau_s = w.relax_h * 3600.0
    loss_ml_per_h = leak_ml_per_h + w.evaporation_ml_per_h if w.evaporation_ml_per_h else leak_ml_per_h

    def leak(x: np.ndarray) -> np.ndarray:
        return loss_ml_per_h * x / 3600.0

    def accrued(ev: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
        """What events moved between start_us and x (the part before is in the initial V20)."""
        return _cumulative(*ev, x) - _cumulative(*ev, np.zeros(1))

    # Delivery temperature anomalies, sequentially because each mixes into the previous ones.
    # The mixing weight uses the nominal V20 (draws not temperature-corrected): it only sets
    # how much the new fuel moves the bulk temperature.
    order = np.argsort(dl[:, 0], kind="stable")
    dl_s, dl_e, dl_v, offsets = dl[order, 0], dl[order, 1], dl[order, 2], offsets[order]
    v_before = (
        initial_volume20_ml
        + accrued((dl_s, dl_e, dl_v), dl_s)
        - accrued((dr[:, 0], dr[:, 1], dr[:, 2]), dl_s)
        - leak(dl_s)
    )
    jumps = np.zeros(len(dl_s))
    unmixed = np.zeros(len(dl_s))  # probe's layer minus the bulk, just after each delivery

    def response(x: np.ndarray, n: int) -> np.ndarray:
        """(n, len(x)) shape of the first n deliveries' anomalies: ramp in, then decay."""
        s, e = dl_s[:n, None], dl_e[:n, None]
        ramp = np.clip((x[None, :] - s) / np.maximum(e - s, 1e-9), 0.0, 1.0)
        return np.where(x[None, :] > e, np.exp(-(x[None, :] - e) / tau_s), ramp)

    mixing = w.mixing_tau_h > 0
    v_probe = float(volumes_ml(spec, w.probe_height * spec.diameter_mm * 1000.0)) if mixing else 0.0
    for i in range(len(dl_s)):
        a_before = float(jumps[:i] @ response(dl_s[i : i + 1], i)[:, 0]) if i else 0.0
        v_tank = max(float(v_before[i]), 0.0)
        if w.delivery_temp_vs_tank:
            new_anomaly = a_before + offsets[i]
            jumps[i] = offsets[i] * dl_v[i] / max(v_tank + dl_v[i], 1e-9)
        else:
            new_anomaly = offsets[i]
            jumps[i] = (offsets[i] - a_before) * dl_v[i] / max(v_tank + dl_v[i], 1e-9)
        if mixing:
            bulk_after = a_before + jumps[i]
            if w.stratified:  # warm fuel floats on the old, cold fuel sinks under it
                warm = new_anomaly >= a_before
                in_new = v_probe >= v_tank if warm else v_probe < dl_v[i]
            else:  # a plume away from the probe: it reads the old fuel
                in_new = False
            unmixed[i] = (new_anomaly if in_new else a_before) - bulk_after

    def cycle_c(x: np.ndarray) -> np.ndarray:
        hours = (x * 1e6 + start_us) / _US_PER_H
        return temp_cycle_c * np.cos(2.0 * math.pi * (hours + 8.0 - _PEAK_LOCAL_H) / 24.0)

    def temp_c(x: np.ndarray) -> np.ndarray:
        anomaly = jumps @ response(x, len(dl_s)) if len(dl_s) else 0.0
        return ground_temp_c + cycle_c(x) + anomaly

    draw_t = temp_c((dr[:, 0] + dr[:, 1]) / 2.0)
    draw_v20 = dr[:, 2] / (1.0 + beta * (draw_t - 20.0))
    v20 = initial_volume20_ml + accrued((dl_s, dl_e, dl_v), t) - accrued((dr[:, 0], dr[:, 1], draw_v20), t) - leak(t)
    temp = temp_c(t)
    probe = temp
    if mixing and len(dl_s):
        s_, e_ = dl_s[:, None], dl_e[:, None]
        ramp = np.clip((t[None, :] - s_) / np.maximum(e_ - s_, 1e-9), 0.0, 1.0)
        fade = np.where(t[None, :] > e_, np.exp(-(t[None, :] - e_) / (w.mixing_tau_h * 3600.0)), ramp)
        probe = temp + unmixed @ fade
    v_fuel = np.maximum(v20, 0.0) * (1.0 + beta * (temp - 20.0))
    d_um = math.floor(spec.diameter_mm * 1000.0)
    if w.water_ingress_mm_per_day > 0:
        water_true = water_um + w.water_ingress_mm_per_day * 1000.0 * t / 86_400.0
        level = levels_um(spec, v_fuel + volumes_ml(spec, water_true))
        water_rep = np.rint(water_true)
    else:
        water = int(round(water_um))
        level = levels_um(spec, v_fuel + true_volume_ml(spec, water))
        water_rep = np.full(t.size, float(water))
    if w.water_resolution_um > 1:
        water_rep = np.rint(water_rep / w.water_resolution_um) * w.water_resolution_um
    noisy = level + rng.normal(0.0, noise_um, t.size)
    if w.level_resolution_um > 1:
        noisy = np.rint(noisy / w.level_resolution_um) * w.level_resolution_um
    level_noisy = np.clip(np.rint(noisy), 0, d_um)
    temp_x = (probe + rng.normal(0.0, temp_noise_c, t.size)) * 1000.0
    if w.temp_resolution_mc > 1:
        temp_x = temp_x / w.temp_resolution_mc
        temp_mc = np.rint(temp_x) * w.temp_resolution_mc
    else:
        temp_mc = np.rint(temp_x)
    keep = np.ones(t.size, dtype=bool)
    if w.gaps_per_day > 0 and t.size:
        span_s = float(t[-1]) + interval_us / 1e6
        n_gaps = int(rng.poisson(w.gaps_per_day * span_s / 86_400.0))
        starts = rng.uniform(0.0, span_s, n_gaps)
        lengths = rng.exponential(w.gap_mean_min * 60.0, n_gaps)
        for a, b in zip(starts.tolist(), (starts + lengths).tolist()):
            keep &= ~((t >= a) & (t < b))
    return GaugeSeries(
        t_us=t_us[keep],
        level_um=level_noisy.astype(np.int64)[keep],
        water_um=water_rep.astype(np.int64)[keep],
        temp_mc=temp_mc.astype(np.int64)[keep],
        true_level_um=level[keep],
        true_temp_c=temp[keep],
        probe_temp_c=np.asarray(probe)[keep],
        v20_ml=v20[keep],
        readings_planned=int(t.size),
        evaporated_ml=w.evaporation_ml_per_h * (end_us - start_us) / _US_PER_H,
    )


def tank_readings(
    spec: TankSpec,
    *,
    start_us: int,
    end_us: int,
    interval_us: int = 300_000_000,
    initial_volume20_ml: float,
    draws: Sequence[tuple[int, int, float]],
    deliveries: Sequence[tuple[int, int, float]],
    rng: np.random.Generator,
    ground_temp_c: float = 18.0,
    leak_ml_per_h: float = 0.0,
    noise_um: float = 25.0,
    temp_noise_c: float = 0.05,
    water_um: float = 0.0,
    ts_formatter: Callable[[int], str],
    temp_cycle_c: float = 0.4,
    delivery_temp_sd_c: float = 3.0,
    world: World | None = None,
) -> list[dict]:
    """``tank_reading`` records of :func:`gauge_series` (same arguments, same physics)."""
    g = gauge_series(
        spec,
        start_us=start_us,
        end_us=end_us,
        interval_us=interval_us,
        initial_volume20_ml=initial_volume20_ml,
        draws=draws,
        deliveries=deliveries,
        rng=rng,
        ground_temp_c=ground_temp_c,
        leak_ml_per_h=leak_ml_per_h,
        noise_um=noise_um,
        temp_noise_c=temp_noise_c,
        water_um=water_um,
        temp_cycle_c=temp_cycle_c,
        delivery_temp_sd_c=delivery_temp_sd_c,
        world=world,
    )
    return reading_records(spec, g, ts_formatter)


def reading_records(spec: TankSpec, g: GaugeSeries, ts_formatter: Callable[[int], str]) -> list[dict]:
    """The contract's ``tank_reading`` records of a gauge series."""
    sid, tid = spec.station_id, spec.tank_id
    return [
        {
            "kind": "tank_reading",
            "station_id": sid,
            "tank_id": tid,
            "ts": ts_formatter(ts),
            "level_um": lv,
            "water_um": wt,
            "temp_mc": tm,
        }
        for ts, lv, wt, tm in zip(g.t_us.tolist(), g.level_um.tolist(), g.water_um.tolist(), g.temp_mc.tolist())
    ]
