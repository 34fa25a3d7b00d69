"""Uploads to ``POST /v1/records`` (docs/live-service.md, "Device API"): one request and
what it means (:func:`post_batch`, shared with the station's edge agent), and a client
that sends any number of records in batches and retries (:class:`Client`).

An answer of 200, 207, 409 or 422 is final and carries each line's outcome
(:class:`anxin.contract.upload.Result`: accepted, duplicate, quarantined, rejected, with
the reason). 429 and 503 say when to come back (``Retry-After``, honoured); they and
other 5xx and network errors are retried with exponential backoff and jitter. 413: the
batch is too large (halve it). Anything else (400, 401, 403, 415 …) needs a person: it is
not retried. A retry after a lost answer is safe: the platform answers ``duplicate``.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import msgspec

from anxin import __version__
from anxin.contract.upload import Result, UploadResult
from anxin.sdk.records import to_line

__all__ = [
    "Attempt",
    "Client",
    "Result",
    "UploadError",
    "UploadReport",
    "UploadResult",
    "backoff",
    "post_batch",
    "retry_after",
]

FINAL = (200, 207, 409, 422)
TRANSIENT = (429, 500, 502, 503, 504)
RETRY_AFTER_MAX_S = 600.0
_answer = msgspec.json.Decoder(UploadResult)


@dataclass
class Attempt:
    """One request's outcome: ``final`` (``result`` holds each line's), ``retry``
    (transient; ``wait_s`` is the server's Retry-After), ``refused`` (a person must look:
    token, URL, content type) or ``too_large`` (413)."""

    outcome: str
    wait_s: float | None = None
    detail: str = ""
    status: int | None = None
    result: UploadResult | None = None


def post_batch(
    client: httpx2.Client, url: str, *, token: str, body: bytes, headers: dict[str, str] | None = None
) -> Attempt:
    """POST one NDJSON ``body`` to ``url`` (``…/v1/records``) and classify the answer."""
    sent = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/x-ndjson",
        "User-Agent": f"anxin-sdk/{__version__}",
        **(headers or {}),
    }
    try:
        r = client.post(url, content=body, headers=sent)
    except httpx2.TransportError as exc:
        return Attempt("retry", detail=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    code = r.status_code
    if code in FINAL:
        try:
            return Attempt("final", status=code, result=_answer.decode(r.content))
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return Attempt("retry", status=code, detail=f"HTTP {code} without the per-line results: {r.text[:200]}")
    detail = f"HTTP {code}: {_detail(r)}"
    if code == 413:
        return Attempt("too_large", status=code, detail=detail)
    if code in TRANSIENT or code >= 500:
        return Attempt("retry", wait_s=retry_after(r) if code in (429, 503) else None, status=code, detail=detail)
    return Attempt("refused", status=code, detail=detail)


def _detail(r: httpx2.Response) -> str:
    try:
        data = msgspec.json.decode(r.content)
    except (msgspec.DecodeError, RecursionError):
        data = None
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:300]
    return r.text[:300]


def retry_after(r: httpx2.Response) -> float | None:
    """The answer's ``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
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


def backoff(failures: int, *, base_s: float, max_s: float, wait_s: float | None = None) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: the server's Retry-After
    when it gave one (at most 10 min, plus up to 10 % jitter so that stations told the
    same do not return together), else exponential with full jitter in its upper half."""
    if wait_s is not None:
        return min(wait_s, RETRY_AFTER_MAX_S) * random.uniform(1.0, 1.1)
    ceiling = min(max_s, base_s * 2 ** min(max(failures, 1) - 1, 30))
    return random.uniform(ceiling / 2, ceiling)


class UploadError(Exception):
    """An upload that could not be completed: refused (``status`` 400, 401, 403, 415 …) or
    still failing after the client's attempts. ``report`` holds the lines decided before."""

    def __init__(self, detail: str, *, status: int | None, report: UploadReport) -> None:
        super().__init__(detail)
        self.detail, self.status, self.report = detail, status, report


@dataclass
class UploadReport:
    """Each line's outcome, ``line`` numbered from 1 in the order the records were given."""

    results: list[Result] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def accepted(self) -> int:
        return self.count("accepted")

    @property
    def refused(self) -> list[Result]:
        """The lines the platform rejected or quarantined, with its reasons."""
        return [r for r in self.results if r.status in ("rejected", "quarantined")]


class Client:
    """Uploads records to ``anxin serve`` (``server``: its base URL) with a station's or an
    institute's API token. ``attempts``: tries of one batch before :class:`UploadError`.
    ``sleep`` and ``http`` can be replaced (tests, an application's own HTTP client)."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        batch: int = 500,
        attempts: int = 6,
        timeout_s: float = 30.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 60.0,
        sleep: Callable[[float], Any] = time.sleep,
        http: httpx2.Client | None = None,
    ) -> None:
        if batch < 1 or attempts < 1:
            raise ValueError("batch and attempts must be at least 1")
        self.url = server.rstrip("/") + "/v1/records"
        self.token, self.batch, self.attempts = token, batch, attempts
        self.backoff_base_s, self.backoff_max_s, self.sleep = backoff_base_s, backoff_max_s, sleep
        self._own = http is None
        self.http = http or httpx2.Client(timeout=httpx2.Timeout(timeout_s, connect=min(10.0, timeout_s)))

    def close(self) -> None:
        if self._own:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upload(self, records: Iterable[dict[str, Any] | bytes]) -> UploadReport:
        """Send ``records`` (dicts, or JSON lines as bytes without their newline) in batches;
        each line's outcome in order. A batch the platform finds too large (413) is halved;
        a single line still too large is ``rejected`` here with the platform's words."""
        lines = [r if isinstance(r, bytes) else to_line(r) for r in records]
        for n, line in enumerate(lines, 1):
            if b"\n" in line or b"\r" in line:
                raise ValueError(f"record {n} holds a line break: one record per line")
        report = UploadReport()
        done, size = 0, self.batch
        while done < len(lines):
            chunk = lines[done : done + size]
            attempt = self._send(chunk, report)
            if attempt.outcome == "too_large":
                if len(chunk) > 1:
                    size = max(1, len(chunk) // 2)
                    continue
                report.results.append(Result(line=done + 1, status="rejected", reason=attempt.detail))
                done += 1
                continue
            assert attempt.result is not None
            for res in attempt.result.results:
                report.results.append(msgspec.structs.replace(res, line=done + res.line))
            done += len(chunk)
        return report

    def _send(self, chunk: list[bytes], report: UploadReport) -> Attempt:
        body = b"\n".join(chunk) + b"\n"
        failures = 0
        while True:
            attempt = post_batch(self.http, self.url, token=self.token, body=body)
            if attempt.outcome in ("final", "too_large"):
                return attempt
            failures += 1
            if attempt.outcome == "refused" or failures >= self.attempts:
                why = "refused" if attempt.outcome == "refused" else f"failed {failures} times"
                raise UploadError(f"upload {why}: {attempt.detail}", status=attempt.status, report=report)
            self.sleep(backoff(failures, base_s=self.backoff_base_s, max_s=self.backoff_max_s, wait_s=attempt.wait_s))
