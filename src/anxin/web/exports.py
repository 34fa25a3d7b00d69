"""部门数据共享 — the console's export for the other agencies (``/console/exports``): a
form for the period, the data (tax or commerce), the district or stations within the
regulator's scope, the format and the purpose; the file comes back as a download and
its audit entry (who, period, stations, SHA-256) is written before it leaves. A POST
with the session's CSRF token: a download that writes the audit log is a change."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from anxin.contract.times import LOCAL_TZ
from anxin.exports.service import FORMATS, KINDS, MAX_DAYS, ExportRefused, OutOfScope, export, parse_day, user_scope
from anxin.web.deps import CsrfForm, NotFound, Registry, Service, needs
from anxin.web.session import Viewer, render

router = APIRouter(include_in_schema=False)
CanExport = Annotated[Viewer, Depends(needs("export.agency"))]


def _districts(v: Viewer, registry: Any) -> list[str]:
    mine = v.signed_in.district
    return [mine] if mine else sorted({s.district for s in registry.stations})


def _page(request: Request, v: Viewer, registry: Any, today: dt.date, status: int = 200, **form: Any) -> Any:
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # last month by default
    defaults = {
        "kind": "tax",
        "fmt": "xlsx",
        "start": first.isoformat(),
        "end": (today.replace(day=1) - dt.timedelta(days=1)).isoformat(),
        "district": "",
        "stations": "",
        "reason": "",
    }
    return render(
        request,
        v,
        "exports.html",
        status,
        page="exports",
        kinds=KINDS,
        formats=FORMATS,
        districts=_districts(v, registry),
        own_district=v.signed_in.district,
        max_days=MAX_DAYS,
        today=today.isoformat(),
        form={**defaults, **{k: val for k, val in form.items() if k in defaults}},
        message=form.get("message"),
    )


def _today(service: Any) -> dt.date:
    return dt.datetime.fromtimestamp(service.clock() / 1e6, LOCAL_TZ).date()


@router.get("/console/exports")
async def exports_page(request: Request, v: CanExport, service: Service, registry: Registry):
    return _page(request, v, registry, _today(service))


@router.post("/console/exports")
async def exports_download(request: Request, v: CanExport, form: CsrfForm, service: Service, registry: Registry):
    given = {k: str(form.get(k, "") or "").strip() for k in ("kind", "fmt", "start", "end", "district", "stations")}
    reason = str(form.get("reason", "") or "").strip()[:500]
    stations = [s for s in given["stations"].replace("，", ",").replace(" ", ",").split(",") if s]
    try:
        start, end = parse_day(given["start"], "start"), parse_day(given["end"], "end")
        got = await run_in_threadpool(
            lambda: export(
                service.store,
                registry,
                kind=given["kind"],
                fmt=given["fmt"],
                start=start,
                end=end,
                scope=user_scope(v.signed_in),
                district=given["district"] or None,
                stations=stations,
                lang=v.lang,
                via="console",
                reason=reason,
                now_us=service.clock(),
            )
        )
    except OutOfScope:
        raise NotFound(v) from None
    except ExportRefused as exc:
        return _page(request, v, registry, _today(service), 400, message=exc.text(v.lang), reason=reason, **given)
    return Response(
        got.data,
        media_type=got.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{got.filename}"',
            "X-Anxin-SHA256": got.sha256,
            "X-Anxin-Audit-Seq": str(got.audit_seq),
            "Cache-Control": "no-store",
        },
    )
