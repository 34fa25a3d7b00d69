"""The acceptance of the core, in small: a simulated city with every scenario on —
every injected record-level fault is found and no honest record alarms; an
honest-only city raises nothing at all."""

from __future__ import annotations

from pathlib import Path

from anxin.check.run import run_check
from anxin.sim import ScenarioSet, evaluate, simulate


def test_every_record_level_fault_found_and_no_false_alarm(tmp_path: Path) -> None:
    data = tmp_path / "city"
    simulate(data, stations=6, days=3, seed=21, scenarios=ScenarioSet.all(), workers=1)
    summary = run_check(data, tmp_path / "check", workers=2)
    report = evaluate(data, tmp_path / "check")
    assert report.all_record_level_detected, report.missed[:5]
    assert report.false_alarms == 0, report.unexplained[:5]
    assert summary.rejects > 0 and summary.quarantined > 0 and summary.resends > 0


def test_honest_city_raises_no_alarm(tmp_path: Path) -> None:
    data = tmp_path / "honest"
    simulate(data, stations=5, days=3, seed=4, scenarios=ScenarioSet.honest(), workers=1)
    summary = run_check(data, tmp_path / "check", workers=0)
    assert summary.alarms == 0 and summary.rejects == 0 and summary.quarantined == 0
    assert summary.records["metering"] > 1000 and summary.verifications >= 0
