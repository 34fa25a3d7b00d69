"""The ASGI application of ``anxin serve``: the station/device API, alarms out,
registry administration and operations endpoints, around one ``IngestService``.

Upload status codes (the body always lists every line's outcome):
200 everything accepted (duplicates allowed) · 207 some lines rejected or quarantined
· 409 every record was already received (a retry: nothing to do) · 422 nothing
accepted · 400 no record in the body · 401 missing or unknown token · 413 body or
line count over the limit · 415 not NDJSON · 429 over the station's rate (Retry-After)
· 503 not ready (no registry yet, or recovering).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from anxin.exports.api import router as agency_router
from anxin.ingest.mqtt import start_bridge
from anxin.ingest.service import IngestService
from anxin.notify.webhooks import WebhookDispatcher, webhooks_router
from anxin.observe.metrics import UploadTimer, exposition
from anxin.observe.sale_alarm import SaleAlarmTimer
from anxin.serve import bearer
from anxin.serve.admin import admin_router
from anxin.serve.alarms import AlarmBroadcaster, alarms_router
from anxin.serve.apidoc import describe
from anxin.serve.config import ServeConfig
from anxin.serve.firmware_api import firmware_router
from anxin.serve.jobs import clock_job, daily_reports_job, purge_job
from anxin.serve.limits import RateLimiter
from anxin.serve.metrics import MqttCollector, service_collectors
from anxin.serve.platform import platform_router
from anxin.serve.tokens import TokenIndex
from anxin.serve.upload import UPLOAD_ROUTE, take_upload
from anxin.serve.upload import bearer as _bearer
from anxin.serve.upload import error as _error
from anxin.web.language import RequestLanguage
from anxin.web.security import SecurityHeaders, with_nonce

log = logging.getLogger("anxin.serve")


def create_app(config: ServeConfig, service: IngestService) -> FastAPI:
    broadcaster = AlarmBroadcaster()
    service.subscribe(broadcaster.notify)
    tokens = TokenIndex(service)
    limiter = RateLimiter(config.rate_per_station, config.burst_per_station)
    dispatcher = WebhookDispatcher(
        service.store, max_attempts=config.webhook_max_attempts, allow_private=config.webhook_allow_private
    )
    service.subscribe(dispatcher.notify)  # wakes the webhook workers after new alarms are committed
    # sale → alarm on /metrics (its records are looked for within twice the pairing horizon)
    service.subscribe(
        SaleAlarmTimer(service.store, service.latency, service.clock, window_us=2 * service.settings.horizon_us)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        broadcaster.bind(asyncio.get_running_loop())
        dispatcher.start()
        await service.start()
        # The MQTT bridge shares the token index (tokens issued later are seen) and
        # returns at once: a broker that is down does not delay the start.
        # (not on the scale-out's read side: its receivers run the bridge)
        bridge = config.mqtt_url if service.takes_uploads else None
        app.state.mqtt = start_bridge(service, tokens, bridge) if bridge else None
        reports = daily_reports_job(service, config.reports_every_s).start()
        ticks = app.state.clock_job = clock_job(service, config.clock_every_s).start()  # (one per lifespan)
        purges = purge_job(service, config.retention, config.purge_every_s).start()
        try:
            yield
        finally:
            await run_in_threadpool(purges.stop)
            await run_in_threadpool(ticks.stop)
            await run_in_threadpool(reports.stop)
            if app.state.mqtt is not None:
                await run_in_threadpool(app.state.mqtt.stop)  # drains, acks, disconnects (session kept)
            await run_in_threadpool(dispatcher.stop)
            await run_in_threadpool(service.checkpoint)  # a clean stop restarts without replay
            await service.stop()

    app = FastAPI(
        title="anxin · 安心加油 live service",
        version="1",
        description="Station/device API (contract v1 records in NDJSON), alarms out (list, SSE), "
        "registry administration and operations. " + (__doc__ or "").split("\n\n", 1)[1],
        lifespan=lifespan,
        docs_url=None,  # served by offline_docs() from the package's own copies, not from a CDN
        redoc_url=None,
    )
    app.state.service, app.state.tokens, app.state.config = service, tokens, config
    app.state.webhooks = dispatcher
    app.state.mqtt = None
    app.state.clock_job = clock_job(service, config.clock_every_s)  # (tests: .run_once() with their clock)

    def admin(token: Annotated[str | None, Depends(bearer.ADMIN)]) -> None:
        if config.admin_token is None:
            raise HTTPException(403, "the administration API is off (no admin_token configured)")
        if token is None or not secrets.compare_digest(token, config.admin_token):
            raise HTTPException(
                401,
                "administration needs the admin token (Authorization: Bearer …)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def reader(token: Annotated[str | None, Depends(bearer.READER)]) -> None:
        allowed = [t for t in (config.read_token, config.admin_token) if t]
        if not allowed:
            raise HTTPException(403, "reading alarms needs a read_token or admin_token configured")
        if token is None or not any(secrets.compare_digest(token, t) for t in allowed):
            raise HTTPException(
                401,
                "reading alarms needs the read or admin token (Authorization: Bearer …)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @app.post("/v1/records", **UPLOAD_ROUTE)
    async def upload(request: Request) -> Response:
        return await take_upload(
            request,
            tokens=tokens,
            limiter=limiter,
            config=config,
            ingest=lambda station_id, lines, source, principal: run_in_threadpool(
                functools.partial(service.ingest, station_id, lines, source=source, principal=principal)
            ),
            backlog=service.metrics.edge_backlog,
        )

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Ready to accept uploads")
    async def readyz() -> Response:
        problems = []
        if not service.ready:
            problems.append("recovering")
        if service.registry is None:
            problems.append("no registry")
        aside: dict | None = None
        try:
            await run_in_threadpool(service.store.ledger_max_id)
            n, newest = await run_in_threadpool(functools.partial(service.store.ledger_skips, limit=1))
            # Ledger rows set aside (contract v1.1 §A): the platform runs on without them,
            # so they are a notice for the operators, not a problem; the detail is the
            # admin's (GET /v1/ledger/set-aside).
            aside = {"rows": n, "newest_ledger_id": newest[0]["ledger_id"] if newest else None}
        except Exception as exc:  # the database is unreachable
            problems.append(f"store: {type(exc).__name__}")
        body = {
            "status": "ready" if not problems else "not ready",
            "problems": problems,
            "registry_version": service.registry_version,
            "ledger_id": service.last_ledger_id,
            "set_aside": aside,
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    @app.get(
        "/v1/ledger/set-aside",
        tags=["operations"],
        summary="Ledger rows set aside: kept as evidence, never fed to the engine (admin)",
        dependencies=[Depends(admin)],
    )
    async def set_aside(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
        n, rows = await run_in_threadpool(functools.partial(service.store.ledger_skips, limit=limit))
        return {"rows": n, "newest": rows}

    def collectors() -> list[Any]:
        mqtt = [MqttCollector(app.state.mqtt)] if app.state.mqtt is not None else []
        return service_collectors(service, dispatcher.collector(), *mqtt)

    add_metrics_route(app, token=config.metrics_token, collectors=collectors)

    app.include_router(alarms_router(service.store, broadcaster, reader))
    app.include_router(admin_router(service, tokens, admin, allow_private_webhooks=config.webhook_allow_private))
    app.include_router(webhooks_router(service.store, admin))
    app.include_router(firmware_router(service, tokens))  # the institute's firmware register (§F)
    app.include_router(platform_router(service.store, config))  # the keys that sign evidence
    app.include_router(agency_router)  # the agencies' exports (anxin.exports)
    if config.console:
        from anxin.web.mount import mount_console

        mount_console(
            app, service, broadcaster, base_url=config.public_base_url or "", cookie_secure=config.cookie_secure
        )
    offline_docs(app, mount_assets=not config.console)
    describe(app)  # ids, typed bodies, security schemes, examples, webhooks (anxin.serve.apidoc)
    app.add_middleware(RequestLanguage)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(UploadTimer, latency=service.latency)  # anxin_upload_request_seconds, the upload's span
    return app


def add_metrics_route(app: FastAPI, *, token: str | None, collectors: Callable[[], Sequence[Any]]) -> None:
    """GET /metrics of ``anxin serve`` and of a receiver: what ``collectors()`` gives, after
    the process's and the build's families (anxin.observe.metrics), to a request
    ``metrics_refusal`` lets through."""

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={401: {"description": "the metrics token is needed"}, 403: {"description": "not from here"}},
    )
    async def metrics(request: Request) -> Response:
        refused = metrics_refusal(request, token)
        if refused is not None:
            return refused
        text, ctype = await run_in_threadpool(exposition, collectors())
        return Response(text, media_type=ctype)


def metrics_refusal(request: Request, token: str | None) -> Response | None:
    """None when the request may read /metrics: with ``metrics_token`` set, it must bring
    it (Bearer); without one, only a connection from this machine's loopback that no
    proxy forwarded (the scrape on the host; nginx's requests carry X-Forwarded-For)."""
    if token:
        given = _bearer(request.headers.get("authorization"))
        if given is not None and secrets.compare_digest(given.encode(), token.encode()):
            return None
        return _error(401, "/metrics needs the metrics token (Authorization: Bearer …)", {"WWW-Authenticate": "Bearer"})
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback and "x-forwarded-for" not in request.headers and "forwarded" not in request.headers:
        return None
    return _error(403, "/metrics answers this machine only (or set metrics_token)")


VENDOR_DIR = Path(__file__).parents[1] / "web" / "static" / "vendor"
VENDOR_URL = "/static/vendor"  # the console mounts anxin/web/static at /static
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def offline_docs(app: FastAPI, *, mount_assets: bool) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from the copies shipped in the package
    (``anxin/web/static/vendor``, versions and SHA-256 in its README.md): the pages load
    nothing from another host, so they work on a network without internet. With the
    console off (no ``/static`` mount) the vendor directory is mounted on its own."""
    if mount_assets:
        from fastapi.staticfiles import StaticFiles

        app.mount(VENDOR_URL, StaticFiles(directory=str(VENDOR_DIR)), name="vendor")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")  # behind a proxy's path prefix
        return with_nonce(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{VENDOR_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{VENDOR_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{VENDOR_URL}/swagger-ui-favicon-32x32.png",
                oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
                swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return with_nonce(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return with_nonce(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{VENDOR_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{VENDOR_URL}/swagger-ui-favicon-32x32.png",
                with_google_fonts=False,  # the standalone bundle falls back to the system fonts
            )
        )
