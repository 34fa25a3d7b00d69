"""The simulator's physical tank (卧式罐): geometry, 罐容表, and the 液位仪 readings."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin.sim.tank import (
    TankSpec,
    design_tank,
    levels_um,
    registry_chart,
    tank_readings,
    true_level_um,
    true_volume_ml,
    volumes_ml,
)

CST = timezone(timedelta(hours=8))
T0 = int(datetime(2026, 3, 1, tzinfo=CST).timestamp()) * 1_000_000  # local midnight
H = 3_600_000_000
MIN = 60_000_000


def fmt(t_us: int) -> str:
    return datetime.fromtimestamp(t_us / 1e6, CST).isoformat(timespec="milliseconds")


def spec(d: float = 2600.0, length: float = 6000.0, beta_ppm: int = 1200) -> TankSpec:
    return TankSpec(
        tank_id="T1",
        station_id="S1",
        product="92",
        diameter_mm=d,
        length_mm=length,
        expansion_ppm_per_c=beta_ppm,
    )


def quiet(s: TankSpec | None = None, **kw) -> list[dict]:
    """Readings with no noise and a constant fuel temperature, hourly for a day by default."""
    args = dict(
        start_us=T0,
        end_us=T0 + 24 * H,
        interval_us=H,
        initial_volume20_ml=15e6,
        draws=[],
        deliveries=[],
        rng=np.random.default_rng(0),
        noise_um=0.0,
        temp_noise_c=0.0,
        temp_cycle_c=0.0,
        delivery_temp_sd_c=0.0,
        ground_temp_c=20.0,
        ts_formatter=fmt,
    )
    args.update(kw)
    return tank_readings(s or spec(), **args)


def level_tol_ml(s: TankSpec, level_um: float) -> float:
    """Volume equivalent of the gauge's 1 µm resolution (±0.5 µm) at that level, plus 1 mL."""
    h, d = level_um / 1000.0, s.diameter_mm
    return 0.5e-3 * 2.0 * math.sqrt(max(h * (d - h), 0.0)) * s.length_mm / 1000.0 + 1.0


# --- geometry -------------------------------------------------------------------------------


def test_full_and_half_tank():
    s = spec(2540.0, 5920.0)
    full = math.pi * 1270.0**2 * 5920.0 / 1000.0
    assert true_volume_ml(s, 2_540_000) == pytest.approx(full, rel=1e-13)
    assert true_volume_ml(s, 1_270_000) == pytest.approx(full / 2, rel=1e-13)
    assert s.capacity_ml == round(full)
    assert true_volume_ml(s, 0) == 0.0
    assert true_level_um(s, full) == pytest.approx(2_540_000, abs=0.1)


def test_volume_matches_segment_formula_and_symmetry():
    s = spec()
    r, length = 1300.0, 6000.0
    for h in (1.0, 37.5, 400.0, 1299.0, 2000.0):
        a = r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(2 * r * h - h * h)
        assert true_volume_ml(s, h * 1000) == pytest.approx(a * length / 1000, rel=1e-9)
        # what is empty above level d-h equals what is full below h
        top = s.capacity_ml - true_volume_ml(s, (2 * r - h) * 1000)
        assert top == pytest.approx(true_volume_ml(s, h * 1000), abs=1.0)


@given(
    d=st.floats(1500, 3200),
    length=st.floats(2000, 12000),
    frac=st.floats(0.0, 1.0),
)
def test_level_volume_round_trip(d, length, frac):
    s = spec(d, length)
    level = frac * d * 1000
    assert abs(true_level_um(s, true_volume_ml(s, level)) - level) < 0.1
    v = frac * math.pi * (d / 2) ** 2 * length / 1000
    assert true_volume_ml(s, true_level_um(s, v)) == pytest.approx(v, rel=1e-9, abs=1e-6)


