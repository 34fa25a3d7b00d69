"""The export files: JSON (exact integers in the contract's units, mL and fen; the
published schemas in ``docs/schema/``) and XLSX (typed numbers in 升 and 元, units in
the headers, the words in the reader's language — the catalog's ``agency_export``).

A text cell is always text: openpyxl takes a string starting with ``=`` for a formula,
and a spreadsheet program takes ``+``, ``-``, ``@`` (and a tab or a carriage return
before them) for one when the sheet is saved as CSV and opened again. Only
administrators change the registry (contract v1.1 §C), but a station's name and
operator are what the station declared to them — text a station chose — so every text
cell is stored as a string, and one starting so with Excel's quote prefix (shown as
typed, never evaluated)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from anxin.contract.times import format_ts
from anxin.exports.figures import Figures, Quality, Sales
from anxin.i18n.po import table

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FIXED_TIME = datetime(2000, 1, 1)  # workbook metadata: no wall clock in the file
LITRES, YUAN, COUNT = "#,##0.000", "#,##0.00", "0"


def word(key: str, lang: str) -> str:
    zh, en = table("agency_export")[key]
    return en if lang == "en" else zh


# --------------------------------------------------------------------------- JSON
def _head(kind: str, f: Figures, district: str | None, exported_by: str) -> dict[str, Any]:
    return {
        "format": f"anxin.export.{kind}/1",
        "kind": kind,
        "period": {"from": f.start, "to": f.end},
        "as_of": format_ts(f.as_of_us),
        "exported_by": exported_by,
        "scope": {"district": district, "stations": [s.station_id for s in f.stations]},
        "units": {"volume": "mL", "amount": "fen"},
    }


def _station(s: Any) -> dict[str, str]:
    return {"station_id": s.station_id, "name": s.name, "operator": s.operator, "district": s.district}


def _period_quality(q: Quality) -> dict[str, Any]:
    d = q.as_dict()
    d.pop("no_data")
    d["outage_days"], d["no_data_days"] = q.outage_days, q.no_data_days
    return d


def tax_json(f: Figures, *, district: str | None, exported_by: str) -> bytes:
    out = _head("tax", f, district, exported_by)
    out["stations"] = [
        {
            **_station(s),
            "days": [
                {
                    "day": d,
                    "products": [
                        {"product": p, **f.sales[(s.station_id, d, p)].as_dict()} for p in f.products(s.station_id, d)
                    ],
                    "quality": f.quality[(s.station_id, d)].as_dict(),
                }
                for d in f.days
            ],
            "period": {
                "products": [{"product": p, **v.as_dict()} for p, v in f.station_sales(s.station_id).items()],
                "quality": _period_quality(f.station_quality(s.station_id)),
            },
        }
        for s in f.stations
    ]
    return msgspec.json.encode(out)


def _commerce_row(v: Sales) -> dict[str, int]:
    return {
        "sales_ml": v.metered_ml + v.board_ml,
        "metered_ml": v.metered_ml,
        "board_ml": v.board_ml,
        "dispensings": v.metered_n + v.board_n,
        "settled_ml": v.settled_ml,
        "settled_n": v.settled_n,
    }


def district_totals(f: Figures) -> dict[str, tuple[dict[str, Sales], int, int]]:
    """District → (product → sales, stations, doubtful stations)."""
    out: dict[str, tuple[dict[str, Sales], int, int]] = {}
    for s in f.stations:
        products, n, doubtful = out.get(s.district, ({}, 0, 0))
        for p, v in f.station_sales(s.station_id).items():
            products.setdefault(p, Sales()).add(v)
        out[s.district] = (products, n + 1, doubtful + f.station_quality(s.station_id).doubtful)
    return {k: (dict(sorted(v[0].items())), v[1], v[2]) for k, v in sorted(out.items())}


def commerce_json(f: Figures, *, district: str | None, exported_by: str) -> bytes:
    out = _head("commerce", f, district, exported_by)
    stations = []
    for s in f.stations:
        q = f.station_quality(s.station_id)
        stations.append(
            {
                **_station(s),
                "products": [{"product": p, **_commerce_row(v)} for p, v in f.station_sales(s.station_id).items()],
                "quality": {
                    "alarms": q.alarm_count,
                    "outage_days": q.outage_days,
                    "no_data_days": q.no_data_days,
                    "doubtful": q.doubtful,
                },
            }
        )
    out["stations"] = stations
    out["districts"] = [
        {
            "district": k,
            "stations": n,
            "doubtful_stations": doubtful,
            "products": [{"product": p, **_commerce_row(v)} for p, v in products.items()],
        }
        for k, (products, n, doubtful) in district_totals(f).items()
    ]
    return msgspec.json.encode(out)


# --------------------------------------------------------------------------- XLSX
class Sheet:
    """Rows of typed cells: (value, number format or None)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def row(self, *cells: Any) -> None:
        values = [c[0] if isinstance(c, tuple) else c for c in cells]
        self.ws.append(values)
        r = self.ws.max_row
        for i, c in enumerate(cells, 1):
            cell = self.ws.cell(row=r, column=i)
            if isinstance(c, tuple) and c[1]:
                cell.number_format = c[1]
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
                if cell.value.startswith(FORMULA_START):
                    cell.quotePrefix = True


