"""Who may see what, as FastAPI dependencies (the pattern of Netflix's Dispatch): a route
says what it needs in its signature instead of opening with a preamble —

    @r.get("/console/cases/{case_id}")
    async def case(request: Request, v: CanView, c: CaseRow): ...

— and a request that may not go on never reaches the body. A dependency raises
:class:`LoginRequired` (nobody signed in), :class:`Forbidden` (signed in without the
permission, or a form without the session's CSRF token) or :class:`NotFound`; the
handler :func:`install` registers on the app answers with the pages the console has
always answered with (``session.to_login``: 303 to the login; ``session.forbidden``:
403; ``session.not_found``: 404), in the viewer's language. A route body may raise them
too (an unknown step, a step that needs a further permission).

Out of scope is not found. A row that exists but lies outside the viewer's stations —
an operator asking for another station's complaint, inspection, case, alarm, work
order, station, nozzle or tank — is answered 404, exactly as an id that exists nowhere,
not 403. A 403 would confirm that the row exists: complaints, inspections, cases and work
orders are numbered consecutively, so an operator walking the ids would learn how many
complaints, inspections and cases the other stations have, and when a new one appears.
The queries already answer so for what an operator may not see yet: an unannounced
inspection before its visit (四不两直) is None to ``inspections.get(station_view=True)``,
hence 404; the scope check now agrees with them. (Stations', nozzles' and tanks' ids
are public, printed on the QR pages or in the registry; there the 404 hides nothing and
is kept for the one rule: the station page and its QR sheet, a nozzle's page and its
certificates, a tank's chart.) A missing *permission* stays 403: it refuses a kind of
page, whichever the row, and says nothing about the rows.

The routes themselves are plain module-level functions on each module's module-level
``router``: what they work with — the service, its store and registry, the public guard,
the alarm broadcaster, the public base URL — comes through the dependencies of
"what the app holds" below, read from ``app.state``, where :func:`anxin.web.mount.mount_console`
puts them once when the app is built. Nothing of one app lives in a module (tests build
many apps in one process), and one router serves them all.

Whatever reads the database is a plain ``def`` dependency, which FastAPI runs in its
threadpool, off the event loop; the rest are ``async def``. The viewer (its session
row) is read once per request however many dependencies ask for it: FastAPI caches a
dependency's value within a request, and :func:`needs` hands out one dependency per
permission for the same reason.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeAlias, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from anxin.auth import PERMISSIONS
from anxin.contract.registry import Nozzle, Station, Tank
from anxin.contract.registry import Registry as Registry_
from anxin.ingest.service import IngestService
from anxin.serve.alarms import AlarmBroadcaster
from anxin.store.database import Store as _Store
from anxin.supervision import cases as K
from anxin.supervision import complaints as C
from anxin.supervision import inspections as I
from anxin.web import queries as Q
from anxin.web.guard import PublicGuard
from anxin.web.session import DbId, Viewer, csrf_ok, forbidden, not_found, to_login, viewer
from anxin.workflow.queries import work_order_place

R = TypeVar("R")

# ------------------------------------------------------------ refusals


class Refused(Exception):
    """The request may not go on: the page to answer with instead is the handler's
    (:func:`install`). Carries the viewer, whose language the page is in."""

    def __init__(self, v: Viewer) -> None:
        super().__init__(type(self).__name__)
        self.viewer = v


class LoginRequired(Refused):
    """Nobody is signed in: 303 to the login page, which comes back here."""


class Forbidden(Refused):
    """Signed in, but without the permission, or a form without the session's CSRF
    token: 403."""


class NotFound(Refused):
    """No such row — or none the viewer's stations hold (see the module's docstring): 404."""


async def _refused(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, Refused):  # (registered for Refused only)
        raise exc
    if isinstance(exc, LoginRequired):
        return to_login(request)
    if isinstance(exc, NotFound):
        return not_found(request, exc.viewer)
    return forbidden(request, exc.viewer)


def install(app: FastAPI) -> None:
    """Register the refusals' handler on ``app`` (once, where the console is mounted)."""
    app.add_exception_handler(Refused, _refused)


# ------------------------------------------------------------ who is asking


def get_service(request: Request) -> IngestService:
    """The platform's service (``app.state.service``: its store, registry and clock)."""
    return request.app.state.service


