"""Notifications out of the platform: signed webhook deliveries of alarms (报警推送)."""

from anxin.notify.routes import webhooks_router
from anxin.notify.webhooks import WebhookDispatcher, sign, verify

__all__ = ["WebhookDispatcher", "sign", "verify", "webhooks_router"]