def L(ml: int) -> tuple[float, str]:
    return ml / 1000, LITRES


def Y(fen: int) -> tuple[float, str]:
    return fen / 100, YUAN


def N(n: int) -> tuple[int, str]:
    return n, COUNT


def _workbook(kind: str, f: Figures, district: str | None, exported_by: str, lang: str) -> tuple[Any, Sheet]:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    about = Sheet(wb.active)
    wb.active.title = word("sheet_about", lang)
    about.row(word(f"title_{kind}", lang))
    wb.active["A1"].font = Font(bold=True, size=13)
    about.row(word("period", lang), f"{f.start} ~ {f.end}")
    about.row(word("scope", lang), district or word("all_districts", lang))
    about.row(word("stations", lang), N(len(f.stations)))
    about.row(word("as_of", lang), format_ts(f.as_of_us)[:19].replace("T", " "))
    about.row(word("exported_by", lang), exported_by)
    about.row(word("source", lang))
    for key in (f"def_{kind}", "def_metered", "def_board", "def_doubtful", "def_units"):
        about.row(word(key, lang))
    wb.active.column_dimensions["A"].width = 28
    wb.active.column_dimensions["B"].width = 40
    return wb, about


def _table(wb: Any, title: str, headers: Sequence[str], lang: str) -> Sheet:
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(word(title, lang))
    sheet = Sheet(ws)
    sheet.row(*[word(h, lang) for h in headers])
    for i, c in enumerate(ws[1], 1):
        c.font = Font(bold=True)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[c.column_letter].width = 14 if i > 4 else 18
    ws.freeze_panes = "A2"
    return sheet


def _save(wb: Any) -> bytes:
    """The workbook's bytes, the same for the same figures: fixed metadata times and zip
    entries re-stamped (openpyxl stamps both with the clock), so the digest in the audit
    log can be reproduced from the same data and the same ``as_of``."""
    wb.properties.creator = "anxin"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            stamped = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            stamped.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # (openpyxl sets "modified" to the clock on save)
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            dst.writestr(stamped, data)
    return out.getvalue()


def _yes(b: bool, lang: str) -> str:
    return word("yes" if b else "no", lang)


SALES_COLS = (
    "col_metered_n",
    "col_metered_l",
    "col_metered_value",
    "col_unpriced",
    "col_board_l",
    "col_settled_n",
    "col_settled_l",
    "col_settled_yuan",
    "col_settled_board_l",
    "col_settled_board_yuan",
    "col_diff_l",
    "col_diff_yuan",
)


