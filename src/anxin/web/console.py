"""The console's pages: login, overview (一网感知), alarms with triage to closure, work
orders, station and nozzle pages, and the live alarm stream for the signed-in user."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from anxin.auth import LoginOk, login, logout
from anxin.auth.roles import ROLES
from anxin.auth.users import active_staff
from anxin.contract.alarm import RULES
from anxin.contract.times import LOCAL_OFFSET_US, LOCAL_TZ, US_PER_DAY, US_PER_H, format_ts
from anxin.geo.queries import current_map, map_document
from anxin.i18n import alarm_message
from anxin.ingest.service import IngestService
from anxin.register import register_row
from anxin.serve.alarms import alarm_events, sse
from anxin.web import queries as Q
from anxin.web.deps import (
    AlarmActor,
    AlarmRow,
    Broadcaster,
    CanView,
    CsrfForm,
    Guard,
    NotFound,
    NozzleRow,
    Registry,
    Service,
    StationRow,
    Store,
    WorkOrderRow,
    current_alarm,
)
from anxin.web.evidence import present
from anxin.web.extra import nozzle_events
from anxin.web.firmware import firmware_text
from anxin.web.guard import PublicGuard, client_address, origin_verdict
from anxin.web.session import (
    COOKIE,
    BadParam,
    Viewer,
    as_json,
    bad_request,
    csrf_ok,
    language,
    now_us,
    query_int,
    render,
    viewer,
)
from anxin.web.texts import refusal_text, rule_label, words
from anxin.web.timeline import timeline
from anxin.web.witness import nozzle_view, station_view
from anxin.workflow import ConcurrentChange, UnknownAlarm, apply, overdue_work_orders, work_orders
from anxin.workflow import lifecycle as L
from anxin.workflow.queries import alarm_headings


def _local(path: str) -> str:
    """Only a path of this site after login (never "//host" or a URL: no open redirect)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/console"


SEVERITIES = ("critical", "major", "minor")
ALARM_STATUSES = ("open", "new", "acknowledged", "dispatched", "on_site", "confirmed", "false_alarm")
DEVICE_COOKIE = "anxin_device"


def local_day(us: int) -> str:
    return format_ts(us)[:10]


def _day_us(text: str | None, end: bool = False) -> int | None:
    """A local date (YYYY-MM-DD) as µs at its local midnight (the next one for ``end``)."""
    try:
        d = dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None
    if d is None:
        return None
    return (d - dt.date(1970, 1, 1)).days * US_PER_DAY - LOCAL_OFFSET_US + (US_PER_DAY if end else 0)


router = APIRouter(include_in_schema=False)


def _login_page(
    request: Request, store: Store, guard: PublicGuard, nxt: str, error: str | None = None, status: int = 200
) -> Response:
    """The login form with its anonymous CSRF token (bound to the form cookie)."""
    v = viewer(request, store)
    token, cookie = guard.form_token(request, now_us=now_us())
    resp = render(request, v, "login.html", status, next=nxt, error=error, form_token=token)
    return guard.set_form_cookie(resp, cookie)


@router.get("/console/login")
async def login_page(request: Request, store: Store, guard: Guard, next: str = "/console"):
    return await run_in_threadpool(_login_page, request, store, guard, _local(next))


@router.post("/console/login")
async def login_post(request: Request, store: Store, guard: Guard):
    form = await request.form()
    nxt = _local(str(form.get("next") or "/console"))
    w = words(language(request))  # (the language is the request's: no database read on the loop)
    if origin_verdict(request, guard.base_url) is False or not guard.form_token_ok(
        request, form.get("form_token"), now_us=now_us()
    ):
        return await run_in_threadpool(_login_page, request, store, guard, nxt, w["form_expired"], 403)
    res = await run_in_threadpool(
        lambda: login(
            store,
            str(form.get("username", "")),
            str(form.get("password", "")),
            now_us=now_us(),
            address=client_address(request),
            device=request.cookies.get(DEVICE_COOKIE),
        )
    )
    if not isinstance(res, LoginOk):
        return await run_in_threadpool(_login_page, request, store, guard, nxt, w["login_refused"], 401)
    resp = RedirectResponse(nxt, status_code=303)
    secure = guard.cookie_secure  # config cookie_secure: on unless the demo or a test turns it off
    resp.set_cookie(COOKIE, res.token, httponly=True, samesite="lax", max_age=12 * 3600, secure=secure)
    resp.set_cookie(  # this browser is now a place the account is used from (the login throttle)
        DEVICE_COOKIE,
        res.device,
        httponly=True,
        samesite="strict",
        max_age=180 * 86400,
        secure=secure,
        path="/console/login",
    )
    return resp


