"""The verification register pages (智慧检定: CSV import, certificates, due list, QR
sheets) and the public nozzle page (检情公开) with its complaint form."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from anxin.audit import record
from anxin.contract.times import format_ts, parse_ts
from anxin.ingest.principals import Principal, Sender, sender_of
from anxin.ingest.service import IngestService
from anxin.register import (
    certificate_pdf,
    due_list,
    import_csv,
    public_url,
    qr_sheet_pdf,
    register_row,
    stored_verification,
    verification_senders,
    verification_source,
)
from anxin.register.queries import coverage_of, institute_names
from anxin.supervision import inspections as I
from anxin.web import queries as Q
from anxin.web.deps import CanEditVerifications, CanView, CsrfForm, NotFound, NozzleRow, StationRow
from anxin.web.guard import PublicGuard
from anxin.web.public import add_public_routes
from anxin.web.session import Viewer, not_found, render, viewer
from anxin.web.texts import words

MAX_CSV = 5 * 1024 * 1024


def pages_router(service: IngestService, *, guard: PublicGuard, base_url: str = "") -> APIRouter:
    r = APIRouter(include_in_schema=False)
    store = service.store

    def reg():
        return service.registry

    def _verification_rows(stations, lang: str) -> list[dict[str, Any]]:
        rows = Q.recent_verifications(store, stations)
        sources = verification_senders(store, None if stations is None else sorted(stations)) if rows else {}
        names = institute_names(store) if any(s.startswith("institute:") for s in sources.values()) else None
        w = words(lang)
        out = []
        for n, st, ts, passed, result in rows:
            pts = result.get("flow_points", []) if isinstance(result, dict) else []
            err = w["risk_sep"].join(_flow_point(p, w) for p in pts if isinstance(p, dict) and "error" in p)
            source = sources.get(f"{n}/{parse_ts(ts)}")
            sender = sender_of(source, reg(), names) if source is not None else None
            refused = sender is not None and not sender.trusted  # a station's own: never shown as valid
            out.append(
                {
                    "nozzle_id": n,
                    "station_id": st,
                    "ts": ts[:10],
                    "verdict": "—" if refused else "✓" if passed else "✗",
                    "error": "" if refused else err,
                    "sender": _sender_text(sender, w, reg()),
                    "source": source or "",
                    "refused": refused,
                    "cert_url": None if refused else f"/console/certificates/{n}/{ts}.pdf",
                }
            )
        return out

    async def _register_page(request: Request, v: Viewer, report: dict[str, Any] | None = None, status: int = 200):
        now = service.clock()

        def load():
            scope = v.stations
            due = due_list(store, reg(), now_us=now, station_ids=None if scope is None else set(scope))
            covered, passed = coverage_of(store, reg(), now_us=now, station_ids=scope)  # an operator: its own
            cov = {"coverage": covered, "pass_rate": passed}
            return due, cov, _verification_rows(scope, v.lang)

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

    @r.get("/console/register")
    async def register_page(request: Request, v: CanView):
        return await _register_page(request, v)

    @r.post("/console/register/import")
    async def register_import(request: Request, v: CanEditVerifications, form: CsrfForm):
        upload = form.get("file")
        data = await upload.read(MAX_CSV + 1) if upload is not None and hasattr(upload, "read") else b""
        w = words(v.lang)
        if len(data) > MAX_CSV:
            too_big = w["csv_too_big"].format(mb=MAX_CSV // (1024 * 1024))
            return await _register_page(request, v, {"errors": True, "text": too_big}, 413)
        who = Principal.console(v.signed_in.username)  # the sender on record (contract v1.1 §C)
        report = await run_in_threadpool(
            functools.partial(import_csv, service, data, source=who.source("csv"), principal=who)
        )
        if report.errors:
            text = "; ".join(f"{w['line']} {e.line} {e.column}: {e.message}" for e in report.errors[:20])
            return await _register_page(request, v, {"errors": True, "text": text}, 422)
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
        return await _register_page(request, v, {"errors": False, "text": text})

    @r.get("/console/certificates/{nozzle_id}/{ts}.pdf")
    async def certificate(v: CanView, n: NozzleRow, ts: str):
        nozzle_id = n.nozzle_id
        found = await run_in_threadpool(stored_verification, store, nozzle_id, ts)
        source = await run_in_threadpool(verification_source, store, nozzle_id, ts)
        if found is None or (source is not None and not sender_of(source).trusted):
            raise NotFound(v)  # a station's own "verification" has no certificate
        result, record = found
        pdf = await run_in_threadpool(
            certificate_pdf, result, station=reg().station_by_id[n.station_id], nozzle=n, record=record
        )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{nozzle_id}-{ts[:10]}.pdf"'},
        )

    @r.get("/console/stations/{station_id}/qr.pdf")
    async def qr_sheet(request: Request, st: StationRow):
        station_id = st.station_id
        base = base_url or str(request.base_url).rstrip("/")
        items = [
            (n.nozzle_id, st.name, public_url(base, n.nozzle_id)) for n in reg().nozzles if n.station_id == station_id
        ]
        pdf = await run_in_threadpool(qr_sheet_pdf, items)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{station_id}-qr.pdf"'},
        )

    # ------------------------------------------------------------ public (no login)
    def _public(request: Request, nozzle_id: str, *, thanks: bool = False, status: int = 200, **forms: Any):
        v = viewer(request, store)
        n = reg().nozzle_by_id.get(nozzle_id) if reg() else None
        if n is None:
            return not_found(request, v)
        st = reg().station_by_id[n.station_id]
        w = words(v.lang)
        # The register's own reading of the nozzle (the last record, else the registry).
        row = register_row(store, reg(), nozzle_id, now_us=service.clock())
        if row is None:
            return not_found(request, v)
        valid = row.status in ("valid", "due_soon")
        if valid:
            status_text = w["pub_valid"]
        elif row.status in ("failed", "never"):
            status_text = w["pub_failed"]
        else:
            status_text = w["pub_expired"]
        verdict = w["passed"] if (row.passed if row.passed is not None else n.last_verification_passed) else w["failed"]
        if row.last_ts:
            errs = w["risk_sep"].join(_flow_text(p.flow_ml_per_min, p.error_permille, w) for p in row.flow_points)
            last_text = f"{row.last_ts[:10]} · {verdict} · {w['error']} {errs}"
        else:
            last_text = verdict
        # Who sent it (contract v1.1 §C): the institute; for the public, a console user is
        # "entered by the regulator", without the account's name.
        if row.sender_role == "institute":
            sent_by = f"{w['sent_by_institute']} {row.sender}"
        elif row.sender_role == "console":
            sent_by = w["sent_by_regulator"]
        elif row.sender_role == "replay":
            sent_by = w["sent_by_import"]
        else:
            sent_by = w["sent_by_registry"]
        # The station's inspections, once visited (unannounced ones never before: the query's rule).
        visits = [
            {
                "day": format_ts(i["visited_us"])[:10],
                "kind": w.get(f"inspection_kind_{i['kind']}", i["kind"]),
                "failed": sum(1 for x in (i["checklist"] or {}).values() if x.get("ok") is False),
            }
            for i in I.listing(store, station_ids={n.station_id}, status="done", station_view=True, limit=5)
        ]
        return render(
            request,
            v,
            "public_nozzle.html",
            status,
            n=n,
            st=st,
            valid=valid,
            status_text=status_text,
            valid_until=row.valid_until[:10],
            last_text=last_text,
            sent_by=sent_by,
            visits=visits,
            thanks=thanks,
            user=None,
            **forms,  # the forms' token, challenges, and a message with what was typed (anxin.web.public)
        )

    add_public_routes(r, service, guard, page=_public)  # /p/{nozzle_id}, its thanks, its two forms
    return r


def _flow_text(flow_ml_per_min: Any, error_permille: float, w: dict[str, str]) -> str:
    """One flow point's error labelled with its flow (a verification's two or three
    errors are otherwise numbers side by side)."""
    if not isinstance(flow_ml_per_min, (int, float)) or isinstance(flow_ml_per_min, bool):
        return f"{error_permille:+.2f}‰"
    return f"{flow_ml_per_min / 1000:g} {w['l_per_min']}{w['colon']}{error_permille:+.2f}‰"


def _flow_point(p: dict[str, Any], w: dict[str, str]) -> str:
    err = p.get("error")
    if not isinstance(err, (int, float)) or isinstance(err, bool):
        return "—"
    return _flow_text(p.get("flow_ml_per_min"), err * 1000, w)


def _sender_text(sender: Sender | None, w: dict[str, str], registry: Any = None) -> str:
    """Who sent a verification, for the console's register (the ledger's source itself
    is the row's tooltip: provenance, not a word for the reader)."""
    if sender is None:
        return "—"
    if sender.role == "institute":
        return f"{w['sent_by_institute']} {sender.name}"
    if sender.role == "console":
        return f"{w['sent_by_console']} {sender.name}"
    if sender.role == "station":
        st = None if registry is None else registry.station_by_id.get(sender.id)
        return f"{w['sent_by_station_refused']}{w['paren_open']}{st.name if st else sender.id}{w['paren_close']}"
    return w["sent_by_import"]


def _due_row(d: Any) -> dict[str, Any]:
    return {
        "nozzle_id": d.nozzle_id,
        "station_id": d.station_id,
        "status": d.status,
        "valid_until": format_ts(d.valid_until_us)[:10],
    }
