"""Bad input is rejected with a reason naming what is wrong; the run completes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest
from factory import T0, City
from typer.testing import CliRunner

from anxin.check.run import CheckError, run_check
from anxin.cli import app
from anxin.contract.parse import Reject, parse_line
from anxin.contract.registry import RegistryError, parse_registry


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"kind":"metering","station_id":"S1"', "truncated"),
        (
            b'{"kind":"settlement","station_id":"S1","order_id":"o","nozzle_id":"n","pump_seq":"7","ts":"2026-03-01T08:00:00+08:00","volume_ml":1,"unit_price_fen":1,"amount_fen":1,"paid_fen":1,"payment":"x"}',
            "$.pump_seq",
        ),
        (
            b'{"kind":"settlement","station_id":"S1","order_id":"o","nozzle_id":"n","pump_seq":7,"ts":"2026-03-01T08:00:00+08:00","volume_ml":1.5,"unit_price_fen":1,"amount_fen":1,"paid_fen":1,"payment":"x"}',
            "$.volume_ml",
        ),
        (b'{"kind":"refuel"}', "unknown kind 'refuel'"),
        (b'\xff\xfe{"kind":"metering"}', "not UTF-8"),
        (b'{"kind":"settlement","station_id":"\xffS1"}', "not UTF-8"),
        (
            b'{"kind":"tank_reading","station_id":"S1","tank_id":"T","ts":"2026-02-30T08:00:00+08:00","level_um":1,"water_um":0,"temp_mc":1}',
            "RFC3339",
        ),
        (
            b'{"kind":"tank_reading","station_id":"S1","tank_id":"T","ts":"2026-03-01T25:00:00+08:00","level_um":1,"water_um":0,"temp_mc":1}',
            "RFC3339",
        ),
        (
            b'{"kind":"tank_reading","station_id":"S1","tank_id":"T","ts":"2026-03-01T08:00:00","level_um":1,"water_um":0,"temp_mc":1}',
            "no UTC offset",
        ),
        (
            b'{"kind":"tank_reading","station_id":"S1","tank_id":"T","ts":"1970-01-01T08:00:00+08:00","level_um":1,"water_um":0,"temp_mc":1}',
            "outside",
        ),
        (
            b'{"kind":"event","station_id":"S1","nozzle_id":"n","seq":1,"ts":"2026-03-01T08:00:00+08:00","event":"k_factor_change","data":{"old":1},"key_id":"k","sig":"x"}',
            "data.new",
        ),
        (
            b'{"kind":"event","station_id":"S1","nozzle_id":"n","seq":1,"ts":"2026-03-01T08:00:00+08:00","event":"reboot","key_id":"k","sig":"x"}',
            "$.event",
        ),
        (b"[1,2,3]", "Expected `object`"),
        (b'{"kind":"metering","station_id":"S1","nozzle_id":"n","seq":1}', "missing required field"),
    ],
)
def test_reject_reasons(line: bytes, reason: str) -> None:
    got = parse_line(line)
    assert isinstance(got, Reject) and reason in got.reason, got


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r["nozzles"][0].update(public_key="AAAA"), "nozzles[0]"),
        (lambda r: r["nozzles"][1].update(station_id="S9"), "unknown station_id 'S9'"),
        (lambda r: r["tanks"][0].update(chart=[[0, 0], [10, 5], [5, 10]]), "not strictly increasing"),
        (lambda r: r["nozzles"].append(dict(r["nozzles"][0])), "duplicate nozzle_id"),
        (lambda r: r.pop("stations"), "missing required field `stations`"),
        (lambda r: r["nozzles"][0].update(verified_until="soon"), "verified_until"),
    ],
)
def test_broken_registry_is_named(mutate, reason: str) -> None:
    reg = City().registry_dict()
    mutate(reg)
    with pytest.raises(RegistryError, match=None) as exc:
        parse_registry(msgspec.json.encode(reg))
    # the operator's reason names the entry in either language (the admin API's English)
    en, zh = exc.value.text("en"), exc.value.text("zh")
    assert reason in en and "\n" not in en and "\n" not in zh
    assert zh.startswith("registry.json：") and re.search(r"[\u4e00-\u9fff]", zh), zh


def test_check_survives_every_kind_of_bad_line(tmp_path: Path) -> None:
    city = City()
    (tmp_path / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    m = city.metering("S1-N1", T0)
    good = [msgspec.json.encode(m), msgspec.json.encode(city.sale(m))]
    bad = [
        b'{"kind":"metering"',
        b"\x80\x81\x82",
        b'{"kind":"nope"}',
        b"x" * (10 * 1024 * 1024),
        json.dumps({"kind": "settlement"}).encode(),
        b"null",
        b'"str"',
    ]
    (tmp_path / "a.jsonl").write_bytes(b"\n".join([good[0], *bad, good[1]]) + b"\n")
    summary = run_check(tmp_path, tmp_path / "out", workers=0)
    rejects = [msgspec.json.decode(x) for x in (tmp_path / "out" / "rejects.jsonl").read_bytes().splitlines()]
    assert [r["line"] for r in rejects] == list(range(2, 2 + len(bad)))
    assert all(r["reason"] and r["file"] == "a.jsonl" for r in rejects)
    assert summary.records["metering"] == 1 and summary.records["settlement"] == 1
    assert summary.rejects == len(bad)


def test_unusable_inputs_exit_nonzero_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["check", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a readable directory" in result.output
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "registry.json").write_text("{not json")
    result = runner.invoke(app, ["check", str(tmp_path / "d"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "registry.json" in result.output
    with pytest.raises(CheckError):
        run_check(tmp_path / "d", tmp_path / "o")
