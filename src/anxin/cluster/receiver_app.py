"""The ASGI application of a receiver: the station API's upload (the same handler as
``anxin serve``), the MQTT bridge when ``mqtt_url`` is set (a shared subscription: the
broker gives each message to one receiver), health and readiness. The console, the alarms and the
administration are the read side's (``anxin serve`` on the same PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from anxin.cluster.metrics import add_receiver_metrics
from anxin.cluster.receiver import Receiver
from anxin.ingest.mqtt import start_bridge
from anxin.ingest.principals import Principal
from anxin.ingest.screen import UploadResult
from anxin.serve.apidoc import describe
from anxin.serve.config import ServeConfig
from anxin.serve.limits import RateLimiter
from anxin.serve.tokens import TokenIndex
from anxin.serve.upload import UPLOAD_ROUTE, take_upload


class _BridgeIngest:
    """The MQTT bridge's ``ingest`` (called on its worker thread), run by the receiver on
    the application's loop: MQTT goes through the receivers as HTTP does."""

    def __init__(self, receiver: Receiver, loop: asyncio.AbstractEventLoop) -> None:
        self.receiver, self.loop = receiver, loop

    def ingest(
        self, station_id: str | None, lines: list[bytes], *, source: str, principal: Principal | None = None
    ) -> UploadResult:
        work = self.receiver.ingest(station_id, lines, source, principal)
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)


def create_receiver_app(config: ServeConfig, receiver: Receiver) -> FastAPI:
    tokens = TokenIndex(receiver)
    limiter = RateLimiter(config.rate_per_station, config.burst_per_station)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await receiver.start()
        bridge = None
        if config.mqtt_url:  # each receiver its own session, one group: a message to one of them
            bridge = start_bridge(
                _BridgeIngest(receiver, asyncio.get_running_loop()),  # type: ignore[arg-type]
                tokens,
                config.mqtt_url,
                client_id=f"{config.cluster}-receiver-{socket.gethostname()}-{config.port}",
                share=f"{config.cluster}-receivers",
            )
        app.state.mqtt = bridge
        try:
            yield
        finally:
            if bridge is not None:
                await run_in_threadpool(bridge.stop)
            await receiver.stop()

    app = FastAPI(
        title="anxin · 安心加油 receiver",
        version="1",
        description="Scale-out receiver: station uploads in, verified records out to the stream.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.receiver = receiver
    app.state.mqtt = None

    @app.post("/v1/records", **UPLOAD_ROUTE)
    async def upload(request: Request) -> Response:
        return await take_upload(
            request,
            tokens=tokens,
            limiter=limiter,
            config=config,
            ingest=receiver.ingest,
            backlog=receiver.edge_backlog,
        )

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Ready to accept uploads")
    async def readyz() -> Response:
        problems = []
        if receiver.registry is None:
            problems.append("no registry")
        if receiver.nc is None or not receiver.nc.is_connected:
            problems.append("stream: not connected")
        if app.state.mqtt is not None and not app.state.mqtt.ready.is_set():
            problems.append("mqtt: not subscribed")
        body = {
            "status": "ready" if not problems else "not ready",
            "problems": problems,
            "registry_version": receiver.registry_version,
            "published": receiver.published,
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    add_receiver_metrics(app, receiver, config)  # GET /metrics, the upload histogram
    describe(app)
    return app
