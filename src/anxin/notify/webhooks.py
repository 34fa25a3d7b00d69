"""Webhook delivery of alarms (报警推送): signed POSTs, retries with backoff, a dead-letter list.

When a new alarm is stored, the store puts one row per active webhook into the outbox
``webhook_deliveries`` in the same transaction (``anxin.store.outputs.enqueue_webhooks``). The
``WebhookDispatcher`` delivers the rows that are due, at least once: a receiver must
treat ``webhook-id`` (or the alarm's ``alarm_id``) as the idempotency key.

What a receiver gets (Standard Webhooks, https://www.standardwebhooks.com)
-----------------------------------------------------------------------
``POST <url>`` with the body ``{"event": "alarm", "alarm": {…contract §6 alarm…}}`` and::

    Content-Type: application/json
    webhook-id: msg_<alarm_id>_<webhook id>   (the same on every retry of this delivery)
    webhook-timestamp: 1772294400             (unix seconds when this attempt was signed)
    webhook-signature: v1,<base64 of HMAC-SHA256(key, id + "." + timestamp + "." + body)>

The key: a secret ``whsec_<base64>`` is the base64-decoded bytes (the form the Standard
Webhooks libraries take, and what ``POST /v1/webhooks`` makes when no secret is given);
any other secret is its UTF-8 bytes — in a library, pass ``"whsec_" + base64(secret)``.
The id is signed: a captured delivery cannot be replayed under a new id (a receiver
that deduplicates on ``webhook-id`` refuses it), nor later (the timestamp is signed).
The old ``X-Anxin-Delivery`` / ``X-Anxin-Timestamp`` / ``X-Anxin-Signature`` headers
(an HMAC over timestamp and body only) are gone.

Any 2xx answer means delivered. A network error, a timeout (``timeout_s`` for each of
connect, write and read), 5xx or 429 is retried after ``min(max_delay_s, base_delay_s ·
2^(attempts−1))`` less up to 20 % of jitter (a ``Retry-After`` of a 429/503 is honoured,
up to ``max_delay_s``); any other answer (3xx, 4xx: the receiver refuses) is retried the
same way, and so is a target refused at delivery (below). After ``max_attempts`` failed
attempts the delivery is ``dead`` — the dead-letter list,
``GET /v1/webhooks/deliveries?status=dead``, from which
``POST /v1/webhooks/deliveries/{id}/retry`` sends it again.

Where a delivery may go (:mod:`anxin.notify.targets`): at every attempt the URL's host
is resolved, every address must be global (numeric forms such as ``2130706433`` or
``0x7f000001`` normalised), and the connection is made to the checked address (no
second DNS lookup), TLS checked against the host name. ``allow_private``
(``webhook_allow_private``) lifts the address check for a receiver on the LAN.

Verifying a delivery (do this before trusting the body)
-------------------------------------------------------
1. Read the raw body bytes exactly as received (before any JSON parsing or re-encoding).
2. ``t = webhook-timestamp``; refuse when ``|now − t| > 300`` seconds.
3. ``expected = base64(HMAC-SHA256(key, webhook-id + "." + t + "." + raw body))``.
4. ``webhook-signature`` is a space-separated list of ``v1,<signature>``; accept when one
   equals ``expected``, compared in constant time (``hmac.compare_digest``).
5. Deduplicate on ``webhook-id``: a retry after a lost answer sends it again.

In Python::

    import base64, hashlib, hmac, time

    def verify(secret: str, headers, body: bytes, tolerance_s: int = 300) -> bool:
        key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
        msg_id, t = headers["webhook-id"], headers["webhook-timestamp"]
        if not t.isdigit() or abs(time.time() - int(t)) > tolerance_s:
            return False
        mac = hmac.new(key, f"{msg_id}.{t}.".encode() + body, hashlib.sha256).digest()
        expected = base64.b64encode(mac).decode()
        return any(
            v == "v1" and hmac.compare_digest(sig, expected)
            for v, _, sig in (s.partition(",") for s in headers["webhook-signature"].split())
        )

(``anxin.notify.webhooks.verify`` is this function.)

Claiming a delivery is a conditional UPDATE (``status='pending' AND next_attempt_us =
<the value read>``) that moves ``next_attempt_us`` forward by a lease (``3·timeout_s +
5 s``): only the dispatcher whose UPDATE changed the row sends it, on SQLite and on
PostgreSQL alike, with any number of dispatchers and threads. A dispatcher that dies
mid-attempt leaves the row to be retried when the lease runs out. (The statements —
the due deliveries, the claim, the outcome — are :mod:`anxin.notify.queries`' and
:mod:`anxin.notify.service`'s.)
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2
import msgspec

from anxin.notify import queries, service
from anxin.notify.routes import webhooks_router
from anxin.notify.targets import TargetRefused, pinned_post, webhook_client
from anxin.store.database import Store
from anxin.store.outputs import alarm_dict

log = logging.getLogger("anxin.webhooks")

RETRYABLE_STATUS = frozenset({408, 425, 429})  # besides 5xx: the receiver asks to come back later
JITTER = 0.2


def secret_key(secret: str) -> bytes:
    """The HMAC key of a webhook secret: ``whsec_<base64>`` decoded, else its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[6:], validate=True)
        except binascii.Error:
            pass  # not base64 after all: the text is the key
    return secret.encode()


