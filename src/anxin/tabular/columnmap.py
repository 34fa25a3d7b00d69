"""The column map (列映射): which of a vendor's columns is which contract field, in
what unit and format — a small TOML (or JSON) file, so a POS export or an
institute's spreadsheet is read as it is delivered rather than re-typed::

    kind = "settlement"
    timezone = "+08:00"          # for times written without an offset
    # sheet = "销售明细"          # XLSX: the sheet (default: the first)
    # header_row = 3             # the header's line: an export's title above it is ignored
    # skip = ["合计", "小计"]     # rows starting so are totals, not sales

    [fields.volume_ml]
    columns = ["升数", "加油量(L)"]   # headers accepted; the first is the template's
    unit = "L"                       # L or mL: the cell is converted to integer mL

    [fields.station_id]
    value = "S0001"                  # a constant: the export has no such column

    [fields.payment]
    columns = ["支付方式"]
    values = { "微信" = "wechat", "现金" = "cash" }   # a cell → the contract's value

Headers match ignoring whitespace, full-width vs ASCII parentheses, ``°C`` vs ``℃``
and letter case; a field's own name is always accepted as its header. Quantities are
decimals converted exactly (``12.34`` 升 → 12340 mL; a cell that is no whole number of
the contract's unit is an error, never rounded). What the map leaves out takes the
schema's defaults (:func:`load_map` fills them from the consumer's default map).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from anxin.keyed import Message
from anxin.tabular.errors import TableError, problem
from anxin.tabular.reader import Row

# A quantity's units → the factor to the contract's integer unit.
UNITS: dict[str, dict[str, int]] = {
    "volume": {"ml": 1, "毫升": 1, "l": 1000, "升": 1000},
    "money": {"分": 1, "fen": 1, "元": 100, "yuan": 100},
    "flow": {"ml/min": 1, "毫升/分钟": 1, "l/min": 1000, "升/分钟": 1000},
    "temperature": {"m℃": 1, "℃": 1000},
}
MAX_INT = 2**53 - 1  # contract v1.1 §A


@dataclass(frozen=True, slots=True)
class FieldType:
    """What the consumer wants of a field: ``text``, ``integer``, ``quantity`` (with a
    ``dimension`` of ``UNITS``), ``time`` (RFC 3339 out) or ``number`` (kept as written,
    checked by the consumer)."""

    kind: str
    dimension: str | None = None
    required: bool = True  # else an empty cell is None
    max_len: int = 128


Schema = dict[str, FieldType]


@dataclass(frozen=True, slots=True)
class FieldMap:
    columns: tuple[str, ...] = ()
    value: str | None = None  # a constant instead of a column
    unit: str | None = None
    formats: tuple[str, ...] = ()  # strptime formats tried after ISO 8601
    values: tuple[tuple[str, str], ...] = ()  # cell → contract value; when given, others are errors


@dataclass(frozen=True, slots=True)
class ColumnMap:
    kind: str
    fields: dict[str, FieldMap]
    timezone: str | None = None  # "+08:00"
    sheet: str | None = None
    header_row: int = 1  # the header's line (CSV) or row (XLSX): an export's title above it is ignored
    skip: tuple[str, ...] = ()  # a row whose first filled cell starts with one of these (合计) is no record

    def records_of(self, rows: list[Row]) -> list[Row]:
        """``rows`` without the summary rows the map names (``skip``)."""
        if not self.skip:
            return rows
        return [r for r in rows if not next((c.strip() for c in r.cells if c.strip()), "").startswith(self.skip)]

    @property
    def tz(self) -> dt.timezone | None:
        return None if self.timezone is None else _tz(self.timezone)


class MapError(Exception):
    """A column map the reader cannot use; ``problem`` says why (``tabular`` table)."""

    def __init__(self, problem: Message) -> None:
        super().__init__(problem.key)
        self.problem = problem

    def text(self, lang: str | None = None) -> str:
        return self.problem.text(lang)

    def __str__(self) -> str:
        return self.text()


_TZ = re.compile(r"([+-])(\d{2}):(\d{2})")


def _tz(text: str) -> dt.timezone | None:
    m = _TZ.fullmatch(text)
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        return None
    sign = 1 if m.group(1) == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))


def _strings(v: object, where: str) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return tuple(v)
    raise MapError(problem("map_shape", where=where, want=problem("want_texts")))


def parse_map(doc: object, schema: Schema, *, kind: str, defaults: ColumnMap | None = None) -> ColumnMap:
    """A column map from its parsed document, checked against ``schema``; fields the
    document leaves out are ``defaults``' (a map may name only what differs)."""
    if not isinstance(doc, dict):
        raise MapError(problem("map_shape", where="/", want=problem("want_table")))
    got_kind = doc.get("kind", kind)
    if got_kind != kind:
        raise MapError(problem("map_kind", kind=str(got_kind)[:40], want=kind))
    for key in doc:
        if key not in ("kind", "timezone", "sheet", "header_row", "skip", "fields"):
            raise MapError(problem("map_unknown_key", key=str(key)[:40]))
    timezone = doc.get("timezone", defaults.timezone if defaults else None)
    if timezone is not None and (not isinstance(timezone, str) or _tz(timezone) is None):
        raise MapError(problem("map_timezone", value=str(timezone)[:40]))
    sheet = doc.get("sheet", defaults.sheet if defaults else None)
    if sheet is not None and not isinstance(sheet, str):
        raise MapError(problem("map_shape", where="sheet", want=problem("want_text")))
    header_row = doc.get("header_row", defaults.header_row if defaults else 1)
    if not isinstance(header_row, int) or isinstance(header_row, bool) or not 1 <= header_row <= 100:
        raise MapError(problem("map_header_row", value=str(header_row)[:20]))
    skip = _strings(doc["skip"], "skip") if "skip" in doc else (defaults.skip if defaults else ())
    raw = doc.get("fields", {})
    if not isinstance(raw, dict):
        raise MapError(problem("map_shape", where="fields", want=problem("want_table")))
    fields = dict(defaults.fields) if defaults else {}
    for name, spec in raw.items():
        if name not in schema:
            raise MapError(problem("map_unknown_field", field=str(name)[:40], fields=", ".join(schema)))
        fields[name] = _field(name, spec, schema[name])
    for name, ft in schema.items():
        if ft.required and name not in fields:
            raise MapError(problem("map_missing_field", field=name))
    return ColumnMap(kind=kind, fields=fields, timezone=timezone, sheet=sheet, header_row=header_row, skip=skip)


