"""Files as vendors deliver them (issue 16 item 4): one reader (anxin.tabular) for CSV —
UTF-8 with or without a BOM, GBK/GB18030 detected, never a silent mojibake — and XLSX,
a column map, and the station's POS settlement import (anxin.edge.posfile) built on
them: rows converted exactly, every bad row named, nothing half-imported; hostile
files give a clear error, never a crash or an unbounded parse."""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

import msgspec
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from anxin.edge.outbox import Outbox
from anxin.edge.posfile import DEFAULT_MAP, SCHEMA, load_pos_map, queue, read_pos
from anxin.register import parse_csv, to_csv
from anxin.register.csvfile import DEFAULT_MAP as VERIFICATION_MAP
from anxin.register.csvfile import SCHEMA as VERIFICATION_SCHEMA
from anxin.tabular import Limits, MapError, csv_template, load_map, map_toml, read_table, safe_cell, xlsx_template
from anxin.tabular.writer import xlsx_bytes

HEADER = ["加油站编号", "订单号", "油枪号", "交易时间", "升数", "单价(元/升)", "金额", "实收金额", "支付方式"]
ROWS = [
    ["S0001", "A-1", "S0001-D1-N1", "2026/03/01 08:15:02", "30.25", "7.89", "238.67", "230.00", "微信"],
    ["S0001", "A-2", "S0001-D1-N2", "2026-03-01 09:00:00", "12", "8.12", "97.44", "97.44", "现金"],
]
EXPECTED = [
    {
        "kind": "settlement",
        "station_id": "S0001",
        "order_id": "A-1",
        "nozzle_id": "S0001-D1-N1",
        "pump_seq": None,
        "ts": "2026-03-01T08:15:02.000+08:00",
        "volume_ml": 30250,
        "unit_price_fen": 789,
        "amount_fen": 23867,
        "paid_fen": 23000,
        "payment": "wechat",
    },
    {
        "kind": "settlement",
        "station_id": "S0001",
        "order_id": "A-2",
        "nozzle_id": "S0001-D1-N2",
        "pump_seq": None,
        "ts": "2026-03-01T09:00:00.000+08:00",
        "volume_ml": 12000,
        "unit_price_fen": 812,
        "amount_fen": 9744,
        "paid_fen": 9744,
        "payment": "cash",
    },
]


def verifications() -> list[dict]:
    """Two verification records of two runs each (contract v1 §3)."""
    out = []
    for i, nozzle in enumerate(("S0001-D1-N1", "S0001-D1-N2")):
        out.append(
            {
                "kind": "verification",
                "station_id": "S0001",
                "nozzle_id": nozzle,
                "ts": f"2026-03-0{i + 1}T08:15:00.000+08:00",
                "type": "periodic",
                "org": "Zhejiang Institute of Metrology",
                "certificate_no": f"JD-{i}",
                "k_pulses_per_m3": 100000 + i,
                "valid_until": "2026-09-01T00:00:00.000+08:00",
                "runs": [
                    {
                        "flow_ml_per_min": flow,
                        "standard_ml": 20000,
                        "indicated_ml": 20000 + 30 * k,
                        "standard_temp_mc": 20500,
                        "dispenser_temp_mc": -1500,
                    }
                    for k, flow in enumerate((40000, 8000))
                ],
            }
        )
    return out


def csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    return "\r\n".join(",".join(r) for r in [header, *rows]) + "\r\n"


