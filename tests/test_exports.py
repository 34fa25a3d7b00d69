"""The agency exports' figures and files (issue 17, item 5): the tax figures equal a
direct computation from the simulator's records (quarantined, forged, cloned and
duplicate records never counted; nozzles without a module apart), the commerce figures
add up to them, the JSON is valid against the published schemas, the XLSX read back
cell by cell for a station (typed numbers, units and words in the headers, Chinese and
English), formula-like names stay text, a data outage and a day without records are
flagged, and a period is checked."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path

import jsonschema
import msgspec
import pytest
from exports_city import END, START, reference
from openpyxl import load_workbook
from sqlalchemy import insert, update

from anxin.contract.registry import parse_registry
from anxin.contract.times import parse_ts
from anxin.exports import schema as S
from anxin.exports.files import word
from anxin.exports.service import ExportRefused, Scope, check_period, export
from anxin.store import schema as T

pytest_plugins = ["exports_city"]
DOCS = Path(__file__).parents[1] / "docs" / "schema"
FIGURES = (
    "metered_n",
    "metered_ml",
    "metered_value_fen",
    "board_n",
    "board_ml",
    "settled_n",
    "settled_ml",
    "settled_fen",
    "settled_board_ml",
    "settled_board_fen",
)


def _export(city, kind: str, fmt: str = "json", *, start=START, end=END, lang="zh", registry=None, now=None, **kw):
    return export(
        city.service.store,
        registry or city.registry,
        kind=kind,
        fmt=fmt,
        start=start,
        end=end,
        scope=Scope(actor="system"),
        lang=lang,
        via="cli",
        now_us=now or city.service.clock(),
        **kw,
    )


def _rows(doc: dict) -> dict[tuple[str, str, str], dict]:
    return {
        (s["station_id"], d["day"], p["product"]): p for s in doc["stations"] for d in s["days"] for p in d["products"]
    }


def test_the_tax_figures_are_those_of_the_simulators_records(city) -> None:
    doc = msgspec.json.decode(_export(city, "tax").data)
    want = reference(city.data, city.registry)
    got = _rows(doc)
    assert set(got) == set(want) and len(got) >= 12  # 4 stations × 2 days × their grades
    for key, figures in want.items():
        assert {k: got[key][k] for k in FIGURES} == {k: figures[k] for k in FIGURES}, key
        g = got[key]
        assert g["difference_ml"] == g["settled_ml"] - g["settled_board_ml"] - g["metered_ml"]
        assert g["difference_fen"] == g["settled_fen"] - g["settled_board_fen"] - g["metered_value_fen"]
    # what the scenarios put in: forged and unknown records excluded, nozzles without a module apart
    assert sum(s["period"]["quality"]["excluded_records"] for s in doc["stations"]) > 0
    assert sum(g["board_ml"] for g in got.values()) > 0
    # the rigged station sold more than its modules measured; an honest one within rounding
    period = {s["station_id"]: s["period"] for s in doc["stations"]}
    diffs = {k: sum(p["difference_ml"] for p in v["products"]) for k, v in period.items()}
    rigged = max(diffs, key=lambda k: diffs[k])
    assert diffs[rigged] > 100_000  # over 100 L
    assert period[rigged]["quality"]["alarms_by_rule"]["VOLUME_MISMATCH"] > 0


def test_the_commerce_figures_add_up_to_the_tax_figures(city) -> None:
    tax = msgspec.json.decode(_export(city, "tax").data)
    com = msgspec.json.decode(_export(city, "commerce").data)
    for st in tax["stations"]:
        mine = next(s for s in com["stations"] if s["station_id"] == st["station_id"])
        by_product = {p["product"]: p for p in mine["products"]}
        for p in st["period"]["products"]:
            c = by_product[p["product"]]
            assert c["sales_ml"] == p["metered_ml"] + p["board_ml"]
            assert (c["metered_ml"], c["board_ml"], c["settled_ml"]) == (
                p["metered_ml"],
                p["board_ml"],
                p["settled_ml"],
            )
    for d in com["districts"]:
        inside = [s for s in com["stations"] if s["district"] == d["district"]]
        assert d["stations"] == len(inside)
        for p in d["products"]:
            assert p["sales_ml"] == sum(
                q["sales_ml"] for s in inside for q in s["products"] if q["product"] == p["product"]
            )
    assert {d["district"] for d in com["districts"]} == {"萧山区", "滨江区", "富阳区"}


@pytest.mark.parametrize("kind", ["tax", "commerce"])
def test_the_json_is_valid_against_the_published_schema(city, kind) -> None:
    published = json.loads((DOCS / f"export-{kind}.schema.json").read_text(encoding="utf-8"))
    assert (DOCS / f"export-{kind}.schema.json").read_text(encoding="utf-8") == S.text_of(f"export-{kind}")
    doc = msgspec.json.decode(_export(city, kind).data)
    jsonschema.Draft202012Validator.check_schema(published)
    jsonschema.Draft202012Validator(published).validate(doc)
    other = "commerce" if kind == "tax" else "tax"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(msgspec.json.decode(_export(city, other).data), published)


def _sheet_rows(ws) -> list[list]:
    return [[c for c in row] for row in ws.iter_rows()]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_workbook_cell_by_cell_for_a_station(city, lang) -> None:
    doc = msgspec.json.decode(_export(city, "tax").data)
    wb = load_workbook(io.BytesIO(_export(city, "tax", "xlsx", lang=lang).data))
    assert wb.sheetnames == [word(k, lang) for k in ("sheet_about", "sheet_daily", "sheet_period", "sheet_quality")]
    daily = _sheet_rows(wb[word("sheet_daily", lang)])
    head = [c.value for c in daily[0]]
    if lang == "zh":
        assert head[:5] == ["站点编号", "站点名称", "区县", "日期", "油品"]
        assert "签名计量升数（升）" in head and "结算金额（元）" in head and "升数差异（结算−签名计量，升）" in head
    else:
        assert head[:5] == ["Station ID", "Station name", "District", "Day", "Fuel grade"]
        assert "Signed metered volume (L)" in head and "Settled amount (CNY)" in head
    col = {h: i for i, h in enumerate(head)}
    want = {(k[1], k[2]): v for k, v in _rows(doc).items() if k[0] == "S0002"}
    rows = [r for r in daily[1:] if r[0].value == "S0002"]
    assert len(rows) == len(want) > 0
    cells = {
        "col_metered_n": ("metered_n", 1, "0"),
        "col_metered_l": ("metered_ml", 1000, "#,##0.000"),
        "col_metered_value": ("metered_value_fen", 100, "#,##0.00"),
        "col_board_l": ("board_ml", 1000, "#,##0.000"),
        "col_settled_n": ("settled_n", 1, "0"),
        "col_settled_l": ("settled_ml", 1000, "#,##0.000"),
        "col_settled_yuan": ("settled_fen", 100, "#,##0.00"),
        "col_settled_board_l": ("settled_board_ml", 1000, "#,##0.000"),
        "col_diff_l": ("difference_ml", 1000, "#,##0.000"),
        "col_diff_yuan": ("difference_fen", 100, "#,##0.00"),
    }
    station = city.registry.station_by_id["S0002"]
    for r in rows:
        assert (r[1].value, r[2].value) == (station.name, station.district)
        g = want[(r[3].value, r[4].value)]
        for key, (field, scale, fmt) in cells.items():
            c = r[col[word(key, lang)]]
            assert c.data_type == "n" and isinstance(c.value, int | float), (key, c.value)
            assert c.value == pytest.approx(g[field] / scale, abs=1e-9) and c.number_format == fmt, key
        assert r[col[word("col_doubtful", lang)]].value == word("yes", lang)  # this city's days all have alarms
    about = [c.value for row in wb[word("sheet_about", lang)].iter_rows() for c in row if c.value]
    assert word("title_tax", lang) in about and f"{START} ~ {END}" in about and word("def_doubtful", lang) in about


def test_names_that_look_like_formulas_stay_text(city) -> None:
    doc = msgspec.json.decode(city.service.registry_document())
    hostile = {"S0001": ('=HYPERLINK("http://x.example","点我")', "+1-1", "@SUM(A1)"), "S0002": ("-2+3", "\tx", "=1")}
    for st in doc["stations"]:
        if st["station_id"] in hostile:
            st["name"], st["operator"], st["district"] = hostile[st["station_id"]]
    reg = parse_registry(msgspec.json.encode(doc))
    for kind in ("tax", "commerce"):
        wb = load_workbook(io.BytesIO(_export(city, kind, "xlsx", registry=reg).data))
        seen = set()
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                    if isinstance(c.value, str) and c.value[:1] in "=+-@\t":
                        assert c.data_type == "s" and c.quotePrefix, (ws.title, c.coordinate)
                        seen.add(c.value)
        assert '=HYPERLINK("http://x.example","点我")' in seen and "-2+3" in seen


def test_an_outage_and_a_day_without_records_are_flagged(city) -> None:
    store = city.service.store
    lo = parse_ts("2026-03-02T10:00:00+08:00")
    with store.engine.begin() as c:  # S0003 watched from before the period, silent for 90 min on the 2nd
        c.execute(update(T.station_watch).where(T.station_watch.c.station_id == "S0003").values(since_us=lo - 10**12))
        c.execute(
            insert(T.alarms).values(
                alarm_id="exports-test-outage",
                rule="DATA_OUTAGE",
                severity="major",
                station_id="S0003",
                ts="2026-03-02T10:00:00.000+08:00",
                ts_us=lo,
                message="outage",
                evidence={"silent_since_us": lo, "resumed": {"received_us": lo + 90 * 60_000_000}},
                raised_us=lo,
            )
        )
    doc = msgspec.json.decode(_export(city, "tax", end=dt.date(2026, 3, 3)).data)
    s3 = next(s for s in doc["stations"] if s["station_id"] == "S0003")
    day2 = next(d for d in s3["days"] if d["day"] == "2026-03-02")
    assert day2["quality"]["outage_minutes"] == 90 and day2["quality"]["doubtful"]
    day3 = next(d for d in s3["days"] if d["day"] == "2026-03-03")
    assert day3["products"] == [] and day3["quality"]["no_data"] and day3["quality"]["doubtful"]
    assert s3["period"]["quality"]["outage_days"] == 1 and s3["period"]["quality"]["no_data_days"] == 1
    com = msgspec.json.decode(_export(city, "commerce", end=dt.date(2026, 3, 3)).data)
    q = next(s for s in com["stations"] if s["station_id"] == "S0003")["quality"]
    assert q == {**q, "outage_days": 1, "no_data_days": 1, "doubtful": True}


def test_a_period_is_whole_begun_days(city) -> None:
    now = parse_ts("2026-03-10T12:00:00+08:00")
    check_period(dt.date(2026, 3, 1), dt.date(2026, 3, 10), now_us=now)
    for a, b, key in (
        (dt.date(2026, 3, 2), dt.date(2026, 3, 1), "period_reversed"),
        (dt.date(2025, 1, 1), dt.date(2026, 3, 1), "period_too_long"),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 11), "period_future"),
    ):
        with pytest.raises(ExportRefused) as e:
            check_period(a, b, now_us=now)
        assert e.value.key == key and e.value.text("zh") and e.value.text("en")
    with pytest.raises(ExportRefused) as e:
        _export(city, "tax", "csv")
    assert e.value.text("en") == "The format is xlsx or json, not csv"


def test_the_files_are_the_same_for_the_same_figures(city) -> None:
    now = city.service.clock()
    a, b = _export(city, "commerce", "xlsx", now=now), _export(city, "commerce", "xlsx", now=now)
    assert a.data == b.data and a.sha256 == b.sha256 and a.audit_seq < b.audit_seq
    assert Counter(x.startswith("S") for x in a.stations) == Counter({True: 4})
