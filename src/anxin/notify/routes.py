"""Administration of webhook deliveries: the outbox and its dead-letter list, a manual
retry, and deactivating a webhook (its pending deliveries become dead)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from anxin.store import schema as T
from anxin.store.database import Store

MAX_ID = 2**63 - 1  # ids are signed 64-bit in both databases

D = T.webhook_deliveries
W = T.webhooks
A = T.alarms
DEACTIVATED = "webhook deactivated"


def _listing(store: Store, status: str | None, webhook_id: int | None, limit: int) -> list[dict[str, Any]]:
    q = (
        select(
            D.c.id,
            D.c.webhook_id,
            W.c.url,
            D.c.alarm_id,
            A.c.rule,
            A.c.station_id,
            D.c.status,
            D.c.attempts,
            D.c.next_attempt_us,
            D.c.last_error,
        )
        .join(W, W.c.id == D.c.webhook_id)
        .outerjoin(A, A.c.alarm_id == D.c.alarm_id)
        .order_by(D.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        q = q.where(D.c.status == status)
    if webhook_id is not None:
        q = q.where(D.c.webhook_id == webhook_id)
    with store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(q).all()]


def webhooks_router(
    store: Store, admin_dependency: Callable[..., Any], *, clock: Callable[[], float] = time.time
) -> APIRouter:
    """``GET /v1/webhooks/deliveries``, ``POST /v1/webhooks/deliveries/{id}/retry``,
    ``DELETE /v1/webhooks/{id}``, all behind ``admin_dependency``."""
    r = APIRouter(tags=["webhooks"], dependencies=[Depends(admin_dependency)])

    @r.get("/v1/webhooks/deliveries", summary="Webhook deliveries, newest first (status=dead: the dead-letter list)")
    async def list_deliveries(
        status: Literal["pending", "delivered", "dead"] | None = Query(None),
        webhook_id: int | None = Query(None, ge=1, le=MAX_ID),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        rows = await run_in_threadpool(_listing, store, status, webhook_id, limit)
        return {"deliveries": rows}

    @r.post(
        "/v1/webhooks/deliveries/{delivery_id}/retry",
        summary="Send a dead (or pending) delivery again now, with a fresh count of attempts",
        responses={
            404: {"description": "unknown delivery"},
            409: {"description": "already delivered, or its webhook is deactivated"},
        },
    )
    async def retry(delivery_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with store.engine.begin() as c:
                row = c.execute(
                    select(D.c.status, W.c.active).join(W, W.c.id == D.c.webhook_id).where(D.c.id == delivery_id)
                ).first()
                if row is None:
                    raise HTTPException(404, f"delivery {delivery_id} is unknown")
                if not row.active:
                    raise HTTPException(409, f"delivery {delivery_id}: its webhook is deactivated")
                res = c.execute(
                    update(D)
                    .where(D.c.id == delivery_id, D.c.status.in_(("dead", "pending")))
                    .values(status="pending", attempts=0, next_attempt_us=int(clock() * 1e6))
                )
                if res.rowcount != 1:
                    raise HTTPException(409, f"delivery {delivery_id} was already delivered")
            return {"id": delivery_id, "status": "pending"}

        return await run_in_threadpool(run)

    @r.delete(
        "/v1/webhooks/{webhook_id}",
        summary="Deactivate a webhook; its pending deliveries become dead",
        responses={404: {"description": "unknown webhook"}},
    )
    async def deactivate(webhook_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with store.engine.begin() as c:
                if c.execute(update(W).where(W.c.id == webhook_id).values(active=False)).rowcount != 1:
                    raise HTTPException(404, f"webhook {webhook_id} is unknown")
                n = c.execute(
                    update(D)
                    .where(D.c.webhook_id == webhook_id, D.c.status == "pending")
                    .values(status="dead", last_error=DEACTIVATED)
                ).rowcount
            return {"id": webhook_id, "active": False, "deliveries_dead": int(n)}

        return await run_in_threadpool(run)

    return r


__all__ = ["webhooks_router"]
