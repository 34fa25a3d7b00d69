"""The verification file (检定数据, CSV or XLSX) from verification equipment: one row per
run, the rows of one ``certificate_no`` forming one verification record (contract v1 §3).

Format (the column table with its Chinese aliases is in ``anxin.register``'s docstring):

* Read by :mod:`anxin.tabular` (UTF-8 with or without a BOM, GBK/GB18030 detected,
  or XLSX); comma-separated, RFC 4180 quoting; a header line. A column map
  (:data:`DEFAULT_MAP` when none is given) may rename the columns, convert units
  (L/min, L, ℃) and read times without an offset in its time zone.
* Columns, in any order, by their English name or one Chinese alias (``COLUMNS``);
  whitespace, full-width parentheses and the case of ``mL`` in a header do not matter.
  Columns not listed are ignored, except a known quantity name with another unit
  (``流量(L/min)``), which is an error unless the map says that unit.
* Timestamps are RFC 3339 with an offset; ``type`` is ``initial|periodic|after_repair``
  or 首次检定 / 周期检定 (后续检定) / 修理后检定; quantities are decimal numbers in the
  column's unit (integers stay integers); ``k_pulses_per_m3`` is a positive integer.
* Fully blank lines are skipped. Every bad cell is reported with its line (1 = the
  header) and column (the header as written). A certificate with any error is left out
  whole: nothing is half-parsed.

An error's problem is a key of the ``register_import`` table (a cell's, a certificate's)
or of the shared reader's ``tabular`` table (the file's, the header's) and its parameters
(the bad value, the certificate, the other line: :class:`anxin.keyed.Message`), worded
when read: ``CsvError.text(lang)`` names the line and column too.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from anxin.contract.parse import Reject, parse_line
from anxin.contract.records import Verification
from anxin.contract.times import TimestampError, parse_ts
from anxin.keyed import Message
from anxin.tabular import ColumnMap, FieldMap, FieldType, Schema, TableError, bind, csv_bytes, parse_map, read_table
from anxin.tabular import errors_text as errors_text
from anxin.tabular.columnmap import UNITS, timestamp
from anxin.tabular.errors import problem as table_problem

RECORD_FIELDS = ("station_id", "nozzle_id", "ts", "type", "org", "certificate_no", "k_pulses_per_m3", "valid_until")
RUN_FIELDS = ("flow_ml_per_min", "standard_ml", "indicated_ml", "standard_temp_mc", "dispenser_temp_mc")

# field → Chinese aliases accepted in a header (the first is the one written by to_csv).
COLUMNS: dict[str, tuple[str, ...]] = {
    "station_id": ("加油站", "加油站编号"),
    "nozzle_id": ("油枪", "油枪编号"),
    "ts": ("检定时间",),
    "type": ("检定类型",),
    "org": ("检定机构",),
    "certificate_no": ("证书编号",),
    "k_pulses_per_m3": ("K系数", "K系数(脉冲/m³)"),
    "valid_until": ("有效期至",),
    "flow_ml_per_min": ("流量(mL/min)",),
    "standard_ml": ("标准体积(mL)",),
    "indicated_ml": ("示值体积(mL)", "加油机示值(mL)"),
    "standard_temp_mc": ("标准器温度(m℃)",),
    "dispenser_temp_mc": ("加油机温度(m℃)",),
}
TYPES = {
    "initial": "initial",
    "periodic": "periodic",
    "after_repair": "after_repair",
    "首次检定": "initial",
    "周期检定": "periodic",
    "后续检定": "periodic",
    "修理后检定": "after_repair",
}
# Plausible ranges of a run's quantities: (low, high, low inclusive).
RANGES: dict[str, tuple[float, float, bool]] = {
    "flow_ml_per_min": (0, 1_000_000, False),
    "standard_ml": (0, 10_000_000, False),
    "indicated_ml": (0, 10_000_000, True),
    "standard_temp_mc": (-50_000, 80_000, True),
    "dispenser_temp_mc": (-50_000, 80_000, True),
}


MAX_RUNS = 100  # a verification's runs (contract v1 §3)
CONTEXT = "register_import"


def row_problem(key: str, /, **params: object) -> Message:
    """A problem of the file, a line or a cell: the ``register_import`` table's ``key``."""
    return Message(ctx=CONTEXT, key=key, params=params)


_INT = re.compile(r"[+-]?\d+")
_NUM = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


CsvError = TableError  # (the name the register has always used: a line, a column, a problem)

