"""Cases to closure (案件) with the evidence bundle, the risk-weighted random draw
(双随机), the oversight reconciliation (纪检监察) and the statistics with exports."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import random
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from anxin.audit import record
from anxin.auth.users import active_staff
from anxin.contract.times import LOCAL_TZ, format_ts
from anxin.ingest.service import IngestService
from anxin.reports import parse_period, period_figures, reconcile, to_pdf, to_xlsx
from anxin.reports.figures import Figures, PeriodError, figure_rows
from anxin.reports.figures import label as figure_label
from anxin.reports.oversight import category_label, summary_text
from anxin.supervision import cases as K
from anxin.supervision import risk as R
from anxin.supervision.bundle import BundleError, export_bundle
from anxin.supervision.signing import KeyFormatError, configured_key
from anxin.web.deps import (
    CanAudit,
    CanTriage,
    CanView,
    CaseRow,
    CsrfForm,
    Forbidden,
    NotFound,
    Registry,
    Service,
    Store,
    current_case,
)
from anxin.web.session import Viewer, as_json, bad_request, form_number, render
from anxin.web.texts import refusal_text, rule_label, state_word, words
from anxin.workflow.queries import alarm_headings

router = APIRouter(include_in_schema=False)


# ------------------------------------------------------------ cases
@router.get("/console/cases")
async def cases(request: Request, v: CanView, store: Store, status: str | None = None):
    scope = None if v.stations is None else sorted(v.stations)
    if status and status not in K.STATUSES:
        return bad_request(request, v, "status", status)
    rows = await run_in_threadpool(lambda: K.listing(store, station_ids=scope, status=status or None))
    return render(request, v, "cases.html", page="cases", rows=rows, fmt=format_ts, status_filter=status or "")


async def _case(request: Request, v: Viewer, store: Store, c: K.Case, message: str | None = None, status: int = 200):
    kind, _, ref = (c.source or "").partition(":")
    alarm = None
    if kind == "alarm" and ref:  # named by its rule, nozzle and time, not by its id
        alarm = (await run_in_threadpool(alarm_headings, store, [ref])).get(ref)
    return render(
        request,
        v,
        "case.html",
        status,
        page="cases",
        c=c,
        source_alarm=alarm,
        fmt=format_ts,
        message=message,
        can_edit=v.can("alarm.triage"),
    )


@router.get("/console/cases/{case_id}")
async def case(request: Request, v: CanView, c: CaseRow, store: Store):
    return await _case(request, v, store, c)


@router.post("/console/cases/{case_id}/{step}")
async def case_step(
    request: Request, v: CanTriage, form: CsrfForm, c: CaseRow, step: str, service: Service, store: Store
):
    case_id = c.id
    who, now = v.signed_in.username, service.clock()
    reason = str(form.get("reason", "")).strip()
    try:
        if step == "update":
            parties = (
                [
                    {
                        "name": str(form.get("party_name", "")).strip(),
                        "role": str(form.get("party_role", "")).strip(),
                        "id_no": str(form.get("party_id", "")).strip(),
                    }
                ]
                if form.get("party_name")
                else None
            )
            violations = (
                [
                    {
                        "code": str(form.get("violation_code", "")).strip(),
                        "text": str(form.get("violation_text", "")).strip(),
                    }
                ]
                if form.get("violation_text")
                else None
            )
            await run_in_threadpool(
                lambda: K.update(
                    store, case_id, parties=parties, violations=violations, actor=who, reason=reason, now_us=now
                )
            )
        elif step == "penalize":
            fen = round(form_number(form, "penalty_yuan", 0, whole=False) * 100)
            boards = form_number(form, "boards", 0)
            await run_in_threadpool(
                lambda: K.penalize(
                    store,
                    case_id,
                    penalty_fen=fen,
                    boards_confiscated=boards,
                    decision=str(form.get("decision", "")),
                    actor=who,
                    reason=reason,
                    now_us=now,
                )
            )
        elif step == "close":
            await run_in_threadpool(lambda: K.close(store, case_id, reason=reason, actor=who, now_us=now))
        else:
            raise NotFound(v)
    except (K.CaseError, ValueError) as exc:
        fresh = await run_in_threadpool(current_case, case_id, v, service)
        return await _case(request, v, store, fresh, message=refusal_text(exc, v.lang), status=400)
    return RedirectResponse(f"/console/cases/{case_id}", status_code=303)


@router.post("/console/cases/open")
async def open_case(request: Request, v: CanTriage, form: CsrfForm, service: Service, store: Store):
    """立案 from a complaint or an inspection (a confirmed alarm opens its case itself)."""
    source, station = str(form.get("source", "")), str(form.get("station_id", ""))
    if not v.sees(station):  # a station of the form, not a page's row: refused, as ever
        raise Forbidden(v)
    try:
        cid = await run_in_threadpool(
            lambda: K.open_case(
                store,
                station_id=station,
                source=source,
                summary=str(form.get("summary", "")).strip(),
                actor=v.signed_in.username,
                now_us=service.clock(),
            )
        )
    except (K.CaseError, ValueError) as exc:
        return render(request, v, "error.html", 400, title="—", message=refusal_text(exc, v.lang))
    return RedirectResponse(f"/console/cases/{cid}", status_code=303)


@router.get("/console/cases/{case_id}/bundle.zip")
async def bundle(request: Request, v: CanView, c: CaseRow, service: Service, store: Store):
    case_id = c.id
    cfg = getattr(request.app.state, "config", None)  # the signing key and TSA of anxin serve, if any
    try:
        key = await run_in_threadpool(configured_key, store, cfg)
        data = await run_in_threadpool(
            functools.partial(
                export_bundle, store, case_id, now_us=service.clock(), key=key, tsa_url=getattr(cfg, "tsa_url", None)
            )
        )
    except (BundleError, KeyFormatError) as exc:  # no registry yet, a signing key that cannot be read
        return render(request, v, "error.html", 409, title="—", message=exc.text(v.lang))

    # Who took the evidence out, and exactly what (its SHA-256).
    await run_in_threadpool(
        lambda: record(
            store,
            actor=v.signed_in.username,
            action="case.bundle_export",
            subject=f"case:{case_id}",
            reason="evidence bundle downloaded",
            data={"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "signed_by": key.key_id},
            now_us=service.clock(),
        )
    )
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="case-{case_id}-evidence.zip"'},
    )


# ------------------------------------------------------------ risk and the random draw
@router.get("/console/risk")
async def risk(request: Request, v: CanTriage, service: Service, store: Store, registry: Registry):
    scores = await run_in_threadpool(lambda: R.risk_scores(store, registry, now_us=service.clock()))
    inspectors = await run_in_threadpool(active_staff, store, ("inspector",))
    return render(
        request,
        v,
        "risk.html",
        page="risk",
        scores=scores,
        inspectors=inspectors,
        seed=random.SystemRandom().randrange(1, 10**9),
    )


@router.post("/console/risk/draw")
async def draw(request: Request, v: CanTriage, form: CsrfForm, service: Service, store: Store, registry: Registry):
    try:
        plan = await run_in_threadpool(
            lambda: R.draw(
                store,
                registry,
                stations=form_number(form, "stations", 3),
                inspectors=[str(i) for i in form.getlist("inspectors")],
                seed=form_number(form, "seed"),
                method=str(form.get("method", "risk")),
                name=str(form.get("name", "")).strip() or words(v.lang)["draw_default_name"],
                actor=v.signed_in.username,
                now_us=service.clock(),
            )
        )
    except (R.DrawError, ValueError) as exc:
        return render(request, v, "error.html", 400, title="—", message=refusal_text(exc, v.lang))
    return RedirectResponse(f"/console/inspections?plan={plan}", status_code=303)


# ------------------------------------------------------------ oversight and statistics
@router.get("/console/oversight")
async def oversight(request: Request, v: CanAudit, service: Service, store: Store, registry: Registry):
    o = await run_in_threadpool(lambda: reconcile(store, registry, now_us=service.clock(), station_ids=v.stations))
    return render(
        request,
        v,
        "oversight.html",
        page="oversight",
        o=o,
        fmt=format_ts,
        label=lambda c: category_label(c, v.lang),
        summary=lambda item: summary_text(item, registry, v.lang),
    )


def _figures(service: IngestService, registry: Any, qp) -> tuple[Any, str, str | None]:
    period = qp.get("period") or dt.datetime.fromtimestamp(service.clock() / 1e6, LOCAL_TZ).strftime("%Y-%m")
    start, end = parse_period(period)
    district = qp.get("district") or None
    return (
        period_figures(service.store, registry, start=start, end=end, district=district, now_us=service.clock()),
        period,
        district,
    )


@router.get("/console/statistics")
async def statistics(request: Request, v: CanAudit, service: Service, registry: Registry):
    try:
        f, period, district = await run_in_threadpool(_figures, service, registry, request.query_params)
    except PeriodError as exc:
        return render(request, v, "error.html", 400, title="—", message=refusal_text(exc, v.lang))
    districts = sorted({s.district for s in registry.stations})
    w = words(v.lang)
    chart = {
        "rules": sorted(((rule_label(k, v.lang), n) for k, n in f.alarms_by_rule.items()), key=lambda x: x[1]),
        "work": {
            "labels": [w["complaints"], w["rectifications"], w["cases"], w["alarms"]],
            "opened": w["stats_opened"],
            "closed": w["stats_closed"],
            "opened_values": [f.complaints_received, f.rectifications_issued, f.cases_opened, f.alarms_raised],
            "closed_values": [f.complaints_closed, f.rectifications_closed, f.cases_closed, f.alarms_closed],
        },
    }
    return render(
        request,
        v,
        "statistics.html",
        page="statistics",
        rows=_figure_rows(f, v.lang),
        f=f,
        period=period,
        district=district or "",
        districts=districts,
        data_json=as_json(chart),
    )


@router.get("/console/statistics/report.{fmt}")
async def export(request: Request, v: CanAudit, fmt: str, service: Service, store: Store, registry: Registry):
    if fmt not in ("xlsx", "pdf"):
        raise NotFound(v)
    try:
        f, period, _ = await run_in_threadpool(_figures, service, registry, request.query_params)
    except PeriodError as exc:
        return render(request, v, "error.html", 400, title="—", message=refusal_text(exc, v.lang))
    o = await run_in_threadpool(lambda: reconcile(store, registry, now_us=service.clock()))
    make = to_xlsx if fmt == "xlsx" else to_pdf
    data = await run_in_threadpool(lambda: make(f, o, lang=v.lang, registry=registry))
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx" else "application/pdf"
    return Response(
        data, media_type=mime, headers={"Content-Disposition": f'attachment; filename="anxin-{period}.{fmt}"'}
    )


def _figure_rows(f: Figures, lang: str) -> list[tuple[str, str]]:
    """The statistics table: the report's rows, with the inspection kinds, rules and
    severities that the English rows leave as codes in words."""
    rows = figure_rows(f, lang)
    if lang == "zh":
        return rows
    named: dict[str, str] = {}
    for part, group, codes in (
        ("by_kind", "inspection_kind", f.inspections_by_kind),
        ("by_rule", None, f.alarms_by_rule),
        ("by_severity", "severity", f.alarms_by_severity),
    ):
        head = figure_label(part, lang)
        for code in codes:
            word = rule_label(code, lang) if group is None else state_word(group, code, lang)
            named[f"{head} {code}"] = f"{head} {word}"
    return [(named.get(k, k), v) for k, v in rows]
