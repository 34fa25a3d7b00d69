"""The certified figures on the console (issue 17, item 3): the latest ``anxin certify``
report — each rule's probability of detection and false-alarm rate with their 95 %
intervals, the leak test and the tank witness — read from the file the configuration
names (``certify_report``, where ``anxin certify --out`` writes it), and its PDF. Every
alarm page links here at its rule (``?rule=…#rule-…``), so whoever weighs an alarm sees
what one of its kind is worth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from anxin.certify.report import Report, decode
from anxin.certify.words import kind_row, leak_row, protocol_line, rule_row, w, witness_row
from anxin.contract.times import LOCAL_TZ
from anxin.web.deps import CanView, NotFound
from anxin.web.session import render

router = APIRouter(include_in_schema=False)  # console pages: not the HTTP API
MAX_BYTES = 8 * 1024 * 1024  # a report is some tens of kB; a file far larger is not one


def report_path(request: Request) -> Path:
    return Path(request.app.state.config.certify_report)


def _read(path: Path) -> tuple[Report | None, str | None, bool]:
    """(report, its file's local date, whether a file is there at all)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None, None, True
        data = path.read_bytes()
        when = dt.datetime.fromtimestamp(path.stat().st_mtime, LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
    except FileNotFoundError:
        return None, None, False
    except OSError:
        return None, None, True
    try:
        return decode(data), when, True
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, None, True


@router.get("/console/certified")
async def certified(request: Request, v: CanView, rule: str | None = None):
    path = report_path(request)
    report, when, exists = await run_in_threadpool(_read, path)
    lang = v.lang
    t = {
        k: w(k, lang)
        for k in (
            "page_title",
            "worlds_note",
            "seeds_note",
            "h_rules",
            "h_kinds",
            "h_leaks",
            "leak_note",
            "h_witness",
            "witness_note",
            "col_rule",
            "col_level",
            "col_pd",
            "col_trials",
            "col_pfa",
            "col_false",
            "col_unit",
            "col_kind",
            "col_leak_rate",
            "col_days",
            "col_epa",
            "col_world",
            "col_honest",
            "col_insufficient",
            "col_rmse",
            "col_coverage",
            "col_drift",
            "col_false_drift",
            "download_pdf",
            "this_rule",
        )
    }
    ctx: dict = {"t": t, "report": None, "focus": rule}
    if report is None:
        ctx["missing"] = w("unreadable" if exists else "no_report", lang, path=str(path))
    else:
        ctx.update(
            report=report,
            protocol=protocol_line(report, lang),
            method=w("method_note", lang, min=report.min_trials),
            generated=w("generated", lang, when=when),
            rules=[rule_row(r, lang) for r in report.rules],
            kinds=[kind_row(k, lang) for k in report.fault_kinds],
            leaks=[leak_row(x, lang) for x in report.leaks],
            witness=[witness_row(x, lang) for x in report.witness],
            has_pdf=path.with_name("certify.pdf").is_file(),
        )
    return render(request, v, "certified.html", page="alarms", **ctx)


@router.get("/console/certified.pdf")
async def certified_pdf(request: Request, v: CanView):
    pdf = report_path(request).with_name("certify.pdf")
    try:
        data = await run_in_threadpool(pdf.read_bytes)
    except OSError:
        raise NotFound(v) from None
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": 'inline; filename="certify.pdf"'}
    )
