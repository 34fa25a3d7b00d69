"""A worker's Prometheus metrics (``anxin worker --metrics HOST:PORT``): per partition it
owns, the stream position it has stored, the records it fed and the rows it set aside
since it took the partition; the messages and alarms of the worker. The consumers' lag
is the stream's (``anxin cluster status``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from anxin.cluster.worker import Worker


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

    host, _, port = address.rpartition(":")
    registry = CollectorRegistry()
    registry.register(WorkerCollector(worker))
    start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
