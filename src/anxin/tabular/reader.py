"""One reader for the files vendors deliver — a POS's settlement export, an institute's
verification results — as CSV or XLSX, into a header and rows of text cells.

Encoding (CSV): a UTF-8 BOM → UTF-8; else strict UTF-8; else strict GB18030 (what
Chinese Excel's "CSV (逗号分隔)" writes: GBK, of which GB18030 is the superset). Never
a silent mojibake: a file that reads as UTF-8 Chinese around a few broken bytes is
a damaged UTF-8 file, an error, not re-read as GB18030; a file whose only non-ASCII text is
two-byte UTF-8 that GB18030 reads too is ambiguous, an error (a BOM settles it);
text that GB18030 reads only as private-use characters is an error; a UTF-16 file
is named as such.

XLSX: openpyxl in read-only mode, the first sheet (or the one named); a formula cell
is refused, never evaluated (its cached value may not be what the cells now say), and
the archive's unpacked size, the rows and the columns are bounded before and while
reading. Cells become text: numbers in their shortest exact form, dates ISO 8601
(no offset: the column map's time zone applies).

Bounds (``Limits``): bytes, rows, columns, characters in a cell — a file beyond them
is one clear error, never a long parse.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field

from anxin.keyed import Message
from anxin.tabular.errors import TableError, problem


@dataclass(frozen=True, slots=True)
class Limits:
    bytes: int = 10 * 1024 * 1024
    rows: int = 100_000
    columns: int = 200
    cell: int = 4096  # characters
    unpacked: int = 100 * 1024 * 1024  # XLSX: the archive's members together
    members: int = 1000  # XLSX: members of the archive


LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # CSV: the line the row starts on; XLSX: the sheet's row number
    cells: list[str]


@dataclass(slots=True)
class Table:
    header: list[str]
    rows: list[Row]
    format: str  # "csv" | "xlsx"
    encoding: str | None = None  # CSV: "utf-8" | "gb18030"
    errors: list[TableError] = field(default_factory=list)


XLSX_MAGIC = b"PK\x03\x04"
_PUA = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")  # a cell written with anxin.tabular.writer's quote


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes) -> tuple[str | None, str | None, TableError | None]:
    """(text, encoding, None) or (None, None, the error)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, None, TableError(1, None, problem("utf16"))
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8", None
        except UnicodeDecodeError as exc:
            at = exc.start + 3
            return None, None, TableError(_line_of(data, at), None, problem("broken_utf8", offset=at))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
    else:
        if not text.isascii() and max(map(ord, text)) < 0x800 and _also_gb18030(data):
            # Only two-byte UTF-8 sequences (no Chinese) that GB18030 reads as well: a
            # few GBK characters can look like UTF-8 ("联通"); which one it is, a BOM says.
            return None, None, TableError(1, None, problem("ambiguous_encoding"))
        return text, "utf-8", None
    # Chinese read as UTF-8 (three-byte sequences, which GBK text seldom forms) around a
    # few broken bytes: a damaged UTF-8 file, not a GBK one — GB18030 would read it as
    # mojibake. (A GBK file read as UTF-8 is mostly replacement characters.)
    lenient = data.decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd")
    wide = sum(1 for ch in lenient if ord(ch) >= 0x800) - broken
    if wide >= 2 and wide >= 4 * broken:
        return None, None, TableError(_line_of(data, bad), None, problem("broken_utf8", offset=bad))
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        return None, None, TableError(_line_of(data, exc.start), None, problem("not_text", offset=exc.start))
    odd = _PUA.search(text)
    if odd:  # GBK's user-defined areas: no vendor's text, a wrong guess
        line = text.count("\n", 0, odd.start()) + 1
        return None, None, TableError(line, None, problem("unclear_encoding", char=f"U+{ord(odd.group()):04X}"))
    return text, "gb18030", None


def _also_gb18030(data: bytes) -> bool:
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def read_csv(data: bytes, *, header_row: int = 1, limits: Limits = LIMITS) -> Table:
    text, encoding, err = decode(data)
    if text is None:
        assert err is not None
        return Table([], [], "csv", None, [err])
    first = (text.split("\n", header_row) + [""])[header_row - 1]
    delimiter = "\t" if "\t" in first and "," not in first else ","  # Excel's "Unicode text" is tab-separated
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[Row] = []
    start = 1
    try:
        for cells in reader:
            if len(rows) > limits.rows:
                return Table(
                    [], [], "csv", encoding, [TableError(start, None, problem("too_many_rows", limit=limits.rows))]
                )
            if len(cells) > limits.columns:
                err = TableError(start, None, problem("too_many_columns", limit=limits.columns))
                return Table([], [], "csv", encoding, [err])
            rows.append(Row(start, [_unescape(c) for c in cells]))
            start = reader.line_num + 1
    except csv.Error as exc:
        return Table([], [], "csv", encoding, [TableError(reader.line_num, None, problem("not_csv", detail=str(exc)))])
    return _finish(rows, "csv", encoding, limits, header_row)


