"""Scenario switches, deterministic device keys, malformed lines and verification runs."""

from __future__ import annotations

import random

import msgspec
import pytest

from anxin.contract.parse import Reject, parse_line
from anxin.contract.records import Verification
from anxin.crypto.schemes import load_verifier
from anxin.sim import City, ScenarioSet
from anxin.sim.render import MALFORMED_MODES, malform
from anxin.sim.scenarios import FIRMWARE_SCENARIOS, NAMES, SCENARIOS, V1_SCENARIOS
from anxin.sim.signing import device_signer
from anxin.sim.supply import verification_record
from anxin.verification.jjg443 import evaluate_verification


def test_parse() -> None:
    assert ScenarioSet.parse("honest") == ScenarioSet.honest() == ScenarioSet()
    assert ScenarioSet.parse("all") == ScenarioSet.all()
    assert set(ScenarioSet.all().enabled()) == set(V1_SCENARIOS) == set(NAMES) - set(FIRMWARE_SCENARIOS)
    both = ScenarioSet.parse("all,firmware")  # contract v1.1 §F: asked for by name, never by "all"
    assert set(both.enabled()) == set(NAMES) and both.firmware and not ScenarioSet.all().firmware
    s = ScenarioSet.parse("forged, rigged_inflate=0.02")
    assert s.enabled() == ("rigged_inflate", "forged") and s.rigged_inflate == 0.02
    assert ScenarioSet.parse("all,resends=0").resends == 0
    assert ScenarioSet.parse("honest,legacy_pos=0.5").enabled() == ("legacy_pos",)
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        ScenarioSet.parse("nope")
    with pytest.raises(ValueError, match="not a number"):
        ScenarioSet.parse("forged=x")
    with pytest.raises(ValueError, match="outside"):
        ScenarioSet.parse("forged=2")
    with pytest.raises(ValueError, match="first"):
        ScenarioSet.parse("forged,all")
    assert all(0 < s.default_rate <= 0.1 for s in SCENARIOS)


def test_scenario_set_is_frozen_and_serialisable() -> None:
    s = ScenarioSet.all()
    with pytest.raises(AttributeError):
        s.forged = 0.5  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(s), type=ScenarioSet) == s


@pytest.mark.parametrize("alg", ["ed25519", "sm2"])
def test_device_keys_are_deterministic(alg: str) -> None:
    a, b = device_signer(7, "S0001-D1-N1-k1", alg), device_signer(7, "S0001-D1-N1-k1", alg)
    c = device_signer(8, "S0001-D1-N1-k1", alg)
    assert a.public_key_text == b.public_key_text != c.public_key_text
    verifier = load_verifier(alg, a.public_key_text)
    for i in range(20):
        msg = f"record {i}".encode()
        sig = a.sign(msg)
        assert sig == b.sign(msg) and len(sig) == 64
        assert verifier.verify(msg, sig) and not verifier.verify(msg + b" ", sig)


def test_nozzle_scenarios_are_exclusive_and_respect_anti_cheat() -> None:
    city = City.build(
        stations=30,
        seed=4,
        days=2,
        scenarios=ScenarioSet.parse("all,rigged_inflate=0.05,legacy_rigged=0.05,meter_drift=0.05"),
    )
    nozzles = [n for st in city.stations for n in st.nozzles]
    by = {}
    for n in nozzles:
        by.setdefault(n.scenario, []).append(n)
    assert all(n.anti_cheat for n in by["rigged_inflate"])
    assert all(not n.anti_cheat for n in by["legacy_rigged"])
    assert all(3.0 < abs(n.error0) * 1000 <= 8.0 for n in by["meter_drift"])
    assert all(abs(n.error0) <= 0.0015 for n in by[None])
    t0, t_end = city.config.t0_us, city.config.t_end_us
    assert all(n.verified_until_us < t_end - 6 * 3600_000_000 for n in by["expired_verification"])
    assert all(n.verified_until_us > t_end for n in by[None])
    for st in city.stations:  # two nozzles of every station stay clean for sale-level faults
        assert sum(n.scenario is None for n in st.nozzles) >= 2
    assert any(t.scenario == "tank_leak" and t.leak_ml_per_h == 760.0 for st in city.stations for t in st.tanks)
    del t0


