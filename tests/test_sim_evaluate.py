"""evaluate(): matching alarms to truth keys, recall, false alarms, rejects, meters."""

from __future__ import annotations

import io
import re
from pathlib import Path

import msgspec
import pytest
from rich.console import Console

from anxin.sim import evaluate, render_evaluation, truth_dir_for
from anxin.sim.truth import AlarmKey, Fault, encode_line, encode_pretty


def K(rule: str, **kw) -> AlarmKey:
    return AlarmKey(rule=rule, station_id=kw.pop("station_id", "S0001"), **kw)


FAULTS = [
    Fault(
        fault_id="F1",
        scenario="rigged_inflate",
        record_level=True,
        expect=[K("VOLUME_MISMATCH", nozzle_id="S0001-D1-N1", order_id="O1")],
    ),
    Fault(
        fault_id="F2",
        scenario="deleted_metering",
        record_level=True,
        expect=[
            K("SEQUENCE_GAP", nozzle_id="S0001-D1-N1", seq=41),
            K("UNMATCHED_SETTLEMENT", nozzle_id="S0001-D1-N1", order_id="O2"),
        ],
    ),
    Fault(
        fault_id="F3",
        scenario="off_book",
        record_level=True,
        expect=[K("UNMATCHED_METERING", nozzle_id="S0001-D1-N2", seq=7)],
    ),
    Fault(
        fault_id="F4",
        scenario="expired_verification",
        record_level=True,
        expect=[K("UNVERIFIED_USE", nozzle_id="S0001-D2-N1", day="2026-03-02")],
        allow=[K("UNVERIFIED_USE", nozzle_id="S0001-D2-N1", day="2026-03-03")],
    ),
    Fault(
        fault_id="F5",
        scenario="meter_drift",
        record_level=False,
        expect=[K("METER_DRIFT", nozzle_id="S0001-D2-N2")],
        allow=[K("TANK_LOSS", tank_id="S0001-T1")],
    ),
    Fault(
        fault_id="F6",
        scenario="tank_leak",
        record_level=False,
        expect=[K("TANK_LOSS", station_id="S0002", tank_id="S0002-T2")],
    ),
    Fault(fault_id="F7", scenario="k_change_authorised", record_level=True, expect=[]),
]


def alarm(rule: str, **kw) -> dict:
    base = {
        "alarm_id": "x",
        "rule": rule,
        "severity": "major",
        "station_id": "S0001",
        "nozzle_id": None,
        "tank_id": None,
        "seq": None,
        "order_id": None,
        "ts": "2026-03-01T12:00:00.000+08:00",
        "message": "",
        "evidence": {},
    }
    base.update(kw)
    return base


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "city"
    data.mkdir()
    truth = truth_dir_for(data)
    truth.mkdir()
    (truth / "faults.jsonl").write_bytes(b"".join(encode_line(f) for f in FAULTS))
    (truth / "rejects.json").write_bytes(
        encode_pretty(
            {
                "total": 3,
                "files": {
                    "g001.settlement.jsonl": {"count": 2, "lines": [5, 9], "modes": ["truncated", "huge"]},
                    "g001.metering.jsonl": {"count": 1, "lines": [3], "modes": ["bad_date"]},
                },
            }
        )
    )
    (truth / "meters.jsonl").write_bytes(
        b"".join(
            encode_line(m)
            for m in (
                {
                    "nozzle_id": "S0001-D1-N1",
                    "station_id": "S0001",
                    "tank_id": "S0001-T1",
                    "product": "92",
                    "anti_cheat": True,
                    "scenario": None,
                    "error_permille": 0.5,
                    "base_error_permille": 0.5,
                    "segments": [],
                    "dispensings": 100,
                    "metered_ml": 1,
                    "true_ml": 1.0,
                },
                {
                    "nozzle_id": "S0001-D2-N2",
                    "station_id": "S0001",
                    "tank_id": "S0001-T1",
                    "product": "92",
                    "anti_cheat": True,
                    "scenario": "meter_drift",
                    "error_permille": -5.0,
                    "base_error_permille": -5.0,
                    "segments": [],
                    "dispensings": 100,
                    "metered_ml": 1,
                    "true_ml": 1.0,
                },
            )
        )
    )
    check = tmp_path / "check"
    check.mkdir()
    return data, check


def write(check: Path, name: str, rows: list[dict]) -> None:
    (check / name).write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows))


