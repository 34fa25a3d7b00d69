"""Uploads the outbox to ``POST /v1/records``, head first, in batches.

A batch is final when the platform answers 200, 207, 409 or 422 with each line's
outcome: it leaves the outbox, its rejected and quarantined lines go to the local
``rejected`` table with the platform's reason. Anything else keeps the batch:
network errors, 429 (Retry-After honoured) and 5xx are retried with exponential
backoff and jitter; 400/401/403/415 and other refusals are logged as errors and
retried with the same backoff (the data stays until someone fixes the token or the
URL); 413 halves the batch — a single line still too large is set aside locally.
If the agent dies after the platform committed but before the outbox was updated,
the batch goes again and comes back as duplicates (409): nothing lost, nothing doubled.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx2
import msgspec

from anxin import __version__ as _version
from anxin.edge.outbox import Outbox, Pending, Refusal, now_us

log = logging.getLogger("anxin.edge")

FINAL = (200, 207, 409, 422)
TRANSIENT = (429, 500, 502, 503, 504)
REFUSED_STATUSES = ("rejected", "quarantined")


@dataclass
class UploadSettings:
    server: str  # base URL of anxin serve, e.g. https://platform.example:8080
    token: str
    batch: int = 500
    interval_s: float = 1.0  # at most one upload per interval while fewer than a batch wait
    timeout_s: float = 30.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    once_attempts: int = 4  # --once: consecutive failed attempts before giving up


@dataclass
class Attempt:
    outcome: str  # final | retry (transient) | refused (needs a person) | split (413)
    wait_s: float | None = None  # the server's Retry-After
    detail: str = ""
    status: int | None = None


class Uploader:
    def __init__(
        self, outbox: Outbox, settings: UploadSettings, stop: threading.Event, wake: threading.Event | None = None
    ) -> None:
        self.outbox, self.s, self.stop = outbox, settings, stop
        self.wake = wake or threading.Event()
        self.url = settings.server.rstrip("/") + "/v1/records"
        self.client = httpx2.Client(timeout=httpx2.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s)))
        self.size = settings.batch
        self.successes_at_size = 0
        self.failures = 0
        self.failing_since: float | None = None
        self.last_send = 0.0

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------ the loop
    def run(self, *, once: bool = False) -> bool:
        """Upload until stopped (``once``: until the outbox is empty, or the platform is
        unreachable or refusing). True when the outbox was empty at the end."""
        while not self.stop.is_set():
            try:
                batch = self.outbox.peek(self.size)
            except Exception:  # a locked or damaged outbox: retried, loudly
                log.exception("cannot read the outbox")
                self.stop.wait(self.s.backoff_max_s)
                continue
            if not batch:
                if once:
                    return True
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            if not once and len(batch) < self.size:
                due = self.last_send + self.s.interval_s - time.monotonic()
                if due > 0:
                    self.stop.wait(due)
                    continue
            self.last_send = time.monotonic()
            try:
                attempt = self.send(batch)
            except Exception as exc:  # the outbox itself failing (disk full …): retried, loudly
                log.exception("upload step failed")
                attempt = Attempt("retry", detail=f"{type(exc).__name__}: {exc}")
            if attempt.outcome == "final":
                self._recovered()
                continue
            if attempt.outcome == "split":
                continue
            self.failures += 1
            self.failing_since = self.failing_since or time.monotonic()
            delay = self._delay(attempt)
            with contextlib.suppress(Exception):
                self.outbox.note(last_error=attempt.detail, last_error_us=now_us())
            level = logging.ERROR if attempt.outcome == "refused" else logging.WARNING
            log.log(
                level,
                "upload refused: the data is kept" if attempt.outcome == "refused" else "upload failed: will retry",
                extra={
                    "status": attempt.status,
                    "detail": attempt.detail,
                    "lines": len(batch),
                    "attempt": self.failures,
                    "retry_in_s": round(delay, 2),
                    "backlog": self.outbox.backlog(),
                },
            )
            if once and (
                attempt.outcome == "refused" or (attempt.status != 429 and self.failures >= self.s.once_attempts)
            ):
                return False
            self.stop.wait(delay)
        return not self.outbox.peek(1)

    def _delay(self, attempt: Attempt) -> float:
        if attempt.wait_s is not None:  # Retry-After: honoured, plus a little jitter
            return min(attempt.wait_s, 600.0) * random.uniform(1.0, 1.1)
        ceiling = min(self.s.backoff_max_s, self.s.backoff_base_s * 2 ** min(self.failures - 1, 30))
        return random.uniform(ceiling / 2, ceiling)

    def _recovered(self) -> None:
        if self.failures:
            log.warning(
                "upload recovered",
                extra={
                    "failed_attempts": self.failures,
                    "outage_s": round(time.monotonic() - (self.failing_since or time.monotonic()), 1),
                },
            )
            self.outbox.note(last_error=None)
        self.failures, self.failing_since = 0, None
        if self.size < self.s.batch:  # after a 413, grow back slowly
            self.successes_at_size += 1
            if self.successes_at_size >= 8:
                self.size, self.successes_at_size = min(self.s.batch, self.size * 2), 0

    # ------------------------------------------------------------ one request
    def send(self, batch: list[Pending]) -> Attempt:
        body = b"\n".join(p.body for p in batch) + b"\n"
        waiting = max(0, self.outbox.backlog() - len(batch))
        headers = {
            "Authorization": f"Bearer {self.s.token}",
            "Content-Type": "application/x-ndjson",
            "X-Anxin-Edge-Backlog": str(waiting),
            "User-Agent": f"anxin-edge/{_version}",
        }
        started = time.perf_counter()
        try:
            r = self.client.post(self.url, content=body, headers=headers)
        except httpx2.TransportError as exc:
            return Attempt("retry", detail=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        ms = round((time.perf_counter() - started) * 1000, 1)
        code = r.status_code
        if code in FINAL:
            data = _json(r)
            if isinstance(data, dict) and isinstance(data.get("results"), list):
                self._final(batch, data, code, ms, waiting)
                return Attempt("final", status=code)
            return Attempt("retry", status=code, detail=f"HTTP {code} without the per-line results: {r.text[:200]}")
        detail = f"HTTP {code}: {_detail(r)}"
        if code == 413:
            return self._split(batch, detail)
        if code in TRANSIENT or code >= 500:
            return Attempt("retry", wait_s=_retry_after(r) if code in (429, 503) else None, status=code, detail=detail)
        return Attempt("refused", status=code, detail=detail)  # 400 401 403 404 415 …: a person must look

    def _final(self, batch: list[Pending], data: dict[str, Any], code: int, ms: float, waiting: int) -> None:
        refused = []
        for res in data["results"]:
            status, n = res.get("status"), res.get("line")
            if status in REFUSED_STATUSES and isinstance(n, int) and 1 <= n <= len(batch):
                refused.append(
                    Refusal(batch[n - 1], status, str(res.get("reason") or status), res.get("kind"), res.get("key"))
                )
        counts = {k: int(data.get(k) or 0) for k in ("accepted", "duplicate", "rejected", "quarantined")}
        self.outbox.confirm(batch, refused, {**counts, "uploads": 1})
        log.info("uploaded", extra={"status": code, "lines": len(batch), **counts, "ms": ms, "backlog": waiting})
        if refused:
            log.warning(
                "lines refused by the platform: kept in the outbox's rejected table",
                extra={
                    "count": len(refused),
                    "first_reason": refused[0].reason,
                    "first_source": refused[0].pending.source,
                    "first_line": refused[0].pending.line,
                },
            )

    def _split(self, batch: list[Pending], detail: str) -> Attempt:
        if len(batch) > 1:
            self.size, self.successes_at_size = max(1, len(batch) // 2), 0
            log.warning(
                "upload too large: halving the batch", extra={"detail": detail, "lines": len(batch), "batch": self.size}
            )
            return Attempt("split", status=413, detail=detail)
        self.outbox.confirm(batch, [Refusal(batch[0], "too_large", detail)], {"too_large": 1})
        log.error(
            "line too large for the platform: set aside in the rejected table",
            extra={"detail": detail, "source": batch[0].source, "line_no": batch[0].line},
        )
        return Attempt("split", status=413, detail=detail)


def _json(r: httpx2.Response) -> Any:
    try:
        return msgspec.json.decode(r.content)
    except (msgspec.DecodeError, RecursionError):  # RecursionError: nested too deep
        return None


def _detail(r: httpx2.Response) -> str:
    data = _json(r)
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:300]
    return r.text[:300]


def _retry_after(r: httpx2.Response) -> float | None:
    value = r.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