def test_round_trip_near_bottom_and_top_vectorised():
    s = spec()
    d_um = 2_600_000
    lv = np.concatenate([np.linspace(0, d_um, 50_001), [1e-3, 0.5, 3.0, d_um - 3.0, d_um - 1e-3]])
    assert np.abs(levels_um(s, volumes_ml(s, lv)) - lv).max() < 0.1
    assert np.all(np.diff(volumes_ml(s, np.linspace(0, d_um, 10_001))) > 0)


# --- design and registered chart ------------------------------------------------------------


@given(cap=st.floats(20_000, 50_000), seed=st.integers(0, 2**32))
def test_design_tank_is_plausible(cap, seed):
    s = design_tank("T9", "S9", "0", cap, 900, np.random.default_rng(seed))
    assert 2200 <= s.diameter_mm <= 3000
    assert s.length_mm > s.diameter_mm  # a long horizontal cylinder
    assert s.capacity_ml == pytest.approx(cap * 1000, rel=0.005)
    assert (s.tank_id, s.station_id, s.product, s.expansion_ppm_per_c) == ("T9", "S9", "0", 900)


def test_registry_chart_close_and_systematic():
    s = spec(2540.0, 5920.0)
    rels = []
    for seed in range(40):
        chart = registry_chart(s, np.random.default_rng(seed))
        a = np.array(chart, dtype=np.int64)
        assert len(chart) == 120 and a[0].tolist() == [0, 0] and a[-1, 0] == 2_540_000
        assert np.all(np.diff(a, axis=0) > 0)
        rel = a[1:, 1] / volumes_ml(s, a[1:, 0]) - 1.0
        assert np.abs(rel).max() < 0.006  # within a few ‰
        # systematic: neighbouring points err alike (white noise would give ~0 correlation)
        assert np.corrcoef(rel[:-1], rel[1:])[0, 1] > 0.9
        rels.append(np.sqrt(np.mean(rel**2)))
    assert np.mean(rels) == pytest.approx(0.0015, rel=0.2)


@settings(max_examples=60)
@given(
    seed=st.integers(0, 2**32),
    points=st.integers(2, 3000),
    sd=st.floats(0.0, 0.05),
    d=st.floats(1000, 3200),
)
def test_registry_chart_always_strictly_increasing(seed, points, sd, d):
    a = np.array(registry_chart(spec(d, 4000.0), np.random.default_rng(seed), points=points, error_sd=sd))
    assert len(a) == points and a[0, 0] == 0 and a[-1, 0] == round(d * 1000)
    assert np.all(np.diff(a[:, 0]) > 0) and np.all(np.diff(a[:, 1]) > 0)


# --- gauge readings -------------------------------------------------------------------------


def test_record_shape_and_times():
    recs = tank_readings(
        spec(),
        start_us=T0,
        end_us=T0 + 24 * H,
        initial_volume20_ml=1e7,
        draws=[],
        deliveries=[],
        rng=np.random.default_rng(1),
        ts_formatter=fmt,
    )
    assert len(recs) == 288  # 5-minute readings, end exclusive
    assert recs[0]["ts"] == "2026-03-01T00:00:00.000+08:00"
    assert recs[-1]["ts"] == "2026-03-01T23:55:00.000+08:00"
    keys = {"kind", "station_id", "tank_id", "ts", "level_um", "water_um", "temp_mc"}
    assert set(recs[0]) == keys
    for r in recs:
        assert r["kind"] == "tank_reading" and (r["station_id"], r["tank_id"]) == ("S1", "T1")
        assert all(type(r[k]) is int for k in ("level_um", "water_um", "temp_mc"))


