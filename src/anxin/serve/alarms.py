"""Alarms out: the list and the Server-Sent Events stream (``/v1/alarms/stream``).

The ingest path runs in worker threads; it tells the event loop that alarms were
stored (``AlarmBroadcaster.notify``), and each SSE connection then reads what it has
not sent yet from the store by the alarms' ``ord`` — which is also the SSE event id,
so a client reconnecting with ``Last-Event-ID`` misses nothing and gets nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import msgspec
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from anxin.store.database import Store

KEEPALIVE_S = 15.0
MAX_ORD = 2**63 - 1  # alarm positions are signed 64-bit


class AlarmBroadcaster:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._events: set[asyncio.Event] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def notify(self, *_args: object) -> None:
        """Thread-safe: wake every stream (called by the ingest path after a commit)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for ev in self._events:
            ev.set()

    @contextlib.contextmanager
    def listen(self):
        ev = asyncio.Event()
        self._events.add(ev)
        try:
            yield ev
        finally:
            self._events.discard(ev)


def alarm_events(
    request: Request,
    store: Store,
    broadcaster: AlarmBroadcaster,
    start: int,
    visible: Callable[[str], bool] = lambda station_id: True,
) -> AsyncIterator[bytes]:
    """The SSE body: every alarm raised after ``start`` (of the stations ``visible``
    allows), woken by the broadcaster, a keepalive comment when nothing happens."""

    async def events() -> AsyncIterator[bytes]:
        pos = start
        with broadcaster.listen() as ev:
            yield b": anxin alarm stream\n\n"
            while not await request.is_disconnected():
                ev.clear()
                rows = await run_in_threadpool(store.alarms_after, pos)
                for o, a in rows:
                    pos = o
                    if visible(a["station_id"]):
                        yield b"id: %d\nevent: alarm\ndata: %s\n\n" % (o, msgspec.json.encode(a))
                if rows:
                    continue
                try:
                    await asyncio.wait_for(ev.wait(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keepalive\n\n"

    return events()


def sse(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def alarms_router(store: Store, broadcaster: AlarmBroadcaster, reader) -> APIRouter:
    r = APIRouter(tags=["alarms"], dependencies=[Depends(reader)])

    @r.get("/v1/alarms", summary="Alarms raised after a position, oldest first")
    async def list_alarms(after: int = Query(0, ge=0, le=MAX_ORD), limit: int = Query(100, ge=1, le=1000)) -> dict:
        rows = await run_in_threadpool(store.alarms_after, after, limit=limit)
        return {"alarms": [{"ord": o, **a} for o, a in rows], "next": rows[-1][0] if rows else after}

    @r.get(
        "/v1/alarms/stream",
        summary="Server-Sent Events: every alarm as it is raised",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(
        request: Request,
        after: int | None = Query(None, ge=0, le=MAX_ORD, description="start after this alarm position (default: now)"),
        last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    ) -> StreamingResponse:
        start = after
        if last_event_id is not None and last_event_id.isdigit() and int(last_event_id) <= MAX_ORD:
            start = int(last_event_id)
        if start is None:
            start = await run_in_threadpool(store.last_alarm_ord)

        return sse(alarm_events(request, store, broadcaster, start))

    return r
