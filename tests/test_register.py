"""The verification register (智慧检定): CSV import through the ingest path, register
statuses, due list and coverage, certificates as PDF and the public-page QR codes."""

from __future__ import annotations

import ast
import base64
import functools
import random
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest
import segno
from sqlalchemy import func, select
from wording import CJK, ENGLISH_SENTENCE, fields, table

from anxin.contract.records import Verification, VerificationRun
from anxin.contract.registry import Registry, parse_registry
from anxin.contract.times import US_PER_DAY, format_ts, to_us
from anxin.ingest.service import IngestService
from anxin.register import (
    certificate_lines,
    certificate_pdf,
    coverage,
    due_list,
    import_csv,
    parse_csv,
    public_url,
    qr_png,
    qr_sheet_pdf,
    qr_svg,
    register_rows,
    stored_verification,
    to_csv,
)
from anxin.register.queries import status_of
from anxin.sim import City, ScenarioSet, simulate
from anxin.sim.supply import verification_record
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.verification import evaluate_verification

SEED = 3
CST = timezone(timedelta(hours=8))
HEADER = (
    "station_id,nozzle_id,ts,type,org,certificate_no,k_pulses_per_m3,valid_until,"
    "flow_ml_per_min,standard_ml,indicated_ml,standard_temp_mc,dispenser_temp_mc"
)


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[bytes, Registry, City]:
    out = tmp_path_factory.mktemp("reg") / "city"
    simulate(out, stations=1, days=1, seed=SEED, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    doc = (out / "registry.json").read_bytes()
    return doc, parse_registry(doc), City.build(stations=1, seed=SEED, days=1, scenarios=ScenarioSet.honest())


@pytest.fixture(scope="module")
def records(city) -> list[dict]:
    """Four verifications of the simulated station, the third one failing."""
    _, reg, c = city
    rng = random.Random(1)
    out = []
    for i, n in enumerate(reg.nozzles[:4]):
        passing = i != 2
        out.append(
            verification_record(
                rng,
                c.stations[0],
                n.nozzle_id,
                n.product,
                n.max_flow_ml_per_min,
                c.config.t0_us + (i + 1) * 3_600_000_000,
                n.k_pulses_per_m3,
                0.0005 if passing else 0.005,
                "periodic",
                passing,
            )
        )
    return out


def service(tmp_path: Path, doc: bytes) -> IngestService:
    svc = IngestService(Store(str(tmp_path / "db.sqlite")))
    svc.set_registry(doc, author="t", reason="t")
    return svc


def count(store: Store, table, *where) -> int:
    with store.engine.connect() as c:
        return c.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def pdf_text(pdf: bytes) -> str:
    """The strings drawn on the pages (reportlab: ASCII85 + Flate streams, UTF-16 CID text)."""
    out = []
    for m in re.finditer(rb"(?<!end)stream\r?\n(.*?)\r?\n?endstream", pdf, re.S):
        head, data = pdf[: m.start()].rsplit(b" obj", 1)[-1], m.group(1)
        if b"ASCII85Decode" in head:
            data = base64.a85decode(data.strip(), adobe=True)
        if b"FlateDecode" in head:
            data = zlib.decompress(data)
        for s in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", data, re.S):
            raw = re.sub(
                rb"\\([0-7]{1,3}|.)",
                lambda e: (
                    bytes([int(e.group(1), 8)])
                    if e.group(1)[:1].isdigit()
                    else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(e.group(1), e.group(1))
                ),
                s.group(1),
            )
            out.append(raw.decode("utf-16-be"))
    return "\n".join(out)


def csv_lines(recs: list[dict]) -> list[str]:
    return to_csv(recs).decode().splitlines()


def replace_cell(lines: list[str], line: int, column: str, value: str) -> bytes:
    """The CSV with the cell of ``column`` on ``line`` (1 = header) replaced."""
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    out = list(lines)
    out[line - 1] = ",".join(cells)
    return ("\n".join(out) + "\n").encode()


# ---------------------------------------------------------------- CSV format
def test_simulated_records_round_trip(records) -> None:
    for chinese in (False, True):
        data = to_csv(records, chinese=chinese)
        assert data.startswith(b"\xef\xbb\xbf") is chinese
        parsed = parse_csv(data)
        assert parsed.errors == []
        assert parsed.records == records
        assert parsed.lines == [2, 8, 14, 20]  # six runs per certificate


def test_chinese_headers_bom_and_the_pinned_format() -> None:
    text = (
        "\ufeff加油站, 油枪编号 ,检定时间,检定类型,检定机构,证书编号,K系数,有效期至,流量（mL/min）,"
        "标准体积(ml),加油机示值(mL),标准器温度(m°C),加油机温度（m℃）,备注\r\n"
        "S1,N1,2026-03-01T08:15:02.250+08:00,修理后检定,杭州市计量质量检测研究院,JD-1,100000,"
        "2026-09-01T00:00:00+08:00,40000,20000,20086.5,20000,-1500,无\r\n"
        "\r\n"
        "S1,N1,2026-03-01T08:15:02.250+08:00,修理后检定,杭州市计量质量检测研究院,JD-1,100000,"
        '2026-09-01T00:00:00+08:00,8000,"20000",20072,20000,-1500,"换了主板,复检"\r\n'
    )
    parsed = parse_csv(text.encode())
    assert parsed.errors == []
    assert parsed.records == [
        {
            "kind": "verification",
            "station_id": "S1",
            "nozzle_id": "N1",
            "ts": "2026-03-01T08:15:02.250+08:00",
            "type": "after_repair",
            "org": "杭州市计量质量检测研究院",
            "certificate_no": "JD-1",
            "k_pulses_per_m3": 100000,
            "valid_until": "2026-09-01T00:00:00+08:00",
            "runs": [
                {
                    "flow_ml_per_min": 40000,
                    "standard_ml": 20000,
                    "indicated_ml": 20086.5,
                    "standard_temp_mc": 20000,
                    "dispenser_temp_mc": -1500,
                },
                {
                    "flow_ml_per_min": 8000,
                    "standard_ml": 20000,
                    "indicated_ml": 20072,
                    "standard_temp_mc": 20000,
                    "dispenser_temp_mc": -1500,
                },
            ],
        }
    ]
    assert parsed.lines == [2]
    assert parsed.columns["nozzle_id"] == " 油枪编号 " and parsed.columns["station_id"] == "加油站"


@pytest.mark.parametrize(
    ("column", "value", "key", "message"),
    [
        ("station_id", "", "empty", "empty"),
        ("nozzle_id", "N" * 129, "too_long", "longer than 128"),
        ("ts", "2026-03-01 08:00", "time_no_offset", "no UTC offset"),
        ("ts", "yesterday", "not_a_timestamp", "not an RFC 3339 timestamp"),
        ("valid_until", "1999-12-31T00:00:00+08:00", "time_out_of_range", "outside 2000–2099"),
        ("type", "annual", "unknown_type", "unknown type"),
        ("k_pulses_per_m3", "0", "not_positive_integer", "positive integer"),
        ("k_pulses_per_m3", "1.5", "not_positive_integer", "positive integer"),
        ("flow_ml_per_min", "abc", "not_a_number", "not a number"),
        ("flow_ml_per_min", "0", "out_of_range", "plausible range"),
        ("standard_ml", "-20000", "out_of_range", "plausible range"),
        ("standard_ml", "nan", "not_a_number", "not a number"),
        ("indicated_ml", "1e999", "not_finite", "not a finite number"),
        ("indicated_ml", "20 086", "not_a_number", "not a number"),
        ("standard_temp_mc", "999999", "out_of_range", "plausible range"),
        ("dispenser_temp_mc", "", "empty", "empty"),
    ],
)
def test_every_bad_cell_is_named_by_line_and_column(records, column: str, value: str, key: str, message: str) -> None:
    lines = csv_lines(records)
    data = replace_cell(lines, 9, column, value)  # the second certificate's second run
    parsed = parse_csv(data)
    [err] = parsed.errors
    assert (err.line, err.column, err.problem.key) == (9, column, key)
    en, zh = err.problem.text("en"), err.problem.text("zh")
    shown = value if key != "too_long" else ""  # (not 129 characters again)
    assert message in en and shown in en and shown in zh and not CJK.search(en) and CJK.search(zh), zh
    assert err.text("en").startswith(f"line 9, column {column}: ") and err.text("zh").startswith(
        f"第 9 行“{column}”列："
    )
    assert parsed.records == [records[0], records[2], records[3]]  # that certificate is left out whole


def test_valid_until_before_ts_and_inconsistent_fields(records) -> None:
    lines = csv_lines(records)
    parsed = parse_csv(replace_cell(lines, 11, "station_id", "S0002"))
    [err] = parsed.errors
    assert (err.line, err.column) == (11, "station_id")
    en = err.problem.text("en")
    assert "S0002" in en and "line 8" in en and records[1]["certificate_no"] in en
    assert "第 8 行" in err.problem.text("zh") and records[1]["certificate_no"] in err.problem.text("zh")
    assert records[1] not in parsed.records and len(parsed.records) == 3
    early = "2026-01-01T00:00:00.000+08:00"
    data = "\n".join([lines[0]] + [ln.replace(records[0]["valid_until"], early) for ln in lines[1:7]]).encode()
    [err] = parse_csv(data).errors
    assert (err.line, err.column) == (2, "valid_until") and "before" in err.problem.text("en")


def test_header_and_file_errors(records) -> None:
    lines = csv_lines(records)
    missing = ("\n".join(ln.rsplit(",", 1)[0] for ln in lines)).encode()
    [err] = parse_csv(missing).errors  # (a column not in the file: none of its own)
    assert (err.line, err.column) == (1, None)
    assert err.text("en") == "line 1: missing column dispenser_temp_mc (or 加油机温度(m℃))"
    assert err.text("zh") == "第 1 行：缺少“加油机温度(m℃)”列"
    twice = ("\n".join([lines[0] + ",加油站"] + [ln + ",S0001" for ln in lines[1:]])).encode()
    [err] = parse_csv(twice).errors
    assert (err.line, err.column) == (1, "加油站") and "twice" in err.problem.text("en")
    assert err.text("zh") == "第 1 行“加油站”列：“加油站”列出现两次（另一处写作“station_id”）"
    unit = ("\n".join([lines[0] + ",流量(L/min)"] + [ln + ",54" for ln in lines[1:]])).encode()
    [err] = parse_csv(unit).errors
    assert (err.line, err.column) == (1, "流量(L/min)") and "流量(mL/min)" in err.problem.text("en")
    short = ("\n".join(lines[:4] + [lines[4].rsplit(",", 1)[0]] + lines[5:])).encode()
    [err] = parse_csv(short).errors
    assert (err.line, err.column) == (5, None) and parse_csv(short).records == records[1:]
    bad = to_csv(records).replace(records[3]["certificate_no"].encode(), b"\xff\xfe", 1)
    [err] = parse_csv(bad).errors
    assert err.line == 20 and "UTF-8" in err.problem.text("en") and parse_csv(bad).records == []
    assert parse_csv(b"").errors[0].line == 1


def test_the_same_nozzle_and_time_twice_is_an_error(records) -> None:
    twin = dict(records[0], certificate_no="OTHER-1")
    parsed = parse_csv(to_csv([records[0], twin]))
    [err] = parsed.errors
    assert (err.line, err.column) == (8, "ts") and records[0]["certificate_no"] in err.message
    assert parsed.records == [records[0]]


# ---------------------------------------------------------------- import through the ingest path
def test_import_lands_in_the_ledger_and_the_engine_once(tmp_path, city, records) -> None:
    doc, reg, _ = city
    svc = service(tmp_path, doc)
    data = to_csv(records, chinese=True)
    report = import_csv(svc, data, source="csv:检定.csv")
    assert report.errors == [] and report.imported
    assert [o.status for o in report.outcomes] == ["accepted"] * 4
    assert [o.passed for o in report.outcomes] == [True, True, False, True]
    assert [o.certificate_no for o in report.outcomes] == [r["certificate_no"] for r in records]
    store = svc.store
    assert count(store, T.verifications) == 4
    assert count(store, T.verifications, T.verifications.c.passed.is_(False)) == 1
    assert count(store, T.ledger, T.ledger.c.kind == "verification", T.ledger.c.source == "csv:检定.csv") == 4
    again = import_csv(svc, data, source="csv:检定.csv")
    assert [o.status for o in again.outcomes] == ["duplicate"] * 4
    assert count(store, T.verifications) == 4 and count(store, T.ledger) == 4
    result, record = stored_verification(store, records[2]["nozzle_id"], records[2]["ts"])
    assert record == records[2] and result.certificate_no == records[2]["certificate_no"]


def test_import_with_errors_ingests_nothing_unless_partial(tmp_path, city, records) -> None:
    doc, reg, _ = city
    svc = service(tmp_path, doc)
    lines = csv_lines(records)
    data = replace_cell(lines, 3, "standard_ml", "x")
    data = data.replace(records[3]["nozzle_id"].encode(), b"S0001-D9-N9")  # not registered
    report = import_csv(svc, data, source="csv")
    assert [(e.line, e.column) for e in report.errors] == [(3, "standard_ml"), (20, "nozzle_id")]
    assert "not registered" in report.errors[1].problem.text("en")
    assert report.errors[1].problem.text("zh") == f"证书 {records[3]['certificate_no']}：油枪“S0001-D9-N9”未登记"
    assert [o.status for o in report.outcomes] == ["not_imported", "not_imported"] and not report.imported
    assert count(svc.store, T.ledger) == 0
    partial = import_csv(svc, data, source="csv", allow_partial=True)
    assert [(o.line, o.status) for o in partial.outcomes] == [(8, "accepted"), (14, "accepted")]
    assert count(svc.store, T.verifications) == 2


# ---------------------------------------------------------------- the DESIGN.md worked example
def test_worked_example_in_the_register_and_the_certificate(tmp_path, city) -> None:
    doc, reg, c = city
    nozzle = reg.nozzles[0]
    ts = format_ts(c.config.t0_us + 3_600_000_000)
    rows = [
        f"{nozzle.station_id},{nozzle.nozzle_id},{ts},periodic,杭州市计量质量检测研究院,JD-2026-0001,"
        f"{nozzle.k_pulses_per_m3},{ts},40000,20000,{v},20000,20000"
        for v in (20086, 20072, 20116)
    ]
    svc = service(tmp_path, doc)
    report = import_csv(svc, "\n".join([HEADER, *rows]).encode(), source="csv")
    assert [(o.status, o.passed) for o in report.outcomes] == [("accepted", False)]
    [row] = [r for r in register_rows(svc.store, reg, now_us=c.config.t0_us + US_PER_DAY) if r.certificate_no]
    assert (row.nozzle_id, row.status, row.source, row.passed, row.within_target) == (
        nozzle.nozzle_id,
        "failed",
        "record",
        False,
        False,
    )
    [fp] = row.flow_points
    assert (fp.flow_ml_per_min, fp.runs, fp.error_permille, fp.repeatability_permille) == (40000, 3, 4.567, 1.302)
    assert not fp.passes_mpe and not fp.passes_repeatability and row.max_abs_error_permille == 4.567
    result, record = stored_verification(svc.store, nozzle.nozzle_id, ts)
    station, product = reg.station_by_id[nozzle.station_id], reg.product_by_id[nozzle.product]
    pdf = certificate_pdf(result, station=station, nozzle=nozzle, registry_product=product, record=record)
    text = pdf_text(pdf)
    for s in (
        "检定结果通知书",
        "JD-2026-0001",
        "+0.43 %",
        "+0.36 %",
        "+0.58 %",
        "+0.46 %",
        "0.13 %",
        "不合格",
        "流量 40 L/min：示值误差 +0.46 % 超出最大允许误差 ±0.30 %",
        "流量 40 L/min：重复性 0.13 % 超出 0.10 %",
        "±3‰",
        "杭州市目标 ±0.20 %（±2‰）：未达到",
        "E_r = (E_max - E_min) / d_n",
        "20.00",
    ):
        assert s in text, s
    lines = certificate_lines(result, station=station, nozzle=nozzle, registry_product=product, record=record)
    assert lines["points"][1] == ["40", "3", "+0.46 %", "0.13 %", "±0.30 %", "不合格"]


# ---------------------------------------------------------------- statuses, due list, coverage
NOW = to_us(datetime(2026, 6, 1, tzinfo=CST))
DAY = US_PER_DAY
PASS_RUNS = [20010, 20012, 20008]
FAIL_RUNS = [20086, 20072, 20116]  # the worked example


def _nozzle(nid: str, sid: str, passed: bool, until_days: int) -> dict:
    return {
        "nozzle_id": nid,
        "station_id": sid,
        "dispenser_id": nid[:-1],
        "tank_id": "T",
        "product": "92",
        "anti_cheat": True,
        "key_alg": "ed25519",
        "key_id": nid,
        "public_key": "-",
        "k_pulses_per_m3": 100000,
        "max_flow_ml_per_min": 50000,
        "verified_until": format_ts(NOW + until_days * DAY),
        "last_verification_passed": passed,
    }


def _verification(nid: str, sid: str, vtype: str, ts_days: int, passed: bool, until_days: int):
    dt = datetime.fromtimestamp((NOW + ts_days * DAY) / 1e6, tz=UTC).astimezone(CST)
    runs = [
        VerificationRun(
            flow_ml_per_min=40000, standard_ml=20000, indicated_ml=v, standard_temp_mc=20000, dispenser_temp_mc=20000
        )
        for v in (PASS_RUNS if passed else FAIL_RUNS)
    ]
    v = Verification(
        station_id=sid,
        nozzle_id=nid,
        ts=dt,
        type=vtype,
        org="杭州市计量质量检测研究院",
        certificate_no=f"C-{nid}-{ts_days}",
        k_pulses_per_m3=100000,
        valid_until=dt + timedelta(days=until_days - ts_days),
        runs=runs,
    )
    result = evaluate_verification(v)
    assert result.passed is passed
    return result


@pytest.fixture
def small(tmp_path) -> tuple[Store, Registry]:
    """Station A (临平区): N1…N8; station B (西湖区): N9. Statuses at NOW, by hand:
    N1 valid, N2 due_soon, N3 overdue (its later verification is after NOW), N4 failed,
    N5 never, N6 valid (registry), N7 valid (a record supersedes an overdue registry),
    N8 failed (a failed after-repair verification after a passed one), N9 due_soon (registry)."""
    stations = [
        {"station_id": s, "name": n, "operator": "中国石化", "district": d, "lat": 30.0, "lon": 120.0}
        for s, n, d in (("A", "塘栖加油站", "临平区"), ("B", "西溪加油站", "西湖区"))
    ]
    nozzles = [
        _nozzle("A-N1", "A", True, 10),
        _nozzle("A-N2", "A", True, 100),
        _nozzle("A-N3", "A", True, 50),
        _nozzle("A-N4", "A", True, 50),
        _nozzle("A-N5", "A", False, 50),
        _nozzle("A-N6", "A", True, 60),
        _nozzle("A-N7", "A", True, -1),
        _nozzle("A-N8", "A", True, 50),
        _nozzle("B-N9", "B", True, 5),
    ]
    reg = msgspec.convert({"stations": stations, "nozzles": nozzles}, Registry)
    store = Store(str(tmp_path / "small.sqlite"))
    store.save_outputs(
        [
            _verification("A-N1", "A", "periodic", -80, True, 100),
            _verification("A-N2", "A", "periodic", -170, True, 10),
            _verification("A-N3", "A", "periodic", -190, True, -5),
            _verification("A-N3", "A", "after_repair", 2, True, 180),  # after NOW: not known yet
            _verification("A-N4", "A", "periodic", -3, False, -3),
            _verification("A-N7", "A", "initial", -20, True, 160),
            _verification("A-N8", "A", "periodic", -100, True, 80),
            _verification("A-N8", "A", "after_repair", -1, False, -1),
        ]
    )
    return store, reg


def test_register_statuses_at_an_injected_time(small) -> None:
    store, reg = small
    rows = {r.nozzle_id: r for r in register_rows(store, reg, now_us=NOW)}
    assert {k: (r.status, r.source) for k, r in rows.items()} == {
        "A-N1": ("valid", "record"),
        "A-N2": ("due_soon", "record"),
        "A-N3": ("overdue", "record"),
        "A-N4": ("failed", "record"),
        "A-N5": ("never", "registry"),
        "A-N6": ("valid", "registry"),
        "A-N7": ("valid", "record"),
        "A-N8": ("failed", "record"),
        "B-N9": ("due_soon", "registry"),
    }
    assert rows["A-N3"].days_left == -5 and rows["A-N2"].days_left == 10 and rows["B-N9"].days_left == 5
    assert rows["A-N8"].last_type == "after_repair" and rows["A-N8"].certificate_no == "C-A-N8--1"
    assert rows["A-N1"].within_target is True and rows["A-N1"].flow_points[0].error_permille == 0.5
    assert rows["A-N5"].last_ts is None and rows["A-N5"].flow_points == []
    # a year later, N3's after-repair verification is known and has expired too
    later = {r.nozzle_id: r.status for r in register_rows(store, reg, now_us=NOW + 365 * DAY, station_ids=["A"])}
    assert len(later) == 8 and later["A-N3"] == "overdue" and later["A-N1"] == "overdue"
    assert status_of(True, NOW, NOW) == "due_soon" and status_of(True, NOW - 1, NOW) == "overdue"
    assert status_of(True, NOW + 30 * DAY, NOW) == "due_soon" and status_of(True, NOW + 30 * DAY + 1, NOW) == "valid"


def test_due_list_puts_overdue_first(small) -> None:
    store, reg = small
    due = due_list(store, reg, now_us=NOW)
    assert [(r.nozzle_id, r.status) for r in due] == [
        ("A-N3", "overdue"),
        ("A-N4", "failed"),
        ("A-N8", "failed"),
        ("A-N5", "never"),
        ("B-N9", "due_soon"),
        ("A-N2", "due_soon"),
    ]
    assert [r.nozzle_id for r in due_list(store, reg, now_us=NOW, within_days=3)] == ["A-N3", "A-N4", "A-N8", "A-N5"]


def test_coverage_and_pass_rate_by_hand(small) -> None:
    store, reg = small
    city = coverage(store, reg, now_us=NOW)
    # valid: N1 N2 N6 N7 N9 of 9; verifications up to NOW: 7, passed N1 N2 N3 N7 N8(periodic) = 5
    assert (city.nozzles, city.valid, city.coverage) == (9, 5, 5 / 9)
    assert (city.verifications, city.passed, city.pass_rate) == (7, 5, 5 / 7)
    assert (city.after_repair, city.after_repair_passed) == (1, 0)
    assert city.by_status == {"overdue": 1, "failed": 2, "never": 1, "due_soon": 2, "valid": 3}
    a = coverage(store, reg, now_us=NOW, district="临平区")
    assert (a.nozzles, a.valid, a.coverage, a.verifications, a.pass_rate) == (8, 4, 0.5, 7, 5 / 7)
    b = coverage(store, reg, now_us=NOW, district="西湖区")
    assert (b.nozzles, b.valid, b.coverage, b.verifications, b.pass_rate) == (1, 1, 1.0, 0, None)
    recent = coverage(store, reg, now_us=NOW, since_us=NOW - 50 * DAY)  # N4, N7, N8's after-repair
    assert (recent.verifications, recent.passed, recent.pass_rate, recent.after_repair) == (3, 1, 1 / 3, 1)


# ---------------------------------------------------------------- PDFs and QR codes
def test_passing_certificate_is_deterministic(small) -> None:
    store, reg = small
    result, record = stored_verification(store, "A-N1", _verification("A-N1", "A", "periodic", -80, True, 100).ts)
    assert record is None  # saved as an output only: no ledger record, no temperatures
    kw = {"station": reg.station_by_id["A"], "nozzle": reg.nozzle_by_id["A-N1"]}
    pdf = certificate_pdf(result, **kw)
    assert pdf.startswith(b"%PDF") and pdf == certificate_pdf(result, **kw)
    text = pdf_text(pdf)
    for s in (
        "加油机检定证书",
        "C-A-N1--80",
        "塘栖加油站（A）",
        "检定结论：合格",
        "有效期至",
        "2026年09月09日",
        "+0.05 %",
        "达到",
        "β_Y = 0.0012 /℃",
        "92号",
    ):
        assert s in text, s


def test_public_url_and_qr_codes() -> None:
    url = public_url("https://anxin.example.cn/", "S0001-D1-N1")
    assert url == "https://anxin.example.cn/p/S0001-D1-N1"
    assert public_url("https://x.cn", "站 1/2") == "https://x.cn/p/%E7%AB%99%201%2F2"
    qr = segno.make_qr(url, error="m")
    assert qr.designator == segno.make(url, error="m", micro=False).designator
    modules = 17 + 4 * qr.version
    svg = qr_svg(url, scale=4)
    assert svg.startswith("<svg") and f'width="{(modules + 8) * 4}"' in svg
    assert svg == qr_svg(url, scale=4) and svg != qr_svg(public_url("https://anxin.example.cn", "S0001-D1-N2"))
    png = qr_png(url, scale=5)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == ((modules + 8) * 5, (modules + 8) * 5)


def test_qr_sheet_is_a_printable_deterministic_pdf() -> None:
    items = [
        (f"S0001-D{i // 3 + 1}-N{i % 3 + 1}", "中国石化塘栖加油站", public_url("https://anxin.example.cn", f"N{i}"))
        for i in range(13)
    ]
    pdf = qr_sheet_pdf(items)
    assert pdf.startswith(b"%PDF") and pdf == qr_sheet_pdf(items)
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 2  # 12 labels a page
    text = pdf_text(pdf)
    assert all(nid in text for nid, _, _ in items) and text.count("中国石化塘栖加油站") == 13 + 2
    assert "扫码查看检定信息" in text and b"/MediaBox [ 0 0 595.2756 841.8898 ]" in pdf


def test_qr_sheet_words_come_from_the_catalog_in_either_language() -> None:
    zh, en = table("qr_sheet", "zh"), table("qr_sheet", "en")
    assert set(zh) == set(en) == {"caption", "title", "title_station"}
    items = [("S1-N1", "城东加油站", "https://anxin.example.cn/p/S1-N1")]
    text_zh, text_en = pdf_text(qr_sheet_pdf(items)), pdf_text(qr_sheet_pdf(items, lang="en"))
    assert "城东加油站：油枪检情公开二维码" in text_zh and zh["caption"] in text_zh
    assert "城东加油站: nozzle verification QR codes" in text_en and en["caption"] in text_en
    assert not CJK.search(text_en.replace("城东加油站", "")), text_en
    assert not ENGLISH_SENTENCE.search(text_zh), text_zh


def test_certificate_of_invalid_and_single_runs(small) -> None:
    _, reg = small
    dt = datetime(2026, 3, 1, 9, tzinfo=CST)
    runs = [
        VerificationRun(
            flow_ml_per_min=f, standard_ml=s, indicated_ml=20010, standard_temp_mc=15000, dispenser_temp_mc=16000
        )
        for f, s in ((40000, 20000), (40000, 0), (8000, 20000))
    ]
    runs += [runs[0]] * 97  # 100 runs: the table goes on over pages
    v = Verification(
        station_id="A",
        nozzle_id="A-N1",
        ts=dt,
        type="initial",
        org="检定<机构>&所",
        certificate_no="C-X",
        k_pulses_per_m3=100000,
        valid_until=dt,
        runs=runs,
    )
    result = evaluate_verification(v)
    record = msgspec.to_builtins(v)
    kw = {"station": reg.station_by_id["A"], "nozzle": reg.nozzle_by_id["A-N1"], "record": record}
    lines = certificate_lines(result, **kw)
    assert lines["reasons"] == ["第 2 次测量数据无效（standard volume must be positive），已剔除"]
    assert lines["notes"] == ["流量 8 L/min：单次测量，未评定重复性"]
    assert len(lines["runs"]) == 100 and lines["runs"][2][4:6] == ["15.00", "16.00"]  # run 3 of the record
    pdf = certificate_pdf(result, **kw)
    text = pdf_text(pdf)
    assert "检定<机构>&所" in text and "首次检定" in text and len(re.findall(rb"/Type /Page\b(?!s)", pdf)) >= 3


# ---------------------------------------------------------------- the certificate's languages
CERTIFICATE = Path(__file__).resolve().parents[1] / "src" / "anxin" / "register" / "certificate.py"


def _certificate_catalog(lang: str) -> dict[str, str]:
    return table("certificate", lang)


def _certificate_keys() -> dict[str, frozenset[str] | None]:
    """Each ``w["key"]`` of certificate.py (ast): the names its ``.format`` gives, None
    where it is shown as it is."""
    out: dict[str, frozenset[str] | None] = {}
    tree = ast.parse(CERTIFICATE.read_text(encoding="utf-8"))
    formatted = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            formatted[id(node.func.value)] = frozenset(k.arg for k in node.keywords if k.arg)
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "w":
            if isinstance(node.slice, ast.Constant):
                out[node.slice.value] = formatted.get(id(node))
        elif isinstance(node, ast.comprehension) and getattr(node.target, "id", "") == "k":  # w[k] for k in (…)
            out.update({elt.value: None for elt in node.iter.elts})  # type: ignore[attr-defined]
    return out


def test_every_certificate_word_is_in_both_catalogs_with_its_placeholders_given() -> None:

    zh, en = _certificate_catalog("zh"), _certificate_catalog("en")
    keys = _certificate_keys()
    assert len(keys) >= 40 and set(keys) == set(zh) == set(en), set(keys) ^ set(zh)
    for key, given in keys.items():
        wanted = {f for text in (zh[key], en[key]) for f in fields(text)}
        assert wanted == (given or set()), (key, wanted, given)
        assert not CJK.search(en[key]), (key, en[key])
        assert not ENGLISH_SENTENCE.search(zh[key]), (key, zh[key])


def test_the_certificate_speaks_the_language_asked_for(small) -> None:
    """An official document: Chinese by default, the same bytes as ``lang="zh"``; in English
    no Chinese character but the registry's and the institute's names (data)."""
    _, reg = small
    dt = datetime(2026, 3, 1, 9, tzinfo=CST)
    runs = [
        VerificationRun(
            flow_ml_per_min=f, standard_ml=20000, indicated_ml=i, standard_temp_mc=20000, dispenser_temp_mc=20000
        )
        for f, i in ((40000, 20086), (40000, 20072), (40000, 20116), (8000, 20010))
    ]
    v = Verification(
        station_id="A",
        nozzle_id="A-N1",
        ts=dt,
        type="after_repair",
        org="杭州市计量质量检测研究院",
        certificate_no="C-Y",
        k_pulses_per_m3=100000,
        valid_until=dt,
        runs=runs,
    )
    result = evaluate_verification(v)
    kw = {"station": reg.station_by_id["A"], "nozzle": reg.nozzle_by_id["A-N1"], "record": msgspec.to_builtins(v)}
    zh_pdf, en_pdf = certificate_pdf(result, **kw, lang="zh"), certificate_pdf(result, **kw, lang="en")
    assert certificate_pdf(result, **kw) == zh_pdf and en_pdf == certificate_pdf(result, **kw, lang="en")
    zh, en = pdf_text(zh_pdf), pdf_text(en_pdf)
    for s in ("检定结果通知书", "流量 40 L/min：重复性 0.13 % 超出 0.10 %", "修理后检定", "2026年03月01日", "计算公式"):
        assert s in zh, s
    assert not ENGLISH_SENTENCE.search(zh), ENGLISH_SENTENCE.findall(zh)
    for s in (
        "Notice of verification result",
        "Flow 40 L/min: repeatability 0.13 % beyond 0.10 %",
        "Flow 8 L/min: a single run, repeatability not assessed",
        "verification after repair",
        "2026-03-01",
        "Result: fail",
        "No. 92",
    ):
        assert s in en, s
    data = ("杭州市计量质量检测研究院", "塘栖加油站", "中国石化", "临平区")
    assert not CJK.search(functools.reduce(lambda t, d: t.replace(d, ""), data, en)), en
    lines = certificate_lines(result, **kw, lang="en")
    assert lines["runs"][1:] == certificate_lines(result, **kw)["runs"][1:]  # the figures are the same


def test_more_than_100_runs_is_an_error(records) -> None:
    rec = dict(records[0], runs=records[0]["runs"] * 17)  # 102 runs
    [err] = parse_csv(to_csv([rec])).errors
    assert err.line == 2 and err.column is None and err.problem.key == "too_many_runs"
    assert err.problem.text("en") == f"certificate {rec['certificate_no']}: 102 runs, at most 100"
