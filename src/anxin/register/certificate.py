"""Verification certificates as PDF (检定证书; a failed verification gives a 检定结果通知书):
the platform's JJG 443 recomputation of one verification record, A4, in Chinese with
reportlab's built-in ``STSong-Light``. The same input gives the same bytes (reportlab's
invariant mode), so a certificate can be regenerated and compared.
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

TYPE_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("verification_type").items()}


def _pct(fraction: float, signed: bool = True) -> str:
    return f"{fraction * 100:+.2f} %" if signed else f"{fraction * 100:.2f} %"


def _num(x: float, digits: int = 0) -> str:
    if digits == 0 and float(x).is_integer():
        return str(int(x))
    return f"{x:.{digits or 2}f}"


def _coef(x: float) -> str:
    return f"{x:.6f}".rstrip("0")


def _date(ts: str) -> str:
    return datetime.fromisoformat(ts).strftime("%Y年%m月%d日")


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


def reasons_zh(result: VerificationResult, limits: VerificationLimits = DEFAULT_LIMITS) -> list[str]:
    """Why the verification failed, in Chinese (from the flow points and invalid runs)."""
    out = []
    for reason in result.reasons:
        if reason.startswith("run "):
            n, _, why = reason[4:].partition(":")
            out.append(f"第 {n} 次测量数据无效（{why.strip()}），已剔除")
        elif reason == "no valid runs":
            out.append("无有效测量数据")
    for p in result.flow_points:
        if not p.passes_mpe:
            out.append(
                f"流量 {_flow(p.flow_ml_per_min)} L/min：示值误差 {_pct(p.error)} 超出最大允许误差 ±{_pct(limits.mpe, False)}"
            )
        if not p.passes_repeatability and p.repeatability is not None:
            out.append(
                f"流量 {_flow(p.flow_ml_per_min)} L/min：重复性 {_pct(p.repeatability, False)} 超出 {_pct(limits.repeatability, False)}"
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
) -> dict[str, list]:
    """The certificate's content as text (what ``certificate_pdf`` lays out): ``title``,
    ``fields`` (label, value), ``runs`` and ``points`` (table rows, header first),
    ``verdict``, ``reasons``, ``notes``, ``formula``. ``record`` (the verification record
    as received) adds the temperatures of each run, which the result does not keep."""
    beta = beta_for_product(registry_product.expansion_ppm_per_c if registry_product else None)
    ok = result.passed
    title = "加油机检定证书" if ok else "检定结果通知书"
    fields = [
        ("检定机构", result.org),
        ("证书编号", result.certificate_no),
        ("加油站", f"{station.name}（{station.station_id}）"),
        ("经营单位", station.operator),
        ("所在区县", station.district),
        ("油枪编号", nozzle.nozzle_id),
        ("加油机编号", nozzle.dispenser_id),
        ("油品", f"{nozzle.product}号" if nozzle.product.isdigit() else nozzle.product),
        ("检定类型", TYPE_ZH.get(result.type, result.type)),
        ("检定依据", "JJG 443-2015《燃油加油机》"),
        ("检定日期", _date(result.ts)),
        ("有效期至", _date(result.valid_until) if ok else "无（不合格，不得使用）"),
        ("K系数（脉冲/立方米）", str(result.k_pulses_per_m3)),
    ]
    runs: list[list[str]] = [
        ["序号", "流量 L/min", "标准器 V_s mL", "示值 V_J mL", "t_B ℃", "t_J ℃", "V_B mL", "误差 E"]
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
    points: list[list[str]] = [["流量点 L/min", "次数", "示值误差", "重复性", "最大允许误差", "结论"]]
    for p in result.flow_points:
        rep = "未评定（单次）" if p.repeatability is None else _pct(p.repeatability, False)
        point_verdict = "合格" if p.passes_mpe and p.passes_repeatability else "不合格"
        points.append(
            [_flow(p.flow_ml_per_min), str(p.runs), _pct(p.error), rep, f"±{_pct(limits.mpe, False)}", point_verdict]
        )
    worst = "-" if result.max_abs_error_permille is None else f"{result.max_abs_error_permille / 10:.2f} %"
    verdict = [
        f"检定结论：{'合格' if ok else '不合格'}（最大允许误差 ±{_pct(limits.mpe, False)}，即 ±{limits.mpe * 1000:g}‰；"
        f"重复性不超过 {_pct(limits.repeatability, False)}）",
        f"最大示值误差绝对值：{worst}；杭州市目标 ±{_pct(limits.target, False)}（±{limits.target * 1000:g}‰）："
        f"{'达到' if result.within_target else '未达到'}",
    ]
    notes = [
        f"流量 {_flow(float(n.split()[1]))} L/min：单次测量，未评定重复性" if n.endswith("not assessed") else n
        for n in result.notes
    ]
    formula = [
        "标准器示值修正到加油机处油温：V_B = V_s × [1 + β_Y (t_J - t_B) + β_B (t_B - 20)]，"
        f"β_Y = {_coef(beta)} /℃（油品体膨胀系数），β_B = {_coef(BETA_STAINLESS_PER_C)} /℃（不锈钢标准金属量器）。",
        "单次误差 E = (V_J - V_B) / V_B × 100 %；示值误差为同一流量点各次误差的平均值；"
        "重复性按极差法 E_r = (E_max - E_min) / d_n（d_2 = 1.13，d_3 = 1.69）。",
    ]
    return {
        "title": [title],
        "fields": fields,
        "runs": runs,
        "points": points,
        "verdict": verdict,
        "reasons": reasons_zh(result, limits),
        "notes": notes,
        "formula": formula,
    }


def certificate_pdf(
    result: VerificationResult,
    *,
    station: Station,
    nozzle: Nozzle,
    registry_product: Product | None = None,
    record: dict | None = None,
    limits: VerificationLimits = DEFAULT_LIMITS,
) -> bytes:
    """The certificate of ``result`` as an A4 PDF (deterministic bytes)."""
    font = register_font()
    text = certificate_lines(
        result, station=station, nozzle=nozzle, registry_product=registry_product, record=record, limits=limits
    )
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
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
    story = [
        Paragraph(escape(text["title"][0]), title),
        info,
        Paragraph("检定数据", head),
        runs,
        Paragraph("各流量点示值误差与重复性", head),
        points,
        Paragraph("检定结论", head),
    ]
    story += [Paragraph(escape(line), body) for line in text["verdict"] + text["reasons"] + text["notes"]]
    story += [Paragraph("计算公式", head)] + [Paragraph(escape(line), small) for line in text["formula"]]
    story += [
        Spacer(1, 8 * mm),
        Paragraph(
            "本文件由安心加油平台依据检定机构上传的原始数据按 JJG 443 复算生成，以检定机构签发的证书为准。", small
        ),
    ]
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