def _field(name: str, spec: object, ft: FieldType) -> FieldMap:
    if not isinstance(spec, dict):
        raise MapError(problem("map_shape", where=f"fields.{name}", want=problem("want_table")))
    for key in spec:
        if key not in ("columns", "value", "unit", "formats", "values"):
            raise MapError(problem("map_unknown_key", key=f"fields.{name}.{key}"[:60]))
    columns = _strings(spec["columns"], f"fields.{name}.columns") if "columns" in spec else ()
    value = spec.get("value")
    if value is not None and not isinstance(value, str):
        raise MapError(problem("map_shape", where=f"fields.{name}.value", want=problem("want_text")))
    if not columns and value is None:
        raise MapError(problem("map_shape", where=f"fields.{name}", want=problem("want_column")))
    unit = spec.get("unit")
    if ft.kind == "quantity":
        assert ft.dimension is not None
        units = UNITS[ft.dimension]
        if unit is None or not isinstance(unit, str) or unit.strip().lower() not in units:
            raise MapError(problem("map_unit", field=name, unit=str(unit)[:20], units=" | ".join(units)))
    elif unit is not None:
        raise MapError(problem("map_unknown_key", key=f"fields.{name}.unit"))
    formats = _strings(spec["formats"], f"fields.{name}.formats") if "formats" in spec else ()
    for f in formats:
        if "%" not in f:
            raise MapError(problem("map_format", field=name, value=f[:40]))
    values = spec.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise MapError(problem("map_shape", where=f"fields.{name}.values", want=problem("want_values")))
    return FieldMap(columns, value, unit.strip() if isinstance(unit, str) else None, formats, tuple(values.items()))


def load_map(data: bytes, schema: Schema, *, kind: str, defaults: ColumnMap | None = None) -> ColumnMap:
    """A column map from a TOML or JSON file's bytes (JSON when it starts with ``{``)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MapError(problem("map_not_utf8")) from None
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        raise MapError(problem("map_syntax", detail=str(exc)[:200])) from None
    return parse_map(doc, schema, kind=kind, defaults=defaults)


# ------------------------------------------------------------------ headers
def norm(header: str) -> str:
    """A header as compared: no whitespace, ASCII parentheses, ℃, lower case."""
    h = header.strip().replace("（", "(").replace("）", ")").replace("°C", "℃").replace("°c", "℃")
    return re.sub(r"\s+", "", h).lower()


@dataclass(slots=True)
class Binding:
    """Which column of the file holds each mapped field (``index``), the headers as
    written (``columns``), and the header's errors."""

    index: dict[str, int]
    columns: dict[str, str]
    errors: list[TableError]


