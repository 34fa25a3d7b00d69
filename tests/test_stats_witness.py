"""The tank witness estimator (anxin.engine.stats): meter errors and tank loss."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from anxin.engine.stats import MeterEstimate, WitnessSettings, estimate_tank, station_bias
from anxin.sim.synth_tank import T0, synth_tank

H = 3_600_000_000
EXACT = dict(
    noise_um=0.0,
    temp_noise_c=0.0,
    temp_cycle_c=0.0,
    delivery_temp_sd_c=0.0,
    chart_error_sd=0.0,
    chart_points=6000,
    delivery_error_sd=0.0,
)
FREE = WitnessSettings(chart_error_sd_permille=0.0, delivery_sd_permille=0.0)  # intercepts not tied, no chart prior
NOCHART = WitnessSettings()


def _by(est):
    return {(m.nozzle_id, m.segment): m for m in est.meters}


def test_noiseless_exact_recovery_of_errors_and_leak():
    errors = {"A": 0.0025, "B": -0.003, "C": 0.0, "D": 0.0125, "E": -0.001}  # five nozzles, overlapping sales
    data, _ = synth_tank(seed=3, days=5, errors=errors, leak_ml_per_h=760.0, **EXACT)
    est = estimate_tank(data, NOCHART)
    assert est is not None
    got = _by(est)
    assert set(got) == {(k, 0) for k in errors}
    for nz, e in errors.items():
        assert got[(nz, 0)].error_permille == pytest.approx(e * 1000, abs=0.03)
        lo, hi = got[(nz, 0)].ci95_permille
        assert lo - 0.02 <= e * 1000 <= hi + 0.02  # chart interpolation leaves ~0.01‰
    assert est.loss_l_per_h == pytest.approx(0.76, abs=0.005)
    assert est.leak_suspected
    assert got[("D", 0)].status == "violation"
    assert got[("A", 0)].status == "watch"
    assert got[("C", 0)].status == "ok"


def test_free_intercepts_ignore_declared_delivery_volumes():
    data, _ = synth_tank(seed=4, days=6, errors={"A": 0.002, "B": -0.002, "C": 0.0}, **EXACT)
    assert len(data.deliveries) >= 2
    base = estimate_tank(data, FREE)
    wrong = msgspec.structs.replace(data, deliveries=[(a, b, v * 1.05) for a, b, v in data.deliveries])
    est = estimate_tank(wrong, FREE)
    for k, m in _by(base).items():
        assert _by(est)[k].error_permille == pytest.approx(m.error_permille, abs=1e-6)
        assert m.error_permille == pytest.approx({"A": 2.0, "B": -2.0, "C": 0.0}[k[0]], abs=0.03)
    assert est.readings_rejected.get("delivery", 0) > 0
    assert not est.scale_anchored


def _scaled_chart(data, factor):
    return msgspec.structs.replace(data, chart=[(lv, round(v * factor)) for lv, v in data.chart])


def test_delivery_notes_anchor_the_chart_scale():
    """A chart 2‰ too large makes every meter of the tank look 2‰ generous to free
    intercepts; declared delivery volumes pin the scale and recover the true errors."""
    errors = {"A": 0.002, "B": -0.001, "C": 0.0}
    data, _ = synth_tank(seed=4, days=6, errors=errors, **EXACT)
    data = _scaled_chart(data, 1.002)
    anchored = estimate_tank(data, WitnessSettings(chart_error_sd_permille=0.0))
    free = estimate_tank(data, msgspec.structs.replace(FREE, chart_error_sd_permille=0.0))
    assert anchored.scale_anchored and anchored.deliveries_declared >= 2
    assert anchored.deliveries_inconsistent == 0
    for (nz, _), m in _by(anchored).items():
        assert m.error_permille == pytest.approx(errors[nz] * 1000, abs=0.05)
        assert _by(free)[(nz, 0)].error_permille == pytest.approx(errors[nz] * 1000 - 2.0, abs=0.1)


def test_a_wrong_delivery_note_is_dropped_not_believed():
    """With three notes or more a note the others contradict (a missed compartment) is
    dropped and changes nothing; notes that agree among themselves but not with the chart
    (inflated by a station, or a chart with the wrong heads) win nothing either: the
    interval holds both, and the truth."""
    errors = {"A": 0.002, "B": -0.002, "C": 0.0}
    data, _ = synth_tank(seed=4, days=10, errors=errors, **EXACT)
    assert len(data.deliveries) >= 3
    good = estimate_tank(data)
    notes = list(data.deliveries)
    a, b, v = notes[1]
    notes[1] = (a, b, v * 1.05)
    bad = estimate_tank(msgspec.structs.replace(data, deliveries=notes))
    assert good.deliveries_inconsistent == 0 and bad.deliveries_inconsistent == 1
    assert bad.scale_anchored
    for k, m in _by(good).items():
        assert _by(bad)[k].error_permille == pytest.approx(m.error_permille, abs=0.05)
    every = estimate_tank(msgspec.structs.replace(data, deliveries=[(a, b, v * 1.05) for a, b, v in data.deliveries]))
    assert every.deliveries_inconsistent == 0
    for (nz, _), m in _by(every).items():
        lo, hi = m.ci95_permille
        assert lo <= errors[nz] * 1000 <= hi and hi - lo > 2 * (
            good.meters[0].ci95_permille[1] - good.meters[0].ci95_permille[0]
        )
        assert m.status != "violation"


def test_interval_shrinks_with_more_data():
    widths = []
    for days in (3, 12):
        data, _ = synth_tank(seed=7, days=days, errors={"A": 0.0, "B": 0.0}, chart_error_sd=0.0)
        est = estimate_tank(data, NOCHART)
        widths.append(np.mean([m.ci95_permille[1] - m.ci95_permille[0] for m in est.meters]))
    assert widths[1] < 0.7 * widths[0]


def test_coverage_sanity_on_noisy_tanks():
    hits, total, errs = 0, 0, []
    for seed in range(6):
        errors = {"A": 0.0, "B": 0.001, "C": -0.001}
        data, _ = synth_tank(seed=100 + seed, days=7, errors=errors)
        est = estimate_tank(data)
        for m in est.meters:
            t = errors[m.nozzle_id] * 1000
            hits += m.ci95_permille[0] <= t <= m.ci95_permille[1]
            total += 1
            errs.append(m.error_permille - t)
            assert m.status != "violation"
    assert total == 18
    assert hits / total >= 0.85
    assert float(np.sqrt(np.mean(np.square(errs)))) < 2.0


@pytest.mark.parametrize("leak", [0.0, 760.0])
def test_leak_detected_and_no_leak_not_flagged(leak):
    data, _ = synth_tank(seed=11, days=7, errors={"A": 0.0, "B": 0.0, "C": 0.0}, leak_ml_per_h=leak)
    est = estimate_tank(data)
    assert est.leak_suspected is (leak > 0)
    assert est.leak_conclusive
    assert est.loss_ci95_l_per_h[0] <= leak / 1000 <= est.loss_ci95_l_per_h[1]


def test_gap_in_readings_counted_and_harmless():
    data, _ = synth_tank(seed=5, days=5, errors={"A": 0.003, "B": -0.001}, **EXACT)
    keep = [i for i, t in enumerate(data.reading_t) if not (T0 + 50 * H <= t < T0 + 60 * H)]
    cut = msgspec.structs.replace(
        data,
        reading_t=[data.reading_t[i] for i in keep],
        reading_level_um=[data.reading_level_um[i] for i in keep],
        reading_water_um=[data.reading_water_um[i] for i in keep],
        reading_temp_mc=[data.reading_temp_mc[i] for i in keep],
    )
    est = estimate_tank(cut, NOCHART)
    assert est.readings_rejected.get("gap", 0) >= 1
    got = _by(est)
    assert got[("A", 0)].error_permille == pytest.approx(3.0, abs=0.05)
    assert got[("B", 0)].error_permille == pytest.approx(-1.0, abs=0.05)


def test_k_segment_change_estimated_separately():
    segs = {"A": [(T0, 0.0), (T0 + 3 * 24 * H, 0.008)]}
    data, _ = synth_tank(seed=6, days=6, errors={"B": 0.0}, segments=segs, **EXACT)
    got = _by(estimate_tank(data, NOCHART))
    assert got[("A", 0)].error_permille == pytest.approx(0.0, abs=0.05)
    assert got[("A", 1)].error_permille == pytest.approx(8.0, abs=0.05)
    assert got[("A", 1)].status == "violation"


def test_duplicate_readings_keep_first_arrival():
    data, _ = synth_tank(seed=8, days=3, errors={"A": 0.002}, **EXACT)
    base = estimate_tank(data, NOCHART)
    n = len(data.reading_t)
    dup_idx = list(range(10, n, 7))
    # Resends arrive later with garbage content; out-of-order arrival as well.
    t = list(reversed(data.reading_t)) + [data.reading_t[i] for i in dup_idx]
    lv = list(reversed(data.reading_level_um)) + [1.0e6 + i for i in dup_idx]
    wt = list(reversed(data.reading_water_um)) + [0.0 for _ in dup_idx]
    tc = list(reversed(data.reading_temp_mc)) + [30_000.0 for _ in dup_idx]
    est = estimate_tank(
        msgspec.structs.replace(data, reading_t=t, reading_level_um=lv, reading_water_um=wt, reading_temp_mc=tc),
        NOCHART,
    )
    assert est.readings_rejected["duplicate"] == len(dup_idx)
    assert est.readings_used == base.readings_used
    assert est.meters[0].error_permille == pytest.approx(base.meters[0].error_permille, abs=1e-9)


def test_rejected_reading_reasons_counted():
    data, _ = synth_tank(seed=9, days=4, errors={"A": 0.002, "B": 0.0})
    lv, wt = list(data.reading_level_um), list(data.reading_water_um)
    lv[100] = -5.0  # out of range
    lv[200] = 9.9e9  # out of range
    wt[300] = 200_000.0  # water above the limit
    lv[400] += 60_000.0  # a 60 mm spike: jump
    # A frozen gauge during the afternoon of day 2 (sales going on).
    start = next(i for i, t in enumerate(data.reading_t) if t >= T0 + 24 * H + 14 * H)
    for i in range(start + 1, start + 13):
        lv[i] = lv[start]
    est = estimate_tank(msgspec.structs.replace(data, reading_level_um=lv, reading_water_um=wt))
    r = est.readings_rejected
    assert r["out_of_range"] == 2
    assert r["water"] == 1
    assert r["jump"] >= 1
    assert r["frozen"] >= 8
    lo, hi = _by(est)[("A", 0)].ci95_permille
    assert lo <= 2.0 <= hi


def test_not_enough_data_gives_no_decision():
    data, _ = synth_tank(seed=2, days=0.8, errors={"A": 0.0})
    assert estimate_tank(data) is None
    few = msgspec.structs.replace(data, reading_t=data.reading_t[:2], reading_level_um=data.reading_level_um[:2])
    assert estimate_tank(few) is None


def test_nozzle_with_few_dispensings_not_reported():
    data, _ = synth_tank(seed=12, days=2, errors={"A": 0.0}, sales_per_day=110, **EXACT)
    extra = [("Z", 0, T0 + 30 * H + i * H, T0 + 30 * H + i * H + 60_000_000, 20_000) for i in range(5)]
    est = estimate_tank(msgspec.structs.replace(data, dispensings=data.dispensings + extra), NOCHART)
    assert {m.nozzle_id for m in est.meters} == {"A"}


def _m(nid, e, half=0.6):
    return MeterEstimate(
        nozzle_id=nid, segment=0, error_permille=e, ci95_permille=(e - half, e + half), n=500, status="ok"
    )


def test_station_bias_fires_when_all_meters_favour_the_station():
    ms = [_m(f"N{i}", 2.6 + 0.1 * (i % 3 - 1)) for i in range(8)]
    ev = station_bias(ms)
    assert ev is not None
    assert ev["n_nozzles"] == 8 and ev["n_positive"] == 8
    assert ev["mean_error_permille"] == pytest.approx(2.6, abs=0.05)
    assert ev["p_value"] < 0.05
    lo, hi = ev["mean_ci95_permille"]
    assert lo < 2.6 < hi


def test_station_bias_allows_for_what_the_depots_notes_could_lean():
    """Every meter 1.5‰ in the station's favour is what a depot 1.5‰ off would show: not
    an accusation; 2.6‰ is beyond it."""
    assert station_bias([_m(f"N{i}", 1.5 + 0.1 * (i % 3 - 1)) for i in range(8)]) is None
    ev = station_bias([_m(f"N{i}", 2.6 + 0.1 * (i % 3 - 1)) for i in range(8)])
    assert ev is not None and ev["note_bias_allowance_permille"] == 1.0
    lean = station_bias(
        [_m(f"N{i}", 1.5 + 0.1 * (i % 3 - 1)) for i in range(8)],
        msgspec.structs.replace(WitnessSettings(), decision_note_bias_permille=0.0),
    )
    assert lean is not None


def test_station_bias_silent_on_mixed_station():
    ms = [_m(f"N{i}", e) for i, e in enumerate([1.5, -1.2, 0.4, -0.8, 2.0, -1.9, 0.3, -0.2])]
    assert station_bias(ms) is None
    assert station_bias(ms[:2]) is None


def test_missing_dispensings_are_cut_out_not_spread_over_the_meters():
    """A dispensing whose metering record never arrived (deleted, lost) is a step in the
    book volume: it gets its own segment instead of biasing every meter of the tank."""
    data, _ = synth_tank(seed=5, days=4, errors={"A": 0.0, "B": 0.003}, chart_error_sd=0.0)
    big = sorted(range(len(data.dispensings)), key=lambda i: -data.dispensings[i][4])[:4]
    cut = msgspec.structs.replace(data, dispensings=[d for i, d in enumerate(data.dispensings) if i not in big])
    base = _by(estimate_tank(data, NOCHART))
    est = estimate_tank(cut, NOCHART)
    got = _by(est)
    for k, m in base.items():  # ~40 L missing four times: without the cuts, tens of ‰ off
        assert got[k].error_permille == pytest.approx(m.error_permille, abs=1.0)
    assert est.readings_rejected.get("step", 0) >= 4
    assert not est.leak_suspected


def test_simulated_honest_city_no_false_alarms(tmp_path):
    """End to end on the real simulator (several nozzles at once, multi-compartment
    deliveries, delivery temperature, chart errors, arrival order): honest meters come out
    within a few ‰ and nothing is flagged."""
    import json
    from pathlib import Path

    from anxin.check.pipeline import merged
    from anxin.check.reader import data_files
    from anxin.contract.parse import Parsed
    from anxin.contract.registry import load_registry
    from anxin.engine import Engine, EngineSettings
    from anxin.sim import simulate
    from anxin.sim.scenarios import ScenarioSet

    out = tmp_path / "city"
    simulate(out, stations=3, days=3, seed=21, scenarios=ScenarioSet.honest())
    reg = load_registry(out / "registry.json")
    eng = Engine(reg, EngineSettings(witness_enabled=True))
    for _t, _fi, _n, p, v in merged(data_files(out), reg):
        if isinstance(p, Parsed):
            eng.feed(p, v)
    res = eng.witness()
    truth_dir = Path(str(out) + ".truth")
    truth = {r["nozzle_id"]: r for r in map(json.loads, (truth_dir / "meters.jsonl").read_text().splitlines())}
    assert len(res.meters) >= 0.8 * len(truth)
    for row in res.meters:
        assert row.error_permille == pytest.approx(truth[row.nozzle_id]["error_permille"], abs=4.0), row
    assert [a.rule for a in res.alarms if a.rule in ("METER_DRIFT", "TANK_LOSS", "STATION_BIAS")] == []
    assert all(m.status != "violation" for m in res.meters)


def test_a_violation_holds_only_beyond_the_guard_band_and_the_depots_allowance() -> None:
    """The 99 % interval must clear ±3‰ by what the depot's loading meter could be off
    (1‰), a bias every note shares and no tank data shows: an honest meter at +1.5‰ under
    a depot 3‰ off must not be accused; a meter 7‰ off still is."""
    from anxin.engine.stats import meter_status

    s = WitnessSettings()
    q = 2.5758 / 1.95996  # 99 % over 95 %
    assert meter_status(4.3, 4.0, 4.6, s) == "watch"  # guarded 4.3 − 0.3·q = 3.91: within 3 + 1
    assert meter_status(4.5, 4.2, 4.8, s) == "violation"  # 4.11
    assert meter_status(-4.5, -4.8, -4.2, s) == "violation"
    assert meter_status(7.0, 7.0 - 1.5, 7.0 + 1.5, s) == "violation"  # 7 − 1.5·q = 5.03
    without = msgspec.structs.replace(s, decision_note_bias_permille=0.0)
    assert meter_status(4.3, 4.0, 4.6, without) == "violation"
    assert 4.3 - 0.3 * q < 4.0 < 4.5 - 0.3 * q