def workbook(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- encodings
def test_a_gbk_csv_as_chinese_excel_saves_it_imports_cleanly() -> None:
    data = csv_text(ROWS).encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    got = read_pos(data)
    assert got.errors == [] and got.encoding == "gb18030"
    assert [r for _, r in got.records] == EXPECTED and [n for n, _ in got.records] == [2, 3]


def test_a_utf8_file_with_a_bom_and_without() -> None:
    for data in (b"\xef\xbb\xbf" + csv_text(ROWS).encode(), csv_text(ROWS).encode()):
        got = read_pos(data)
        assert got.errors == [] and got.encoding == "utf-8" and [r for _, r in got.records] == EXPECTED


def test_characters_only_gb18030_has_survive() -> None:
    """䶮 (U+4DAE, extension A: two bytes) and 𠀀 (U+20000, extension B: four bytes) are
    not in GBK; a GB18030 file carries them."""
    for ch in ("䶮", "𠀀"):
        with pytest.raises(UnicodeEncodeError):
            ch.encode("gbk")
    records = verifications()
    records[0]["org"] = "广东省䶮𠀀计量检定所"
    data = to_csv(records).decode().encode("gb18030")
    assert "𠀀".encode("gb18030") in data and len("𠀀".encode("gb18030")) == 4
    parsed = parse_csv(data)
    assert parsed.errors == [] and parsed.records == records


def test_broken_utf8_is_an_error_not_mojibake() -> None:
    good = csv_text(ROWS).encode()
    broken = good.replace("现金".encode(), "现".encode() + b"\xe9\x87", 1)  # a character cut short, line 3
    err = read_pos(broken).errors
    assert [(e.line, e.column, e.problem.key) for e in err] == [(3, None, "broken_utf8")]
    assert "UTF-8" in err[0].text("en") and "GB18030" in err[0].text("en") and "第 3 行" in err[0].text("zh")
    # the first Chinese of a file with an English header, cut short: still no GB18030 guess
    english = csv_text(ROWS, ["station_id", "order_id", "nozzle_id", "ts", "volume_ml", "unit_price_fen"] + HEADER[6:])
    cut = english.encode().replace("微".encode(), "微".encode()[:2], 1)
    err = read_pos(cut).errors
    assert [(e.line, e.problem.key) for e in err] == [(2, "broken_utf8")]
    utf16 = csv_text(ROWS).encode("utf-16")
    assert [e.problem.key for e in read_pos(utf16).errors] == ["utf16"]
    pua = csv_text(ROWS).encode("gbk").replace("微信".encode("gbk"), b"\xaa\xa1", 1)  # GBK's user-defined area
    assert [(e.line, e.problem.key) for e in read_pos(pua).errors] == [(2, "unclear_encoding")]
    assert [e.problem.key for e in read_pos(b"\x81\x20,x\r\n").errors] == ["not_text"]


# ---------------------------------------------------------------- XLSX
def test_an_xlsx_export_imports_cleanly_numbers_and_dates_as_typed() -> None:
    rows: list[list[object]] = [
        HEADER,
        ["S0001", "A-1", "S0001-D1-N1", dt.datetime(2026, 3, 1, 8, 15, 2), 30.25, 7.89, 238.67, 230, "微信"],
        [],  # an empty row is skipped
        ["S0001", "A-2", "S0001-D1-N2", "2026-03-01 09:00:00", 12, 8.12, 97.44, 97.44, "现金"],
    ]
    got = read_pos(workbook(rows))
    assert got.errors == [] and got.format == "xlsx"
    assert [r for _, r in got.records] == EXPECTED and [n for n, _ in got.records] == [2, 4]


def test_an_export_with_a_title_above_and_totals_below() -> None:
    """What a POS's Excel export looks like: a title, a blank row, the header on row 3,
    the sales, and a 合计 row — the map says where the header is; totals are no sales."""
    rows: list[list[object]] = [
        ["XX加油站销售明细 2026-03-01"],
        [],
        HEADER,
        ["S0001", "A-1", "S0001-D1-N1", dt.datetime(2026, 3, 1, 8, 15, 2), 30.25, 7.89, 238.67, 230, "微信"],
        ["S0001", "A-2", "S0001-D1-N2", "2026-03-01 09:00:00", 12, 8.12, 97.44, 97.44, "现金"],
        ["合计", "", "", "", 42.25, "", 336.11, 327.44, ""],
    ]
    cmap = load_pos_map(b"header_row = 3")
    got = read_pos(workbook(rows), cmap=cmap)
    assert got.errors == [] and [r for _, r in got.records] == EXPECTED and [n for n, _ in got.records] == [4, 5]
    errors = read_pos(workbook(rows)).errors  # the default map takes line 1, the title, for the header
    assert errors and {(e.line, e.problem.key) for e in errors} == {(1, "missing_column")}
    text = "\r\n".join(["销售明细", ",".join(HEADER), *[",".join(r) for r in ROWS]]) + "\r\n"
    got = read_pos(text.encode("gbk"), cmap=load_pos_map(b"header_row = 2"))
    assert got.errors == [] and [n for n, _ in got.records] == [3, 4]
    [err] = read_pos(text.encode("gbk"), cmap=load_pos_map(b"header_row = 5")).errors
    assert err.text("zh") == "第 5 行：此行应为表头（列映射 header_row = 5）"


def test_formula_cells_are_refused_never_evaluated() -> None:
    rows: list[list[object]] = [HEADER, [*ROWS[0][:6], "=E2*F2", *ROWS[0][7:]]]
    [err] = read_pos(workbook(rows)).errors
    assert (err.line, err.column, err.problem.key) == (2, "G2", "formula")
    assert "=E2*F2" in err.text("zh") and "公式" in err.text("zh") and "formula" in err.text("en")


def test_xlsx_is_bounded_before_and_while_reading() -> None:
    big = workbook([HEADER, *([ROWS[0]] * 50)])
    assert read_table(big, limits=Limits(rows=20)).errors[0].problem.key == "too_many_rows"
    wide = workbook([["x"] * 30, ["1"] * 30])
    assert read_table(wide, limits=Limits(columns=10)).errors[0].problem.key == "too_many_columns"
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b" " * 5_000_000)  # 5 MB of nothing, a few KB packed
    small = bomb.getvalue()
    assert len(small) < 50_000
    [err] = read_table(small, limits=Limits(unpacked=1_000_000)).errors
    assert err.problem.key == "xlsx_too_big" and "5000000" in err.text("en")
    assert read_table(b"PK\x03\x04" + b"\x00" * 40).errors[0].problem.key == "not_xlsx"
    assert read_table(csv_text(ROWS).encode() * 10, limits=Limits(bytes=500)).errors[0].problem.key == "too_big"


