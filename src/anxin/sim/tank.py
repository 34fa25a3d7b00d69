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

__all__ = [
    "TankSpec",
    "design_tank",
    "registry_chart",
    "true_volume_ml",
    "true_level_um",
    "volumes_ml",
    "levels_um",
    "tank_readings",
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
    length_mm: float  # cylinder length; flat ends
    expansion_ppm_per_c: int  # 1200 gasoline, 900 diesel

    @property
    def capacity_ml(self) -> int:
        """Nominal capacity π r² L of the true geometry (1 mL = 1000 mm³)."""
        r = self.diameter_mm / 2.0
        return round(math.pi * r * r * self.length_mm / 1000.0)


def design_tank(
    tank_id: str,
    station_id: str,
    product: str,
    capacity_l: float,
    expansion_ppm_per_c: int,
    rng: np.random.Generator,
) -> TankSpec:
    """A horizontal cylindrical underground tank of about that capacity.

    Typical Chinese station tanks hold 20–50 m³ with a diameter of 2.2–3.0 m; bigger tanks
    tend to be fatter. Dimensions are rounded to 10 mm as on a fabrication drawing.
    """
    if capacity_l <= 0:
        raise ValueError("capacity_l must be positive")
    base_m = float(np.interp(capacity_l / 1000.0, [20.0, 50.0], [2.4, 2.8]))
    d_mm = round(float(np.clip(base_m + rng.uniform(-0.2, 0.2), 2.2, 3.0)) * 100) * 10.0
    r = d_mm / 2.0
    length_mm = max(100.0, round(capacity_l * 1e6 / (math.pi * r * r) / 10.0) * 10.0)
    return TankSpec(
        tank_id=tank_id,
        station_id=station_id,
        product=product,
        diameter_mm=d_mm,
        length_mm=length_mm,
        expansion_ppm_per_c=expansion_ppm_per_c,
    )


def volumes_ml(spec: TankSpec, level_um: np.ndarray | float) -> np.ndarray:
    """Vectorised exact volume (mL) at liquid levels (µm), clipped to the tank."""
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
) -> list[tuple[int, int]]:
    """The station's registered 罐容表: [(level_um, volume_ml)] from 0 to the full diameter.

    A strapping chart comes from a one-off calibration, so its error is systematic: the
    true chart times (1 + e(level)) with e a random cubic (Legendre basis) whose RMS over
    the level range is ``error_sd``. That is what makes a tank "lose" fuel on paper at
    some fill heights and gain at others. Rounded to integers, then nudged to be strictly
    increasing as the registry loader demands.
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
    vols = np.rint(volumes_ml(spec, levels) * (1.0 + err)).astype(np.int64)
    vols[0] = 0
    idx = np.arange(points, dtype=np.int64)
    vols = np.maximum.accumulate(vols - idx) + idx  # v[i] ≥ v[i-1] + 1
    return [(int(lv), int(v)) for lv, v in zip(levels.tolist(), vols.tolist())]


def _as_events(events: Sequence[tuple[int, int, float]], t0_us: int) -> np.ndarray:
    """(n, 3) float array of (start_s, end_s, volume) relative to ``t0_us`` (exact for µs)."""
    a = np.array(events, dtype=np.float64).reshape(-1, 3)
    a[:, :2] = (a[:, :2] - float(t0_us)) / 1e6
    return a


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
) -> list[dict]:
    """``tank_reading`` records every ``interval_us`` in [start_us, end_us).

    The conserved quantity is the volume at 20 °C: V20(t) = initial − Σ draws(→20 °C)
    + Σ deliveries − leak·hours, events counted linearly over [start, end] and only from
    ``start_us`` on (``initial_volume20_ml`` is the V20 at ``start_us``). Draws are given
    at the fuel's temperature and converted with v / (1 + β(T − 20)) at their midpoint.

    Fuel temperature T = ground + daily cycle (``temp_cycle_c`` amplitude, afternoon peak)
    + an anomaly: each delivery arrives ``N(0, delivery_temp_sd_c)`` °C off ground, mixes in
    by volume while unloading and then relaxes with a ~1.5-day time constant. The gauge
    measures the total liquid height, so a water bottom of ``water_um`` (its volume from
    the true geometry) lies under the fuel; fuel = V(level) − V(water).

    RNG use, in order: one offset per delivery, level noise, temperature noise.
    """
    if interval_us <= 0:
        raise ValueError("interval_us must be positive")
    beta = spec.expansion_ppm_per_c * 1e-6
    t_us = np.arange(start_us, end_us, interval_us, dtype=np.int64)
    t = (t_us - start_us).astype(np.float64) / 1e6  # seconds since start
    dr = _as_events(draws, start_us)
    dl = _as_events(deliveries, start_us)
    offsets = rng.normal(0.0, delivery_temp_sd_c, size=len(dl))
    tau_s = _RELAX_H * 3600.0

    def leak(x: np.ndarray) -> np.ndarray:
        return leak_ml_per_h * x / 3600.0

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

    def response(x: np.ndarray, n: int) -> np.ndarray:
        """(n, len(x)) shape of the first n deliveries' anomalies: ramp in, then decay."""
        s, e = dl_s[:n, None], dl_e[:n, None]
        ramp = np.clip((x[None, :] - s) / np.maximum(e - s, 1e-9), 0.0, 1.0)
        return np.where(x[None, :] > e, np.exp(-(x[None, :] - e) / tau_s), ramp)

    for i in range(len(dl_s)):
        a_before = float(jumps[:i] @ response(dl_s[i : i + 1], i)[:, 0]) if i else 0.0
        v_tank = max(float(v_before[i]), 0.0)
        jumps[i] = (offsets[i] - a_before) * dl_v[i] / max(v_tank + dl_v[i], 1e-9)

    def temp_c(x: np.ndarray) -> np.ndarray:
        hours = (x * 1e6 + start_us) / _US_PER_H
        cycle = temp_cycle_c * np.cos(2.0 * math.pi * (hours + 8.0 - _PEAK_LOCAL_H) / 24.0)
        anomaly = jumps @ response(x, len(dl_s)) if len(dl_s) else 0.0
        return ground_temp_c + cycle + anomaly

    draw_t = temp_c((dr[:, 0] + dr[:, 1]) / 2.0)
    draw_v20 = dr[:, 2] / (1.0 + beta * (draw_t - 20.0))
    v20 = initial_volume20_ml + accrued((dl_s, dl_e, dl_v), t) - accrued((dr[:, 0], dr[:, 1], draw_v20), t) - leak(t)
    temp = temp_c(t)
    v_fuel = np.maximum(v20, 0.0) * (1.0 + beta * (temp - 20.0))
    water = int(round(water_um))
    level = levels_um(spec, v_fuel + true_volume_ml(spec, water))
    d_um = math.floor(spec.diameter_mm * 1000.0)
    level_noisy = np.clip(np.rint(level + rng.normal(0.0, noise_um, t.size)), 0, d_um)
    temp_mc = np.rint((temp + rng.normal(0.0, temp_noise_c, t.size)) * 1000.0)
    sid, tid = spec.station_id, spec.tank_id
    return [
        {
            "kind": "tank_reading",
            "station_id": sid,
            "tank_id": tid,
            "ts": ts_formatter(ts),
            "level_um": lv,
            "water_um": water,
            "temp_mc": tm,
        }
        for ts, lv, tm in zip(t_us.tolist(), level_noisy.astype(np.int64).tolist(), temp_mc.astype(np.int64).tolist())
    ]
