"""The verification register pages (智慧检定: CSV/XLSX import, certificates, due list,
QR sheets, the vendors' file templates). The public nozzle page (检情公开) with its
forms is :mod:`anxin.web.public`'s."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from anxin.audit import record
from anxin.contract.times import format_ts, parse_ts
from anxin.ingest.principals import Principal, Sender, sender_of
from anxin.ingest.service import IngestService, NoRegistry
from anxin.register import (
    certificate_pdf,
    due_list,
    import_csv,
    public_url,
    qr_sheet_pdf,
    stored_verification,
    verification_senders,
    verification_source,
)
from anxin.register.csvfile import DEFAULT_MAP as VERIFICATION_MAP
from anxin.register.csvfile import SCHEMA as VERIFICATION_SCHEMA
from anxin.register.csvfile import errors_text
from anxin.register.queries import coverage_of, institute_names
from anxin.tabular import ColumnMap, MapError, csv_template, load_map, map_toml, xlsx_template
from anxin.tabular.errors import problem as table_problem
from anxin.web import queries as Q
from anxin.web.deps import (
    BaseUrl,
    CanEditVerifications,
    CanView,
    CsrfForm,
    NotFound,
    NozzleRow,
    Registry,
    Service,
    StationRow,
    Store,
)
from anxin.web.session import Viewer, render
from anxin.web.texts import flow_point as _flow_point
from anxin.web.texts import words

MAX_CSV = 5 * 1024 * 1024
MAX_LISTED = 2000  # errors listed one by one on the page
MAX_MAP = 64 * 1024  # a column map is a few lines


router = APIRouter(include_in_schema=False)


def _verification_rows(store: Store, registry: Any, stations, lang: str) -> list[dict[str, Any]]:
    rows = Q.recent_verifications(store, stations)
    sources = verification_senders(store, None if stations is None else sorted(stations)) if rows else {}
    names = institute_names(store) if any(s.startswith("institute:") for s in sources.values()) else None
    w = words(lang)
    out = []
    for n, st, ts, passed, result in rows:
        pts = result.get("flow_points", []) if isinstance(result, dict) else []
        err = w["risk_sep"].join(_flow_point(p, w) for p in pts if isinstance(p, dict) and "error" in p)
        source = sources.get(f"{n}/{parse_ts(ts)}")
        sender = sender_of(source, registry, names) if source is not None else None
        refused = sender is not None and not sender.trusted  # a station's own: never shown as valid
        out.append(
            {
                "nozzle_id": n,
                "station_id": st,
                "ts": ts[:10],
                "verdict": "—" if refused else "✓" if passed else "✗",
                "error": "" if refused else err,
                "sender": _sender_text(sender, w, registry),
                "source": source or "",
                "refused": refused,
                "cert_url": None if refused else f"/console/certificates/{n}/{ts}.pdf",
            }
        )
    return out


async def _register_page(
    request: Request,
    v: Viewer,
    service: IngestService,
    registry: Any,
    report: dict[str, Any] | None = None,
    status: int = 200,
):
    now = service.clock()
    store = service.store

    def load():
        scope = v.stations
        due = due_list(store, registry, now_us=now, station_ids=None if scope is None else set(scope))
        covered, passed = coverage_of(store, registry, now_us=now, station_ids=scope)  # an operator: its own
        cov = {"coverage": covered, "pass_rate": passed}
        return due, cov, _verification_rows(store, registry, scope, v.lang)

    due, cov, rows = await run_in_threadpool(load)
    return render(
        request,
        v,
        "register.html",
        status,
        page="register",
        due=[_due_row(d) for d in due],
        cov=cov,
        rows=rows,
        can_edit=v.can("verification.edit"),
        report=report,
    )


@router.get("/console/register")
async def register_page(request: Request, v: CanView, service: Service, registry: Registry):
    return await _register_page(request, v, service, registry)


@router.post("/console/register/import")
async def register_import(
    request: Request, v: CanEditVerifications, form: CsrfForm, service: Service, store: Store, registry: Registry
):
    upload = form.get("file")
    data = await upload.read(MAX_CSV + 1) if upload is not None and hasattr(upload, "read") else b""
    w = words(v.lang)
    if len(data) > MAX_CSV:
        too_big = w["csv_too_big"].format(mb=MAX_CSV // (1024 * 1024))
        return await _register_page(request, v, service, registry, {"errors": True, "text": too_big}, 413)
    cmap = VERIFICATION_MAP
    mapfile = form.get("map")  # the institute's column map, when its file is not the template's
    raw = await mapfile.read(MAX_MAP + 1) if mapfile is not None and hasattr(mapfile, "read") else b""
    if raw:
        try:
            if len(raw) > MAX_MAP:
                raise MapError(table_problem("too_big", size=len(raw), limit=MAX_MAP))
            cmap = load_map(raw, VERIFICATION_SCHEMA, kind="verification", defaults=VERIFICATION_MAP)
        except MapError as exc:
            text = f"{w['template_map']}{w['colon']}{exc.text(v.lang)}"
            return await _register_page(request, v, service, registry, {"errors": True, "text": text}, 422)
    who = Principal.console(v.signed_in.username)  # the sender on record (contract v1.1 §C)
    try:
        report = await run_in_threadpool(
            functools.partial(import_csv, service, data, source=who.source("csv"), principal=who, cmap=cmap)
        )
    except NoRegistry:  # a new platform: nothing can be checked against stations yet
        return await _register_page(request, v, service, registry, {"errors": True, "text": w["csv_no_registry"]}, 409)
    if report.errors:
        text = errors_text(report.errors, v.lang)  # each error named by its line and column
        every = [e.text(v.lang) for e in report.errors[:MAX_LISTED]]  # (all of them, below the summary)
        listed = {"errors": True, "text": text, "listed": every, "more": len(report.errors) - len(every)}
        return await _register_page(request, v, service, registry, listed, 422)
    certs = len(report.outcomes)

    await run_in_threadpool(
        lambda: record(
            store,
            actor=v.signed_in.username,
            action="verification.import",
            subject="register",
            reason="CSV import",
            data={"certificates": certs, "accepted": report.count("accepted")},
            now_us=service.clock(),
        )
    )
    text = (
        f"{w['upload']}: {certs} {w['certificate']} · {w['accepted']} {report.count('accepted')}"
        f" · {w['duplicate']} {report.count('duplicate')}"
    )
    return await _register_page(request, v, service, registry, {"errors": False, "text": text})


TEMPLATE_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "toml": "application/toml; charset=utf-8",
}


async def _template(v: Viewer, cmap: ColumnMap, name: str, ext: str) -> Response:
    """A vendor's template (headers only, zh-CN) or the default column map, as a download."""
    if ext not in TEMPLATE_TYPES:
        raise NotFound(v)
    if ext == "csv":
        body = csv_template(cmap)
    elif ext == "xlsx":
        body = await run_in_threadpool(functools.partial(xlsx_template, cmap, lang=v.lang))
    else:
        body = map_toml(cmap, lang=v.lang).encode()
    filename = f"{name}-column-map.toml" if ext == "toml" else f"{name}-template.{ext}"
    return Response(
        body,
        media_type=TEMPLATE_TYPES[ext],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/console/register/template.{ext}")
async def verification_template(v: CanEditVerifications, ext: str):
    """The institute's file: who imports verifications downloads its template."""
    return await _template(v, VERIFICATION_MAP, "verification", ext)


@router.get("/console/templates/pos-settlement.{ext}")
async def settlement_template(v: CanView, ext: str):
    """A POS export's template and map, for a station's operator to set up its agent
    (imported at the station: ``anxin edge import-pos``)."""
    from anxin.edge.posfile import DEFAULT_MAP as SETTLEMENT_MAP

    return await _template(v, SETTLEMENT_MAP, "pos-settlement", ext)


@router.get("/console/certificates/{nozzle_id}/{ts}.pdf")
async def certificate(v: CanView, n: NozzleRow, ts: str, store: Store, registry: Registry):
    nozzle_id = n.nozzle_id
    found = await run_in_threadpool(stored_verification, store, nozzle_id, ts)
    source = await run_in_threadpool(verification_source, store, nozzle_id, ts)
    if found is None or (source is not None and not sender_of(source).trusted):
        raise NotFound(v)  # a station's own "verification" has no certificate
    result, record = found
    pdf = await run_in_threadpool(
        certificate_pdf, result, station=registry.station_by_id[n.station_id], nozzle=n, record=record, lang=v.lang
    )  # an official document: Chinese unless the reader reads English
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{nozzle_id}-{ts[:10]}.pdf"'},
    )


