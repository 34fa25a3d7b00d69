"""Notifications out of the platform: signed webhook deliveries of alarms (报警推送).

SQL only in :mod:`~anxin.notify.queries` (the outbox read) and :mod:`~anxin.notify.service`
(claims, outcomes, retries, deactivation); the dispatcher (:mod:`~anxin.notify.webhooks`),
the admin routes (:mod:`~anxin.notify.routes`) and the target checks
(:mod:`~anxin.notify.targets`) call them."""

from anxin.notify.routes import webhooks_router
from anxin.notify.webhooks import WebhookDispatcher, sign, verify

__all__ = ["WebhookDispatcher", "sign", "verify", "webhooks_router"]
