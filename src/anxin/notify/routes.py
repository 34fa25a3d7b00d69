"""Administration of webhook deliveries: the outbox and its dead-letter list, a manual
retry, and deactivating a webhook (its pending deliveries become dead). The routes only;
the statements are :mod:`anxin.notify.queries`' and :mod:`anxin.notify.service`'s."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from starlette.concurrency import run_in_threadpool

from anxin.notify import service
from anxin.notify.queries import deliveries
from anxin.notify.service import DEACTIVATED as DEACTIVATED  # (its old place)
from anxin.store.database import Store

MAX_ID = 2**63 - 1  # ids are signed 64-bit in both databases


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
        rows = await run_in_threadpool(deliveries, store, status=status, webhook_id=webhook_id, limit=limit)
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
            try:
                service.retry_delivery(store, delivery_id=delivery_id, clock=clock)
            except service.UnknownDelivery as exc:
                raise HTTPException(404, str(exc)) from None
            except service.DeliveryConflict as exc:
                raise HTTPException(409, str(exc)) from None
            return {"id": delivery_id, "status": "pending"}

        return await run_in_threadpool(run)

    @r.delete(
        "/v1/webhooks/{webhook_id}",
        summary="Deactivate a webhook; its pending deliveries become dead",
        responses={404: {"description": "unknown webhook"}},
    )
    async def deactivate(webhook_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            try:
                n = service.deactivate_webhook(store, webhook_id=webhook_id)
            except service.UnknownWebhook as exc:
                raise HTTPException(404, str(exc)) from None
            return {"id": webhook_id, "active": False, "deliveries_dead": int(n)}

        return await run_in_threadpool(run)

    return r


__all__ = ["webhooks_router"]
