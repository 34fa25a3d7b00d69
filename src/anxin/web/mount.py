"""Mount the console, the public pages and the static files on the service's app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from anxin.ingest.service import IngestService
from anxin.serve.alarms import AlarmBroadcaster


def mount_console(
    app: FastAPI,
    service: IngestService,
    broadcaster: AlarmBroadcaster,
    *,
    base_url: str = "",
    cookie_secure: bool = True,
) -> None:
    from anxin.web import (
        certified,
        console,
        deps,
        exports,
        extra,
        firmware,
        oversight,
        pages,
        public,
        receipt,
        supervision,
        users,
        witness,
    )
    from anxin.web.guard import PublicGuard
    from anxin.workflow import incident_listener

    # What the routes work with, for their dependencies (anxin.web.deps) to read: the
    # routes are module-level functions on module-level routers shared by every app built
    # in the process, so all that is one app's lives here, on app.state, set once.
    # The public channels' limits, the anonymous forms' tokens and the cookies' Secure flag
    # (tests tune app.state.guard.limits).
    app.state.guard = PublicGuard(service.store, base_url=base_url or None, cookie_secure=cookie_secure)
    # The pages' access checks are dependencies too: they read the service from the app,
    # and their refusals become the login redirect, the 403 and 404 pages here.
    app.state.service = service
    app.state.broadcaster = broadcaster  # the console's live stream
    app.state.base_url = base_url  # the QR sheets' (else the request's own)
    deps.install(app)

    service.subscribe(incident_listener(service.store))  # repeated alarms of a nozzle form an incident
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")
    app.include_router(extra.router)  # before the console: /console/register/new is not a nozzle id
    app.include_router(supervision.router)
    app.include_router(public.api_router)
    app.include_router(users.router)
    app.include_router(oversight.router)
    app.include_router(exports.router)  # data for the other agencies (issue 17, item 5)
    app.include_router(witness.router)
    app.include_router(certified.router)  # the certify report's figures, linked from every alarm
    app.include_router(console.router)
    app.include_router(pages.router)
    app.include_router(firmware.router)  # the firmware register (contract v1.1 §F)
    app.include_router(public.router)  # the public nozzle page and its forms (no login)
    app.include_router(receipt.router)  # the receipt page (每一笔可验证, no login)
    app.add_api_route("/", home, methods=["GET"], include_in_schema=False)


async def home() -> RedirectResponse:
    """The site's root: the console."""
    return RedirectResponse("/console", status_code=303)
