"""Verification certificates as PDF (检定证书; a failed verification gives a 检定结果通知书):
the platform's JJG 443 recomputation of one verification record, A4, with reportlab's
built-in ``STSong-Light``. An official document: Chinese by default, English on request
(``lang="en"``, the reader's language on the console), its words the catalog's
``certificate`` table. The same input gives the same bytes (reportlab's invariant mode),
so a certificate can be regenerated and compared.
"""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from anxin.contract.registry import Nozzle, Product, Station
from anxin.i18n.po import table
from anxin.register.fonts import register_font
from anxin.verification import (
    BETA_STAINLESS_PER_C,
    DEFAULT_LIMITS,
    VerificationLimits,
    VerificationResult,
    beta_for_product,
)


def _words(lang: str) -> dict[str, str]:
    """The ``certificate`` table in ``lang`` ("zh" or "en")."""
    i = 1 if lang == "en" else 0
    return {k: v[i] for k, v in table("certificate").items()}


def _type(vtype: str, lang: str) -> str:
    entry = table("verification_type").get(vtype)
    return vtype if entry is None else entry[1 if lang == "en" else 0]


def _pct(fraction: float, signed: bool = True) -> str:
    return f"{fraction * 100:+.2f} %" if signed else f"{fraction * 100:.2f} %"


def _num(x: float, digits: int = 0) -> str:
    if digits == 0 and float(x).is_integer():
        return str(int(x))
    return f"{x:.{digits or 2}f}"


def _coef(x: float) -> str:
    return f"{x:.6f}".rstrip("0")


def _date(ts: str, w: dict[str, str]) -> str:
    d = datetime.fromisoformat(ts)
    return w["date"].format(year=f"{d.year:04d}", month=f"{d.month:02d}", day=f"{d.day:02d}")


def _flow(flow: float) -> str:
    return f"{flow / 1000:g}"


def _temps(result: VerificationResult, record: dict | None) -> list[tuple[float, float] | None]:
    """(t_B, t_J) in m°C for each of ``result.runs``, matched in order with the record's
    runs (runs the platform excluded as invalid are skipped); None without a record."""
    if record is None:
        return [None] * len(result.runs)
    out: list[tuple[float, float] | None] = []
    pending = list(record.get("runs", []))
    for r in result.runs:
        while pending:
            raw = pending.pop(0)
            if (raw.get("flow_ml_per_min"), raw.get("standard_ml"), raw.get("indicated_ml")) == (
                r.flow_ml_per_min,
                r.standard_ml,
                r.indicated_ml,
            ):
                out.append((raw["standard_temp_mc"], raw["dispenser_temp_mc"]))
                break
        else:
            out.append(None)
    return out


def failure_reasons(
    result: VerificationResult, limits: VerificationLimits = DEFAULT_LIMITS, *, lang: str = "zh"
) -> list[str]:
    """Why the verification failed, in ``lang`` (from the flow points and invalid runs).
    An invalid run's problem is the verification module's own English, in both languages."""
    w = _words(lang)
    out = []
    for reason in result.reasons:
        if reason.startswith("run "):
            n, _, why = reason[4:].partition(":")
            out.append(w["invalid_run"].format(run=n, why=why.strip()))
        elif reason == "no valid runs":
            out.append(w["no_valid_runs"])
    mpe = _pct(limits.mpe, False)
    for p in result.flow_points:
        flow = _flow(p.flow_ml_per_min)
        if not p.passes_mpe:
            out.append(w["mpe_exceeded"].format(flow=flow, error=_pct(p.error), mpe=mpe))
        if not p.passes_repeatability and p.repeatability is not None:
            out.append(
                w["repeatability_exceeded"].format(
                    flow=flow, repeatability=_pct(p.repeatability, False), limit=_pct(limits.repeatability, False)
                )
            )
    return out


