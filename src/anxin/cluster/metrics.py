"""The scale-out's Prometheus metrics. A worker's (``anxin worker --metrics HOST:PORT``):
per partition it owns, the stream position it has stored, the records it fed and the
rows it set aside since it took the partition; the messages and alarms of the worker.
The consumers' lag is the stream's (``anxin cluster status``); sale → alarm
(``anxin_sale_alarm_seconds``), to the worker's announcement. A receiver's
(``anxin serve --role receiver``, GET /metrics): :class:`ReceiverCollector`, the upload
and per-line histograms, the publish latency. Both with the process, GC and build
collectors (anxin.observe.metrics)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from fastapi import FastAPI

    from anxin.cluster.receiver import Receiver
    from anxin.cluster.worker import Worker
    from anxin.serve.config import ServeConfig


class WorkerCollector(Collector):
    def __init__(self, worker: Worker) -> None:
        self.w = worker

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        engines = dict(self.w.engines)
        yield GaugeMetricFamily("anxin_worker_partitions", "Partitions this worker owns now", value=len(engines))
        yield CounterMetricFamily("anxin_worker_messages", "Messages consumed since start", value=self.w.processed)
        yield CounterMetricFamily("anxin_worker_alarms", "New alarms raised since start", value=len(self.w.alarms))
        position = GaugeMetricFamily(
            "anxin_partition_position", "Stream sequence stored for the partition", labels=["part"]
        )
        fed = CounterMetricFamily("anxin_partition_records", "Records fed to the partition's engine", labels=["part"])
        aside = CounterMetricFamily("anxin_partition_set_aside", "Ledger rows set aside", labels=["part"])
        for part, e in sorted(engines.items()):
            position.add_metric([str(part)], e.seq)
            fed.add_metric([str(part)], e.fed)
            aside.add_metric([str(part)], e.set_aside)
        yield position
        yield fed
        yield aside


def serve_metrics(worker: Worker, address: str) -> None:
    """Expose the worker's metrics at ``HOST:PORT`` (a thread of prometheus_client's)."""
    from prometheus_client import CollectorRegistry, start_http_server

    from anxin.observe.metrics import standard_collectors

    host, _, port = address.rpartition(":")
    registry = CollectorRegistry(auto_describe=False)
    latency = worker.latency
    for c in [*standard_collectors(), WorkerCollector(worker), latency.sale_alarm, latency.sale_alarm_unmeasured]:
        registry.register(c)
    start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)


class ReceiverCollector(Collector):
    """A receiver's counters (``anxin serve --role receiver``'s /metrics): the outcomes
    its stations were told, the rejects by class, what it published and what JetStream
    found a duplicate; the registry in force and the stream connection."""

    def __init__(self, receiver: Receiver) -> None:
        self.r = receiver

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        r = self.r
        outcomes = CounterMetricFamily(
            "anxin_receiver_records", "Lines of uploads since start, by the outcome answered", labels=["outcome"]
        )
        for outcome in ("accepted", "duplicate", "rejected", "quarantined"):
            outcomes.add_metric([outcome], r.outcomes.get(outcome, 0))
        yield outcomes
        rejects = CounterMetricFamily(
            "anxin_receiver_rejects", "Rejected lines since start, by reason class", labels=["reason"]
        )
        for reason, n in sorted(r.rejects.items()):
            rejects.add_metric([reason], n)
        yield rejects
        yield CounterMetricFamily(
            "anxin_receiver_published", "Records published to the stream and acknowledged", value=r.published
        )
        yield CounterMetricFamily(
            "anxin_receiver_duplicates",
            "Published records JetStream reported as duplicates (the same ledger digest within its window)",
            value=r.duplicates,
        )
        yield GaugeMetricFamily("anxin_registry_version", "Registry version in force", value=r.registry_version)
        connected = r.nc is not None and r.nc.is_connected
        yield GaugeMetricFamily("anxin_receiver_stream_connected", "1 when connected to NATS", value=float(connected))
        edge = GaugeMetricFamily(
            "anxin_edge_outbox_backlog", "Records waiting in a station's edge outbox", labels=["station"]
        )
        for st, n in sorted(r.edge_backlog.items()):
            edge.add_metric([st], n)
        yield edge


def add_receiver_metrics(app: FastAPI, receiver: Receiver, config: ServeConfig) -> None:
    """GET /metrics of a receiver (the same route and access rule as ``anxin serve``'s: the
    metrics token, or this machine's loopback) and the upload histogram's middleware."""
    from anxin.observe.metrics import UploadTimer
    from anxin.serve.app import add_metrics_route

    add_metrics_route(
        app,
        token=config.metrics_token,
        collectors=lambda: [ReceiverCollector(receiver), *receiver.latency.collectors(), receiver.publish_seconds],
    )
    app.add_middleware(UploadTimer, latency=receiver.latency)
