"""The verification register as the tank witness's second anchor (检定锚定): a bias common
to the delivery notes (one depot's loading meter, or a station's own notes) is measured
against the institute's verifications and removed; a meter that drifted since its
verification is not hidden by it; where the readings leave two explanations open,
neither nozzle is accused; and nothing in the register's figures stops the witness."""

from __future__ import annotations

import math

import msgspec
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anxin.contract.registry import Product, Registry, Station, Tank
from anxin.engine.stats import WitnessSettings, estimate_tank
from anxin.engine.stats.models import TankData
from anxin.engine.stats.register import register_shift
from anxin.engine.tanklog import TankLogs
from anxin.sim.synth_tank import synth_tank
from anxin.sim.world import WORLDS
from anxin.verification import measured_error

S = WitnessSettings()


def _biased_tank(errors: dict[str, float], bias_permille: float, seed: int = 3, days: float = 14.0) -> TankData:
    data, _ = synth_tank(
        world=WORLDS["default"], seed=seed, days=days, errors=errors, depot_bias_permille=bias_permille
    )
    return data


def _register(data: TankData, found: dict[str, float]) -> TankData:
    k = {nz: kk for nz, kk, *_ in data.dispensings}
    return msgspec.structs.replace(data, verified=[(nz, k[nz], e, 0.1) for nz, e in sorted(found.items())])


def test_a_depots_common_bias_is_measured_against_the_register_and_removed():
    """Notes 3‰ off move every nozzle alike; the verifications (the truth, ±0.3‰) show it,
    and every estimate comes back within its interval, near the truth."""
    errors = {"A": 0.0008, "B": -0.0006, "C": 0.0002}
    data = _biased_tank(errors, 3.0)
    plain = estimate_tank(data, S)
    rng = np.random.default_rng(1)
    anchored = estimate_tank(_register(data, {nz: e * 1000 + rng.normal(0, 0.3) for nz, e in errors.items()}), S)
    assert plain is not None and anchored is not None
    off = [m.error_permille - errors[m.nozzle_id] * 1000 for m in plain.meters]
    assert all(abs(x) > 1.5 for x in off) and max(off) - min(off) < 1.5  # common, and large
    assert anchored.method == "witness.method.register" and anchored.register_nozzles == 3
    assert abs(abs(anchored.register_shift_permille) - 3.0) < 1.0
    for m in anchored.meters:
        lo, hi = m.ci95_permille
        assert lo <= errors[m.nozzle_id] * 1000 <= hi
        assert abs(m.error_permille - errors[m.nozzle_id] * 1000) < 0.8


def test_a_meter_that_drifted_since_its_verification_is_not_hidden_by_the_register():
    """One nozzle reads 8‰ high now; its verification found it right. The other two agree
    with theirs, so the disagreement is the nozzle's, not the depot's: it stays a violation."""
    errors = {"A": 0.008, "B": -0.0005, "C": 0.0004}
    data = _register(_biased_tank(errors, 2.0, seed=5), {"A": 0.2, "B": -0.5, "C": 0.4})
    est = estimate_tank(data, S)
    assert est is not None and est.register_nozzles == 2
    by = {m.nozzle_id: m for m in est.meters}
    assert by["A"].status == "violation" and abs(by["A"].error_permille - 8.0) < 1.0
    assert by["B"].status != "violation" and by["C"].status != "violation"


def test_two_readings_that_leave_two_explanations_open_accuse_neither():
    """Two nozzles the tank shows 8‰ apart, both verified right, and a scale no note pins:
    either moved since. The shift's posterior has two modes, and the intervals will hold
    both (no confident pick of the wrong nozzle); with the scale pinned (±0.2‰) it is the
    nozzle off the notes that moved."""
    delta = np.array([0.008, 0.0])
    cov = np.full((2, 2), (4e-3) ** 2) + np.diag([1e-8, 1e-8])  # the scale unknown to ±4‰
    shift = register_shift(delta, cov, {0: (0.0, 0.1), 1: (0.0, 0.1)}, S)
    assert shift is not None
    assert shift.alt is not None and {round(shift.b * 1000), round(shift.alt * 1000)} == {0, 8}
    pinned = np.full((2, 2), (2e-4) ** 2) + np.diag([1e-8, 1e-8])
    shift = register_shift(delta, pinned, {0: (0.0, 0.1), 1: (0.0, 0.1)}, S)
    assert shift is not None and abs(shift.b) < 5e-4 and math.sqrt(shift.var_b) < 8e-4 and shift.alt is None


