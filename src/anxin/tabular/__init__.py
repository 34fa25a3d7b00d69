"""Files as vendors deliver them (issue 16 item 4): one reader for CSV (UTF-8 with or
without a BOM, GBK/GB18030 detected) and XLSX, one column map (TOML/JSON: a vendor's
headers, units and formats → the contract's fields), and the templates written back.
Shared by the institute's verification import (:mod:`anxin.register.csvfile`) and the
station's POS settlement import (:mod:`anxin.edge.posfile`). Minimal install: openpyxl
is imported only when an XLSX is read or written. See docs/imports.md."""

from anxin.tabular.columnmap import (
    Binding,
    ColumnMap,
    FieldMap,
    FieldType,
    MapError,
    Schema,
    bind,
    convert,
    load_map,
    norm,
    parse_map,
)
from anxin.tabular.errors import CONTEXT, TableError, errors_text, problem
from anxin.tabular.reader import LIMITS, Limits, Row, Table, decode, read_table
from anxin.tabular.writer import csv_bytes, csv_template, map_toml, safe_cell, xlsx_bytes, xlsx_template

__all__ = [
    "CONTEXT",
    "LIMITS",
    "Binding",
    "ColumnMap",
    "FieldMap",
    "FieldType",
    "Limits",
    "MapError",
    "Row",
    "Schema",
    "Table",
    "TableError",
    "bind",
    "convert",
    "csv_bytes",
    "csv_template",
    "decode",
    "errors_text",
    "load_map",
    "map_toml",
    "norm",
    "parse_map",
    "problem",
    "read_table",
    "safe_cell",
    "xlsx_bytes",
    "xlsx_template",
]