@router.post("/console/logout")
async def logout_post(request: Request, store: Store):
    v = await run_in_threadpool(viewer, request, store)
    form = await request.form()
    if csrf_ok(v, form):
        await run_in_threadpool(logout, store, request.cookies.get(COOKIE, ""))
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/console")
async def overview(request: Request, v: CanView, service: Service, store: Store, registry: Registry):
    now = service.clock()  # the platform's clock, as every page takes it
    days = [local_day(now - k * US_PER_DAY) for k in range(13, -1, -1)]

    def load() -> dict[str, Any]:
        return {
            "f": Q.figures(
                store,
                registry,
                stations=v.stations,
                today=local_day(now),
                online_since_us=now - US_PER_H,
                last_event_us=service.metrics.last_event_us,
                now_us=service.clock(),
            ),
            "stations": Q.station_states(store, registry, stations=v.stations),
            "trends": Q.trends(store, registry, stations=v.stations, days=days),
            "recent": Q.alarm_page(store, registry, Q.AlarmFilter(), stations=v.stations, limit=20)[0],
            "online": Q.online(store, registry, stations=v.stations, now_us=service.clock()),
            "map": current_map(store),
        }

    d = await run_in_threadpool(load)
    w = words(v.lang)
    data = {
        "stations": d["stations"],
        "trends": d["trends"],
        "labels": {
            k: w[k] for k in ("critical", "major", "minor", "ok", "open", "alarms", "volume", "lon", "lat", "stations")
        },
        "rules": {rule: rule_label(rule, v.lang) for rule in RULES},
    }
    m = d["map"]
    if m is not None:  # the districts drawn, each shaded by its stations' worst open alarm
        data["map"] = {
            "url": f"/console/map.geojson?v={m.version}",
            "name": f"anxin-districts-{m.version}",
            "districts": Q.district_states(d["stations"]),
            # a district's open alarms (the shade's): the list filtered by district
            "alarms": "/console/alarms?status=open&district=",
        }
    return render(
        request,
        v,
        "overview.html",
        page="overview",
        f=d["f"],
        recent=d["recent"],
        online=d["online"],
        district_map=None if m is None else {"attribution": m.attribution_in(v.lang)},
        data_json=as_json(data),
        fmt=format_ts,
    )