Service: TypeAlias = Annotated[IngestService, Depends(get_service)]


# ------------------------------------------------------------ what the app holds
# (``async def``: they read app.state, never the database — no threadpool needed)


async def get_store(request: Request) -> _Store:
    """The service's store (``app.state.service.store``)."""
    return request.app.state.service.store


# Before the platform has a registry (a new install; the administrator loads it next)
# the pages see one with no station: empty lists, not a server error.
_NO_REGISTRY = Registry_(stations=[], nozzles=[])


def registry_of(service: IngestService) -> Registry_:
    """The service's registry, an empty one before the platform has one: the one place
    that decides it, so no page or lookup handles a missing registry of its own."""
    return service.registry or _NO_REGISTRY


async def get_registry(request: Request) -> Any:
    """The service's registry as the request finds it (:func:`registry_of`). Typed
    ``Any`` as the routes' ``reg()`` was: the console's pages take it as there."""
    return registry_of(request.app.state.service)


async def get_guard(request: Request) -> PublicGuard:
    """The public channels' guard (``app.state.guard``: limits, form tokens, cookies' Secure flag)."""
    return request.app.state.guard


async def get_broadcaster(request: Request) -> AlarmBroadcaster:
    """The alarm broadcaster of the live stream (``app.state.broadcaster``)."""
    return request.app.state.broadcaster


async def get_base_url(request: Request) -> str:
    """The configured public base URL (``app.state.base_url``; "" when unset: the request's own)."""
    return request.app.state.base_url


Store: TypeAlias = Annotated[_Store, Depends(get_store)]
Registry: TypeAlias = Annotated[Any, Depends(get_registry)]
Guard: TypeAlias = Annotated[PublicGuard, Depends(get_guard)]
Broadcaster: TypeAlias = Annotated[AlarmBroadcaster, Depends(get_broadcaster)]
BaseUrl: TypeAlias = Annotated[str, Depends(get_base_url)]


def current_viewer(request: Request, service: Service) -> Viewer:
    """The viewer of the request (signed in or not): its session read once (a ``def``: in
    the threadpool)."""
    return viewer(request, service.store)


