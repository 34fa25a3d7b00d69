"""The family of simulated worlds (anxin.sim.world, issue 12 item 2): the default world is
the simulator of before, every world makes data the witness accepts, each parameter
changes what it should, and the robustness scoring counts what it says."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from typer.testing import CliRunner

from anxin.engine.stats import WitnessSettings, estimate_tank
from anxin.engine.stats.models import MeterEstimate, TankEstimate
from anxin.sim import City, ScenarioSet
from anxin.sim.robustness import (
    DAY_US,
    Evaluated,
    Look,
    NozzleOutcome,
    TankOutcome,
    aggregate,
    chart_scores,
    evaluate_scene,
    make_scenes,
    score_scene,
    wilson,
)
from anxin.sim.station import depot_of, plan_station
from anxin.sim.synth_tank import T0, synth_tank
from anxin.sim.tank import TankSpec, gauge_series, levels_um, registry_chart, segment_area_mm2, volumes_ml
from anxin.sim.world import WORLDS, World, WorldError

H = 3_600_000_000
GOLDEN = Path(__file__).parent / "data" / "sim_default_world_golden.json"


def _city_features(world: World | None) -> dict:
    """What tests/data/sim_default_world_golden.json holds, from a 2-station, 2-day city."""
    city = City.build(stations=2, seed=3, days=2, scenarios=ScenarioSet.honest(), world=world)
    out = {}
    for st in city.stations:
        p = plan_station(st, city.config)
        rd = [(tid, ts, msgspec.json.decode(line)) for tid, ts, line in p.readings]
        out[st.station_id] = {
            "n_readings": len(rd),
            "readings": [[tid, ts, r["level_um"], r["water_um"], r["temp_mc"]] for tid, ts, r in rd[::97]],
            "deliveries": [[tid, s, e, v] for tid, s, e, v in p.deliveries],
            "charts": {t.spec.tank_id: [list(c) for c in t.chart[::17]] for t in st.tanks},
        }
    return out


# ---------------------------------------------------------------- the default world
def test_default_world_reproduces_the_simulator_of_before() -> None:
    """The golden file was written by the simulator before worlds existed (commit eefb143…
    plus its successors up to the world's introduction). Gauge levels, temperatures and
    chart volumes may move by one unit where a last-ulp difference of a NumPy build flips
    a rounding; everything else is equal."""
    want = json.loads(GOLDEN.read_text())
    got = _city_features(WORLDS["default"])
    assert set(got) == set(want)
    for sid, w in want.items():
        g = got[sid]
        assert g["n_readings"] == w["n_readings"]
        assert len(g["readings"]) == len(w["readings"])
        for a, b in zip(g["readings"], w["readings"]):
            assert a[:2] == b[:2] and a[3] == b[3]
            assert abs(a[2] - b[2]) <= 1 and abs(a[4] - b[4]) <= 1
        assert [d[:3] for d in g["deliveries"]] == [d[:3] for d in w["deliveries"]]
        assert all(abs(a[3] - b[3]) <= 1 for a, b in zip(g["deliveries"], w["deliveries"]))
        assert set(g["charts"]) == set(w["charts"])
        for tid, chart in w["charts"].items():
            assert [c[0] for c in g["charts"][tid]] == [c[0] for c in chart]
            assert all(abs(a[1] - b[1]) <= 1 for a, b in zip(g["charts"][tid], chart))


def test_default_world_is_what_no_world_gives() -> None:
    assert World().is_default and WORLDS["default"] == World()
    assert _city_features(None) == _city_features(WORLDS["default"])
    assert not WORLDS["tilted"].is_default
    # The name does not make a world: the same physics under another name is the default.
    assert World(name="mine", description="x").is_default


# ---------------------------------------------------------------- the named worlds
def test_the_named_worlds_span_the_axes_of_the_issue() -> None:
    assert len(WORLDS) >= 12
    for name in ("default", "independent", "harsh"):
        assert name in WORLDS
    ind = WORLDS["independent"]
    assert ind.note_sd_permille == 2.0 and ind.delivery_temp_range_c == 6.0 and ind.delivery_temp_vs_tank
    assert ind.mixing_tau_h == 0 and ind.level_noise_um == 25.0 and ind.reading_interval_min == 5.0
    assert ind.nozzles_per_tank == (2, 6) and ind.strapping_capacity_permille == (0.1, 0.3)
    d = World()
    for field in (
        "depot_bias_sd_permille",
        "mixing_tau_h",
        "chart_scale_permille",
        "tilt_deg",
        "end_caps",
        "strapping_point_permille",
        "level_resolution_um",
        "gaps_per_day",
        "delivery_on_reading",
        "twin_share",
        "water_ingress_mm_per_day",
        "evaporation_ml_per_h",
    ):
        assert any(getattr(w, field) != getattr(d, field) for w in WORLDS.values()), field


@pytest.mark.parametrize("name", list(WORLDS))
def test_every_world_makes_data_the_witness_accepts(name: str) -> None:
    data, truth = synth_tank(world=name, seed=5, days=3, errors={"A": 0.001, "B": -0.001})
    assert truth["world"] == name and len(truth["true_ml"]) == len(data.dispensings)
    est = estimate_tank(data, WitnessSettings())
    assert est is not None
    assert math.isfinite(est.loss_l_per_h) and {m.nozzle_id for m in est.meters} <= {"A", "B"}


def test_synth_tank_without_a_world_is_unchanged_by_the_world_arguments() -> None:
    a, _ = synth_tank(seed=3, days=2, errors={"A": 0.002})
    b, _ = synth_tank(seed=3, days=2, errors={"A": 0.002}, noise_um=25.0, temp_noise_c=0.05, chart_points=120)
    assert msgspec.json.encode(a) == msgspec.json.encode(b)
    c, _ = synth_tank(seed=3, days=2, nozzles=3)
    assert {d[0] for d in c.dispensings} == {"N1", "N2", "N3"}


# ---------------------------------------------------------------- loading
def test_load_by_name_and_from_toml_and_json(tmp_path: Path) -> None:
    assert World.load("tilted") is WORLDS["tilted"]
    toml = tmp_path / "w.toml"
    toml.write_text('tilt_deg = 0.25\nnozzles_per_tank = [3, 5]\nend_caps = "dished"\n')
    w = World.load(toml)
    assert (w.tilt_deg, w.nozzles_per_tank, w.end_caps, w.name) == (0.25, (3, 5), "dished", "w")
    assert w.level_noise_um == World().level_noise_um  # the rest: the default world
    js = tmp_path / "j.json"
    js.write_text(json.dumps({"base": "independent", "level_noise_um": 60.0}))
    j = World.load(js)
    assert j.level_noise_um == 60.0 and j.note_sd_permille == WORLDS["independent"].note_sd_permille


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('tilt_deg = "steep"', "tilt_deg"),
        ("tilt_deg = 9.0", "tilt_deg"),
        ("tilt_degrees = 0.1", "tilt_degrees"),
        ('end_caps = "domed"', "end_caps"),
        ("nozzles_per_tank = [5, 2]", "nozzles_per_tank"),
        ('base = "mars"', "base"),
    ],
)
def test_load_rejects_a_bad_field_naming_it(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(WorldError, match=f"'{field}'"):
        World.load(path)


def test_load_rejects_an_unknown_name_and_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="unknown world 'venus'"):
        World.load("venus")
    bad = tmp_path / "broken.toml"
    bad.write_text("tilt_deg = = 1\n")
    with pytest.raises(WorldError, match="cannot read world file"):
        World.load(bad)


def test_simulate_command_takes_a_world(tmp_path: Path) -> None:
    from anxin.cli import app

    out = tmp_path / "city"
    args = ["simulate", str(out), "--stations", "1", "--days", "1", "--workers", "1", "--world", "tilted"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    truth = Path(str(out) + ".truth")
    assert msgspec.json.decode((truth / "world.json").read_bytes())["tilt_deg"] == 0.5
    lines = (truth / "charts.jsonl").read_bytes().splitlines()
    assert lines and all(msgspec.json.decode(x)["tilt_deg"] == 0.5 for x in lines)
    res = CliRunner().invoke(app, ["simulate", str(tmp_path / "x"), "--world", "venus"])
    assert res.exit_code == 2 and "venus" in res.output


# ---------------------------------------------------------------- geometry
def _spec(**kw) -> TankSpec:
    return TankSpec(
        tank_id="T", station_id="S", product="92", diameter_mm=2600.0, length_mm=6000.0, expansion_ppm_per_c=1200, **kw
    )


@pytest.mark.parametrize("gauge", [0.2, 0.5, 0.9])
def test_tilt_changes_true_volume_by_the_geometric_amount(gauge: float) -> None:
    tilted, level = _spec(tilt_deg=0.5, gauge_position=gauge), _spec()
    tan = math.tan(math.radians(0.5))
    x = np.linspace(0.0, 6000.0, 60_001)
    for h_mm in (150.0, 700.0, 1300.0, 2100.0, 2500.0):
        depth = h_mm + (gauge * 6000.0 - x) * tan  # deeper towards the low end (x = 0)
        expected = np.trapezoid(segment_area_mm2(2600.0, depth), x) / 1000.0
        got = float(volumes_ml(tilted, h_mm * 1000.0))
        assert got == pytest.approx(expected, abs=2.0)
        assert float(levels_um(tilted, got)) == pytest.approx(h_mm * 1000.0, abs=2.0)
    # A gauge nearer the low end reads deeper than the mean depth: that is (gauge − 0.5)·L·tan θ off.
    if gauge != 0.5:
        shift_um = (gauge - 0.5) * 6000.0 * tan * 1000.0
        mid = float(volumes_ml(tilted, 1300e3))
        assert float(levels_um(level, mid)) == pytest.approx(1300e3 + shift_um, abs=300.0)


def test_heads_add_their_volume() -> None:
    hemi = _spec(head_depth_mm=1300.0)
    r = 1300.0
    assert hemi.capacity_ml == round((math.pi * r * r * 6000.0 + 4.0 / 3.0 * math.pi * r**3) / 1000.0)
    assert float(volumes_ml(hemi, 2600e3)) == pytest.approx(hemi.capacity_ml, abs=5.0)
    assert float(volumes_ml(hemi, 1300e3)) == pytest.approx(hemi.capacity_ml / 2.0, abs=5.0)
    h = 400.0  # a spherical cap at the ends: π h²(3r − h)/3 in all
    cap = math.pi * h * h * (3 * r - h) / 3.0 / 1000.0
    assert float(volumes_ml(hemi, h * 1000.0)) == pytest.approx(float(volumes_ml(_spec(), h * 1000.0)) + cap, abs=5.0)
    # A flat-ended chart of the same capacity: right when full, wrong in between.
    chart = registry_chart(hemi, np.random.default_rng(1), error_sd=0.0, heads="flat")
    assert chart[-1][1] == pytest.approx(hemi.capacity_ml, abs=2)
    level, registered = next((lv, v) for lv, v in chart if lv >= 400_000)
    assert registered > 1.01 * float(volumes_ml(hemi, level))  # heads hold less near the bottom


def test_chart_scale_and_strapping_errors() -> None:
    s = _spec()
    levels = np.asarray([lv for lv, _ in registry_chart(s, np.random.default_rng(2), error_sd=0.0)], dtype=float)
    true = volumes_ml(s, levels)
    scaled = registry_chart(s, np.random.default_rng(2), error_sd=0.0, scale=0.005, aux_rng=np.random.default_rng(9))
    rel = np.asarray([v for _, v in scaled])[10:] / true[10:] - 1.0
    assert np.allclose(np.abs(rel), 0.005, atol=2e-5) and (np.sign(rel) == np.sign(rel[0])).all()
    strap = registry_chart(s, np.random.default_rng(2), error_sd=0.0, point_sd=0.003, aux_rng=np.random.default_rng(9))
    rel = np.asarray([v for _, v in strap])[10:] / true[10:] - 1.0
    assert np.abs(rel).max() <= 0.003 + 1e-4 and np.abs(rel).max() > 0.002
    assert np.abs(np.diff(rel)).mean() > 0.001  # independent per point, not smooth
    absolute = registry_chart(
        s, np.random.default_rng(2), error_sd=0.0, capacity_range=(0.0001, 0.0003), aux_rng=np.random.default_rng(9)
    )
    err = np.abs(np.asarray([v for _, v in absolute])[1:] - true[1:]) / s.capacity_ml
    assert err.min() >= 0.0001 - 1e-6 and err.max() <= 0.0003 + 1e-6


# ---------------------------------------------------------------- the gauge and the tank
def _series(world: World, seed: int = 4, **kw):
    s = _spec()
    args = dict(
        start_us=T0,
        end_us=T0 + 48 * H,
        initial_volume20_ml=15e6,
        draws=[(T0 + i * H, T0 + i * H + 60_000_000, 40_000.0) for i in range(1, 47)],
        deliveries=[(T0 + 10 * H, T0 + 10 * H + 20 * 60_000_000, 8e6)],
        rng=np.random.default_rng(seed),
        ground_temp_c=16.0,
        world=world,
        **world.reading_kwargs(),
    )
    args.update(kw)
    return gauge_series(s, **args)


def test_resolution_quantises_levels_and_temperatures() -> None:
    g = _series(World(level_resolution_um=100, temp_resolution_mc=100))
    assert (g.level_um % 100 == 0).all() and (g.temp_mc % 100 == 0).all()
    f = _series(World())
    assert (f.level_um % 100 != 0).mean() > 0.9


def test_gaps_remove_readings() -> None:
    full = _series(World())
    gappy = _series(World(gaps_per_day=6.0, gap_mean_min=60.0))
    assert full.t_us.size == full.readings_planned == 48 * 12
    assert gappy.readings_planned == full.readings_planned and gappy.t_us.size < full.t_us.size - 12
    assert np.diff(gappy.t_us).max() > 2 * 300_000_000
    kept = np.isin(full.t_us, gappy.t_us)  # the same physics at the readings kept
    assert np.array_equal(full.true_level_um[kept], gappy.true_level_um)


def test_water_ingress_raises_water_um() -> None:
    g = _series(World(water_ingress_mm_per_day=2.0, water_resolution_um=100), water_um=5000.0)
    assert g.water_um[0] == 5000 and g.water_um[-1] == pytest.approx(5000 + 2000 * 47.9 / 24, abs=100)
    assert (np.diff(g.water_um) >= 0).all() and (g.water_um % 100 == 0).all()
    still = _series(World(), water_um=5000.0)
    assert (still.water_um == 5000).all()
    assert (g.true_level_um[-1] - still.true_level_um[-1]) > 200.0  # ~7 L of water under the fuel lifts it


def test_evaporation_is_a_real_loss() -> None:
    a, b = _series(World()), _series(World(evaporation_ml_per_h=200.0))
    hours = (a.t_us - T0) / H
    assert np.allclose(a.v20_ml - b.v20_ml, 200.0 * hours, atol=1e-3)
    assert b.evaporated_ml == pytest.approx(200.0 * 48)


def test_slow_mixing_changes_what_the_probe_sees_not_the_volume() -> None:
    mixed = _series(World(delivery_temp_sd_c=6.0))
    layered = _series(World(delivery_temp_sd_c=6.0, mixing_tau_h=6.0, probe_height=0.02))
    assert np.array_equal(mixed.true_level_um, layered.true_level_um)
    assert np.array_equal(mixed.true_temp_c, layered.true_temp_c)
    after = (layered.t_us > T0 + 10 * H + 20 * 60_000_000) & (layered.t_us < T0 + 12 * H)
    late = layered.t_us > T0 + 46 * H
    dev = layered.probe_temp_c - layered.true_temp_c
    assert np.abs(dev[after]).min() > 0.05 and np.abs(dev[late]).max() < np.abs(dev[after]).min() / 20
    assert np.array_equal(mixed.probe_temp_c, mixed.true_temp_c)


def test_uniform_delivery_temperatures_relative_to_the_tank() -> None:
    g = _series(World(delivery_temp_range_c=6.0, delivery_temp_vs_tank=True, temp_cycle_c=0.0))
    jump = g.true_temp_c[(g.t_us >= T0 + 11 * H)][0] - g.true_temp_c[g.t_us < T0 + 10 * H][-1]
    # 8 m³ into about 15 m³: at most 6 °C × 8/23 (less the draws), plus a little relaxation.
    assert 0.0 < abs(jump) < 6.0 * 8.0 / 22.0


def test_depot_bias_shifts_the_notes() -> None:
    base, _ = synth_tank(world="default", seed=8, days=4, depot_bias_permille=0.0)
    biased, truth = synth_tank(world="default", seed=8, days=4, depot_bias_permille=5.0)
    assert truth["depot_bias_permille"] == 5.0 and base.deliveries
    for (a0, a1, v0), (b0, b1, v1) in zip(base.deliveries, biased.deliveries):
        assert (a0, a1) == (b0, b1) and v1 - v0 == pytest.approx(0.005 * v0, rel=0.01)
    assert base.reading_level_um == biased.reading_level_um  # the tank itself did not change


def test_depots_are_shared_by_the_stations_of_a_city() -> None:
    w = World(depot_bias_sd_permille=2.0, depots=3)
    cfg = City.build(stations=12, seed=1, days=1, world=w).config
    got = {depot_of(cfg, f"S{i:04d}") for i in range(1, 13)}
    assert 1 < len({d for d, _ in got}) <= 3 and len(got) == len({d for d, _ in got})
    assert all(b != 0.0 for _, b in got)
    own = City.build(stations=3, seed=1, days=1, world=World(depot_bias_sd_permille=2.0)).config
    assert len({depot_of(own, f"S{i:04d}")[0] for i in range(1, 4)}) == 3
    assert depot_of(City.build(stations=1, seed=1, days=1).config, "S0001")[1] == 0.0


def test_deliveries_start_on_a_reading_when_the_world_says_so() -> None:
    for w, on in ((World(), False), (World(delivery_on_reading=True, reading_interval_min=1.0), True)):
        city = City.build(stations=3, seed=2, days=3, scenarios=ScenarioSet.honest(), world=w)
        starts = [s for st in city.stations for _, s, _, _ in plan_station(st, city.config).deliveries]
        assert starts
        aligned = [(s - city.config.t0_us) % w.interval_us == 0 for s in starts]
        assert all(aligned) if on else not any(aligned)


def test_twins_sell_on_the_first_nozzles_pattern_and_nozzle_counts_follow_the_world() -> None:
    data, _ = synth_tank(world="twins", seed=3, days=2)
    by: dict[str, list[int]] = {}
    for nz, _, s, _, _ in data.dispensings:
        by.setdefault(nz, []).append(s)
    assert len(by) == 8
    lead = np.asarray(sorted(by["N1"]))
    for nz, starts in by.items():
        gap = np.asarray([lead[np.searchsorted(lead, s, side="right") - 1] for s in starts if s >= lead[0]])
        near = (np.asarray([s for s in starts if s >= lead[0]]) - gap) <= 10 * 60_000_000
        assert near.mean() > 0.5, nz
    for seed in range(6):
        d, _ = synth_tank(world="independent", seed=seed, days=1)
        assert 2 <= len({x[0] for x in d.dispensings}) <= 6


# ---------------------------------------------------------------- robustness scoring
def _meter(nz: str, est: float, lo: float, hi: float, status: str) -> MeterEstimate:
    return MeterEstimate(nozzle_id=nz, segment=0, error_permille=est, ci95_permille=(lo, hi), n=100, status=status)


def _tank(
    meters: list[MeterEstimate], leak: bool = False, pooled: float | None = None, anchored: bool = True
) -> TankEstimate:
    return TankEstimate(
        tank_id="T1",
        station_id="S1",
        loss_l_per_h=0.0,
        loss_ci95_l_per_h=(-0.1, 0.1),
        leak_suspected=leak,
        hours=72.0,
        readings_used=100,
        readings_rejected={},
        meters=meters,
        residual_sd_ml=1.0,
        pooled_permille=pooled,
        scale_anchored=anchored,
    )


def _looked(plan: dict[int, dict[str, tuple[float, float, str]]], anchored: bool = True, nozzles: int = 2):
    scene = make_scenes(World(nozzles_per_tank=(nozzles, nozzles)), seed=1, days=4, tanks=1)[0]
    calls: list[int] = []

    def fake(data, settings):
        day = round((max(data.reading_t) - T0) / DAY_US + 0.5)
        calls.append(day)
        return _tank(
            [_meter(nz, (lo + hi) / 2, lo, hi, st) for nz, (lo, hi, st) in plan[day].items()], anchored=anchored
        )

    ev = evaluate_scene(scene, WitnessSettings(), looks=True, estimate=fake)
    assert sorted(calls) == [1, 2, 3, 4] and ev.looks is not None and len(ev.looks) == 4
    return {n.nozzle_id: n for n in score_scene(scene, ev).nozzles}


def test_looks_count_a_meter_drift_as_the_engine_raises_it() -> None:
    """A candidate (a violation within twice the limit) at two consecutive looks; a strong
    finding (its interval beyond twice the limit) at once; nothing when the scale is not
    anchored unless strong."""
    n1, n2 = "N1", "N2"
    v, ok, strong = (3.5, 5.0, "violation"), (-1.0, 1.0, "ok"), (7.0, 9.0, "violation")
    plan = {  # N1 violates on days 1 and 3 only, N2 on days 2 and 3
        1: {n1: v, n2: ok},
        2: {n1: ok, n2: v},
        3: {n1: v, n2: v},
        4: {n1: ok, n2: ok},
    }
    out = _looked(plan)
    assert out[n1].meter_drift is False and out[n2].meter_drift is True
    assert out[n1].status == "ok" and out[n1].looks == 4
    assert _looked(plan, anchored=False)[n2].meter_drift is False
    once = {1: {n1: strong, n2: ok}, 2: {n1: ok, n2: ok}, 3: {n1: ok, n2: ok}, 4: {n1: ok, n2: ok}}
    assert _looked(once)[n1].meter_drift is True and _looked(once, anchored=False)[n1].meter_drift is True


def test_aggregate_scores_hand_made_outcomes() -> None:
    def nz(kind, true, est, lo, hi, status, drift=False):
        return NozzleOutcome(
            nozzle_id="N",
            kind=kind,
            true_permille=true,
            est_permille=est,
            lo=lo,
            hi=hi,
            status=status,
            meter_drift=drift,
            looks=7,
        )

    def tank(nozzles, leak, suspected, pooled=None, pooled_true=0.0, chart=None):
        return TankOutcome(
            world="w",
            seed=1,
            days=7,
            index=0,
            nozzles=nozzles,
            leak_l_per_h=leak,
            evaporation_l_per_h=0.0,
            leak_suspected=suspected,
            loss_l_per_h=0.0,
            pooled_true_permille=pooled_true,
            pooled_permille=pooled,
            pooled_ci95_permille=None,
            chart_rmse_raw_l=None if chart is None else chart[0],
            chart_rmse_l=None if chart is None else chart[1],
        )

    tanks = [
        tank(
            [
                nz("honest", 1.0, 2.0, 0.0, 3.0, "ok"),
                nz("honest", 0.0, 0.0, 1.0, 2.0, "ok"),
                nz("drift", 8.0, 8.1, 6.0, 10.0, "violation"),
            ],
            0.76,
            True,
            pooled=1.5,
            pooled_true=1.0,
            chart=(4.0, 1.0),
        ),
        tank(
            [nz("honest", -1.0, 2.0, -9.0, 9.0, "insufficient"), nz("honest", 0.5, 4.5, 3.1, 6.0, "violation", True)],
            0.0,
            False,
        ),
        tank([nz("drift", -8.0, -2.0, -4.0, 0.0, "watch")], 0.0, True),
    ]
    r = aggregate("w", 7, tanks)
    assert (r.honest, r.insufficient, r.honest_estimated) == (4, 1, 3)
    assert r.rmse_permille == pytest.approx(math.sqrt((1.0 + 0.0 + 16.0) / 3))
    assert r.coverage == pytest.approx(2 / 4)  # the insufficient one counts, its wide interval covers
    assert r.z_rms == pytest.approx(math.sqrt(((1.0 * 3.919928 / 3.0) ** 2 + 0.0 + (4.0 * 3.919928 / 2.9) ** 2) / 3))
    assert r.honest_violation == 1 and r.false_drift == 1
    assert r.honest_nozzle_weeks == pytest.approx(4.0) and r.false_drift_per_1000_nw == pytest.approx(250.0)
    assert (r.drifted, r.drifted_found) == (2, 1)
    assert (r.leak_tanks, r.leak_detected, r.tight_tanks, r.tight_alarmed) == (1, 1, 2, 1)
    assert r.pooled_n == 1 and r.pooled_rmse_permille == pytest.approx(0.5)
    assert r.chart_n == 1 and r.chart_rmse_l == pytest.approx(1.0)
    assert r.passed == {
        "coverage": False,
        "violation": False,
        "drift_alarm": False,
        "found7": False,
        "rmse": False,
        "leak": False,
    }
    clean = aggregate("w", 7, [tank([nz("honest", 0.0, 0.1, -1.0, 1.0, "ok")], 0.0, False)])
    assert clean.passed["violation"] and clean.passed["rmse"] and clean.passed["drift_alarm"]
    assert clean.passed["found7"] is None and clean.passed["leak"] is None  # nothing to judge


def test_coverage_is_judged_with_its_sampling_error() -> None:
    def row(covered: int, n: int):
        nozzles = [
            NozzleOutcome(
                nozzle_id=f"N{i}",
                kind="honest",
                true_permille=0.0 if i < covered else 5.0,
                est_permille=0.0,
                lo=-1.0,
                hi=1.0,
                status="ok",
                meter_drift=None,
                looks=0,
            )
            for i in range(n)
        ]
        tank = TankOutcome(
            world="w",
            seed=1,
            days=30,
            index=0,
            nozzles=nozzles,
            leak_l_per_h=0.0,
            evaporation_l_per_h=0.0,
            leak_suspected=False,
            loss_l_per_h=0.0,
            pooled_true_permille=0.0,
            pooled_permille=None,
            pooled_ci95_permille=None,
            chart_rmse_raw_l=None,
            chart_rmse_l=None,
        )
        return aggregate("w", 30, [tank])

    lo, hi = wilson(57, 60)
    assert lo < 57 / 60 < hi and wilson(60, 60)[1] == 1.0 and 0.93 < wilson(60, 60)[0] < 0.95
    assert row(60, 60).passed["coverage"]  # an exact 95 % interval shows this one row in twenty
    assert not row(600, 600).passed["coverage"]  # … but not on 600 nozzles: too wide
    assert row(55, 60).passed["coverage"] and not row(53, 60).passed["coverage"]  # below 90 % fails as measured


def test_chart_scores_remove_the_unobservable_constant() -> None:
    truth = [(0, 0.0), (1000, 10.0), (2000, 30.0), (3000, 20.0)]
    assert chart_scores([], truth) is None
    raw, left = chart_scores([(1000, 110.0), (2000, 130.0), (3000, 120.0)], truth)  # truth + 100 mL
    assert left == pytest.approx(0.0) and raw == pytest.approx(math.sqrt(((10 - 20) ** 2 + 10**2 + 0) / 3) / 1000)


def test_scenes_hold_their_truth() -> None:
    w = WORLDS["independent"]
    scenes = make_scenes(w, seed=2, days=2, tanks=8)
    assert make_scenes(w, seed=2, days=2, tanks=8, only=5)[0].data == scenes[5].data
    for sc in scenes:
        honest = [e for nz, e in sc.errors_permille.items() if nz not in sc.drifted]
        assert all(abs(e) < 2.0 for e in honest)
        assert all(7.0 <= abs(sc.errors_permille[nz]) <= 10.0 for nz in sc.drifted)
        assert (sc.leak_l_per_h > 0) == (sc.index in (0, 3, 6))
        assert len(sc.true_ml) == len(sc.data.dispensings) and len(sc.chart_error) == len(sc.data.chart)
    assert sum(bool(sc.drifted) for sc in scenes) == 4
    ev = Evaluated(final=None, looks=[Look(day=1, statuses={})])
    out = score_scene(scenes[0], ev)
    assert all(n.status is None for n in out.nozzles) and out.leak_suspected is None
