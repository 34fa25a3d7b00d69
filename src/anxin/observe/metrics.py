"""Prometheus exposition shared by ``anxin serve``, the scale-out receivers and workers.

Every /metrics answer carries the client library's own collectors (``process_*``:
CPU, memory, open files; ``python_gc_*``; ``python_info``), which a per-request
registry of custom collectors alone would hide, and ``anxin_build_info``. The latency
histograms live with the process (one :class:`Latency` per app), never in the client
library's global registry: tests start many apps in one process.

Label values are bounded: a status code the handler can give, a rule of the contract's
list, never a string a station sends."""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.registry import Collector

import anxin
from anxin.observe.tracing import span

# Seconds. An upload of a few lines takes milliseconds; one of 20 000 lines, seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Per line: tens of microseconds (a duplicate) to tens of milliseconds (a slow database).
LINE_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# Sale → alarm: within the upload that completes the pair (milliseconds) up to the
# pairing horizon (an hour) and a silent station's decision (a day).
SALE_ALARM_BUCKETS = (0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
# The status codes POST /v1/records answers (anxin.serve.upload); anything else is "other".
UPLOAD_CODES = frozenset({"200", "207", "400", "401", "409", "413", "415", "421", "422", "429", "500", "503"})


def sm2_backend() -> str:
    from anxin.crypto.schemes import SM2_BACKEND

    return SM2_BACKEND


class BuildInfo(Collector):
    """``anxin_build_info{version, python, sm2_backend} 1``: what runs, for dashboards
    and for alerting on a mixed fleet."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily(
            "anxin_build_info",
            "anxin's version, the Python that runs it and the SM2 verification backend in use",
            labels=["version", "python", "sm2_backend"],
        )
        info.add_metric([anxin.__version__, platform.python_version(), sm2_backend()], 1.0)
        yield info


class Latency:
    """The histograms of one process (``anxin serve`` or a receiver); see
    docs/live-service.md for what each one measures."""

    def __init__(self) -> None:
        self.upload = Histogram(
            "anxin_upload_request_seconds",
            "POST /v1/records: from the request reaching the application to the last byte of its answer",
            labelnames=["code"],
            buckets=REQUEST_BUCKETS,
            registry=None,
        )
        self.line = Histogram(
            "anxin_ingest_line_seconds",
            "One observation per upload that reached the ingest path (HTTP, MQTT, file import): its ingest "
            "time (screening, the lock, ledger, engine, outputs) divided by its lines",
            buckets=LINE_BUCKETS,
            registry=None,
        )
        self.sale_alarm = Histogram(
            "anxin_sale_alarm_seconds",
            "A pairing alarm (the rules of a sale): from the receipt of the sale's first record the platform "
            "received (metering or settlement) to the alarm stored and announced",
            labelnames=["rule"],
            buckets=SALE_ALARM_BUCKETS,
            registry=None,
        )

        self.sale_alarm_unmeasured = Counter(
            "anxin_sale_alarm_unmeasured",
            "Pairing alarms left out of anxin_sale_alarm_seconds: their records not found in the ledger, "
            "or past the number measured at once",
            registry=None,
        )

    def upload_done(self, code: int, seconds: float) -> None:
        label = str(code) if str(code) in UPLOAD_CODES else "other"
        self.upload.labels(code=label).observe(seconds)

    def ingested(self, lines: int, seconds: float) -> None:
        if lines > 0:
            self.line.observe(seconds / lines)

    def collectors(self) -> list[Collector]:
        return [self.upload, self.line, self.sale_alarm, self.sale_alarm_unmeasured]


def publish_histogram() -> Histogram:
    """A receiver's publish latency (anxin.cluster.metrics)."""
    return Histogram(
        "anxin_receiver_publish_seconds",
        "One observation per upload with records to publish: from its first publish to JetStream's last "
        "acknowledgement (the upload's records are published together)",
        buckets=REQUEST_BUCKETS,
        registry=None,
    )


def standard_collectors() -> list[Collector]:
    """The client library's process, GC and platform collectors, and anxin_build_info."""
    return [PROCESS_COLLECTOR, GC_COLLECTOR, PLATFORM_COLLECTOR, BuildInfo()]


def exposition(collectors: Iterable[Collector]) -> tuple[bytes, str]:
    """The text of /metrics: ``collectors`` after the standard ones."""
    reg = CollectorRegistry(auto_describe=False)
    for c in [*standard_collectors(), *collectors]:
        reg.register(c)
    return generate_latest(reg), CONTENT_TYPE_LATEST


class UploadTimer:
    """ASGI middleware: times POST /v1/records into ``latency.upload``, labelled by the
    status code answered (the body read, the token check, the ingest and the answer's
    sending included; the time before the application sees the request is not), and
    opens the upload's span when tracing is on."""

    def __init__(self, app, latency: Latency, path: str = "/v1/records") -> None:
        self.app, self.latency, self.path = app, latency, path

    def _is_upload(self, scope) -> bool:
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # behind a proxy's path prefix (uvicorn --root-path prepends it)
            path = path[len(root) :]
        return path == self.path

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not self._is_upload(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500  # an exception before the answer began: the server answers 500

        async def sending(message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            with span("anxin.upload"):
                await self.app(scope, receive, sending)
        finally:
            self.latency.upload_done(code, time.perf_counter() - started)
