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
    from anxin.web import deps
    from anxin.web.console import console_router
    from anxin.web.extra import extra_router
    from anxin.web.guard import PublicGuard
    from anxin.web.oversight import oversight_router
    from anxin.web.pages import pages_router
    from anxin.web.public import public_api_router
    from anxin.web.supervision import supervision_router
    from anxin.web.users import users_router
    from anxin.web.witness import witness_router
    from anxin.workflow import incident_listener

    # The public channels' limits, the anonymous forms' tokens and the cookies' Secure flag
    # (tests tune app.state.guard.limits).
    guard = PublicGuard(service.store, base_url=base_url or None, cookie_secure=cookie_secure)
    app.state.guard = guard
    # The pages' access checks are dependencies (anxin.web.deps): they read the service
    # from the app, and their refusals become the login redirect, the 403 and 404 pages here.
    app.state.service = service
    deps.install(app)

    service.subscribe(incident_listener(service.store))  # repeated alarms of a nozzle form an incident
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")
    app.include_router(extra_router(service))  # before the console: /console/register/new is not a nozzle id
    app.include_router(supervision_router(service))
    app.include_router(public_api_router(service, guard))
    app.include_router(users_router(service))
    app.include_router(oversight_router(service))
    app.include_router(witness_router(service))
    app.include_router(console_router(service, broadcaster, guard))
    app.include_router(pages_router(service, guard=guard, base_url=base_url))

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)
