"""The certification report as PDF (A4 landscape, reportlab's built-in ``STSong-Light``):
the same figures as ``certify.json``, worded from the catalogs, Chinese first. Invariant
mode: the same report gives the same bytes."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from anxin.certify.report import Report
from anxin.certify.words import kind_row, leak_row, protocol_line, rule_row, w, witness_row
from anxin.register.fonts import register_font


def render_pdf(report: Report, lang: str = "zh") -> bytes:
    font = register_font()
    wrap = None if lang == "en" else "CJK"
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13, wordWrap=wrap)
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=body, fontSize=12, leading=17, spaceBefore=8, spaceAfter=4)
    title = ParagraphStyle("title", parent=body, fontSize=17, leading=24, alignment=1, spaceAfter=6)
    grid = [
        ("FONT", (0, 0), (-1, -1), font, 8),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
    ]
    width = landscape(A4)[0] - 30 * mm

    def table(header: list[str], rows: list[list[str]], cols: list[float]) -> Table:
        data = [[Paragraph(escape(c), cell) for c in row] for row in [header, *rows]]
        t = Table(data, colWidths=[c * width for c in cols], repeatRows=1)
        t.setStyle(TableStyle(grid))
        return t

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    rules = [rule_row(r, lang) for r in report.rules]
    story = [
        para(w("title", lang), title),
        para(protocol_line(report, lang)),
        para(w("worlds_note", lang)),
        para(w("method_note", lang, min=report.min_trials)),
        para(w("seeds_note", lang)),
        para(w("h_rules", lang), head),
        table(
            [w(k, lang) for k in ("col_rule", "col_level", "col_pd", "col_trials", "col_pfa", "col_false", "col_unit")],
            [[r["name"], r["level"], r["pd"], r["pd_count"], r["pfa"], r["pfa_count"], r["unit"]] for r in rules],
            [0.16, 0.1, 0.2, 0.08, 0.2, 0.1, 0.16],
        ),
        para(w("h_kinds", lang), head),
        table(
            [w("col_kind", lang), w("col_rule", lang), w("col_trials", lang), w("col_pd", lang)],
            [kind_row(k, lang) for k in report.fault_kinds],
            [0.3, 0.25, 0.15, 0.3],
        ),
        para(w("h_leaks", lang), head),
        para(w("leak_note", lang)),
        Spacer(1, 3 * mm),
        table(
            [w(k, lang) for k in ("col_leak_rate", "col_days", "col_pd", "col_pfa", "col_epa")],
            [leak_row(x, lang) for x in report.leaks],
            [0.22, 0.08, 0.28, 0.28, 0.14],
        ),
        para(w("h_witness", lang), head),
        para(w("witness_note", lang)),
        Spacer(1, 3 * mm),
        table(
            [
                w(k, lang)
                for k in (
                    "col_world",
                    "col_days",
                    "col_honest",
                    "col_insufficient",
                    "col_rmse",
                    "col_coverage",
                    "col_drift",
                    "col_false_drift",
                )
            ],
            [witness_row(x, lang) for x in report.witness],
            [0.15, 0.06, 0.08, 0.08, 0.08, 0.19, 0.19, 0.17],
        ),
        para(w("h_cities", lang), head),
        table(
            [
                w(k, lang)
                for k in (
                    "col_family",
                    "col_seed",
                    "col_stations",
                    "col_days",
                    "col_records",
                    "col_faults",
                    "col_alarms",
                    "col_false_alarms",
                )
            ],
            [
                [
                    w(f"family_{c.family}", lang),
                    str(c.seed),
                    str(c.stations),
                    str(c.days),
                    str(c.records),
                    str(c.faults),
                    str(c.alarms),
                    str(c.false_alarms),
                ]
                for c in report.cities
            ],
            [0.2, 0.1, 0.1, 0.1, 0.15, 0.12, 0.12, 0.11],
        ),
    ]

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawRightString(landscape(A4)[0] - 15 * mm, 8 * mm, w("page", lang, page=doc.page))
        canvas.drawString(15 * mm, 8 * mm, w("worlds_note", lang))
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        invariant=1,
        title=w("title", lang),
        author="anxin",
        creator="anxin",
        producer="anxin",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
