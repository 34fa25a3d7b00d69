"""``anxin witness explain`` end to end with the real ``anxin.engine.stats.diagnose``: a
simulated city's tank explained from its data directory and from the store's ledger (the
same diagnostics), readable in Chinese, and as JSON that decodes to ``TankDiagnostics``."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from anxin.cli import app
from anxin.contract.registry import load_registry
from anxin.demo.live import replay
from anxin.engine.stats.models import TankDiagnostics
from anxin.ingest.service import IngestService
from anxin.sim import ScenarioSet, simulate
from anxin.store.database import Store

runner = CliRunner()


@pytest.fixture(autouse=True)
def _chinese(monkeypatch):
    monkeypatch.setenv("ANXIN_LANG", "zh")


def test_explain_a_tank_from_files_and_from_the_ledger(tmp_path: Path) -> None:
    city = tmp_path / "city"
    simulate(
        city,
        stations=1,
        days=3,
        seed=11,
        scenarios=ScenarioSet.parse("honest"),
        workers=1,
        group_size=1,
    )
    tank = load_registry(city / "registry.json").tanks[0].tank_id
    res = runner.invoke(app, ["witness", "explain", tank, str(city)])
    assert res.exit_code == 0, res.output
    for words in (
        "油罐见证诊断",
        "各枪计量误差估计",
        "分段",
        "窗口起点",
        "残差结构",
        "相邻残差自相关",
    ):
        assert words in res.output, (words, res.output)
    assert not re.search(r"\bwitness\.\w+|（其他说明）", res.output)  # every key the estimator left is in the catalog
    res = runner.invoke(app, ["witness", "explain", tank, str(city), "--json"])
    assert res.exit_code == 0, res.output
    diag = msgspec.json.decode(res.stdout, type=TankDiagnostics)
    assert diag.tank_id == tank and diag.segments and diag.estimate is not None and diag.estimate.meters
    db = tmp_path / "db.sqlite"
    service = IngestService(Store(str(db)))
    service.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    replay(city, service, speed=0)
    res = runner.invoke(app, ["witness", "explain", tank, "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    assert msgspec.json.decode(res.stdout, type=TankDiagnostics) == diag
    until = "2026-03-03T00:00:00+08:00"
    res = runner.invoke(
        app,
        [
            "witness",
            "explain",
            tank,
            str(city),
            "--until",
            until,
            "--days",
            "1.5",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    short = msgspec.json.decode(res.stdout, type=TankDiagnostics)
    assert short.segments and max(s.end_us for s in short.segments) < max(s.end_us for s in diag.segments)
