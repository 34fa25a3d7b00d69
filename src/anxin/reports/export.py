"""Report files: XLSX (openpyxl) and PDF (reportlab, the built-in CID font STSong-Light,
A4, invariant mode: the same figures give the same bytes). Chinese headers."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from anxin.contract.times import format_ts
from anxin.reports.figures import Figures
from anxin.reports.oversight import CATEGORIES, Oversight, category_label

FIGURES_SHEET = "统计"
ITEM_HEADERS = ("编号", "加油站", "起始时间", "说明", "链接")
FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # workbook metadata times: no wall clock in the file


def title_of(figures: Figures) -> str:
    return f"加油机计量监管统计报表 {figures.start} ~ {figures.end} {figures.district or '全市'}"


def to_xlsx(figures: Figures, oversight: Oversight | None = None) -> bytes:
    """A workbook: the figures on sheet 「统计」, and with ``oversight`` a sheet 「对账」 of
    counts plus one sheet per category (named by its number and label)."""
    from datetime import datetime

    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = FIGURES_SHEET
    ws.append([title_of(figures)])
    ws["A1"].font = Font(bold=True)
    ws.append(["指标", "数值"])
    for label, value in figures.rows("zh"):
        ws.append([label, value])
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 24
    if oversight is not None:
        sums = wb.create_sheet("对账")
        sums.append([f"纪检监察对账 截至 {format_ts(oversight.now_us)}"])
        sums.append(["类别", "数量"])
        for k in CATEGORIES:
            sums.append([category_label(k), oversight.counts.get(k, 0)])
        sums.column_dimensions["A"].width = 44
        for n, k in enumerate(CATEGORIES, 1):
            sheet = wb.create_sheet(f"{n} {category_label(k)}"[:31])
            sheet.append(list(ITEM_HEADERS))
            for it in oversight.of(k):
                sheet.append([it.ref, it.station_id, it.since, it.summary, it.link])
            for col, width in zip("ABCDE", (22, 16, 30, 60, 40), strict=True):
                sheet.column_dimensions[col].width = width
    for sheet in wb.worksheets:
        for cell in sheet[1 if sheet.title != FIGURES_SHEET else 2]:
            cell.font = Font(bold=True)
    wb.properties.creator = "anxin"
    wb.properties.created = wb.properties.modified = datetime(*FIXED_TIME)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_pdf(figures: Figures, oversight: Oversight | None = None) -> bytes:
    """A4 PDF of the figures (and the reconciliation's counts and items)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from anxin.register.fonts import register_font

    font = register_font()
    title = ParagraphStyle("t", fontName=font, fontSize=15, leading=20, alignment=1, spaceAfter=4 * mm)
    head = ParagraphStyle("h", fontName=font, fontSize=11.5, leading=16, spaceBefore=4 * mm, spaceAfter=2 * mm)
    cell = ParagraphStyle("c", fontName=font, fontSize=8.5, leading=11)
    grid = [
        ("FONT", (0, 0), (-1, -1), font, 9.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    width = A4[0] - 36 * mm
    rows = [["指标", "数值"]] + [[a, b] for a, b in figures.rows("zh")]
    table = Table(rows, colWidths=[0.62 * width, 0.38 * width], repeatRows=1)
    table.setStyle(TableStyle(grid))
    story = [Paragraph(escape(title_of(figures)), title), table]
    if oversight is not None:
        story.append(Paragraph(escape(f"纪检监察对账（截至 {format_ts(oversight.now_us)}）"), head))
        counts = Table(
            [["类别", "数量"]] + [[category_label(k), str(oversight.counts.get(k, 0))] for k in CATEGORIES],
            colWidths=[0.8 * width, 0.2 * width],
            repeatRows=1,
        )
        counts.setStyle(TableStyle(grid))
        story.append(counts)
        for k in CATEGORIES:
            items = oversight.of(k)
            if not items:
                continue
            story.append(Paragraph(escape(category_label(k)), head))
            data = [list(ITEM_HEADERS)] + [
                [Paragraph(escape(x), cell) for x in (it.ref, it.station_id, it.since[:16], it.summary, it.link)]
                for it in items
            ]
            t = Table(data, colWidths=[w * width for w in (0.14, 0.12, 0.17, 0.35, 0.22)], repeatRows=1)
            t.setStyle(TableStyle(grid))
            story.append(t)
    story += [Spacer(1, 6 * mm), Paragraph("本报表由安心加油平台按事件发生时间统计生成。", cell)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        invariant=1,
        title=title_of(figures),
        author="anxin",
        creator="anxin",
        producer="anxin",
    )
    doc.build(story)
    return buf.getvalue()
