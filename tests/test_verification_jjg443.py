"""JJG 443 verification computations: run error, 示值误差, 重复性, 检定结论."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anxin.contract.records import Verification, VerificationRun
from anxin.verification import (
    DEFAULT_LIMITS,
    VerificationLimits,
    VerificationResult,
    beta_for_product,
    corrected_standard_ml,
    d_n,
    evaluate_verification,
)

CST = timezone(timedelta(hours=8))
FLOW = 40000


def run(
    indicated: float,
    standard: float = 20000,
    flow: float = FLOW,
    t_b_mc: float = 20000,
    t_j_mc: float = 20000,
) -> VerificationRun:
    return VerificationRun(
        flow_ml_per_min=flow,
        standard_ml=standard,
        indicated_ml=indicated,
        standard_temp_mc=t_b_mc,
        dispenser_temp_mc=t_j_mc,
    )


def verification(runs: list[VerificationRun]) -> Verification:
    return Verification(
        station_id="S1",
        nozzle_id="N1",
        ts=datetime(2026, 3, 1, 8, 15, 2, 250000, tzinfo=CST),
        type="periodic",
        org="杭州市计量质量检测研究院",
        certificate_no="JD-2026-0001",
        k_pulses_per_m3=1_000_000,
        valid_until=datetime(2026, 9, 1, tzinfo=CST),
        runs=runs,
    )


def test_worked_example_fails_mpe_and_repeatability() -> None:
    # +0.43 %, +0.36 %, +0.58 % against a 20 L measure at 20 °C, no temperature difference.
    res = evaluate_verification(verification([run(20086), run(20072), run(20116)]))
    assert [r.error_permille for r in res.runs] == [4.3, 3.6, 5.8]
    assert all(r.corrected_standard_ml == 20000 for r in res.runs)
    [fp] = res.flow_points
    assert fp.runs == 3
    assert fp.error == pytest.approx(0.0137 / 3, abs=1e-12)
    assert fp.error_permille == 4.567
    assert fp.repeatability == pytest.approx(0.0022 / 1.69, abs=1e-12)
    assert fp.repeatability_permille == 1.302
    assert not fp.passes_mpe and not fp.passes_repeatability
    assert res.passed is False and res.within_target is False
    assert res.max_abs_error_permille == 4.567
    assert res.reasons == [
        "flow 40000 mL/min: error +4.57‰ exceeds ±3‰",
        "flow 40000 mL/min: repeatability 1.30‰ exceeds 1‰",
    ]
    assert res.notes == []


def test_exact_dispenser_passes_with_zero_error() -> None:
    runs = [run(20000, flow=f) for f in (8000, 40000, 60000) for _ in range(3)]
    res = evaluate_verification(verification(runs))
    assert res.passed and res.within_target
    assert res.reasons == [] and res.notes == []
    assert [fp.flow_ml_per_min for fp in res.flow_points] == [8000, 40000, 60000]
    for fp in res.flow_points:
        assert (fp.error, fp.repeatability, fp.runs) == (0.0, 0.0, 3)
    assert res.max_abs_error_permille == 0.0


def test_error_of_exactly_mpe_passes_despite_float_noise() -> None:
    # Mean of three 0.003 errors is 0.0030000000000000005 in binary floats.
    res = evaluate_verification(verification([run(10030, standard=10000)] * 3))
    assert res.flow_points[0].error > 0.003  # the noise the rounding must absorb
    assert res.flow_points[0].passes_mpe and res.passed
    assert res.within_target is False  # 3‰ is outside the Hangzhou ±2‰ target


@pytest.mark.parametrize("indicated", [20061, 19939])
def test_error_just_beyond_mpe_fails(indicated: int) -> None:
    res = evaluate_verification(verification([run(indicated)] * 2))
    assert not res.passed and not res.flow_points[0].passes_mpe
    sign = "+" if indicated > 20000 else "-"
    assert res.reasons == [f"flow 40000 mL/min: error {sign}3.05‰ exceeds ±3‰"]


def test_negative_error_at_mpe_passes() -> None:
    res = evaluate_verification(verification([run(19940)] * 2))
    assert res.flow_points[0].error_permille == -3.0 and res.passed


@pytest.mark.parametrize(("errors_ml", "dn"), [((0, 113), 1.13), ((0, 169, 50), 1.69)])
def test_repeatability_exactly_at_limit_passes(errors_ml: tuple[int, ...], dn: float) -> None:
    res = evaluate_verification(verification([run(100000 + e, standard=100000) for e in errors_ml]))
    fp = res.flow_points[0]
    assert fp.repeatability == pytest.approx(0.001, abs=1e-15)
    assert fp.repeatability_permille == 1.0
    assert fp.passes_repeatability and res.passed


def test_repeatability_just_over_limit_fails_even_with_small_error() -> None:
    res = evaluate_verification(verification([run(99943, 100000), run(100057, 100000)]))
    fp = res.flow_points[0]
    assert fp.error == pytest.approx(0.0, abs=1e-15) and fp.passes_mpe
    assert not fp.passes_repeatability and not res.passed
    assert res.within_target  # reported beside the verdict, independent of it
    assert res.reasons == ["flow 40000 mL/min: repeatability 1.01‰ exceeds 1‰"]


def test_one_failing_flow_point_fails_the_verdict() -> None:
    runs = [run(20000, flow=8000)] * 2 + [run(20070, flow=60000)] * 2 + [run(20010)] * 2
    res = evaluate_verification(verification(runs))
    assert [fp.passes_mpe for fp in res.flow_points] == [True, True, False]
    assert res.max_abs_error_permille == 3.5
    assert not res.passed and res.reasons == ["flow 60000 mL/min: error +3.50‰ exceeds ±3‰"]


def test_within_target_is_separate_from_verdict() -> None:
    res = evaluate_verification(verification([run(20050)] * 2))  # +2.5‰
    assert res.passed and not res.within_target
    res = evaluate_verification(verification([run(19960)] * 2))  # −2.0‰
    assert res.passed and res.within_target


def test_single_run_flow_point_not_assessed_but_noted() -> None:
    res = evaluate_verification(verification([run(20010, flow=8000)] + [run(20000)] * 2))
    fp = res.flow_points[0]
    assert fp.runs == 1 and fp.repeatability is None and fp.repeatability_permille is None
    assert fp.passes_repeatability and res.passed
    assert res.notes == ["flow 8000 mL/min: single run, repeatability not assessed"]


def test_temperature_correction_matches_formula() -> None:
    # Gasoline, standard measure at 15 °C, fuel at the dispenser at 25 °C:
    # V_B = 20000 · (1 + 0.0012·10 + 50e-6·(−5)) = 20235 mL.
    r = run(20235, t_b_mc=15000, t_j_mc=25000)
    assert corrected_standard_ml(r, 12e-4) == pytest.approx(20235.0, abs=1e-9)
    res = evaluate_verification(verification([r, r]))
    assert res.runs[0].corrected_standard_ml == pytest.approx(20235.0, abs=1e-9)
    assert res.runs[0].error == pytest.approx(0.0, abs=1e-12)
    # Diesel expands less: the same readings now show the dispenser reading high.
    res = evaluate_verification(verification([r, r]), beta_y_per_c=beta_for_product(900))
    vb = 20000 * (1 + 9e-4 * 10 + 50e-6 * -5)
    assert res.runs[0].corrected_standard_ml == pytest.approx(vb, abs=1e-9)
    assert res.runs[0].error == pytest.approx((20235 - vb) / vb, abs=1e-12)
    assert res.runs[0].error > 0


def test_float_and_int_flows_form_one_flow_point() -> None:
    res = evaluate_verification(verification([run(20000, flow=40000), run(20000, flow=40000.0)]))
    assert len(res.flow_points) == 1 and res.flow_points[0].runs == 2


def test_invalid_runs_are_excluded_and_fail_the_verdict() -> None:
    runs = [run(20000), run(0, standard=0), run(20000), run(5, standard=-5), run(math.nan)]
    res = evaluate_verification(verification(runs))
    assert len(res.runs) == 2 and res.flow_points[0].runs == 2
    assert not res.passed and res.within_target
    assert res.reasons == [
        "run 2: standard volume must be positive",
        "run 4: standard volume must be positive",
        "run 5: quantities must be finite",
    ]


def test_no_valid_run_does_not_crash() -> None:
    hot = run(20000, t_b_mc=20000, t_j_mc=-1_000_000)  # V_B ≤ 0 with β_Y = 12e-4
    res = evaluate_verification(verification([run(1, standard=0), hot, run(1, flow=0)]))
    assert res.runs == [] and res.flow_points == []
    assert res.max_abs_error_permille is None
    assert not res.passed and not res.within_target
    assert res.reasons == [
        "run 1: standard volume must be positive",
        "run 2: corrected standard volume must be positive",
        "run 3: flow rate must be positive",
        "no valid runs",
    ]
    assert evaluate_verification(verification([])).reasons == ["no valid runs"]


def test_custom_limits() -> None:
    v = verification([run(20050)] * 2)  # +2.5‰
    strict = VerificationLimits(mpe=0.002)
    res = evaluate_verification(v, limits=strict)
    assert not res.passed and res.reasons == ["flow 40000 mL/min: error +2.50‰ exceeds ±2‰"]
    assert DEFAULT_LIMITS == VerificationLimits(mpe=0.003, target=0.002, repeatability=0.001)


def test_d_n_table_and_beyond_ten_runs() -> None:
    assert [d_n(n) for n in range(2, 11)] == [1.13, 1.69, 2.06, 2.33, 2.53, 2.70, 2.85, 2.97, 3.08]
    assert d_n(11) == d_n(40) == 3.08
    with pytest.raises(ValueError):
        d_n(1)
    runs = [run(20000)] * 11 + [run(20010)]
    fp = evaluate_verification(verification(runs)).flow_points[0]
    assert fp.runs == 12 and fp.repeatability == pytest.approx(0.0005 / 3.08, abs=1e-15)


def test_beta_for_product() -> None:
    assert beta_for_product(1200) == 12e-4
    assert beta_for_product(900) == 9e-4
    assert beta_for_product(None) == 12e-4
    assert beta_for_product(0) == 12e-4


def test_header_fields_and_json_round_trip() -> None:
    line = msgspec.json.encode(
        {
            "kind": "verification",
            "station_id": "S1",
            "nozzle_id": "N7",
            "ts": "2026-03-01T08:15:02.250+08:00",
            "type": "after_repair",
            "org": "ORG",
            "certificate_no": "C-1",
            "k_pulses_per_m3": 998_765,
            "valid_until": "2026-09-01T00:00:00+08:00",
            "extra": 1,
            "runs": [
                {
                    "flow_ml_per_min": 40000,
                    "standard_ml": 20000.0,
                    "indicated_ml": 20004,
                    "standard_temp_mc": 20000,
                    "dispenser_temp_mc": 20000,
                }
            ]
            * 2,
        }
    )
    res = evaluate_verification(msgspec.json.decode(line, type=Verification))
    assert (res.station_id, res.nozzle_id, res.type) == ("S1", "N7", "after_repair")
    assert (res.org, res.certificate_no, res.k_pulses_per_m3) == ("ORG", "C-1", 998_765)
    assert res.ts == "2026-03-01T08:15:02.250+08:00"
    assert res.valid_until == "2026-09-01T00:00:00.000+08:00"
    assert res.flow_points[0].error_permille == 0.2
    again = msgspec.json.decode(msgspec.json.encode(res), type=VerificationResult)
    assert again == res


# --- properties -------------------------------------------------------------

temps = st.integers(min_value=-30_000, max_value=50_000)
runs_st = st.builds(
    run,
    indicated=st.integers(min_value=1_000, max_value=210_000),
    standard=st.integers(min_value=1_000, max_value=200_000),
    flow=st.sampled_from([5000, 8000, 40000, 60000.0]),
    t_b_mc=temps,
    t_j_mc=temps,
)


@given(
    standard=st.one_of(
        st.integers(min_value=1, max_value=10**7),
        st.floats(min_value=1e-3, max_value=1e7, allow_nan=False),
    ),
    temp_mc=temps,
)
def test_no_correction_at_20c_and_equal_temps(standard: float, temp_mc: int) -> None:
    r = run(standard, standard=standard)
    assert corrected_standard_ml(r, 12e-4) == standard  # exactly, not approximately
    res = evaluate_verification(verification([r]))
    assert res.runs[0].error == 0.0
    # Equal temperatures away from 20 °C leave only the measure's own expansion.
    r = run(standard, standard=standard, t_b_mc=temp_mc, t_j_mc=temp_mc)
    expected = standard * (1 + 50e-6 * (temp_mc / 1000 - 20))
    assert corrected_standard_ml(r, 12e-4) == pytest.approx(expected, rel=1e-12)


@given(r=runs_st, beta_y=st.sampled_from([9e-4, 12e-4]))
def test_error_sign_follows_indicated_minus_corrected(r: VerificationRun, beta_y: float) -> None:
    res = evaluate_verification(verification([r]), beta_y_per_c=beta_y)
    [rr] = res.runs
    diff = r.indicated_ml - rr.corrected_standard_ml
    assert math.copysign(1, rr.error) == math.copysign(1, diff) or diff == rr.error == 0
    assert rr.error == pytest.approx(diff / rr.corrected_standard_ml, rel=1e-12)


@given(
    standard=st.integers(min_value=1_000, max_value=200_000),
    delta=st.integers(min_value=-500, max_value=500),
)
def test_sign_at_reference_conditions(standard: int, delta: int) -> None:
    res = evaluate_verification(verification([run(standard + delta, standard=standard)]))
    e = res.runs[0].error
    assert (e > 0) == (delta > 0) and (e < 0) == (delta < 0) and (e == 0) == (delta == 0)


@given(data=st.data(), runs=st.lists(runs_st, min_size=1, max_size=15))
def test_run_order_does_not_change_the_result(data: st.DataObject, runs: list) -> None:
    a = evaluate_verification(verification(runs))
    b = evaluate_verification(verification(data.draw(st.permutations(runs))))
    assert a.flow_points == b.flow_points
    assert (a.passed, a.within_target, a.max_abs_error_permille) == (
        b.passed,
        b.within_target,
        b.max_abs_error_permille,
    )
    assert a.reasons == b.reasons and a.notes == b.notes
    key = lambda r: (r.flow_ml_per_min, r.standard_ml, r.indicated_ml, r.error)  # noqa: E731
    assert sorted(a.runs, key=key) == sorted(b.runs, key=key)


@given(runs=st.lists(runs_st, min_size=1, max_size=15))
def test_verdict_is_consistent_with_flow_points(runs: list) -> None:
    res = evaluate_verification(verification(runs))
    assert res.passed == all(fp.passes_mpe and fp.passes_repeatability for fp in res.flow_points)
    assert sum(fp.runs for fp in res.flow_points) == len(res.runs) == len(runs)
    for fp in res.flow_points:
        errs = [r.error for r in res.runs if r.flow_ml_per_min == fp.flow_ml_per_min]
        slack = 1e-12 * max(1.0, *(abs(e) for e in errs))  # a mean may exceed equal runs by an ulp
        assert min(errs) - slack <= fp.error <= max(errs) + slack
        assert fp.passes_mpe == (round(abs(fp.error), 9) <= 0.003)
        if fp.runs == 1:
            assert fp.repeatability is None
        else:
            assert fp.repeatability == pytest.approx((max(errs) - min(errs)) / d_n(fp.runs))
