"""智慧检定 — the verification register: CSV/XLSX import from verification equipment,
the register and due list, coverage figures, certificates as PDF and QR codes for the
public nozzle page. Domain code only: the web pages use it.

Verification file (检定数据, CSV or XLSX, read by :mod:`anxin.tabular`: UTF-8 with or
without a BOM, GBK/GB18030 detected; an institute's column map may rename columns,
convert L/min, L, ℃ and read its own time format — docs/imports.md) — RFC 4180
quoting, one header line, then one row per run; the rows sharing a ``certificate_no`` form one
verification record of contract v1, their runs in row order. Columns (any order; the
Chinese aliases may be used instead of the English names)::

    station_id         加油站 | 加油站编号
    nozzle_id          油枪 | 油枪编号
    ts                 检定时间                 RFC 3339 with offset
    type               检定类型                 initial | periodic | after_repair
                                                (or 首次检定 | 周期检定, 后续检定 | 修理后检定)
    org                检定机构
    certificate_no     证书编号
    k_pulses_per_m3    K系数 | K系数(脉冲/m³)   positive integer
    valid_until        有效期至                 RFC 3339 with offset, not before ts
    flow_ml_per_min    流量(mL/min)             > 0
    standard_ml        标准体积(mL)             > 0
    indicated_ml       示值体积(mL) | 加油机示值(mL)   ≥ 0
    standard_temp_mc   标准器温度(m℃)           −50000 … 80000
    dispenser_temp_mc  加油机温度(m℃)           −50000 … 80000

Headers are matched ignoring whitespace, full-width vs ASCII parentheses, ``°C`` vs
``℃`` and letter case. Other columns are ignored, except a quantity column with
another unit (``流量(L/min)``), which is an error. The eight certificate columns must
be equal on every row of a certificate.
"""

from anxin.register.certificate import certificate_lines, certificate_pdf
from anxin.register.csvfile import COLUMNS, CsvError, ParsedCsv, parse_csv, to_csv
from anxin.register.importer import CertificateOutcome, ImportReport, import_csv
from anxin.register.qr import public_url, qr_png, qr_sheet_pdf, qr_svg
from anxin.register.queries import (
    STATUS_ZH,
    STATUSES,
    Coverage,
    RegisterRow,
    coverage,
    due_list,
    register_row,
    register_rows,
    stored_verification,
    verification_senders,
    verification_source,
)

__all__ = [
    "COLUMNS",
    "STATUSES",
    "STATUS_ZH",
    "CertificateOutcome",
    "Coverage",
    "CsvError",
    "ImportReport",
    "ParsedCsv",
    "RegisterRow",
    "certificate_lines",
    "certificate_pdf",
    "coverage",
    "due_list",
    "import_csv",
    "parse_csv",
    "public_url",
    "qr_png",
    "qr_sheet_pdf",
    "qr_svg",
    "register_row",
    "register_rows",
    "stored_verification",
    "verification_senders",
    "verification_source",
    "to_csv",
]