def certificate_lines(
    result: VerificationResult,
    *,
    station: Station,
    nozzle: Nozzle,
    registry_product: Product | None = None,
    record: dict | None = None,
    limits: VerificationLimits = DEFAULT_LIMITS,
    lang: str = "zh",
) -> dict[str, list]:
    """The certificate's content as text in ``lang`` ("zh", the default, or "en"; what
    ``certificate_pdf`` lays out): ``title``, ``fields`` (label, value), ``runs`` and
    ``points`` (table rows, header first), ``verdict``, ``reasons``, ``notes``,
    ``formula``, ``headings`` (of the sections) and ``footer``. ``record`` (the
    verification record as received) adds the temperatures of each run, which the result
    does not keep."""
    w = _words(lang)
    beta = beta_for_product(registry_product.expansion_ppm_per_c if registry_product else None)
    ok = result.passed
    title = w["title.pass"] if ok else w["title.fail"]
    fields = [
        (w["field.org"], result.org),
        (w["field.certificate_no"], result.certificate_no),
        (w["field.station"], w["station"].format(name=station.name, station_id=station.station_id)),
        (w["field.operator"], station.operator),
        (w["field.district"], station.district),
        (w["field.nozzle"], nozzle.nozzle_id),
        (w["field.dispenser"], nozzle.dispenser_id),
        (
            w["field.product"],
            w["product"].format(product=nozzle.product) if nozzle.product.isdigit() else nozzle.product,
        ),
        (w["field.type"], _type(result.type, lang)),
        (w["field.basis"], w["basis"]),
        (w["field.date"], _date(result.ts, w)),
        (w["field.valid_until"], _date(result.valid_until, w) if ok else w["not_valid"]),
        (w["field.k_factor"], str(result.k_pulses_per_m3)),
    ]
    runs: list[list[str]] = [
        [
            w[k]
            for k in (
                "run.no",
                "run.flow",
                "run.standard",
                "run.indicated",
                "run.standard_temp",
                "run.dispenser_temp",
                "run.corrected",
                "run.error",
            )
        ]
    ]
    for i, (r, temps) in enumerate(zip(result.runs, _temps(result, record)), 1):
        tb, tj = (f"{temps[0] / 1000:.2f}", f"{temps[1] / 1000:.2f}") if temps else ("-", "-")
        runs.append(
            [
                str(i),
                _flow(r.flow_ml_per_min),
                _num(r.standard_ml),
                _num(r.indicated_ml),
                tb,
                tj,
                f"{r.corrected_standard_ml:.2f}",
                _pct(r.error),
            ]
        )
    points: list[list[str]] = [
        [w[k] for k in ("point.flow", "point.runs", "point.error", "point.repeatability", "point.mpe", "point.verdict")]
    ]
    for p in result.flow_points:
        rep = w["single_run"] if p.repeatability is None else _pct(p.repeatability, False)
        point_verdict = w["pass"] if p.passes_mpe and p.passes_repeatability else w["fail"]
        points.append(
            [_flow(p.flow_ml_per_min), str(p.runs), _pct(p.error), rep, f"±{_pct(limits.mpe, False)}", point_verdict]
        )
    worst = "-" if result.max_abs_error_permille is None else f"{result.max_abs_error_permille / 10:.2f} %"
    verdict = [
        w["verdict"].format(
            verdict=w["pass"] if ok else w["fail"],
            mpe=_pct(limits.mpe, False),
            mpe_permille=f"{limits.mpe * 1000:g}",
            repeatability=_pct(limits.repeatability, False),
        ),
        w["target"].format(
            worst=worst,
            target=_pct(limits.target, False),
            target_permille=f"{limits.target * 1000:g}",
            reached=w["target.reached"] if result.within_target else w["target.missed"],
        ),
    ]
    notes = [
        w["note.single_run"].format(flow=_flow(float(n.split()[1]))) if n.endswith("not assessed") else n
        for n in result.notes
    ]
    formula = [
        w["formula.correction"].format(beta_y=_coef(beta), beta_b=_coef(BETA_STAINLESS_PER_C)),
        w["formula.error"],
    ]
    return {
        "title": [title],
        "fields": fields,
        "runs": runs,
        "points": points,
        "verdict": verdict,
        "reasons": failure_reasons(result, limits, lang=lang),
        "notes": notes,
        "formula": formula,
        "headings": [w["heading.runs"], w["heading.points"], w["heading.verdict"], w["heading.formula"]],
        "footer": [w["footer"]],
    }


def certificate_pdf(
    result: VerificationResult,
    *,
    station: Station,
    nozzle: Nozzle,
    registry_product: Product | None = None,
    record: dict | None = None,
    limits: VerificationLimits = DEFAULT_LIMITS,
    lang: str = "zh",
) -> bytes:
    """The certificate of ``result`` as an A4 PDF (deterministic bytes) in ``lang`` ("zh",
    the default, or "en")."""
    font = register_font()
    text = certificate_lines(
        result,
        station=station,
        nozzle=nozzle,
        registry_product=registry_product,
        record=record,
        limits=limits,
        lang=lang,
    )
    # Chinese breaks between any two characters; English between words only.
    wrap = None if lang == "en" else "CJK"
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap=wrap)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=12, textColor=colors.HexColor("#333333"))
    head = ParagraphStyle("head", parent=body, fontSize=11, leading=16, spaceBefore=6, spaceAfter=3)
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=24, alignment=1, spaceAfter=8)
    grid = [
        ("FONT", (0, 0), (-1, -1), font, 9),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    heading = [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")), ("ALIGN", (1, 0), (-1, -1), "RIGHT")]
    width = A4[0] - 36 * mm
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=11)
    fields = [(label, Paragraph(escape(value), cell)) for label, value in text["fields"]]
    pairs = [[*fields[i], *(fields[i + 1] if i + 1 < len(fields) else ("", ""))] for i in range(0, len(fields), 2)]
    info = Table(pairs, colWidths=[0.16 * width, 0.34 * width] * 2)
    info.setStyle(
        TableStyle(
            [
                *grid,
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f4f4f4")),
                ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f4f4f4")),
            ]
        )
    )
    runs = Table(text["runs"], colWidths=[0.07 * width] + [0.1329 * width] * 7, repeatRows=1)
    runs.setStyle(TableStyle([*grid, *heading]))
    points = Table(text["points"], colWidths=[w * width for w in (0.17, 0.09, 0.17, 0.19, 0.2, 0.18)])
    points.setStyle(TableStyle([*grid, *heading]))
    heading_runs, heading_points, heading_verdict, heading_formula = text["headings"]
    story = [
        Paragraph(escape(text["title"][0]), title),
        info,
        Paragraph(escape(heading_runs), head),
        runs,
        Paragraph(escape(heading_points), head),
        points,
        Paragraph(escape(heading_verdict), head),
    ]
    story += [Paragraph(escape(line), body) for line in text["verdict"] + text["reasons"] + text["notes"]]
    story += [Paragraph(escape(heading_formula), head)] + [Paragraph(escape(line), small) for line in text["formula"]]
    story += [Spacer(1, 8 * mm), Paragraph(escape(text["footer"][0]), small)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        invariant=1,
        title=f"{text['title'][0]} {result.certificate_no}",
        author=result.org,
        creator="anxin",
        producer="anxin",
    )
    doc.build(story)
    return buf.getvalue()