async def signed_in(v: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
    """The viewer, who must be signed in (else :class:`LoginRequired`)."""
    if v.user is None:
        raise LoginRequired(v)
    return v


SignedIn: TypeAlias = Annotated[Viewer, Depends(signed_in)]


def needs(permission: str) -> Callable[..., Awaitable[Viewer]]:
    """The dependency of a signed-in viewer with ``permission`` (else :class:`LoginRequired`
    or :class:`Forbidden`): ``v: Annotated[Viewer, Depends(needs("alarm.triage"))]``, or
    one of the aliases below. (It returns the dependency rather than the ``Annotated``
    type: mypy refuses a call in an annotation.) An unknown permission name fails here,
    when the module defining the route is imported."""
    return needs_any(permission)


def needs_any(*permissions: str) -> Callable[..., Awaitable[Viewer]]:
    """As :func:`needs`, for a viewer with at least one of ``permissions``."""
    unknown = [p for p in permissions if p not in PERMISSIONS]
    if unknown or not permissions:
        raise ValueError(f"unknown permission(s): {unknown or 'none given'}")
    return _checker(frozenset(permissions))


@functools.cache  # one dependency per permission set: FastAPI's per-request cache keys on it
def _checker(permissions: frozenset[str]) -> Callable[..., Awaitable[Viewer]]:
    async def check(v: SignedIn) -> Viewer:
        if not any(v.can(p) for p in permissions):
            raise Forbidden(v)
        return v

    return check


CanView: TypeAlias = Annotated[Viewer, Depends(needs("alarm.view"))]
CanTriage: TypeAlias = Annotated[Viewer, Depends(needs("alarm.triage"))]
CanHandleComplaints: TypeAlias = Annotated[Viewer, Depends(needs("complaint.view"))]
CanAudit: TypeAlias = Annotated[Viewer, Depends(needs("audit.view"))]
CanVisit: TypeAlias = Annotated[Viewer, Depends(needs_any("alarm.report", "alarm.triage"))]  # an inspection
CanEditVerifications: TypeAlias = Annotated[Viewer, Depends(needs("verification.edit"))]  # enter, import
CanManageUsers: TypeAlias = Annotated[Viewer, Depends(needs("user.manage"))]


async def alarm_actor(action: str, v: SignedIn) -> Viewer:
    """The viewer who may take ``action`` (the path's) on an alarm: ``alarm.report`` for
    an inspector's report, ``alarm.triage`` for every other step."""
    if not v.can("alarm.report" if action == "report" else "alarm.triage"):
        raise Forbidden(v)
    return v


AlarmActor: TypeAlias = Annotated[Viewer, Depends(alarm_actor)]


# ------------------------------------------------------------ the form of a change


async def csrf_form(request: Request, v: SignedIn) -> FormData:
    """The form of a POST, read once and handed to the route, which carries the session's
    CSRF token — else :class:`Forbidden` (fails closed: no token, a forged one, or no
    session token to compare with are all refused before the route writes anything)."""
    form = await request.form()
    if not csrf_ok(v, form):
        raise Forbidden(v)
    return form


CsrfForm: TypeAlias = Annotated[FormData, Depends(csrf_form)]


# ------------------------------------------------------------ rows in the viewer's scope


def _in_scope(v: Viewer, row: R | None, station_of: Callable[[R], str]) -> R:
    """``row`` if there is one and the viewer's stations hold it; NotFound otherwise (out
    of scope answers as not found: the module's docstring)."""
    if row is None or not v.sees(station_of(row)):
        raise NotFound(v)
    return row


def _station(d: dict[str, Any]) -> str:
    return d["station_id"]


def current_complaint(cid: DbId, v: CanHandleComplaints, service: Service) -> dict[str, Any]:
    """The complaint ``cid`` of the path (with links, attachments' metadata, history)."""
    return _in_scope(v, C.get(service.store, cid, now_us=service.clock()), _station)


def current_inspection(iid: DbId, v: CanView, service: Service) -> dict[str, Any]:
    """The inspection ``iid`` of the path; for the station's side only one it may see
    (an unannounced or citizen-chosen inspection once visited)."""
    d = I.get(service.store, iid, now_us=service.clock(), station_view=v.stations is not None)
    return _in_scope(v, d, _station)


def current_case(case_id: DbId, v: CanView, service: Service) -> K.Case:
    """The case ``case_id`` of the path."""
    try:
        c = K.get(service.store, case_id)
    except K.UnknownCase:
        raise NotFound(v) from None
    return _in_scope(v, c, lambda c: c.station_id)


def current_alarm(alarm_id: str, v: CanView, service: Service) -> dict[str, Any]:
    """The alarm ``alarm_id`` of the path, with its workflow state."""
    return _in_scope(v, Q.alarm(service.store, alarm_id), _station)


def current_work_order(order_id: DbId, v: CanView, service: Service) -> dict[str, Any]:
    """The work order ``order_id`` of the path: its alarm and station."""
    return _in_scope(v, work_order_place(service.store, order_id), _station)


async def current_station(station_id: str, v: CanView, service: Service) -> Station:
    """The registry's station ``station_id`` of the path (the registry is in memory: no
    threadpool needed)."""
    return _in_scope(v, registry_of(service).station_by_id.get(station_id), lambda s: s.station_id)


async def current_nozzle(nozzle_id: str, v: CanView, service: Service) -> Nozzle:
    """The registry's nozzle ``nozzle_id`` of the path."""
    return _in_scope(v, registry_of(service).nozzle_by_id.get(nozzle_id), lambda n: n.station_id)


async def current_tank(tank_id: str, v: CanView, service: Service) -> Tank:
    """The registry's tank ``tank_id`` of the path."""
    return _in_scope(v, registry_of(service).tank_by_id.get(tank_id), lambda t: t.station_id)


ComplaintRow: TypeAlias = Annotated[dict[str, Any], Depends(current_complaint)]
InspectionRow: TypeAlias = Annotated[dict[str, Any], Depends(current_inspection)]
CaseRow: TypeAlias = Annotated[K.Case, Depends(current_case)]
AlarmRow: TypeAlias = Annotated[dict[str, Any], Depends(current_alarm)]
WorkOrderRow: TypeAlias = Annotated[dict[str, Any], Depends(current_work_order)]
StationRow: TypeAlias = Annotated[Station, Depends(current_station)]
NozzleRow: TypeAlias = Annotated[Nozzle, Depends(current_nozzle)]
TankRow: TypeAlias = Annotated[Tank, Depends(current_tank)]