def test_an_entity_bomb_in_a_sheet_is_an_error_not_a_hang() -> None:
    src = zipfile.ZipFile(io.BytesIO(workbook([["a", "b"]])))
    entities = "".join(f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    dtd = f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e0 "lol">{entities}]>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = (dtd + body.decode().replace("<t>a</t>", "<t>&e9;</t>")).encode()
            dst.writestr(item, body)
    [err] = read_table(out.getvalue()).errors
    assert err.problem.key == "not_xlsx_detail" and "XLSX" in err.text("zh")


# ---------------------------------------------------------------- nothing half-imported
def test_a_file_with_bad_rows_names_each_and_queues_nothing(tmp_path: Path) -> None:
    rows = [
        ROWS[0],
        ["S0001", "A-2", "S0001-D1-N2", "2026-03-01 09:00:00", "12.3456", "8.12", "97.44", "97.44", "现金"],
        ["S0001", "A-3", "S0001-D1-N2", "昨天", "10", "8.12", "81.2", "81.2", "刷脸"],
        ["S0001", "A-1", "S0001-D1-N1", "2026-03-01 10:00:00", "10", "8.12", "81.2", "81.2", "现金"],
        ["S0001", "A-5", "S0001-D1-N2", "2026-03-01 11:00:00", "10", "-8.12", "81.2", "81.2"],
        ["S0002", "A-6", "S0001-D1-N2", "2026-03-01 12:00:00", "10", "8.12", "81.2", "81.2", "现金"],
    ]
    got = read_pos(csv_text(rows).encode("gbk"), station_id="S0001")
    assert got.records == []
    named = [(e.line, e.column, e.problem.key) for e in got.errors]
    assert named == [
        (3, "升数", "not_whole"),
        (4, "交易时间", "not_a_time"),
        (4, "支付方式", "not_in_values"),
        (5, "订单号", "order_twice"),
        (6, None, "cell_count"),
        (7, "加油站编号", "other_station"),
    ]
    zh = [e.text("zh") for e in got.errors]
    assert zh[0] == "第 3 行“升数”列：“12.3456”（L）换算后不是契约单位的整数，不做舍入"
    assert zh[3] == "第 5 行“订单号”列：订单号“A-1”重复（首次出现在第 2 行）"
    assert zh[5] == "第 7 行“加油站编号”列：加油站“S0002”不是本站（S0001）"
    assert got.errors[1].text("en") == (
        "line 4, column 交易时间: not a time: '昨天' "
        "(formats: %Y-%m-%d %H:%M:%S | %Y/%m/%d %H:%M:%S | %Y/%m/%d %H:%M | %Y%m%d%H%M%S)"
    )
    box = Outbox(tmp_path / "outbox.sqlite")
    with pytest.raises(ValueError):
        queue(box, got, source="pos:x")
    assert box.backlog() == 0
    # the command line says the same and queues nothing
    (tmp_path / "bad.csv").write_bytes(csv_text(rows).encode("gbk"))
    r = CliRunner().invoke(_app(), ["edge", "import-pos", str(tmp_path / "bad.csv"), "--outbox", str(tmp_path / "ob")])
    assert r.exit_code == 1 and "文件有 5 处错误，未导入任何记录" in r.output and "第 6 行：有 8 个单元格" in r.output
    assert Outbox(tmp_path / "ob").backlog() == 0