# The fields as the column map checks them (the cells are then checked here, in the
# register's words); the runs' quantities take a unit, converted to the contract's.
SCHEMA: Schema = {
    **{f: FieldType("text") for f in ("station_id", "nozzle_id", "type", "org", "certificate_no")},
    "ts": FieldType("time"),
    "valid_until": FieldType("time"),
    "k_pulses_per_m3": FieldType("integer"),
    "flow_ml_per_min": FieldType("quantity", "flow"),
    "standard_ml": FieldType("quantity", "volume"),
    "indicated_ml": FieldType("quantity", "volume"),
    "standard_temp_mc": FieldType("quantity", "temperature"),
    "dispenser_temp_mc": FieldType("quantity", "temperature"),
}
_UNIT = {"flow_ml_per_min": "mL/min", "standard_temp_mc": "m℃", "dispenser_temp_mc": "m℃"}
DEFAULT_MAP: ColumnMap = parse_map(
    {
        "kind": "verification",
        "fields": {
            f: {"columns": list(names), **({"unit": _UNIT.get(f, "mL")} if SCHEMA[f].kind == "quantity" else {})}
            for f, names in COLUMNS.items()
        },
    },
    SCHEMA,
    kind="verification",
)


@dataclass(slots=True)
class ParsedCsv:
    records: list[dict]  # verification records (contract v1), in order of first appearance
    errors: list[CsvError]
    lines: list[int] = field(default_factory=list)  # first line of each record's certificate
    columns: dict[str, str] = field(default_factory=dict)  # field → header as written


def _number(text: str, f: str, factor: int = 1) -> tuple[int | float | None, Message | None]:
    if not _NUM.fullmatch(text):
        return None, row_problem("not_a_number", value=text)
    value: int | float = int(text) if _INT.fullmatch(text) else float(text)
    if not math.isfinite(value):
        return None, row_problem("not_finite", value=text)
    if factor != 1:  # the map's unit (L, L/min, ℃): exactly, an integer where it comes out whole
        scaled = Decimal(text) * factor
        value = int(scaled) if scaled == scaled.to_integral_value() else float(scaled)
    lo, hi, inclusive = RANGES[f]
    if value > hi or value < lo or (value == lo and not inclusive):
        bounds = f"{'[' if inclusive else '('}{lo:g}, {hi:g}]"
        return None, row_problem("out_of_range", value=text, range=bounds)
    return value, None


@functools.lru_cache(maxsize=4096)
def _timestamp(text: str) -> Message | None:
    """Why ``text`` is not a contract timestamp, or None."""
    probe = msgspec.json.encode(
        {
            "kind": "verification",
            "station_id": "S",
            "nozzle_id": "N",
            "ts": text,
            "type": "initial",
            "org": "",
            "certificate_no": "",
            "k_pulses_per_m3": 1,
            "valid_until": text,
            "runs": [dict.fromkeys(RUN_FIELDS, 1)],
        }
    )
    got = parse_line(probe)
    if not isinstance(got, Reject):
        return None
    try:  # why, when the contract's own parser can say (no offset, outside 2000–2099)
        parse_ts(text)
    except TimestampError as exc:
        if exc.key == "no_offset":
            return row_problem("time_no_offset", value=text)
        if exc.key == "out_of_range":
            return row_problem("time_out_of_range", value=text)
    return row_problem("not_a_timestamp", value=text)


def _cell(f: str, text: str, fm: FieldMap, tz: dt.timezone | None) -> tuple[object, Message | None]:
    if fm.values and text:
        table = dict(fm.values)
        if text not in table:
            return None, table_problem("not_in_values", value=text, values=" | ".join(table))
        text = table[text]
    if not text:
        return None, row_problem("empty")
    if f in RUN_FIELDS:
        return _number(text, f, UNITS[SCHEMA[f].dimension or ""][(fm.unit or "").lower()])
    if f == "k_pulses_per_m3":
        if not _INT.fullmatch(text) or int(text) <= 0:
            return None, row_problem("not_positive_integer", value=text)
        return int(text), None
    if f == "type":
        if text not in TYPES:
            return None, row_problem("unknown_type", value=text)
        return TYPES[text], None
    if f in ("ts", "valid_until"):
        if fm.formats or tz is not None:  # the map reads the institute's own time format
            converted, problem = timestamp(text, fm.formats, tz)
            if converted is None:
                return None, problem
            text = converted
        problem = _timestamp(text)
        return (None, problem) if problem else (text, None)
    if f in ("station_id", "nozzle_id") and len(text) > 128:
        return None, row_problem("too_long", limit=128)
    return text, None