def bind(header: list[str], cmap: ColumnMap, *, optional: frozenset[str] = frozenset()) -> Binding:
    """Each mapped field's column in ``header``; a field of ``optional`` may be absent."""
    aliases: dict[str, str] = {}
    bases: dict[str, str] = {}  # a unit-bearing header's name without its unit → the header wanted
    for f, fm in cmap.fields.items():
        if fm.value is not None and not fm.columns:
            continue
        for a in (*fm.columns, f):
            aliases.setdefault(norm(a), f)
            if "(" in norm(a):
                bases.setdefault(norm(a).split("(")[0], a)
    index: dict[str, int] = {}
    errors: list[TableError] = []
    for i, cell in enumerate(header):
        key = norm(cell)
        found = aliases.get(key)
        if found is None:
            base = key.split("(")[0]
            if "(" in key and base in bases:
                errors.append(TableError(1, cell, problem("unit_not_accepted", want=bases[base])))
            continue  # a column the map does not name is ignored
        if found in index:
            fm = cmap.fields[found]
            first = fm.columns[0] if fm.columns else found
            errors.append(TableError(1, cell, problem("column_twice", column=first, other=header[index[found]])))
            continue
        index[found] = i
    for f, fm in cmap.fields.items():
        if f not in index and fm.value is None and f not in optional:
            errors.append(TableError(1, None, problem("missing_column", field=f, aliases=" / ".join(fm.columns))))
    return Binding(index, {f: header[i] for f, i in index.items()}, errors)


# ------------------------------------------------------------------ cells
def _decimal(text: str) -> Decimal | None:
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")  # 1,234.50 as a spreadsheet displays it


def quantity(text: str, unit: str, dimension: str) -> tuple[int | None, Message | None]:
    """``text`` in ``unit`` as an integer of the contract's unit, exactly. A CSV saved
    from a spreadsheet writes what the cell shows: a money cell may carry ¥ and
    thousands separators (only where they group by three)."""
    plain = text[1:].lstrip() if dimension == "money" and text[:1] in ("¥", "￥") else text
    d = _decimal(plain.replace(",", "") if _GROUPED.fullmatch(plain) else plain)
    if d is None:
        return None, problem("not_a_number", value=text)
    scaled = d * UNITS[dimension][unit.lower()]
    if scaled != scaled.to_integral_value():
        return None, problem("not_whole", value=text, unit=unit)
    n = int(scaled)
    if n < 0:
        return None, problem("negative", value=text)
    if n > MAX_INT:
        return None, problem("too_large", value=text)
    return n, None


def timestamp(text: str, formats: tuple[str, ...], tz: dt.timezone | None) -> tuple[str | None, Message | None]:
    """``text`` (ISO 8601, else one of ``formats``) as an RFC 3339 timestamp; a time
    without an offset takes ``tz``."""
    when: dt.datetime | None = None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        for f in formats:
            try:
                when = dt.datetime.strptime(text, f)
                break
            except ValueError:
                continue
    if when is None:
        return None, problem("not_a_time", value=text, formats=" | ".join(formats) or "ISO 8601")
    if when.tzinfo is None:
        if tz is None:
            return None, problem("time_no_offset", value=text)
        when = when.replace(tzinfo=tz)
    if not 2000 <= when.astimezone(dt.UTC).year <= 2099:
        return None, problem("time_out_of_range", value=text)
    return when.isoformat(timespec="milliseconds"), None


def convert(text: str, fm: FieldMap, ft: FieldType, tz: dt.timezone | None) -> tuple[object, Message | None]:
    """One cell (or the map's constant) as the contract's value, or why it cannot be."""
    text = text.strip()
    if fm.values:
        table = dict(fm.values)
        if text in table:
            text = table[text]
        elif text:
            return None, problem("not_in_values", value=text, values=" | ".join(table))
    if not text:
        return (None, None) if not ft.required else (None, problem("empty"))
    if ft.kind == "text" or ft.kind == "number":
        if len(text) > ft.max_len:
            return None, problem("too_long", limit=ft.max_len)
        return text, None
    if ft.kind == "integer":
        if not re.fullmatch(r"\d{1,16}", text) or int(text) > MAX_INT:
            return None, problem("not_count", value=text)
        return int(text), None
    if ft.kind == "quantity":
        assert fm.unit is not None and ft.dimension is not None
        return quantity(text, fm.unit, ft.dimension)
    if ft.kind == "time":
        return timestamp(text, fm.formats, tz)
    raise ValueError(f"unknown field kind {ft.kind}")