@pytest.mark.parametrize(
    ("amount", "fen"),
    [
        ("¥238.67", 23867),
        ("￥ 1,238.67", 123867),
        ("1,000,000", 100000000),
        ("1,23", None),
        ("¥-1", None),
        ("$5", None),
    ],
)
def test_money_as_a_spreadsheet_displays_it(amount: str, fen: int | None) -> None:
    rows = [[*ROWS[0][:6], f'"{amount}"', *ROWS[0][7:]]]
    got = read_pos(csv_text(rows).encode("gb18030"))  # (¥ U+00A5 is not in GBK; ￥ U+FFE5 is)
    if fen is None:
        [err] = got.errors
        assert err.column == "金额" and err.problem.key in ("not_a_number", "negative") and amount in err.text("zh")
    else:
        assert got.errors == [] and got.records[0][1]["amount_fen"] == fen


def test_the_contract_bounds_are_the_contracts(tmp_path: Path) -> None:
    rows = [[*ROWS[0][:4], "9007199254740.992", *ROWS[0][5:]]]  # 2^53 mL: one past the bound
    [err] = read_pos(csv_text(rows).encode()).errors
    assert (err.line, err.problem.key) == (2, "too_large")
    rows = [[*ROWS[0][:2], "N" * 200, *ROWS[0][3:]]]
    [err] = read_pos(csv_text(rows).encode()).errors
    assert (err.line, err.column, err.problem.key) == (2, "油枪号", "too_long")


def _app():
    from anxin.cli import app

    return app


def test_the_command_queues_the_file_for_the_agent(tmp_path: Path) -> None:
    (tmp_path / "pos.csv").write_bytes(csv_text(ROWS).encode("gbk"))
    ob = tmp_path / "outbox.sqlite"
    args = ["edge", "import-pos", str(tmp_path / "pos.csv"), "--outbox", str(ob), "--station", "S0001"]
    r = CliRunner().invoke(_app(), [*args, "--check"])
    assert r.exit_code == 0 and "检查通过：2 条结算记录" in r.output and not ob.exists()
    r = CliRunner().invoke(_app(), args)
    assert r.exit_code == 0, r.output
    box = Outbox(ob)
    pending = box.peek(10)
    assert [(p.source, p.line) for p in pending] == [(f"pos:{(tmp_path / 'pos.csv').resolve()}", 2)] + [
        (f"pos:{(tmp_path / 'pos.csv').resolve()}", 3)
    ]
    assert [msgspec.json.decode(p.body) for p in pending] == EXPECTED


# ---------------------------------------------------------------- the column map
VENDOR_MAP = """
kind = "settlement"
timezone = "+08:00"

[fields.station_id]
value = "S0001"

[fields.order_id]
columns = ["单据号"]

[fields.nozzle_id]
columns = ["枪号"]
values = { "1" = "S0001-D1-N1", "2" = "S0001-D1-N2" }

[fields.pump_seq]
columns = ["泵码流水"]

[fields.ts]
columns = ["日期时间"]
formats = ["%Y%m%d %H%M%S"]

[fields.volume_ml]
columns = ["油量(毫升)"]
unit = "mL"

[fields.amount_fen]
columns = ["金额(分)"]
unit = "分"

[fields.paid_fen]
columns = ["实付(分)"]
unit = "分"
"""