def test_constant_temperature_volume_is_initial_minus_draws():
    s = spec()
    rng = np.random.default_rng(7)
    starts = np.sort(rng.uniform(0, 24 * H, 200)).astype(np.int64) + T0
    draws = [(int(t), int(t) + int(rng.integers(20, 180)) * 1_000_000, float(rng.uniform(5e3, 8e4))) for t in starts]
    beta, temp = 1200e-6, 15.0
    recs = quiet(s, interval_us=5 * MIN, draws=draws, ground_temp_c=temp)
    for r in recs:
        assert r["temp_mc"] == 15_000
        t = int(datetime.fromisoformat(r["ts"]).timestamp() * 1e6)
        drawn = sum(v * min(max((t - a) / (b - a), 0.0), 1.0) for a, b, v in draws)
        # draws are volumes at 15 °C; at constant temperature they subtract one to one
        expected = 15e6 * (1 + beta * (temp - 20.0)) - drawn
        assert abs(r["level_um"] - true_level_um(s, expected)) <= 0.5 + 1e-6
        got = true_volume_ml(s, r["level_um"])
        assert abs(got - expected) <= level_tol_ml(s, r["level_um"])


def test_draw_spanning_a_reading_is_split_linearly():
    s = spec()
    draw = (T0 + H - 30_000_000, T0 + H + 90_000_000, 12_000.0)  # a quarter done at T0+1h
    recs = quiet(s, draws=[draw], end_us=T0 + 3 * H)
    assert [r["level_um"] for r in recs] == [
        round(true_level_um(s, v)) for v in (15e6, 15e6 - 3_000.0, 15e6 - 12_000.0)
    ]


def test_events_before_start_are_already_in_the_initial_volume():
    s = spec()
    draws = [(T0 - 2 * H, T0 - H, 50_000.0), (T0 - 60_000_000, T0 + 60_000_000, 10_000.0)]
    recs = quiet(s, draws=draws, end_us=T0 + 2 * H)
    assert [r["level_um"] for r in recs] == [round(true_level_um(s, v)) for v in (15e6, 15e6 - 5e3)]


def test_leak_of_760_ml_per_h_over_10_hours():
    s = spec()
    recs = quiet(s, leak_ml_per_h=760.0, end_us=T0 + 10 * H + 1, interval_us=10 * MIN, ground_temp_c=12.0)
    assert len(recs) == 61
    f = 1 + 1200e-6 * (12.0 - 20.0)
    v20 = np.array([true_volume_ml(s, r["level_um"]) for r in recs]) / f
    tol = 2 * level_tol_ml(s, recs[0]["level_um"]) / f
    assert v20[0] - v20[-1] == pytest.approx(7_600.0, abs=tol)
    hours = np.arange(61) / 6
    assert -np.polyfit(hours, v20, 1)[0] == pytest.approx(760.0, abs=2.0)


def test_delivery_raises_v20_linearly_while_unloading():
    s = spec()
    dl = (T0 + 2 * H, T0 + 4 * H, 10_000_000.0)
    recs = quiet(s, initial_volume20_ml=8e6, deliveries=[dl], end_us=T0 + 6 * H)
    expected = [8e6, 8e6, 8e6, 13e6, 18e6, 18e6]
    assert [r["level_um"] for r in recs] == [round(true_level_um(s, v)) for v in expected]


def test_warm_delivery_changes_temperature_but_conserves_v20():
    s = spec()
    dl = (T0 + 2 * H, T0 + 3 * H, 12_000_000.0)
    recs = quiet(
        s,
        initial_volume20_ml=10e6,
        deliveries=[dl],
        end_us=T0 + 6 * 24 * H,
        ground_temp_c=16.0,
        delivery_temp_sd_c=4.0,
        rng=np.random.default_rng(6),
    )
    temp = np.array([r["temp_mc"] for r in recs]) / 1000.0
    assert np.all(temp[:3] == 16.0)
    step = temp[3] - 16.0
    # the delivered fuel was off ground temperature (the first rng draw) and mixes by volume…
    offset = np.random.default_rng(6).normal(0.0, 4.0)
    assert step == pytest.approx(offset * 12 / 22, abs=0.001)
    assert abs(step) > 0.5
    day = temp[3 + 24] - 16.0
    assert math.exp(-1.0) < day / step < math.exp(-0.5)  # …and relaxes with τ of 1–2 days
    assert abs(temp[-1] - 16.0) < abs(step) * 0.1
    v20 = np.array([true_volume_ml(s, r["level_um"]) for r in recs]) / (1 + 1200e-6 * (temp - 20))
    assert np.abs(v20[3:] - 22e6).max() < 40.0  # gauge resolution + 1 m°C temperature resolution
    level = np.array([r["level_um"] for r in recs[3:]])
    assert np.sign(np.diff(level[[0, -1]]))[0] == -np.sign(step)  # fuel contracts as it cools