@router.get("/console/stations/{station_id}/qr.pdf")
async def qr_sheet(request: Request, st: StationRow, registry: Registry, base_url: BaseUrl):
    station_id = st.station_id
    base = base_url or str(request.base_url).rstrip("/")
    items = [
        (n.nozzle_id, st.name, public_url(base, n.nozzle_id)) for n in registry.nozzles if n.station_id == station_id
    ]
    pdf = await run_in_threadpool(qr_sheet_pdf, items)  # in Chinese whatever the reader's: the pumps' customers read it
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{station_id}-qr.pdf"'},
    )


def _sender_text(sender: Sender | None, w: dict[str, str], registry: Any) -> str:
    """Who sent a verification, for the console's register (the ledger's source itself
    is the row's tooltip: provenance, not a word for the reader)."""
    if sender is None:
        return "—"
    if sender.role == "institute":
        return f"{w['sent_by_institute']} {sender.name}"
    if sender.role == "console":
        return f"{w['sent_by_console']} {sender.name}"
    if sender.role == "station":
        st = registry.station_by_id.get(sender.id)
        return f"{w['sent_by_station_refused']}{w['paren_open']}{st.name if st else sender.id}{w['paren_close']}"
    return w["sent_by_import"]


def _due_row(d: Any) -> dict[str, Any]:
    return {
        "nozzle_id": d.nozzle_id,
        "station_id": d.station_id,
        "status": d.status,
        "valid_until": format_ts(d.valid_until_us)[:10],
    }