def test_a_vendors_map_renames_converts_and_looks_up() -> None:
    cmap = load_pos_map(VENDOR_MAP.encode())
    assert cmap.fields["unit_price_fen"] == DEFAULT_MAP.fields["unit_price_fen"]  # what it leaves out: the default's
    header = ["单据号", "枪号", "泵码流水", "日期时间", "油量(毫升)", "单价(元/升)", "金额(分)", "实付(分)", "支付方式"]
    rows = [["A-1", "1", "1042", "20260301 081502", "30250", "7.89", "23867", "23000", "微信"]]
    got = read_pos(csv_text(rows, header).encode("gbk"), cmap=cmap)
    assert got.errors == []
    assert [r for _, r in got.records] == [dict(EXPECTED[0], pump_seq=1042)]
    rows[0][1] = "7"
    [err] = read_pos(csv_text(rows, header).encode(), cmap=cmap).errors
    assert (err.column, err.problem.key) == ("枪号", "not_in_values") and "“7”" in err.text("zh")


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ('kind = "verification"', "map_kind"),
        ("[fields.colour]\ncolumns = ['颜色']", "map_unknown_field"),
        ("[fields.volume_ml]\ncolumns = ['升数']\nunit = '桶'", "map_unit"),
        ("[fields.volume_ml]\ncolumns = ['升数']", "map_unit"),
        ("[fields.ts]\ncolumns = ['时间']\nformats = ['YYYY-MM-DD']", "map_format"),
        ("timezone = 'Asia/Shanghai'", "map_timezone"),
        ("[fields.order_id]\ncolumns = []", "map_shape"),
        ("[fields.order_id]\nunit = '元'\ncolumns = ['x']", "map_unknown_key"),
        ("kind = ", "map_syntax"),
        ('{"fields": 3}', "map_shape"),
        ("header_row = 0", "map_header_row"),
        ("skip = 3", "map_shape"),
    ],
)
def test_a_map_it_cannot_use_says_why(doc: str, key: str) -> None:
    with pytest.raises(MapError) as exc:
        load_pos_map(doc.encode())
    assert exc.value.problem.key == key
    assert exc.value.text("zh") and exc.value.text("en") and "（无法显示的说明）" not in exc.value.text("zh")


def test_the_default_maps_round_trip_through_their_toml_and_templates() -> None:
    for cmap, schema, kind in (
        (DEFAULT_MAP, SCHEMA, "settlement"),
        (VERIFICATION_MAP, VERIFICATION_SCHEMA, "verification"),
    ):
        for lang in ("zh", "en"):
            assert load_map(map_toml(cmap, lang=lang).encode(), schema, kind=kind) == cmap
        table = read_table(csv_template(cmap))
        assert table.errors == [] and table.rows == [] and table.header == [f.columns[0] for f in cmap.fields.values()]
        xlsx = read_table(xlsx_template(cmap, lang="zh"))
        assert xlsx.errors == [] and xlsx.header == table.header
    assert csv_template(DEFAULT_MAP).startswith(b"\xef\xbb\xbf\xe5\x8a\xa0")  # BOM, then 加油站编号