def test_legacy_rigged_retrofits_a_legacy_nozzle_when_none_exists() -> None:
    for seed in range(30):
        sc = ScenarioSet.parse("legacy_rigged")
        city = City.build(stations=1, seed=seed, days=1, scenarios=sc)
        rigged = [n for n in city.stations[0].nozzles if n.scenario == "legacy_rigged"]
        assert len(rigged) == 1 and not rigged[0].anti_cheat


LINES = {
    "settlement": b'{"kind":"settlement","station_id":"S0001","order_id":"O1",'
    b'"nozzle_id":"S0001-D1-N1","pump_seq":5,"ts":"2026-03-01T08:00:01.000+08:00",'
    b'"volume_ml":31950,"unit_price_fen":766,"amount_fen":24474,"paid_fen":24474,'
    b'"payment":"wechat"}',
    "tank_reading": b'{"kind":"tank_reading","station_id":"S0001","tank_id":"S0001-T1",'
    b'"ts":"2026-03-01T08:00:00.000+08:00","level_um":1647870,"water_um":0,"temp_mc":17892}',
}


@pytest.mark.parametrize("mode", MALFORMED_MODES)
@pytest.mark.parametrize("kind", sorted(LINES))
def test_malformed_lines_are_rejected(kind: str, mode: str) -> None:
    assert not isinstance(parse_line(LINES[kind]), Reject)
    bad = malform(LINES[kind], kind, mode)
    assert b"\n" not in bad
    if mode == "non_utf8":
        with pytest.raises(UnicodeDecodeError):
            bad.decode("utf-8")
    result = parse_line(bad)
    assert isinstance(result, Reject), (mode, bad[:120])
    if mode == "huge":
        assert len(bad) > 64 * 1024


@pytest.mark.parametrize("passing", [True, False])
def test_verification_runs_have_the_requested_verdict(passing: bool) -> None:
    city = City.build(stations=1, seed=1, days=1)
    st = city.stations[0]
    rng = random.Random(5)
    for product, beta in (("92", 12e-4), ("0", 9e-4)):
        error = rng.uniform(-0.001, 0.001) if passing else rng.choice((-1, 1)) * 0.005
        rec = verification_record(
            rng, st, "S0001-D1-N1", product, 50_000, city.config.t0_us, 100_000, error, "periodic", passing
        )
        v = msgspec.json.decode(msgspec.json.encode(rec), type=Verification)
        result = evaluate_verification(v, beta_y_per_c=beta)
        assert result.passed is passing
        assert len(result.flow_points) == 2 and all(p.runs == 3 for p in result.flow_points)
        if passing:
            worst = result.max_abs_error_permille
            assert worst is not None and worst <= 1.5


def test_sequence_faults_need_records_on_both_sides() -> None:
    """A deleted first or last record, or a jump on the first one, would be invisible."""
    from anxin.sim.faults import _eligible
    from anxin.sim.station import StationPlan, _generate

    city = City.build(stations=1, seed=12, days=1, scenarios=ScenarioSet.honest())
    plan = StationPlan(city.stations[0], city.config)
    rng = random.Random(1)
    for nz in plan.nozzles:
        _generate(plan, nz, rng)
        assert len(nz.disps) > 20
        first, last = nz.disps[0], nz.disps[-1]
        assert not _eligible(plan, first, "deleted_metering")
        assert not _eligible(plan, first, "totalizer_jump")
        assert not _eligible(plan, last, "deleted_metering")
        middle = [d for d in nz.disps if _eligible(plan, d, "deleted_metering")]
        assert middle and all(0 < d.idx < len(nz.disps) - 2 for d in middle)
        # and never in the last 4 hours, never next to a price change
        assert all(d.end < city.config.t_end_us - 4 * 3600_000_000 for d in middle)
