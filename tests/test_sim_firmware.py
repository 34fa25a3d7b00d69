"""The simulator's firmware and self-lock worlds (contract v1.1 §F): asked for by name,
every §F fault found by ``anxin check`` and nothing else raised; without them, the
registry is v1's (no firmware register, no dispenser model)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from anxin.check.run import run_check
from anxin.contract.registry import parse_registry
from anxin.sim import City, ScenarioSet, evaluate, simulate
from anxin.sim.scenarios import FIRMWARE_SCENARIOS
from anxin.sim.truth import read_faults, truth_dir_for


def test_a_firmware_city_shows_every_case_and_every_fault_is_found(tmp_path: Path) -> None:
    data, out = tmp_path / "city", tmp_path / "check"
    simulate(data, stations=3, days=2, seed=9, scenarios=ScenarioSet.parse("honest,firmware"), workers=1)
    reg = parse_registry((data / "registry.json").read_bytes())
    assert {f.status for f in reg.firmware} == {"approved", "revoked", "known_cheat"}
    assert all(n.dispenser_model for n in reg.nozzles)
    run_check(data, out, workers=0)
    alarms = [json.loads(x) for x in (out / "alarms.jsonl").read_text().splitlines()]
    fw = sorted((a["evidence"]["finding"], a["severity"]) for a in alarms if a["rule"] == "UNAPPROVED_FIRMWARE")
    assert fw == [("known_cheat", "critical"), ("revoked", "major")]
    assert [a["evidence"]["self_lock"]["reason"] for a in alarms if a["rule"] == "SELF_LOCK_CLEARED"] == ["E35"]
    r = evaluate(data, out)
    assert r.all_record_level_detected and r.false_alarms == 0, msgspec.to_builtins(r)
    assert set(FIRMWARE_SCENARIOS) <= {f.scenario for f in read_faults(truth_dir_for(data))}


def test_without_the_firmware_scenarios_the_registry_is_v1s() -> None:
    city = City.build(stations=2, seed=9, days=1, scenarios=ScenarioSet.all())
    reg = city.registry_dict()
    assert "firmware" not in reg and not any("dispenser_model" in n for n in reg["nozzles"])
    assert not ScenarioSet.all().firmware and set(FIRMWARE_SCENARIOS).isdisjoint(ScenarioSet.all().enabled())
