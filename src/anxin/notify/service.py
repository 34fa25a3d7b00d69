"""What webhook delivery writes: a delivery claimed for an attempt and its outcome
recorded (by the dispatcher, :mod:`anxin.notify.webhooks`), and the administration's
manual retry and deactivation (:mod:`anxin.notify.routes`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from anxin.store import schema as T
from anxin.store.database import Store

D = T.webhook_deliveries
W = T.webhooks
DEACTIVATED = "webhook deactivated"


class UnknownDelivery(LookupError):
    """No delivery with that id."""


class UnknownWebhook(LookupError):
    """No webhook with that id."""


class DeliveryConflict(RuntimeError):
    """The delivery cannot be retried: delivered already, or its webhook is deactivated."""


def claim_delivery(store: Store, *, delivery_id: int, seen_us: int, lease_us: int) -> bool:
    """Claim a pending delivery still due at ``seen_us`` until ``lease_us``; False when
    another worker (or an operator) changed it meanwhile."""
    with store.engine.begin() as c:
        res = c.execute(
            update(D)
            .where(D.c.id == delivery_id, D.c.status == "pending", D.c.next_attempt_us == seen_us)
            .values(next_attempt_us=lease_us)
        )
        return res.rowcount == 1


def record_outcome(
    store: Store,
    *,
    delivery_id: int,
    lease_us: int | None,
    attempts: int | None,
    status: str,
    error: str | None,
    http_attempt: bool,
    next_us: int | None = None,
) -> bool:
    """Record an attempt's outcome; whether it was recorded. A failure is recorded only if
    the row is still as claimed (``lease_us``, ``attempts``: an operator's retry meanwhile
    wins); a success always is — it happened."""
    did = delivery_id
    if status == "delivered":
        stmt = (
            update(D)
            .where(D.c.id == did, D.c.status != "delivered")
            .values(status="delivered", attempts=D.c.attempts + 1)
        )
    else:
        assert attempts is not None, "a failure is recorded against the attempts its claim saw"
        values: dict[str, Any] = {"status": status, "last_error": error}
        if http_attempt:
            values["attempts"] = attempts + 1
        if next_us is not None:
            values["next_attempt_us"] = next_us
        stmt = (
            update(D)
            .where(D.c.id == did, D.c.status == "pending", D.c.next_attempt_us == lease_us, D.c.attempts == attempts)
            .values(**values)
        )
    with store.engine.begin() as c:
        return c.execute(stmt).rowcount == 1


def retry_delivery(store: Store, *, delivery_id: int, clock: Callable[[], float]) -> None:
    """A dead (or pending) delivery due again now (``clock``: unix seconds) with a fresh
    count of attempts. UnknownDelivery, or DeliveryConflict (delivered already, or its
    webhook deactivated); nothing is written then."""
    with store.engine.begin() as c:
        row = c.execute(
            select(D.c.status, W.c.active).join(W, W.c.id == D.c.webhook_id).where(D.c.id == delivery_id)
        ).first()
        if row is None:
            raise UnknownDelivery(f"delivery {delivery_id} is unknown")
        if not row.active:
            raise DeliveryConflict(f"delivery {delivery_id}: its webhook is deactivated")
        res = c.execute(
            update(D)
            .where(D.c.id == delivery_id, D.c.status.in_(("dead", "pending")))
            .values(status="pending", attempts=0, next_attempt_us=int(clock() * 1e6))
        )
        if res.rowcount != 1:
            raise DeliveryConflict(f"delivery {delivery_id} was already delivered")


def deactivate_webhook(store: Store, *, webhook_id: int) -> int:
    """Deactivate a webhook; its pending deliveries become dead (how many is returned).
    UnknownWebhook when there is no such webhook."""
    with store.engine.begin() as c:
        if c.execute(update(W).where(W.c.id == webhook_id).values(active=False)).rowcount != 1:
            raise UnknownWebhook(f"webhook {webhook_id} is unknown")
        return int(
            c.execute(
                update(D)
                .where(D.c.webhook_id == webhook_id, D.c.status == "pending")
                .values(status="dead", last_error=DEACTIVATED)
            ).rowcount
        )
