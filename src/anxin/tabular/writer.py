"""What the platform writes for vendors: the templates (a CSV and an XLSX with the
map's zh-CN headers) and a column map as TOML — and any cell of a CSV written for a
spreadsheet made safe against formula injection: a text starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP's advice; the
reader takes it off again), numbers stay numbers. XLSX cells are written as inline
strings, which no spreadsheet evaluates."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence

from anxin.tabular.columnmap import ColumnMap
from anxin.tabular.errors import problem

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_RISKY = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = re.compile(r"'+[=+\-@\t\r]")


def safe_cell(value: object) -> str:
    """``value`` as a CSV cell no spreadsheet will run as a formula."""
    text = "" if value is None else str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return text
    if (text.startswith(_RISKY) and not _NUMBER.fullmatch(text)) or _QUOTED.match(text):
        return "'" + text  # (a text already starting with the quote gets another: read back as written)
    return text


def csv_bytes(rows: Sequence[Sequence[object]], *, bom: bool = True) -> bytes:
    """Rows as a CSV (RFC 4180, CRLF) — UTF-8 with a BOM, which spreadsheet programs
    need to read Chinese — every cell through :func:`safe_cell`."""
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def template_header(cmap: ColumnMap) -> list[str]:
    """Each mapped column by its first header (the zh-CN one in the default maps)."""
    return [fm.columns[0] for fm in cmap.fields.values() if fm.columns]


def csv_template(cmap: ColumnMap) -> bytes:
    return csv_bytes([template_header(cmap)])


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[Sequence[object]]]]) -> bytes:
    """Sheets (title, rows) as an XLSX; text cells as inline strings (never formulas)."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title[:31])
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"
                if r == 1:
                    cell.font = Font(bold=True)
        for c, head in enumerate(rows[0] if rows else [], start=1):
            ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width = max(10, 2 * len(str(head)) + 2)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def xlsx_template(cmap: ColumnMap, *, lang: str = "zh") -> bytes:
    """The data sheet (headers only) and a sheet saying, per column, its field, unit
    and formats — in ``lang``."""
    heads = (problem("tpl_column"), problem("tpl_field"), problem("tpl_unit"), problem("tpl_formats"))
    notes: list[list[object]] = [[m.text(lang) for m in (*heads, problem("tpl_values"))]]
    for f, fm in cmap.fields.items():
        values = "；".join(f"{k} → {v}" for k, v in fm.values)
        notes.append([fm.columns[0] if fm.columns else "", f, fm.unit or "", " | ".join(fm.formats), values])
    return xlsx_bytes(
        [(problem("tpl_data").text(lang), [template_header(cmap)]), (problem("tpl_notes").text(lang), notes)]
    )


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def map_toml(cmap: ColumnMap, *, lang: str = "zh") -> str:
    """The column map as the TOML file :func:`anxin.tabular.load_map` reads, with a
    comment on how to change it in ``lang``."""
    out = [f"# {problem('map_comment', kind=cmap.kind).text(lang)}", f"kind = {_s(cmap.kind)}"]
    if cmap.timezone is not None:
        out.append(f"timezone = {_s(cmap.timezone)}")
    if cmap.sheet is not None:
        out.append(f"sheet = {_s(cmap.sheet)}")
    if cmap.header_row != 1:
        out.append(f"header_row = {cmap.header_row}")
    if cmap.skip:
        out.append(f"skip = [{', '.join(_s(x) for x in cmap.skip)}]")
    for f, fm in cmap.fields.items():
        out += ["", f"[fields.{f}]"]
        if fm.columns:
            out.append(f"columns = [{', '.join(_s(c) for c in fm.columns)}]")
        if fm.value is not None:
            out.append(f"value = {_s(fm.value)}")
        if fm.unit is not None:
            out.append(f"unit = {_s(fm.unit)}")
        if fm.formats:
            out.append(f"formats = [{', '.join(_s(x) for x in fm.formats)}]")
        if fm.values:
            out.append(f"values = {{ {', '.join(f'{_s(k)} = {_s(v)}' for k, v in fm.values)} }}")
    return "\n".join(out) + "\n"
