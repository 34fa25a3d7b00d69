"""Supervision pages: complaints (投诉举报) handled to closure and triaged (研判), inspections
(检查) with their checklist, test fill and rectification orders, citizen-chosen
inspections (你点我检). The public side (the complaint form, the "inspect this nozzle"
request, the complaint API) is :mod:`anxin.web.public`."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from anxin.auth.roles import ROLES
from anxin.auth.users import active_staff
from anxin.contract.times import LOCAL_OFFSET_US, format_ts
from anxin.supervision import SupervisionError
from anxin.supervision import complaints as C
from anxin.supervision import inspections as I
from anxin.web.deps import (
    CanHandleComplaints,
    CanTriage,
    CanView,
    CanVisit,
    ComplaintRow,
    CsrfForm,
    Forbidden,
    InspectionRow,
    NotFound,
    Registry,
    Service,
    Store,
    current_complaint,
    current_inspection,
)
from anxin.web.session import DbId, Viewer, bad_request, form_number, render
from anxin.web.texts import refusal_text
from anxin.workflow.queries import alarm_headings

TZ = dt.timezone(dt.timedelta(microseconds=LOCAL_OFFSET_US))


def _when(text: str | None) -> int | None:
    """A datetime-local field (local time) as µs, or None."""
    if not text:
        return None
    t = dt.datetime.fromisoformat(text)
    return int((t if t.tzinfo else t.replace(tzinfo=TZ)).timestamp() * 1e6)


def _link_pairs(d: dict) -> list[tuple[str, str]]:
    return [(str(link["kind"]), str(link["ref"])) for link in d.get("links") or []]


router = APIRouter(include_in_schema=False)


# ------------------------------------------------------------ complaints
@router.get("/console/complaints")
async def complaints(
    request: Request, v: CanHandleComplaints, service: Service, store: Store, status: str | None = None
):
    if status and status not in C.STATUSES:
        return bad_request(request, v, "status", status)
    now = service.clock()
    rows = await run_in_threadpool(lambda: C.listing(store, status=status or None, station_ids=v.stations, limit=500))
    for row in rows:
        row["overdue"] = row["status"] != "closed" and (row["deadline_us"] or now) < now
    return render(
        request, v, "complaints.html", page="complaints", rows=rows, status_filter=status or "", fmt=format_ts
    )


async def _complaint(
    request: Request,
    v: Viewer,
    store: Store,
    d: dict,
    message: str | None = None,
    status: int = 200,
    contact: str | None = None,
):
    def load():
        everyone = active_staff(store, ROLES)
        alarms = alarm_headings(store, [ref for kind, ref in _link_pairs(d) if kind == "alarm"])
        return everyone, alarms

    everyone, alarms = await run_in_threadpool(load)
    return render(
        request,
        v,
        "complaint.html",
        status,
        page="complaints",
        c=d,
        staff=[p for p in everyone if p["role"] in ("regulator", "inspector")],
        names={p["username"]: p["display_name"] for p in everyone},
        link_alarms=alarms,
        message=message,
        fmt=format_ts,
        can_handle=v.can("complaint.view"),
        can_open_case=v.can("alarm.triage"),
        can_triage=v.can("alarm.triage"),
        can_see_contact=C.may_see_contact(v.signed_in, d),
        contact=contact,
    )


@router.get("/console/complaints/{cid}")
async def complaint(request: Request, v: CanHandleComplaints, store: Store, d: ComplaintRow):
    return await _complaint(request, v, store, d)


@router.post("/console/complaints/{cid}/{step}")
async def complaint_step(
    request: Request,
    v: CanHandleComplaints,
    form: CsrfForm,
    d: ComplaintRow,
    step: str,
    service: Service,
    store: Store,
):
    cid: int = d["id"]
    who, now = v.signed_in.username, service.clock()
    text = str(form.get("text", "")).strip()
    try:
        if step == "assign":
            await run_in_threadpool(
                lambda: C.assign(store, cid, assignee=str(form.get("assignee", "")), actor=who, reason=text, now_us=now)
            )
        elif step == "investigate":
            await run_in_threadpool(lambda: C.investigate(store, cid, note=text, actor=who, now_us=now))
        elif step == "reply":
            await run_in_threadpool(lambda: C.reply(store, cid, text=text, actor=who, now_us=now))
        elif step == "triage":
            if not v.can("alarm.triage"):  # a regulator's decision: it moves the risk score
                raise Forbidden(v)
            plausible = str(form.get("plausible", ""))
            if plausible not in ("yes", "no"):
                return bad_request(request, v, "plausible", plausible)
            await run_in_threadpool(
                lambda: C.triage(store, cid, plausible=plausible == "yes", actor=who, reason=text, now_us=now)
            )
        elif step == "close":
            await run_in_threadpool(
                lambda: C.close(store, cid, outcome=str(form.get("outcome", "")), reason=text, actor=who, now_us=now)
            )
        elif step == "contact":  # shown on this answer only (never in an address), and audited
            got = await run_in_threadpool(lambda: C.reveal_contact(store, cid, viewer=v.signed_in, now_us=now))
            return await _complaint(request, v, store, d, contact=got or "—")
        else:
            raise NotFound(v)
    except SupervisionError as exc:
        fresh = await run_in_threadpool(current_complaint, cid, v, service)
        return await _complaint(request, v, store, fresh, message=refusal_text(exc, v.lang), status=400)
    return RedirectResponse(f"/console/complaints/{cid}", status_code=303)


@router.get("/console/complaints/{cid}/attachments/{aid}")
async def complaint_file(v: CanHandleComplaints, d: ComplaintRow, aid: DbId, store: Store, service: Service):
    f = await run_in_threadpool(C.attachment, store, d["id"], aid)
    if f is None:
        raise NotFound(v)
    await run_in_threadpool(
        lambda: C.record_attachment_view(store, d["id"], aid, viewer=v.signed_in, now_us=service.clock())
    )
    return Response(f.data, media_type=f.mime, headers={"Content-Disposition": "attachment"})


# ------------------------------------------------------------ inspections
@router.get("/console/inspections")
async def inspections(request: Request, v: CanView, service: Service, store: Store, registry: Registry):
    def load():
        return (
            # The station's side (an operator) sees unannounced and citizen-chosen
            # inspections only once visited (四不两直): the queries leave them out.
            I.listing(store, station_ids=v.stations, limit=300, station_view=v.stations is not None),
            I.open_rectifications(store, now_us=service.clock(), station_ids=v.stations),
            I.citizen_requests(store, limit=200, station_ids=v.stations, station_view=v.stations is not None),
            active_staff(store, ("inspector",)),
        )

    rows, rects, requests_, inspectors = await run_in_threadpool(load)
    visible = [s for s in registry.stations if v.sees(s.station_id)]
    return render(
        request,
        v,
        "inspections.html",
        page="inspections",
        rows=rows,
        rects=rects,
        requests=requests_,
        inspectors=inspectors,
        stations=visible,
        fmt=format_ts,
        can_plan=v.can("alarm.triage"),
        kinds=I.KINDS if hasattr(I, "KINDS") else ("routine", "unannounced", "follow_up"),
    )


@router.post("/console/inspections")
async def plan_inspection(request: Request, v: CanTriage, form: CsrfForm, service: Service, store: Store):
    try:
        when = _when(str(form.get("scheduled", ""))) or service.clock()
        req = str(form.get("request_id", ""))
        if req.isdigit():
            iid = await run_in_threadpool(
                lambda: I.schedule_citizen(
                    store,
                    int(req),
                    inspector=str(form.get("inspector", "")),
                    scheduled_us=when,
                    actor=v.signed_in.username,
                    now_us=service.clock(),
                )
            )
        else:
            follow = str(form.get("follow_up_of", ""))
            iid = await run_in_threadpool(
                lambda: I.schedule(
                    store,
                    station_id=str(form.get("station_id", "")),
                    inspector=str(form.get("inspector", "")),
                    scheduled_us=when,
                    kind=str(form.get("kind", "routine")),
                    follow_up_of=int(follow) if follow.isdigit() else None,
                    actor=v.signed_in.username,
                    now_us=service.clock(),
                )
            )
    except (SupervisionError, ValueError) as exc:
        return render(request, v, "error.html", 400, title="—", message=refusal_text(exc, v.lang))
    return RedirectResponse(f"/console/inspections/{iid}", status_code=303)


async def _inspection(
    request: Request,
    v: Viewer,
    store: Store,
    registry: Registry,
    d: dict,
    message: str | None = None,
    status: int = 200,
):
    nozzles = [n for n in registry.nozzles if n.station_id == d["station_id"]]
    everyone = await run_in_threadpool(active_staff, store, ROLES)
    return render(
        request,
        v,
        "inspection.html",
        status,
        page="inspections",
        i=d,
        names={p["username"]: p["display_name"] for p in everyone},
        items=I.CHECKLIST,
        manual=I.MANUAL_ITEMS,
        nozzles=nozzles,
        message=message,
        fmt=format_ts,
        can_visit=v.can("alarm.report") or v.can("alarm.triage"),
        can_open_case=v.can("alarm.triage") and d["status"] == "done",
    )


@router.get("/console/inspections/{iid}")
async def inspection(request: Request, v: CanView, d: InspectionRow, store: Store, registry: Registry):
    return await _inspection(request, v, store, registry, d)


@router.post("/console/inspections/{iid}/visit")
async def visit(
    request: Request,
    v: CanVisit,
    form: CsrfForm,
    d: InspectionRow,
    service: Service,
    store: Store,
    registry: Registry,
):
    iid: int = d["id"]
    checklist = {k: (form.get(f"ok_{k}") == "yes", str(form.get(f"note_{k}", ""))) for k in I.MANUAL_ITEMS}
    try:
        runs = [
            {
                "standard_ml": form_number(form, f"standard_ml_{n}"),
                "indicated_ml": form_number(form, f"indicated_ml_{n}"),
                "standard_temp_mc": form_number(form, f"standard_temp_mc_{n}", 20000),
                "dispenser_temp_mc": form_number(form, f"dispenser_temp_mc_{n}", 20000),
            }
            for n in range(3)
            if str(form.get(f"standard_ml_{n}") or "").strip() and str(form.get(f"indicated_ml_{n}") or "").strip()
        ]
        await run_in_threadpool(
            lambda: I.record_visit(
                store,
                registry,
                iid,
                checklist=checklist,
                test_fill_runs=runs or None,
                findings=str(form.get("findings", "")),
                actor=v.signed_in.username,
                now_us=service.clock(),
                nozzle_id=str(form.get("nozzle_id") or "") or None,
            )
        )
    except (SupervisionError, ValueError) as exc:
        fresh = await run_in_threadpool(current_inspection, iid, v, service)
        return await _inspection(request, v, store, registry, fresh, message=refusal_text(exc, v.lang), status=400)
    return RedirectResponse(f"/console/inspections/{iid}", status_code=303)