@router.get("/console/map.geojson")
async def district_map(request: Request, v: CanView, store: Store):
    """The current district map (``anxin map load``) as the overview draws it: GeoJSON,
    cached by the browser under its version's address (?v=)."""
    found = await run_in_threadpool(map_document, store)
    if found is None:
        raise NotFound(v)
    info, document = found
    tag = f'"{info.version}-{info.sha256.hex()[:16]}"'
    headers = {"ETag": tag, "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(document, media_type="application/geo+json", headers=headers)


@router.get("/console/alarms")
async def alarms(request: Request, v: CanView, store: Store, registry: Registry):
    qp = request.query_params
    for name, allowed in (("rule", RULES), ("severity", SEVERITIES), ("status", ALARM_STATUSES)):
        if qp.get(name) and qp[name] not in allowed:
            return bad_request(request, v, name, qp[name])
    for name in ("since", "until"):
        if qp.get(name) and _day_us(qp[name]) is None:
            return bad_request(request, v, name, qp[name])
    try:  # the next page's cursor: the last row's event time and raising order
        before_ts, before = query_int(request, "before_ts"), query_int(request, "before", lo=1)
    except BadParam as exc:
        return bad_request(request, v, exc.field, exc.value)
    f = Q.AlarmFilter(
        rule=qp.get("rule") or None,
        severity=qp.get("severity") or None,
        district=qp.get("district") or None,
        station_id=qp.get("station_id") or None,
        status=qp.get("status") or None,
        since_us=_day_us(qp.get("since")),
        until_us=_day_us(qp.get("until"), end=True),
    )
    rows, nxt = await run_in_threadpool(
        Q.alarm_page,
        store,
        registry,
        f,
        stations=v.stations,
        before=None if before is None or before_ts is None else (before_ts, before),
    )
    for row in rows:
        row["text"] = alarm_message(row["rule"], row["evidence"], row["message"], seq=row["seq"], language=v.lang)
        row["raised"] = format_ts(row["raised_us"])[:16].replace("T", " ")
    visible = [s for s in registry.stations if v.sees(s.station_id)]
    params = {k: val for k, val in qp.items() if k not in ("before", "before_ts", "lang") and val}
    next_url = "/console/alarms?" + urlencode({**params, **({"before_ts": nxt[0], "before": nxt[1]} if nxt else {})})
    return render(
        request,
        v,
        "alarms.html",
        page="alarms",
        rows=rows,
        f=f,
        rules=sorted(RULES),
        districts=sorted({s.district for s in visible}),
        stations=visible,
        since=qp.get("since", ""),
        until=qp.get("until", ""),
        next_ord=nxt,
        next_url=next_url,
        names={s.station_id: s.name for s in registry.stations},
    )


async def _alarm_page(
    request: Request,
    v: Viewer,
    service: IngestService,
    a: dict[str, Any],
    *,
    message: str | None = None,
    failed: bool = False,
):
    store = service.store
    alarm_id = a["alarm_id"]
    a["text"] = alarm_message(a["rule"], a["evidence"], a["message"], seq=a["seq"], language=v.lang)
    state = L.AlarmState(alarm_id=alarm_id, status=a["status"])
    allowed = [x for x in L.allowed_actions(state) if v.can("alarm.report" if x == "report" else "alarm.triage")]
    hist = await run_in_threadpool(Q.nozzle_history, store, a["nozzle_id"]) if a["nozzle_id"] else {"alarms": []}
    dispensings = []
    if a["nozzle_id"]:  # the dispensings around it: up to an hour after, the alarm's own marked
        raw = await run_in_threadpool(
            lambda: Q.nozzle_dispensings(
                store, a["station_id"], a["nozzle_id"], until_us=a["ts_us"] + US_PER_H, limit=15
            )
        )
        dispensings = timeline(raw, hist["alarms"], v.lang, seq=a["seq"], order_id=a["order_id"])
    rules = sorted({h["rule"] for h in hist["alarms"]})
    data = {
        "rules": [rule_label(x, v.lang) for x in rules],
        "points": [[h["ts"], rule_label(h["rule"], v.lang)] for h in hist["alarms"]],
    }
    overdue = False
    if a.get("work_order_id"):
        due = await run_in_threadpool(overdue_work_orders, store, now_us=service.clock())
        overdue = any(o.id == a["work_order_id"] for o in due)
    inspectors = await run_in_threadpool(active_staff, store, ("inspector",))
    default_due = dt.datetime.fromtimestamp((service.clock() + 3 * US_PER_DAY) / 1e6, LOCAL_TZ).strftime(
        "%Y-%m-%dT%H:%M"
    )
    return render(
        request,
        v,
        "alarm.html",
        page="alarms",
        a=a,
        dispensings=dispensings,
        ev=present(a["evidence"], v.lang),
        allowed=allowed,
        overdue=overdue,
        inspectors=inspectors,
        default_due=default_due,
        message=message,
        failed=failed,
        data_json=as_json(data),
        status=400 if failed else 200,
    )


@router.get("/console/alarms/{alarm_id}")
async def alarm_detail(request: Request, v: CanView, a: AlarmRow, service: Service):
    return await _alarm_page(request, v, service, a)


@router.post("/console/alarms/{alarm_id}/{action}")
async def alarm_action(
    request: Request, form: CsrfForm, a: AlarmRow, v: AlarmActor, action: str, service: Service, store: Store
):
    alarm_id = a["alarm_id"]
    reason = str(form.get("reason", "")).strip()
    try:
        act = _action(action, form, reason)
        await run_in_threadpool(
            apply, store, alarm_id, act, actor=v.signed_in.username, reason=reason, now_us=service.clock()
        )
    except (L.TransitionError, ConcurrentChange, UnknownAlarm, ValueError) as exc:
        fresh = await run_in_threadpool(current_alarm, alarm_id, v, service)
        return await _alarm_page(request, v, service, fresh, message=refusal_text(exc, v.lang), failed=True)
    return RedirectResponse(f"/console/alarms/{alarm_id}", status_code=303)


@router.get("/console/workorders")
async def workorders(request: Request, v: CanView, service: Service, store: Store):
    now = service.clock()

    def load():
        mine = v.signed_in.username if v.signed_in.role == "inspector" else None
        orders = sorted(work_orders(store, inspector=mine), key=lambda o: (o.status, o.due_us))[:500]
        orders = [o for o in orders if v.sees(o.station_id)]
        people = {p["username"]: p["display_name"] for p in active_staff(store, ROLES)}
        heads = alarm_headings(store, [o.alarm_id for o in orders])
        return [
            dict(
                msgspec.structs.asdict(o),
                due=format_ts(o.due_us)[:16].replace("T", " "),
                overdue=o.status == "open" and o.due_us < now,
                inspector_name=people.get(o.inspector, o.inspector),
                alarm=heads.get(o.alarm_id),
            )
            for o in orders
        ]

    return render(request, v, "workorders.html", page="workorders", orders=await run_in_threadpool(load), fmt=format_ts)


@router.get("/console/workorders/{order_id}")
async def workorder(w: WorkOrderRow):
    """A work order is handled on its alarm's page."""
    return RedirectResponse(f"/console/alarms/{w['alarm_id']}", status_code=303)


@router.get("/console/stations/{station_id}")
async def station(request: Request, v: CanView, st: StationRow, store: Store, registry: Registry):
    station_id = st.station_id
    nozzles = [n for n in registry.nozzles if n.station_id == station_id]
    rows, _ = await run_in_threadpool(
        Q.alarm_page, store, registry, Q.AlarmFilter(station_id=station_id), stations=v.stations, limit=30
    )

    witness = await run_in_threadpool(station_view, store, registry, station_id, v.lang)
    return render(
        request,
        v,
        "station.html",
        st=st,
        nozzles=nozzles,
        alarms=rows,
        estimates=witness["estimates"],
        tanks=witness["tanks"],
        data_json=as_json(witness["charts"]),
    )


@router.get("/console/nozzles/{nozzle_id}")
async def nozzle(request: Request, v: CanView, n: NozzleRow, service: Service, store: Store, registry: Registry):
    nozzle_id = n.nozzle_id
    h = await run_in_threadpool(Q.nozzle_history, store, nozzle_id)
    events = await run_in_threadpool(nozzle_events, store, n.station_id, nozzle_id)
    looks, chart = await run_in_threadpool(nozzle_view, store, nozzle_id, v.lang)
    raw = await run_in_threadpool(Q.nozzle_dispensings, store, n.station_id, nozzle_id)
    # the register's reading of the nozzle (its last verification record, else the
    # registry), at the platform's clock — what the public page shows too
    verification = await run_in_threadpool(lambda: register_row(store, registry, nozzle_id, now_us=service.clock()))
    return render(
        request,
        v,
        "nozzle.html",
        n=n,
        h=h,
        events=events,
        dispensings=timeline(raw, h["alarms"], v.lang),
        looks=looks,
        verification=verification,
        firmware=await run_in_threadpool(firmware_text, store, registry, n, v.lang),  # contract v1.1 §F
        data_json=as_json(chart),
    )


@router.get("/console/stream")
async def stream(request: Request, store: Store, broadcaster: Broadcaster):
    """The live feed for the signed-in user: new alarms of the stations it may see."""
    v = await run_in_threadpool(viewer, request, store)
    if v.user is None or not v.can("alarm.view"):
        return Response(status_code=401)
    start = await run_in_threadpool(store.last_alarm_ord)
    return sse(alarm_events(request, store, broadcaster, start, v.sees))


def _action(name: str, form: Any, reason: str) -> L.Action:
    if name == "acknowledge":
        return L.Acknowledge()
    if name == "dispatch":
        due = dt.datetime.fromisoformat(str(form.get("due", "")))
        if due.tzinfo is None:
            due = due.replace(tzinfo=dt.timezone(dt.timedelta(microseconds=LOCAL_OFFSET_US)))
        return L.Dispatch(inspector=str(form.get("inspector", "")), due_us=int(due.timestamp() * 1e6))
    if name == "report":
        return L.Report(result=str(form.get("result", "")))
    if name == "confirm":
        return L.Confirm(summary=str(form.get("summary", "")))
    if name == "dismiss":
        return L.Dismiss(reason=reason)
    raise ValueError(f"unknown action {name!r}")
