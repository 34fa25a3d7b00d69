"""The public channels (公众渠道): the nozzle page's complaint form and citizen-chosen
inspection request (你点我检), and the public complaint API ``POST /v1/complaints`` —
each behind :class:`anxin.web.guard.PublicGuard` (rate limits per address and per nozzle,
a proof-of-work challenge past the free allowance, the attachment quota and type check,
the CSRF token and the origin check).

Answers of the forms (the page again, with the reason and what was typed, except the
files): 403 the form token or the origin is not this site's · 413 the files are too
large or over today's quota · 422 a field is wrong · 428 solve the challenge first (the
page carries it; the shipped script solves it when the button is pressed again) · 429
too many (``Retry-After``). The API answers the same codes in JSON; its 428 carries
``challenge`` and ``difficulty`` to solve and send back in ``X-Anxin-Challenge`` and
``X-Anxin-Solution``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from anxin.contract.times import LOCAL_OFFSET_US, format_ts
from anxin.ingest.service import IngestService
from anxin.register import register_row
from anxin.supervision import SupervisionError
from anxin.supervision import complaints as C
from anxin.supervision import inspections as I
from anxin.web.deps import Guard, Registry, Service
from anxin.web.firmware import firmware_text
from anxin.web.guard import PublicGuard, Verdict, client_address, origin_verdict
from anxin.web.session import language, not_found, now_us, render, viewer
from anxin.web.texts import flow_text, refusal_text, words

TZ = dt.timezone(dt.timedelta(microseconds=LOCAL_OFFSET_US))
KEPT = ("text", "order", "when", "contact")  # what a page shown again keeps of the form (never the files)


class ComplaintIn(BaseModel):
    station_id: str = Field(min_length=1, max_length=128)
    nozzle_id: str | None = Field(None, max_length=128)
    text: str = Field(min_length=1, max_length=2000)
    contact: str | None = Field(None, max_length=200)
    order_ref: str | None = Field(None, max_length=128)
    event_ts: dt.datetime | None = Field(None, description="when it happened (with a time zone offset)")


def _when(text: str | None) -> int | None:
    """A datetime-local field (local time) as µs, or None."""
    if not text:
        return None
    t = dt.datetime.fromisoformat(text)
    return int((t if t.tzinfo else t.replace(tzinfo=TZ)).timestamp() * 1e6)


def public_forms(request: Request, guard: PublicGuard, nozzle_id: str) -> tuple[dict[str, Any], str | None]:
    """What the public page's forms need (their token, and a challenge when the next
    submission from this address about this nozzle will need one), and the form cookie
    to set (None: the request has one)."""
    now = now_us()
    token, cookie = guard.form_token(request, now_us=now)
    bits = guard.needed(client_address(request), nozzle_id, now_us=now)
    challenges = {}
    if bits is not None:
        challenges = {
            form: {"challenge": guard.issue(f"{form}:{nozzle_id}", bits, now_us=now), "bits": bits}
            for form in ("report", "inspect")
        }
    return {"form_token": token, "challenges": challenges}, cookie


def nozzle_page(
    request: Request,
    service: IngestService,
    registry: Any,
    nozzle_id: str,
    *,
    thanks: bool = False,
    status: int = 200,
    **forms: Any,
) -> Response:
    """The public nozzle page (检情公开: its verification as the register reads it, who
    sent it, the station's visited inspections) with ``forms``, the forms' context."""
    store = service.store
    v = viewer(request, store)
    n = registry.nozzle_by_id.get(nozzle_id)
    if n is None:
        return not_found(request, v)
    st = registry.station_by_id[n.station_id]
    w = words(v.lang)
    # The register's own reading of the nozzle (the last record, else the registry).
    row = register_row(store, registry, nozzle_id, now_us=service.clock())
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
        errs = w["risk_sep"].join(flow_text(p.flow_ml_per_min, p.error_permille, w) for p in row.flow_points)
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
        firmware=firmware_text(store, registry, n, v.lang),  # the software it runs (contract v1.1 §F)
        visits=visits,
        thanks=thanks,
        user=None,
        **forms,  # the forms' token, challenges, and a message with what was typed (anxin.web.public)
    )


router = APIRouter(include_in_schema=False)  # the public page and its forms (no login)


def _show(
    request: Request,
    service: IngestService,
    registry: Any,
    guard: PublicGuard,
    nozzle_id: str,
    *,
    status: int = 200,
    thanks: bool = False,
    **extra: Any,
) -> Response:
    forms, cookie = public_forms(request, guard, nozzle_id)
    resp = nozzle_page(request, service, registry, nozzle_id, thanks=thanks, status=status, **forms, **extra)
    return guard.set_form_cookie(resp, cookie)


async def _again(
    request: Request,
    service: IngestService,
    registry: Any,
    guard: PublicGuard,
    nozzle_id: str,
    status: int,
    reason: str,
    form: Any = None,
    verdict: Verdict | None = None,
) -> Response:
    """The page again, saying why, with what was typed."""
    w = words(language(request))
    values = {k: str(form.get(k) or "") for k in KEPT} if form is not None else {}
    resp = await run_in_threadpool(
        lambda: _show(
            request, service, registry, guard, nozzle_id, status=status, message=w.get(reason, reason), values=values
        )
    )
    if verdict is not None and verdict.retry_after_s is not None and status in (413, 429):
        resp.headers["Retry-After"] = str(verdict.retry_after_s)
    return resp


async def _gate(
    request: Request,
    service: IngestService,
    registry: Any,
    guard: PublicGuard,
    nozzle_id: str,
    *,
    files: bool,
    form_name: str,
) -> tuple[Any, Response | None]:
    """Read the form and pass the guard: (form, None) to go on, or (form, the answer)."""
    form = await guard.read_form(request, files=files)
    if form is None:
        return None, await _again(request, service, registry, guard, nozzle_id, 413, "pub_too_large")
    if origin_verdict(request, guard.base_url) is False or not guard.form_token_ok(
        request, form.get("form_token"), now_us=now_us()
    ):
        return form, await _again(request, service, registry, guard, nozzle_id, 403, "form_expired", form)
    verdict = await run_in_threadpool(
        lambda: guard.admit(
            client_address(request),
            nozzle_id,
            f"{form_name}:{nozzle_id}",
            challenge=form.get("pow_challenge"),
            solution=form.get("pow_solution"),
            now_us=now_us(),
        )
    )
    if not verdict.ok:
        return form, await _again(
            request, service, registry, guard, nozzle_id, verdict.status, verdict.reason, form, verdict
        )
    return form, None


@router.get("/p/{nozzle_id}")
async def public_nozzle(request: Request, nozzle_id: str, service: Service, registry: Registry, guard: Guard):
    return await run_in_threadpool(_show, request, service, registry, guard, nozzle_id)


@router.get("/p/{nozzle_id}/thanks")
async def thanks(request: Request, nozzle_id: str, service: Service, registry: Registry, guard: Guard):
    return await run_in_threadpool(lambda: _show(request, service, registry, guard, nozzle_id, thanks=True))


@router.post("/p/{nozzle_id}/report")
async def public_complaint(request: Request, nozzle_id: str, service: Service, registry: Registry, guard: Guard):
    """The public page's complaint: text, optional order number, time and files."""
    store = service.store
    n = registry.nozzle_by_id.get(nozzle_id)
    if n is None:
        return not_found(request, await run_in_threadpool(viewer, request, store))
    form, stop = await _gate(request, service, registry, guard, nozzle_id, files=True, form_name="report")
    if stop is not None:
        return stop
    lim = guard.limits
    files: list[tuple[str, str, bytes]] = []
    for f in form.getlist("files"):
        if isinstance(f, UploadFile) and f.filename:
            data = await f.read(lim.attachment_max_bytes + 1)
            files.append((f.filename, f.content_type or "application/octet-stream", data))
    nbytes = sum(len(d) for _, _, d in files)
    if (
        len(files) > lim.attachments_max
        or nbytes > lim.submission_max_bytes
        or any(len(d) > lim.attachment_max_bytes for _, _, d in files)
    ):
        return await _again(request, service, registry, guard, nozzle_id, 413, "pub_too_large", form)
    address = client_address(request)
    quota = await run_in_threadpool(lambda: guard.quota(address, nozzle_id, nbytes, now_us=now_us()))
    if not quota.ok:
        return await _again(request, service, registry, guard, nozzle_id, quota.status, quota.reason, form, quota)
    try:
        when = _when(str(form.get("when", "")))
        await run_in_threadpool(
            lambda: C.submit(
                store,
                registry,
                station_id=n.station_id,
                nozzle_id=nozzle_id,
                text=str(form.get("text", "")),
                contact=str(form.get("contact", "")).strip() or None,
                order_ref=str(form.get("order", "")).strip() or None,
                event_ts_us=when,
                channel="qr",
                attachments=files,
                now_us=service.clock(),
            )
        )
    except SupervisionError as exc:
        reason = refusal_text(exc, language(request))
        return await _again(request, service, registry, guard, nozzle_id, 422, reason, form)
    except ValueError as exc:
        return await _again(request, service, registry, guard, nozzle_id, 422, f"when: {exc}", form)
    await run_in_threadpool(lambda: guard.accepted(address, nozzle_id, nbytes, now_us=now_us()))
    return RedirectResponse(f"/p/{nozzle_id}/thanks", status_code=303)


@router.post("/p/{nozzle_id}/inspect")
async def public_inspect(request: Request, nozzle_id: str, service: Service, registry: Registry, guard: Guard):
    """你点我检: a citizen asks for this nozzle to be inspected."""
    store = service.store
    if nozzle_id not in registry.nozzle_by_id:
        return not_found(request, await run_in_threadpool(viewer, request, store))
    form, stop = await _gate(request, service, registry, guard, nozzle_id, files=False, form_name="inspect")
    if stop is not None:
        return stop
    try:
        await run_in_threadpool(
            lambda: I.citizen_request(
                store,
                registry,
                nozzle_id=nozzle_id,
                contact=str(form.get("contact", "")).strip() or None,
                now_us=service.clock(),
            )
        )
    except SupervisionError as exc:
        reason = refusal_text(exc, language(request))
        return await _again(request, service, registry, guard, nozzle_id, 422, reason, form)
    await run_in_threadpool(lambda: guard.accepted(client_address(request), nozzle_id, 0, now_us=now_us()))
    return RedirectResponse(f"/p/{nozzle_id}/thanks", status_code=303)


_API_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "the request's Origin is another site"},
    422: {"description": "a field is wrong (named)"},
    428: {
        "description": "solve the challenge first: find a decimal counter such that SHA-256 of "
        "'<challenge>:<counter>' starts with <difficulty> zero bits, and send the request again with "
        "X-Anxin-Challenge: <challenge> and X-Anxin-Solution: <counter>"
    },
    429: {"description": "too many from this address, or about this nozzle today (Retry-After)"},
    503: {"description": "the platform has no registry yet"},
}