def test_a_verification_file_in_litres_and_degrees_through_a_map() -> None:
    records = verifications()
    cmap = load_map(
        """
kind = "verification"
timezone = "+08:00"
[fields.flow_ml_per_min]
columns = ["流量(L/min)"]
unit = "L/min"
[fields.standard_ml]
columns = ["标准器示值(L)"]
unit = "L"
[fields.standard_temp_mc]
columns = ["标准器温度(℃)"]
unit = "℃"
[fields.ts]
columns = ["检定日期"]
formats = ["%Y年%m月%d日 %H:%M"]
""".encode(),
        VERIFICATION_SCHEMA,
        kind="verification",
        defaults=VERIFICATION_MAP,
    )
    rec = records[0]
    header = ["加油站", "油枪", "检定日期", "检定类型", "检定机构", "证书编号", "K系数", "有效期至"]
    header += ["流量(L/min)", "标准器示值(L)", "示值体积(mL)", "标准器温度(℃)", "加油机温度(m℃)"]
    when = dt.datetime.fromisoformat(rec["ts"]).strftime("%Y年%m月%d日 %H:%M")
    rows = [
        [rec["station_id"], rec["nozzle_id"], when, "周期检定", rec["org"], rec["certificate_no"]]
        + [str(rec["k_pulses_per_m3"]), rec["valid_until"], str(run["flow_ml_per_min"] / 1000)]
        + [str(run["standard_ml"] / 1000), str(run["indicated_ml"]), str(run["standard_temp_mc"] / 1000)]
        + [str(run["dispenser_temp_mc"])]
        for run in rec["runs"]
    ]
    data = workbook([header, *rows])
    parsed = parse_csv(data, cmap=cmap)
    assert parsed.errors == []
    [got] = parsed.records
    assert got["runs"] == rec["runs"] and got["ts"] == dt.datetime.fromisoformat(rec["ts"]).replace(
        second=0, microsecond=0
    ).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------- hostile input
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b))
def test_arbitrary_bytes_never_crash_and_any_error_says_what(data: bytes) -> None:
    for result in (read_table(data), read_pos(data), parse_csv(data)):
        for e in result.errors:
            zh, en = e.text("zh"), e.text("en")
            assert e.line >= 1 and zh and en and "（无法显示的说明）" not in zh


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=10), min_size=1, max_size=8),
    st.sampled_from(["utf-8", "gb18030"]),
)
def test_any_text_table_is_read_back_as_written(rows: list[list[str]], encoding: str) -> None:
    """Whatever cells a vendor writes (quotes, commas, newlines, formula-like text),
    the writer's CSV reads back cell for cell, in either encoding."""
    from anxin.tabular import csv_bytes

    width = max(len(r) for r in rows)
    rows = [["h"] * width, *[r + ["x"] * (width - len(r)) for r in rows]]
    rows = [[c.replace("\r", "").replace("\x00", "") or "x" for c in r] for r in rows]
    try:
        data = csv_bytes(rows, bom=False).decode().encode(encoding)
    except UnicodeEncodeError:
        return  # (a surrogate: no file holds it)
    if encoding == "gb18030" and not data.isascii():
        try:
            data.decode("utf-8")
            return  # GB18030 bytes that are valid UTF-8 as well: read as UTF-8 (docs/imports.md)
        except UnicodeDecodeError:
            pass
    table = read_table(data)
    assume_text = [[c for c in r] for r in rows if any(c.strip() for c in r)]
    if table.errors:  # a reading that would be a guess is refused, never made
        assert table.errors[0].problem.key in ("unclear_encoding", "ambiguous_encoding"), table.errors
        return
    assert [table.header, *[r.cells for r in table.rows]] == assume_text


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x","点我")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "=1"])
def test_csv_injection_is_quoted_when_written_and_read_back_as_written(value: str) -> None:
    assert safe_cell(value).startswith("'") and safe_cell(-1500) == "-1500" and safe_cell("-1500") == "-1500"
    records = verifications()
    records[0]["org"] = value
    data = to_csv(records, chinese=True)
    cells = [c for line in data.decode("utf-8-sig").splitlines() for c in line.split(",")]
    assert not any(c.startswith(("=", "+", "@", "\t", '"=')) for c in cells)  # (negative numbers stay numbers)
    assert any(c.lstrip('"').startswith("'" + value[:1]) for c in cells)
    parsed = parse_csv(data)
    assert parsed.records[0]["org"] == value.strip()


def test_an_xlsx_written_by_the_platform_holds_no_formula() -> None:
    data = xlsx_bytes([("数据", [["=1+1", "@x", 3]])])
    ws = openpyxl.load_workbook(io.BytesIO(data), read_only=False).active
    assert [(c.data_type, c.value) for c in ws[1]] == [("s", "=1+1"), ("s", "@x"), ("n", 3)]


def test_the_report_export_writes_formula_like_text_as_text() -> None:
    """A report's XLSX (anxin.reports.export) holds no formula, whatever a name or a
    line says: openpyxl would take a text starting with = for one."""
    from types import SimpleNamespace

    from anxin.reports.export import to_xlsx

    figures = SimpleNamespace(district='=HYPERLINK("http://x")', start="2026-03-01", end="2026-03-31")
    figures.rows = lambda lang: [("=1+1", "=2+2")]
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx(figures)))  # type: ignore[arg-type]
    cells = [c for row in wb.active.iter_rows() for c in row if c.value is not None]
    assert {c.data_type for c in cells} == {"s"} and "=1+1" in [c.value for c in cells]


def test_without_openpyxl_a_station_reads_csv_and_is_told_what_xlsx_needs(monkeypatch) -> None:
    """The minimal install (the station's) has no openpyxl: CSV is read, an XLSX is one
    clear error naming what to install."""
    xlsx = workbook([HEADER, ROWS[0]])
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl → ImportError
    assert [r for _, r in read_pos(csv_text(ROWS).encode("gbk")).records] == EXPECTED
    [err] = read_pos(xlsx).errors
    assert err.problem.key == "no_openpyxl" and "pip install openpyxl" in err.text("zh")