def test_no_register_leaves_the_estimate_as_it_was():
    errors = {"A": 0.001, "B": -0.001}
    data = _biased_tank(errors, 0.0, seed=7, days=7)
    a, b = estimate_tank(data, S), estimate_tank(_register(data, {}), S)
    assert a is not None and b is not None
    assert msgspec.json.encode(a) == msgspec.json.encode(b)
    assert a.register_shift_permille is None and a.method != "witness.method.register"


_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(-50, 50),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    found=st.lists(st.tuples(st.sampled_from(["A", "B", "C", "X"]), st.integers(0, 3), _values, _values), max_size=8)
)
def test_no_figure_in_the_register_stops_the_witness(found):
    """Whatever the register holds (NaN, infinities, huge or negative SDs, nozzles and K
    factors not in the tank), the witness returns an estimate with finite figures."""
    data = _biased_tank({"A": 0.001, "B": 0.0, "C": -0.001}, 1.0, seed=2, days=4)
    k = data.dispensings[0][1]
    spoiled = msgspec.structs.replace(data, verified=[(nz, k if kk else kk, e, sd) for nz, kk, e, sd in found])
    est = estimate_tank(spoiled, S)
    assert est is not None
    for m in est.meters:
        assert all(math.isfinite(x) for x in (m.error_permille, *m.ci95_permille))


def test_the_tank_data_carry_the_latest_passing_verification_before_the_windows_end():
    reg = Registry(
        stations=[Station(station_id="S1", name="s", operator="o", district="d", lat=30.0, lon=120.0)],
        tanks=[
            Tank(
                tank_id="T1",
                station_id="S1",
                product="92",
                capacity_ml=30_000_000,
                chart=[(0, 0), (2_000_000, 30_000_000)],
            )
        ],
        products=[Product(product="92", expansion_ppm_per_c=1200)],
        nozzles=[],
    )
    logs = TankLogs(reg)
    logs.dispensing("T1", "N1", 1000, 10, 20, 5000)
    logs.reading("T1", 15, 1.0, 0.0, 15000.0)
    logs.verification("N1", 5, 1000, 0.4, 0.1)
    logs.verification("N1", 8, 999, 9.9, 0.1)  # another K: another meter segment
    logs.verification("N1", 30, 1000, 1.2, 0.1)  # after the window's end
    assert logs.tank_data("T1", until=25).verified == [("N1", 1000, 0.4, 0.1)]
    assert logs.tank_data("T1").verified == [("N1", 1000, 1.2, 0.1)]


def test_a_verifications_measured_error_is_the_mean_of_its_flow_points():
    from anxin.contract.records import Verification
    from anxin.verification import evaluate_verification

    runs = [
        {
            "flow_ml_per_min": f,
            "standard_ml": 20000,
            "indicated_ml": ind,
            "standard_temp_mc": 20000,
            "dispenser_temp_mc": 20000,
        }
        for f, ind in ((60000, 20010), (60000, 20012), (60000, 20008), (10000, 19996), (10000, 19998), (10000, 19994))
    ]
    rec = msgspec.convert(
        {
            "kind": "verification",
            "station_id": "S1",
            "nozzle_id": "N1",
            "ts": "2026-03-01T08:00:00.000+08:00",
            "type": "periodic",
            "org": "所",
            "certificate_no": "C-1",
            "k_pulses_per_m3": 1000,
            "valid_until": "2026-09-01T08:00:00.000+08:00",
            "runs": runs,
        },
        Verification,
        strict=False,
    )
    err, sd = measured_error(evaluate_verification(rec))
    assert abs(err - 0.15) < 0.005  # (+0.5‰ + −0.2‰) / 2
    assert 0.0 < sd < 0.1
