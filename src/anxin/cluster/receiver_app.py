"""The ASGI application of a receiver: the station API's upload (the same handler as
``anxin serve``), health and readiness. The console, the alarms and the
administration are the read side's (``anxin serve`` on the same PostgreSQL)."""

from __future__ import annotations

import contextlib

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from anxin.cluster.receiver import Receiver
from anxin.ingest.principals import Principal
from anxin.serve.config import ServeConfig
from anxin.serve.limits import RateLimiter
from anxin.serve.tokens import principal_of
from anxin.serve.upload import UPLOAD_ROUTE, take_upload
from anxin.store.database import Store


class _Tokens:
    """Tokens read through to the store on every use (as ``anxin serve``'s TokenIndex)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def principal(self, token: str) -> Principal | None:
        return principal_of(self.store, token)


def create_receiver_app(config: ServeConfig, receiver: Receiver) -> FastAPI:
    tokens = _Tokens(receiver.store)
    limiter = RateLimiter(config.rate_per_station, config.burst_per_station)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await receiver.start()
        try:
            yield
        finally:
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
        body = {
            "status": "ready" if not problems else "not ready",
            "problems": problems,
            "registry_version": receiver.registry_version,
            "published": receiver.published,
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    return app