def new_secret() -> str:
    """A fresh secret in the Standard Webhooks form (24 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def message_id(alarm_id: str, webhook_id: int) -> str:
    """The ``webhook-id`` of an alarm's delivery to a webhook (stable across retries)."""
    return f"msg_{alarm_id}_{webhook_id}"


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``webhook-signature`` value of a body sent as ``msg_id`` at ``timestamp``."""
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """A receiver's check of a delivery (the recipe of the module's documentation)."""
    low = {k.lower(): v for k, v in headers.items()}
    msg_id, t, got = low.get("webhook-id", ""), low.get("webhook-timestamp", ""), low.get("webhook-signature", "")
    if not msg_id or not t.isdigit() or abs((time.time() if now is None else now) - int(t)) > tolerance_s:
        return False
    expected = sign(secret, msg_id, t, body)
    return any(hmac.compare_digest(candidate, expected) for candidate in got.split())


def backoff_s(delivery_id: int, attempts: int, base_delay_s: float, max_delay_s: float) -> float:
    """Delay before the next attempt after ``attempts`` failed ones: exponential, capped,
    less a jitter of up to 20 % that depends only on (delivery, attempt) — reproducible,
    yet deliveries that failed together do not all come back at the same instant."""
    raw = min(max_delay_s, base_delay_s * 2.0 ** max(0, attempts - 1))
    h = hashlib.sha256(f"{delivery_id}:{attempts}".encode()).digest()
    return raw * (1.0 - JITTER * int.from_bytes(h[:8], "big") / 2.0**64)


def _retry_after_s(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


class WebhookDispatcher:
    """Delivers due webhook deliveries; ``run_once`` for one pass, ``start``/``stop`` for
    ``workers`` background threads. ``clock`` (unix seconds) is injectable for tests."""

    def __init__(
        self,
        store: Store,
        *,
        max_attempts: int = 8,
        base_delay_s: float = 1.0,
        max_delay_s: float = 300.0,
        timeout_s: float = 10.0,
        workers: int = 2,
        clock: Callable[[], float] = time.time,
        poll_s: float = 1.0,
        batch: int = 50,
        allow_private: bool = False,
    ) -> None:
        if max_attempts < 1 or workers < 1 or batch < 1:
            raise ValueError("max_attempts, workers and batch must be at least 1")
        self.store = store
        self.max_attempts, self.base_delay_s, self.max_delay_s = max_attempts, base_delay_s, max_delay_s
        self.timeout_s, self.workers, self.clock, self.poll_s, self.batch = timeout_s, workers, clock, poll_s, batch
        self.allow_private = allow_private  # webhook_allow_private: receivers on loopback/private addresses
        self.lease_us = int((3 * timeout_s + 5) * 1e6)
        self.delivered = 0  # deliveries answered 2xx
        self.failed_attempts = 0  # attempts that did not get a 2xx
        self.dead = 0  # deliveries this dispatcher gave up (max_attempts, or webhook deactivated)
        self._lock = threading.Lock()
        self._client: httpx2.Client | None = None
        self._stop = threading.Event()  # of the running workers; stop() sets it, then puts a fresh one
        self._wake = threading.Condition()
        self._wakes = 0  # notify() counts up; a waiting worker wakes when it changes
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._threads:
            return
        self._threads = [
            threading.Thread(target=self._loop, args=(self._stop,), name=f"anxin-webhooks-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for t in self._threads:
            t.start()
        log.info("webhook dispatcher started", extra={"workers": self.workers})

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the workers: idle ones at once; one in the middle of an attempt finishes it
        (bounded by ``timeout_s`` per phase) and records its outcome."""
        stop, self._stop = self._stop, threading.Event()  # run_once() still works after stop()
        stop.set()
        self.notify()
        limit = time.monotonic() + (self.lease_us / 1e6 if timeout_s is None else timeout_s)
        for t in self._threads:
            t.join(max(0.0, limit - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("webhook workers still busy at stop", extra={"threads": alive})
        self._threads = []
        self.close()
        log.info("webhook dispatcher stopped", extra=self.counters())

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def notify(self, *_args: object) -> None:
        """Wake the workers now (e.g. ``service.subscribe(dispatcher.notify)``: new alarms)."""
        with self._wake:
            self._wakes += 1
            self._wake.notify_all()

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {"delivered": self.delivered, "failed_attempts": self.failed_attempts, "dead": self.dead}

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._wake:
                seen = self._wakes
            try:
                n = self._pass(stop)
            except Exception:  # the database away for a moment: try again at the next poll
                log.exception("webhook dispatch pass failed")
                n = 0
            if n == 0 and not stop.is_set():
                with self._wake:
                    self._wake.wait_for(functools.partial(self._woken, seen, stop), self.poll_s)

    def _woken(self, seen: int, stop: threading.Event) -> bool:
        """A waiting worker's predicate: notified since ``seen``, or told to stop."""
        return self._wakes != seen or stop.is_set()

    def _http(self) -> httpx2.Client:
        with self._lock:
            if self._client is None:  # no keep-alive: every delivery resolves and checks (pinned_post)
                self._client = webhook_client(timeout_s=self.timeout_s)
            return self._client

    # ------------------------------------------------------------ one pass
    def run_once(self) -> int:
        """Attempt every delivery due now (each claimed first); the number attempted."""
        return self._pass(self._stop)

    def _pass(self, stop: threading.Event) -> int:
        now_us = int(self.clock() * 1e6)
        attempted = 0
        while not stop.is_set():
            due = queries.due_deliveries(self.store, now_us=now_us, limit=self.batch)
            if not due:
                break
            for did, seen in due:
                if stop.is_set():
                    break
                lease = int(self.clock() * 1e6) + self.lease_us
                if self._claim(int(did), int(seen), lease):
                    attempted += self._attempt(int(did), lease)
        return attempted

    def _claim(self, did: int, seen_us: int, lease_us: int) -> bool:
        return service.claim_delivery(self.store, delivery_id=did, seen_us=seen_us, lease_us=lease_us)

    def _attempt(self, did: int, lease_us: int) -> int:
        """Send one claimed delivery and record the outcome; 1 when an HTTP attempt was made."""
        row, alarm = queries.delivery_with_alarm(self.store, did)
        ctx = {"delivery_id": did, "webhook_id": int(row.webhook_id), "alarm_id": row.alarm_id}
        if not row.active or alarm is None:
            reason = "webhook deactivated" if not row.active else "alarm not found"
            self._finish(did, lease_us, row.attempts, status="dead", error=reason, ctx=ctx)
            return 0
        body = msgspec.json.encode({"event": "alarm", "alarm": alarm_dict(alarm._mapping)})
        ts = int(self.clock())
        msg_id = message_id(row.alarm_id, int(row.webhook_id))
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(row.secret, msg_id, ts, body),
        }
        attempt = row.attempts + 1
        ctx.update(attempt=attempt, host=urlsplit(row.url).hostname)
        started = time.monotonic()
        retry_after: float | None = None
        try:
            # Resolved now, every address checked, the connection made to a checked one.
            resp = pinned_post(self._http(), row.url, content=body, headers=headers, allow_private=self.allow_private)
            code = resp.status_code
            ctx["http_status"] = code
            error = None if 200 <= code < 300 else f"HTTP {code}" + (" (refused)" if _refused(code) else "")
            if code in (429, 503):
                retry_after = _retry_after_s(resp.headers.get("Retry-After"), self.clock())
        except TargetRefused as exc:
            error = f"webhook target refused: {exc}"[:200]
        except httpx2.TimeoutException as exc:
            error = f"timeout: {type(exc).__name__}"
        except httpx2.HTTPError as exc:
            error = f"network: {type(exc).__name__}: {exc}"[:200]
        ctx["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        if error is None:
            self._finish(did, None, None, status="delivered", error=None, ctx=ctx)
            return 1
        if attempt >= self.max_attempts:
            self._finish(did, lease_us, row.attempts, status="dead", error=error, ctx=ctx)
            return 1
        delay = backoff_s(did, attempt, self.base_delay_s, self.max_delay_s)
        if retry_after is not None:
            delay = min(self.max_delay_s, max(delay, retry_after))
        ctx["retry_in_s"] = round(delay, 3)
        self._finish(
            did,
            lease_us,
            row.attempts,
            status="pending",
            error=error,
            ctx=ctx,
            next_us=int(self.clock() * 1e6 + delay * 1e6),
        )
        return 1

    def _finish(
        self,
        did: int,
        lease_us: int | None,
        attempts: int | None,
        *,
        status: str,
        error: str | None,
        ctx: dict[str, Any],
        next_us: int | None = None,
    ) -> None:
        """Record an outcome. A failure is recorded only if the row is still as claimed
        (an operator's retry meanwhile wins); a success always is — it happened."""
        http_attempt = "attempt" in ctx
        recorded = service.record_outcome(
            self.store,
            delivery_id=did,
            lease_us=lease_us,
            attempts=attempts,
            status=status,
            error=error,
            http_attempt=http_attempt,
            next_us=next_us,
        )
        with self._lock:
            self.delivered += status == "delivered"
            self.failed_attempts += http_attempt and status != "delivered"
            self.dead += status == "dead" and recorded
        if not recorded:
            log.warning(
                "webhook outcome not recorded: the delivery changed meanwhile",
                extra={**ctx, "outcome": status, "error": error},
            )
        elif status == "delivered":
            log.info("webhook delivered", extra=ctx)
        elif status == "dead":
            log.error("webhook delivery dead", extra={**ctx, "error": error})
        else:
            log.warning("webhook attempt failed", extra={**ctx, "error": error})

    # ------------------------------------------------------------ metrics
    def prometheus_metrics(self) -> Iterable[Any]:
        """Prometheus metric families of the counters (``anxin_webhook_*_total``)."""
        from prometheus_client.core import CounterMetricFamily

        n = self.counters()
        yield CounterMetricFamily("anxin_webhook_delivered", "Webhook deliveries answered 2xx", value=n["delivered"])
        yield CounterMetricFamily(
            "anxin_webhook_failed_attempts",
            "Webhook delivery attempts without a 2xx answer (retried or dead)",
            value=n["failed_attempts"],
        )
        yield CounterMetricFamily(
            "anxin_webhook_dead", "Webhook deliveries given up (the dead-letter list)", value=n["dead"]
        )

    def collector(self) -> Any:
        """An object to ``CollectorRegistry.register``."""
        return _Collector(self)


class _Collector:
    def __init__(self, dispatcher: WebhookDispatcher) -> None:
        self.d = dispatcher

    def collect(self):
        yield from self.d.prometheus_metrics()


def _refused(code: int) -> bool:
    return code < 500 and code not in RETRYABLE_STATUS


__all__ = [
    "WebhookDispatcher",
    "backoff_s",
    "message_id",
    "new_secret",
    "secret_key",
    "sign",
    "verify",
    "webhooks_router",
]
