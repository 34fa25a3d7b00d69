"""The batch checker's pipeline: worker processes give the same output as inline
verification, outputs have the contract's shape, and the summary counts add up."""

from __future__ import annotations

from pathlib import Path

import msgspec
from scenario import build

from anxin.check import shards
from anxin.check.run import run_check


def write(data_dir: Path, city, recs: list[dict], files: int = 3) -> None:
    data_dir.mkdir()
    (data_dir / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    for i in range(files):
        part = recs[i::files]
        (data_dir / f"src{i}.jsonl").write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in part))


def test_engine_sharded_over_processes_equals_inline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(shards, "CHUNK", 7)  # many small chunks, sources interleaved
    city, recs = build(seed=31)
    write(tmp_path / "d", city, recs)
    a = run_check(tmp_path / "d", tmp_path / "inline", workers=0)
    b = run_check(tmp_path / "d", tmp_path / "pool", workers=2)
    for name in ("alarms.jsonl", "verifications.jsonl", "rejects.jsonl", "quarantine.jsonl"):
        assert (tmp_path / "inline" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes(), name
    assert a.alarms_by_rule == b.alarms_by_rule and a.alarms > 0


def test_outputs_have_the_contract_shape(tmp_path: Path) -> None:
    city, recs = build(seed=5)
    write(tmp_path / "d", city, recs, files=1)
    summary = run_check(tmp_path / "d", tmp_path / "o", workers=0)
    alarms = [msgspec.json.decode(x) for x in (tmp_path / "o" / "alarms.jsonl").read_bytes().splitlines()]
    keys = {
        "alarm_id",
        "rule",
        "severity",
        "station_id",
        "nozzle_id",
        "tank_id",
        "seq",
        "order_id",
        "ts",
        "message",
        "evidence",
    }
    assert alarms and all(set(a) == keys for a in alarms)
    assert len({a["alarm_id"] for a in alarms}) == len(alarms) == summary.alarms
    assert sum(summary.alarms_by_rule.values()) == summary.alarms
    assert summary.lines == len(recs)
    assert (tmp_path / "o" / "meters.jsonl").exists()
    saved = msgspec.json.decode((tmp_path / "o" / "summary.json").read_bytes())
    assert saved["records"] == summary.records and saved["wall_time_s"] >= 0


def test_witness_writes_meters_in_the_contract_shape(tmp_path: Path) -> None:
    from anxin.engine import EngineSettings
    from anxin.sim import ScenarioSet, simulate

    simulate(tmp_path / "city", stations=2, days=3, seed=3, scenarios=ScenarioSet.honest(), workers=1)
    for workers in (0, 2):
        out = tmp_path / f"out{workers}"
        summary = run_check(tmp_path / "city", out, workers=workers, settings=EngineSettings(witness_enabled=True))
        rows = [msgspec.json.decode(x) for x in (out / "meters.jsonl").read_bytes().splitlines()]
        assert rows and sum(summary.meters.values()) == len(rows)
        for r in rows:
            assert {"nozzle_id", "error_permille", "ci95_permille", "n", "status"} <= set(r)
            lo, hi = r["ci95_permille"]
            assert lo <= r["error_permille"] <= hi and r["status"] in ("ok", "watch", "violation", "insufficient")
    assert (tmp_path / "out0" / "meters.jsonl").read_bytes() == (tmp_path / "out2" / "meters.jsonl").read_bytes()