def test_recall_and_false_alarms(dirs) -> None:
    data, check = dirs
    write(
        check,
        "alarms.jsonl",
        [
            alarm("VOLUME_MISMATCH", nozzle_id="S0001-D1-N1", order_id="O1"),  # F1
            alarm("VOLUME_MISMATCH", nozzle_id="S0001-D1-N1", order_id="O1"),  # again: explained
            alarm("SEQUENCE_GAP", nozzle_id="S0001-D1-N1", seq=41),  # F2, half of it
            alarm("UNMATCHED_METERING", nozzle_id="S0001-D1-N2", seq=7),  # F3
            # 01:30 local on 2 March is still 1 March in UTC: matching uses the local date.
            alarm("UNVERIFIED_USE", nozzle_id="S0001-D2-N1", ts="2026-03-02T01:30:00.000+08:00"),
            # allowed:
            alarm("UNVERIFIED_USE", nozzle_id="S0001-D2-N1", ts="2026-03-03T09:00:00.000+08:00"),
            alarm("METER_DRIFT", nozzle_id="S0001-D2-N2"),  # F5 (statistical)
            alarm("TANK_LOSS", tank_id="S0001-T1"),  # allowed by F5
            # false alarms: another order, another nozzle, another local day, another tank
            alarm("VOLUME_MISMATCH", nozzle_id="S0001-D1-N1", order_id="O9"),
            alarm("SEQUENCE_GAP", nozzle_id="S0001-D1-N2", seq=41),
            alarm("UNVERIFIED_USE", nozzle_id="S0001-D2-N1", ts="2026-03-01T23:59:00.000+08:00"),
            alarm("TANK_LOSS", station_id="S0002", tank_id="S0002-T1"),
        ],
    )
    write(
        check,
        "rejects.jsonl",
        [
            {"file": "g001.settlement.jsonl", "line": 5, "reason": "x"},
            {"file": "/some/where/g001.settlement.jsonl", "line": 9, "reason": "x"},
            {"file": "g001.metering.jsonl", "line": 3, "reason": "x"},
        ],
    )
    r = evaluate(data, check)
    assert (r.faults, r.detected, r.honest_cases) == (7, 4, 1)
    assert (r.record_level_faults, r.record_level_detected) == (4, 3)
    assert not r.all_record_level_detected
    assert [m["fault_id"] for m in r.missed] == ["F2"]
    assert r.missed[0]["missing"][0]["rule"] == "UNMATCHED_SETTLEMENT"
    assert (r.statistical_faults, r.statistical_detected) == (2, 1)
    assert r.alarms == 12 and r.false_alarms == 4
    assert sorted(a["rule"] for a in r.unexplained) == [
        "SEQUENCE_GAP",
        "TANK_LOSS",
        "UNVERIFIED_USE",
        "VOLUME_MISMATCH",
    ]
    rows = {row.rule: row for row in r.rows}
    assert (rows["VOLUME_MISMATCH"].injected, rows["VOLUME_MISMATCH"].detected) == (1, 1)
    assert (rows["VOLUME_MISMATCH"].alarms, rows["VOLUME_MISMATCH"].false_alarms) == (3, 1)
    assert rows["SEQUENCE_GAP"].recall == 0.0 and rows["SEQUENCE_GAP"].false_alarms == 1
    assert rows["UNVERIFIED_USE"].recall == 1.0 and rows["UNVERIFIED_USE"].false_alarms == 1
    assert rows["TANK_LOSS"].recall == 0.0 and not rows["TANK_LOSS"].record_level
    assert rows["—"].injected == 1 and rows["—"].recall is None
    assert r.rejects_ok and r.rejects_expected == r.rejects_found == 3
    assert r.meters is None  # no meters.jsonl in this check run


def test_rejects_and_meters_mismatch(dirs) -> None:
    data, check = dirs
    write(check, "alarms.jsonl", [])
    write(
        check,
        "rejects.jsonl",
        [
            {"file": "g001.settlement.jsonl", "line": 5, "reason": "x"},
            {"file": "g001.event.jsonl", "line": 1, "reason": "x"},
        ],
    )
    write(
        check,
        "meters.jsonl",
        [
            {"nozzle_id": "S0001-D1-N1", "error_permille": 0.7, "ci95_permille": [0.1, 1.3], "n": 90, "status": "ok"},
            {
                "nozzle_id": "S0001-D2-N2",
                "error_permille": -4.0,
                "ci95_permille": [-4.6, -3.4],
                "n": 80,
                "status": "violation",
            },
        ],
    )
    r = evaluate(data, check)
    assert not r.rejects_ok and (r.rejects_expected, r.rejects_found) == (3, 2)
    got = {f.file: (f.expected, f.found) for f in r.reject_files}
    assert got == {"g001.settlement.jsonl": (2, 1), "g001.metering.jsonl": (1, 0), "g001.event.jsonl": (0, 1)}
    m = r.meters
    assert m is not None
    assert m.nozzles_estimated == 2 and m.mae_permille == pytest.approx(0.6)
    assert m.ci95_coverage == 0.5 and (m.violations_true, m.violations_found) == (1, 1)
    assert r.false_alarms == 0 and r.detected == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_render(dirs, lang: str) -> None:
    data, check = dirs
    write(check, "alarms.jsonl", [alarm("VOLUME_MISMATCH", nozzle_id="S0001-D1-N1", order_id="O1")])
    buf = io.StringIO()
    render_evaluation(evaluate(data, check), Console(file=buf, width=160), lang=lang)
    text = buf.getvalue()
    # one language at a time (the catalog's ``evaluation`` table), rules by name
    if lang == "zh":
        assert "油量不符" in text and "注入" in text and "误报" in text
        assert not re.search(r"[A-Za-z]{2,}[,:;]?\s+[A-Za-z]{2,}", text), text
        assert "VOLUME_MISMATCH" not in text
    else:
        assert "Volume mismatch" in text and "Injected" in text
        assert not re.search(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]", text), text