def test_daily_cycle_peaks_in_the_afternoon_and_v20_is_constant():
    s = spec()
    recs = quiet(s, temp_cycle_c=0.4, ground_temp_c=18.0, interval_us=15 * MIN, end_us=T0 + 48 * H)
    temp = np.array([r["temp_mc"] for r in recs]) / 1000.0
    assert temp.max() == pytest.approx(18.4, abs=0.002)
    assert temp.min() == pytest.approx(17.6, abs=0.002)
    peak_hour = (int(np.argmax(temp[:96])) * 15) / 60
    assert 13 <= peak_hour <= 17
    v = np.array([true_volume_ml(s, r["level_um"]) for r in recs])
    assert v.max() - v.min() > 15e6 * 1200e-6 * 0.7  # the fuel breathes with the temperature
    v20 = v / (1 + 1200e-6 * (temp - 20))
    assert np.abs(v20 - 15e6).max() < 20.0


def test_noise_statistics():
    s = spec()
    recs = tank_readings(
        s,
        start_us=T0,
        end_us=T0 + 10 * 24 * H,
        initial_volume20_ml=15e6,
        draws=[],
        deliveries=[],
        rng=np.random.default_rng(3),
        ground_temp_c=20.0,
        temp_cycle_c=0.0,
        ts_formatter=fmt,
    )
    true = true_level_um(s, 15e6)
    lv = np.array([r["level_um"] for r in recs]) - true
    tm = np.array([r["temp_mc"] for r in recs]) - 20_000
    assert len(lv) == 2880
    assert abs(lv.mean()) < 2.0 and lv.std() == pytest.approx(25.0, rel=0.07)
    assert abs(tm.mean()) < 4.0 and tm.std() == pytest.approx(50.0, rel=0.07)


def test_water_bottom_lies_under_the_fuel():
    s = spec()
    recs = quiet(s, water_um=30_000.4, end_us=T0 + H)
    assert recs[0]["water_um"] == 30_000
    fuel = true_volume_ml(s, recs[0]["level_um"]) - true_volume_ml(s, 30_000)
    assert fuel == pytest.approx(15e6, abs=level_tol_ml(s, recs[0]["level_um"]))


def test_levels_clipped_to_the_tank():
    s = spec()
    full = tank_readings(
        s,
        start_us=T0,
        end_us=T0 + 24 * H,
        initial_volume20_ml=s.capacity_ml,
        draws=[],
        deliveries=[],
        rng=np.random.default_rng(2),
        noise_um=500.0,
        ground_temp_c=20.0,
        ts_formatter=fmt,
    )
    empty = quiet(s, initial_volume20_ml=1000.0, draws=[(T0, T0 + H, 5000.0)], noise_um=500.0)
    assert max(r["level_um"] for r in full) == 2_600_000
    assert min(r["level_um"] for r in empty) == 0


def test_deterministic_for_a_seed():
    def run(seed: int):
        rng = np.random.default_rng(seed)
        s = design_tank("T1", "S1", "95", 30_000, 1200, rng)
        chart = registry_chart(s, rng)
        draws = [(T0 + i * 10 * MIN, T0 + i * 10 * MIN + MIN, 30_000.0) for i in range(100)]
        dls = [(T0 + 5 * H, T0 + 6 * H, 9e6)]
        recs = tank_readings(
            s,
            start_us=T0,
            end_us=T0 + 24 * H,
            initial_volume20_ml=12e6,
            draws=draws,
            deliveries=dls,
            rng=rng,
            leak_ml_per_h=100.0,
            ts_formatter=fmt,
        )
        return s, chart, recs

    assert run(42) == run(42)
    assert run(42)[2] != run(43)[2]