def parse_csv(data: bytes, *, cmap: ColumnMap | None = None) -> ParsedCsv:
    """Verification records from a CSV or XLSX file read with ``cmap`` (default:
    :data:`DEFAULT_MAP`), and every error by line and column."""
    cmap = cmap or DEFAULT_MAP
    table = read_table(data, sheet=cmap.sheet, header_row=cmap.header_row)
    if table.errors:
        return ParsedCsv([], table.errors)
    binding = bind(table.header, cmap)
    if binding.errors:
        return ParsedCsv([], binding.errors)
    errors: list[CsvError] = []
    header, index, tz = table.header, binding.index, cmap.tz
    columns = {f: binding.columns.get(f, f) for f in cmap.fields}  # a constant: named by its field
    groups: dict[str, list[tuple[int, dict]]] = {}
    bad: set[str] = set()
    for row in cmap.records_of(table.rows):
        n, cells = row.line, row.cells
        if len(cells) != len(header):
            errors.append(CsvError(n, None, row_problem("cell_count", cells=len(cells), expected=len(header))))
            i = index.get("certificate_no")
            bad.add(cells[i].strip() if i is not None and i < len(cells) else "")
            continue
        values: dict = {}
        for f, fm in cmap.fields.items():
            text = cells[index[f]].strip() if f in index else (fm.value or "")
            value, problem = _cell(f, text, fm, tz)
            if problem:
                errors.append(CsvError(n, columns[f], problem))
            values[f] = value
        cert = values["certificate_no"]
        if cert is None:
            continue  # its error is named; without a certificate it joins nothing
        if len(values) != len([v for v in values.values() if v is not None]):
            bad.add(cert)
        groups.setdefault(cert, []).append((n, values))
    return _assemble(groups, bad, columns, errors)


def _assemble(
    groups: dict[str, list[tuple[int, dict]]], bad: set[str], columns: dict[str, str], errors: list[CsvError]
) -> ParsedCsv:
    records: list[dict] = []
    lines: list[int] = []
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    for cert, rows in groups.items():
        first_line, first = rows[0]
        ok = cert not in bad
        for n, values in rows[1:]:
            for f in RECORD_FIELDS:
                if values[f] is not None and first[f] is not None and values[f] != first[f]:
                    problem = row_problem("differs", cert=cert, value=values[f], first=first[f], first_line=first_line)
                    errors.append(CsvError(n, columns[f], problem))
                    ok = False
        if not ok:
            continue
        if len(rows) > MAX_RUNS:  # (the contract would refuse it in its own English)
            errors.append(
                CsvError(first_line, None, row_problem("too_many_runs", cert=cert, runs=len(rows), limit=MAX_RUNS))
            )
            continue
        rec = {
            "kind": "verification",
            **{f: first[f] for f in RECORD_FIELDS},
            "runs": [{f: v[f] for f in RUN_FIELDS} for _, v in rows],
        }
        got = parse_line(msgspec.json.encode(rec))
        if isinstance(got, Reject):  # what the cells could not show (e.g. more than 100 runs)
            errors.append(CsvError(first_line, None, row_problem("contract", cert=cert, reason=got.reason)))
            continue
        assert isinstance(got.rec, Verification)  # the line was made with kind "verification"
        if got.rec.valid_until < got.rec.ts:
            problem = row_problem("valid_before_ts", cert=cert, valid_until=rec["valid_until"], ts=rec["ts"])
            errors.append(CsvError(first_line, columns["valid_until"], problem))
            continue
        key = (rec["nozzle_id"], str(got.t))
        if key in seen:
            other, line = seen[key]
            problem = row_problem("same_time", cert=cert, nozzle=rec["nozzle_id"], other=other, other_line=line)
            errors.append(CsvError(first_line, columns["ts"], problem))
            continue
        seen[key] = (cert, first_line)
        records.append(rec)
        lines.append(first_line)
    errors.sort(key=lambda e: e.line)
    return ParsedCsv(records, errors, lines, columns)


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def to_csv(records: list[dict], *, chinese: bool = False) -> bytes:
    """Verification records as the CSV that ``parse_csv`` reads (chinese: the first
    Chinese aliases and a BOM, which spreadsheet programs want); a text cell a
    spreadsheet would run as a formula is quoted (:func:`anxin.tabular.safe_cell`)."""
    fields = (*RECORD_FIELDS, *RUN_FIELDS)
    rows: list[list[object]] = [[COLUMNS[f][0] for f in fields] if chinese else list(fields)]
    for rec in records:
        for run in rec["runs"]:
            row: list[object] = [_fmt(rec[f]) for f in RECORD_FIELDS]
            rows.append(row + [_fmt(run[f]) for f in RUN_FIELDS])
    return csv_bytes(rows, bom=chinese)
