"""What webhook delivery reads: the outbox listing (and its dead-letter list), the
deliveries due now, and one claimed delivery with its webhook and alarm."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from anxin.store import schema as T
from anxin.store.database import Store

D = T.webhook_deliveries
W = T.webhooks
A = T.alarms


def deliveries(store: Store, *, status: str | None, webhook_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Deliveries newest first, with their webhook's URL and their alarm's rule and station;
    of one status and/or one webhook when given."""
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


def due_deliveries(store: Store, *, now_us: int, limit: int) -> list[Any]:
    """(id, next_attempt_us) of the pending deliveries due at ``now_us``, the most overdue first."""
    with store.engine.connect() as c:
        return list(
            c.execute(
                select(D.c.id, D.c.next_attempt_us)
                .where(D.c.status == "pending", D.c.next_attempt_us <= now_us)
                .order_by(D.c.next_attempt_us, D.c.id)
                .limit(limit)
            ).all()
        )


def delivery_with_alarm(store: Store, delivery_id: int) -> tuple[Any, Any | None]:
    """(the delivery with its webhook's url, secret and state; its alarm row or None)."""
    with store.engine.connect() as c:
        row = c.execute(
            select(D.c.webhook_id, D.c.alarm_id, D.c.attempts, W.c.url, W.c.secret, W.c.active)
            .join(W, W.c.id == D.c.webhook_id)
            .where(D.c.id == delivery_id)
        ).one()
        alarm = c.execute(select(A).where(A.c.alarm_id == row.alarm_id)).first()
    return row, alarm
