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
One request and what its answer means are the vendor SDK's (:mod:`anxin.sdk.upload`):
a station's agent and a vendor's client read the platform alike.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass

import httpx2

from anxin import __version__ as _version
from anxin.contract.upload import UploadResult
from anxin.edge.outbox import Outbox, Pending, Refusal, now_us
from anxin.sdk.upload import Attempt, backoff, post_batch
from anxin.sdk.upload import retry_after as _retry_after

__all__ = ["Attempt", "UploadSettings", "Uploader", "_retry_after"]

log = logging.getLogger("anxin.edge")

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
            if attempt.outcome == "split":  # a 413, handled
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
        return backoff(self.failures, base_s=self.s.backoff_base_s, max_s=self.s.backoff_max_s, wait_s=attempt.wait_s)

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
        headers = {"X-Anxin-Edge-Backlog": str(waiting), "User-Agent": f"anxin-edge/{_version}"}
        started = time.perf_counter()
        attempt = post_batch(self.client, self.url, token=self.s.token, body=body, headers=headers)
        ms = round((time.perf_counter() - started) * 1000, 1)
        if attempt.outcome == "final":
            assert attempt.result is not None and attempt.status is not None
            self._final(batch, attempt.result, attempt.status, ms, waiting)
        elif attempt.outcome == "too_large":
            return self._split(batch, attempt.detail)
        return attempt  # final, retry (transient) or refused (400 401 403 404 415 …: a person must look)

    def _final(self, batch: list[Pending], data: UploadResult, code: int, ms: float, waiting: int) -> None:
        refused = []
        for res in data.results:
            if res.status in REFUSED_STATUSES and 1 <= res.line <= len(batch):
                refused.append(Refusal(batch[res.line - 1], res.status, res.reason or res.status, res.kind, res.key))
        counts = {
            "accepted": data.accepted,
            "duplicate": data.duplicate,
            "rejected": data.rejected,
            "quarantined": data.quarantined,
        }
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