api_router = APIRouter()  # the public complaint API (in the OpenAPI description, unlike the pages)


@api_router.post(
    "/v1/complaints",
    tags=["public"],
    summary="Submit a complaint (no account)",
    status_code=201,
    responses=_API_RESPONSES,
)
async def api_complaint(
    request: Request,
    body: ComplaintIn,
    service: Service,
    registry: Registry,
    guard: Guard,
    x_anxin_challenge: Annotated[str | None, Header(max_length=200)] = None,
    x_anxin_solution: Annotated[str | None, Header(max_length=32)] = None,
) -> Any:
    """The public complaint API (投诉举报接口): the same path and the same limits as the
    QR page's form. A browser page of another site cannot post here (its Origin is
    refused); past a few submissions from one address in an hour, each needs the
    proof-of-work challenge that the 428 answer carries."""
    if origin_verdict(request, guard.base_url, referer=False) is False:
        raise HTTPException(403, "the complaint API takes requests of this site only (Origin)")
    store = service.store
    if not registry.stations:  # (an empty one until the platform has a registry)
        raise HTTPException(503, "the platform has no registry yet")
    target = body.nozzle_id or body.station_id
    verdict = await run_in_threadpool(
        lambda: guard.admit(
            client_address(request),
            target,
            f"api:{target}",
            challenge=x_anxin_challenge,
            solution=x_anxin_solution,
            now_us=now_us(),
        )
    )
    if verdict.status == 428:
        return JSONResponse(
            {
                "detail": "solve the challenge first (see the 428 response in the API description)",
                "challenge": verdict.challenge,
                "difficulty": verdict.difficulty,
                "algorithm": "SHA-256('<challenge>:<counter>') with <difficulty> leading zero bits",
            },
            status_code=428,
        )
    if not verdict.ok:
        raise HTTPException(
            verdict.status,
            "too many complaints from this address, or about this nozzle today; try later (or call 12315)",
            headers={"Retry-After": str(verdict.retry_after_s or 60)},
        )
    if body.event_ts is not None and body.event_ts.tzinfo is None:
        raise HTTPException(422, "event_ts needs a time zone offset (e.g. +08:00)")
    try:
        when = int(body.event_ts.timestamp() * 1e6) if body.event_ts else None
        cid = await run_in_threadpool(
            lambda: C.submit(
                store,
                registry,
                station_id=body.station_id,
                nozzle_id=body.nozzle_id,
                text=body.text,
                contact=body.contact,
                order_ref=body.order_ref,
                event_ts_us=when,
                channel="api",
                now_us=service.clock(),
            )
        )
    except SupervisionError as exc:
        raise HTTPException(422, str(exc)) from None
    await run_in_threadpool(lambda: guard.accepted(client_address(request), target, 0, now_us=now_us()))
    d = await run_in_threadpool(C.get, store, cid)
    assert d is not None  # submitted just now; complaints are never deleted
    return {"id": cid, "status": d["status"], "deadline": format_ts(d["deadline_us"]), "links": len(d["links"])}
