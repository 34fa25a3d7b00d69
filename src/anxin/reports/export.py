"""Report files: XLSX (openpyxl) and PDF (reportlab, the built-in CID font STSong-Light,
A4, invariant mode: the same figures give the same bytes), in the reader's language
(Chinese first; the words are the catalog's, context ``export``). An oversight item's
line is worded from its parts in the file's language
(:func:`anxin.reports.oversight.summary_text`; the stations' names from ``registry``,
without one its id)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from anxin.contract.registry import Registry
from anxin.contract.times import format_ts
from anxin.i18n.po import table
from anxin.reports.figures import Figures
from anxin.reports.oversight import CATEGORIES, Oversight, OversightItem, category_label, summary_text

FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # workbook metadata times: no wall clock in the file
ITEM_KEYS = ("ref", "station", "since", "summary", "link")


def _w(key: str, lang: str) -> str:
    zh, en = table("export")[key]
    return en if lang == "en" else zh


def title_of(figures: Figures, lang: str = "zh") -> str:
    where = figures.district or _w("city", lang)
    return f"{_w('title', lang)} {figures.start} ~ {figures.end} {where}"


def _item_row(it: OversightItem, registry: Registry | None, lang: str) -> list[str]:
    since = it.since[:16].replace("T", " ")
    return [it.ref, it.station_id, since, summary_text(it, registry, lang), it.link]


def to_xlsx(
    figures: Figures,
    oversight: Oversight | None = None,
    *,
    lang: str = "zh",
    registry: Registry | None = None,
) -> bytes:
    """A workbook: the figures on its first sheet, and with ``oversight`` a sheet of
    counts plus one sheet per category (named by its number and label)."""
    from datetime import datetime

    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = _w("figures_sheet", lang)
    ws.append([title_of(figures, lang)])
    ws["A1"].font = Font(bold=True)
    ws.append([_w("item", lang), _w("value", lang)])
    for label, value in figures.rows(lang):
        ws.append([label, value])
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 24
    if oversight is not None:
        sums = wb.create_sheet(_w("oversight_sheet", lang))
        sums.append([_w("oversight_as_of", lang).format(at=format_ts(oversight.now_us)[:16].replace("T", " "))])
        sums.append([_w("category", lang), _w("count", lang)])
        for k in CATEGORIES:
            sums.append([category_label(k, lang), oversight.counts.get(k, 0)])
        sums.column_dimensions["A"].width = 44
        for n, k in enumerate(CATEGORIES, 1):
            sheet = wb.create_sheet(f"{n} {category_label(k, lang)}"[:31])
            sheet.append([_w(f"col_{c}", lang) for c in ITEM_KEYS])
            for it in oversight.of(k):
                sheet.append(_item_row(it, registry, lang))
            for col, width in zip("ABCDE", (22, 16, 30, 60, 40), strict=True):
                sheet.column_dimensions[col].width = width
    for sheet in wb.worksheets:
        for cell in sheet[1 if sheet.title != ws.title else 2]:
            cell.font = Font(bold=True)
    for sheet in wb.worksheets:  # a text that looks like a formula (a district, an item's line) stays text
        for row in sheet.iter_rows():
            for c in row:
                if c.data_type == "f":
                    c.data_type = "s"
    wb.properties.creator = "anxin"
    wb.properties.created = wb.properties.modified = datetime(*FIXED_TIME)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_pdf(
    figures: Figures,
    oversight: Oversight | None = None,
    *,
    lang: str = "zh",
    registry: Registry | None = None,
) -> bytes:
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
    rows = [[_w("item", lang), _w("value", lang)]] + [[a, b] for a, b in figures.rows(lang)]
    table = Table(rows, colWidths=[0.62 * width, 0.38 * width], repeatRows=1)
    table.setStyle(TableStyle(grid))
    story = [Paragraph(escape(title_of(figures, lang)), title), table]
    if oversight is not None:
        at = format_ts(oversight.now_us)[:16].replace("T", " ")
        story.append(Paragraph(escape(_w("oversight_as_of", lang).format(at=at)), head))
        counts = Table(
            [[_w("category", lang), _w("count", lang)]]
            + [[category_label(k, lang), str(oversight.counts.get(k, 0))] for k in CATEGORIES],
            colWidths=[0.8 * width, 0.2 * width],
            repeatRows=1,
        )
        counts.setStyle(TableStyle(grid))
        story.append(counts)
        for k in CATEGORIES:
            items = oversight.of(k)
            if not items:
                continue
            story.append(Paragraph(escape(category_label(k, lang)), head))
            data = [[_w(f"col_{c}", lang) for c in ITEM_KEYS]] + [
                [Paragraph(escape(x), cell) for x in _item_row(it, registry, lang)] for it in items
            ]
            t = Table(data, colWidths=[w * width for w in (0.14, 0.12, 0.17, 0.35, 0.22)], repeatRows=1)
            t.setStyle(TableStyle(grid))
            story.append(t)
    story += [Spacer(1, 6 * mm), Paragraph(escape(_w("footer", lang)), cell)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        invariant=1,
        title=title_of(figures, lang),
        author="anxin",
        creator="anxin",
        producer="anxin",
    )
    doc.build(story)
    return buf.getvalue()