def _unescape(cell: str) -> str:
    return cell[1:] if _ESCAPED.match(cell) else cell


def _xlsx_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def read_xlsx(data: bytes, *, sheet: str | None = None, header_row: int = 1, limits: Limits = LIMITS) -> Table:
    def fail(why: Message, line: int = 1) -> Table:
        return Table([], [], "xlsx", None, [TableError(line, None, why)])

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
            unpacked = sum(m.file_size for m in members)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return fail(problem("not_xlsx"))
    if len(members) > limits.members or unpacked > limits.unpacked:
        return fail(problem("xlsx_too_big", size=unpacked, limit=limits.unpacked))
    try:
        import openpyxl
    except ImportError:
        return fail(problem("no_openpyxl"))
    rows: list[Row] = []
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        try:
            if sheet is not None and sheet not in wb.sheetnames:
                return fail(problem("no_sheet", sheet=sheet))
            ws = wb[sheet] if sheet is not None else wb.worksheets[0]
            grid = ws.iter_rows(min_row=1, max_row=limits.rows + 2, max_col=limits.columns + 1)
            for n, cells in enumerate(grid, start=1):
                texts = []
                for cell in cells:
                    if cell.data_type == "f":
                        err = TableError(n, cell.coordinate, problem("formula", formula=str(cell.value)[:60]))
                        return Table([], [], "xlsx", None, [err])
                    texts.append(_xlsx_text(cell.value))
                if len(texts) > limits.columns and texts[limits.columns]:
                    return fail(problem("too_many_columns", limit=limits.columns), n)
                if n > limits.rows + 1 and any(texts):
                    return fail(problem("too_many_rows", limit=limits.rows), n)
                rows.append(Row(n, texts[: limits.columns]))
        finally:
            wb.close()
    except Exception as exc:  # noqa: BLE001 — a hostile workbook may fail anywhere inside openpyxl
        return fail(problem("not_xlsx_detail", detail=type(exc).__name__))
    while rows and not any(rows[-1].cells):
        rows.pop()
    for r in rows:  # (openpyxl pads every row to the widest: the header's width decides)
        while r.cells and not r.cells[-1]:
            r.cells.pop()
    return _finish(rows, "xlsx", None, limits, header_row)


def _finish(rows: list[Row], fmt: str, encoding: str | None, limits: Limits, header_row: int = 1) -> Table:
    for r in rows:
        for c in r.cells:
            if len(c) > limits.cell:
                return Table(
                    [], [], fmt, encoding, [TableError(r.line, None, problem("cell_too_long", limit=limits.cell))]
                )
    # fully blank lines are skipped, and what stands above the header (an export's title)
    rows = [r for r in rows if r.line >= header_row and any(c.strip() for c in r.cells)]
    if not rows or rows[0].line != header_row:
        return Table([], [], fmt, encoding, [TableError(header_row, None, problem("no_header", line=header_row))])
    width = len(rows[0].cells)
    if fmt == "xlsx":  # a sheet's empty trailing cells are no missing cells
        rows = [Row(r.line, r.cells + [""] * (width - len(r.cells))) for r in rows]
    return Table(rows[0].cells, rows[1:], fmt, encoding)


def read_table(data: bytes, *, sheet: str | None = None, header_row: int = 1, limits: Limits = LIMITS) -> Table:
    """The file's header (on line ``header_row``; what stands above it is ignored) and
    rows, or its one error (``table.errors``): XLSX when it is a ZIP archive, CSV otherwise."""
    if len(data) > limits.bytes:
        return Table([], [], "csv", None, [TableError(1, None, problem("too_big", size=len(data), limit=limits.bytes))])
    if not data.strip():
        return Table([], [], "csv", None, [TableError(1, None, problem("no_header", line=header_row))])
    if data.startswith(XLSX_MAGIC):
        return read_xlsx(data, sheet=sheet, header_row=header_row, limits=limits)
    return read_csv(data, header_row=header_row, limits=limits)