def _sales_cells(v: Sales) -> list[tuple[Any, str]]:
    return [
        N(v.metered_n),
        L(v.metered_ml),
        Y(v.metered_value_fen),
        N(v.unpriced_n),
        L(v.board_ml),
        N(v.settled_n),
        L(v.settled_ml),
        Y(v.settled_fen),
        L(v.settled_board_ml),
        Y(v.settled_board_fen),
        L(v.difference_ml),
        Y(v.difference_fen),
    ]


STATION_COLS = ("col_station_id", "col_station_name", "col_district")


def tax_xlsx(f: Figures, *, district: str | None, exported_by: str, lang: str) -> bytes:
    wb, _ = _workbook("tax", f, district, exported_by, lang)
    daily = _table(wb, "sheet_daily", (*STATION_COLS, "col_day", "col_product", *SALES_COLS, "col_doubtful"), lang)
    for s in f.stations:
        for d in f.days:
            doubtful = _yes(f.quality[(s.station_id, d)].doubtful, lang)
            for p in f.products(s.station_id, d):
                v = f.sales[(s.station_id, d, p)]
                daily.row(s.station_id, s.name, s.district, d, p, *_sales_cells(v), doubtful)
    period = _table(wb, "sheet_period", (*STATION_COLS, "col_product", *SALES_COLS, "col_doubtful"), lang)
    for s in f.stations:
        doubtful = _yes(f.station_quality(s.station_id).doubtful, lang)
        for p, v in f.station_sales(s.station_id).items():
            period.row(s.station_id, s.name, s.district, p, *_sales_cells(v), doubtful)
    cols = ("col_day", "col_alarms", "col_excluded", "col_outage_min", "col_unmonitored", "col_doubtful")
    quality = _table(wb, "sheet_quality", (*STATION_COLS, *cols), lang)
    for s in f.stations:
        for d in f.days:
            q = f.quality[(s.station_id, d)]
            quality.row(
                s.station_id,
                s.name,
                s.district,
                d,
                N(q.alarm_count),
                N(q.excluded),
                N(q.outage_us // 60_000_000),
                _yes(q.no_data, lang),
                _yes(q.doubtful, lang),
            )
    return _save(wb)


COMMERCE_COLS = (
    "col_product",
    "col_sales_l",
    "col_metered_l",
    "col_board_l",
    "col_dispensings",
    "col_settled_l",
    "col_settled_n",
)


def _commerce_cells(v: Sales) -> list[tuple[Any, str]]:
    return [
        L(v.metered_ml + v.board_ml),
        L(v.metered_ml),
        L(v.board_ml),
        N(v.metered_n + v.board_n),
        L(v.settled_ml),
        N(v.settled_n),
    ]


def commerce_xlsx(f: Figures, *, district: str | None, exported_by: str, lang: str) -> bytes:
    wb, _ = _workbook("commerce", f, district, exported_by, lang)
    cols = (*COMMERCE_COLS, "col_outage_days", "col_unmonitored_days", "col_doubtful")
    stations = _table(wb, "sheet_stations", (*STATION_COLS, *cols), lang)
    for s in f.stations:
        q = f.station_quality(s.station_id)
        for p, v in f.station_sales(s.station_id).items():
            stations.row(
                s.station_id,
                s.name,
                s.district,
                p,
                *_commerce_cells(v),
                N(q.outage_days),
                N(q.no_data_days),
                _yes(q.doubtful, lang),
            )
    districts = _table(wb, "sheet_districts", ("col_district", *COMMERCE_COLS, "col_stations", "col_doubtful_n"), lang)
    city: dict[str, Sales] = {}
    for name, (products, n, doubtful) in district_totals(f).items():
        for p, v in products.items():
            districts.row(name, p, *_commerce_cells(v), N(n), N(doubtful))
            city.setdefault(p, Sales()).add(v)
    for p, v in sorted(city.items()):
        districts.row(word("city_total", lang), p, *_commerce_cells(v), N(len(f.stations)), "")
    return _save(wb)
