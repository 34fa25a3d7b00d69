"""Prometheus exposition of the service's counters (``/metrics``)."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily

from anxin.ingest.service import IngestService


class _Collector:
    def __init__(self, service: IngestService) -> None:
        self.s = service

    def collect(self):
        m = self.s.metrics
        rec = CounterMetricFamily("anxin_records", "Records received, by kind and outcome", labels=["kind", "status"])
        for (kind, status), n in sorted(m.by_kind.items()):
            rec.add_metric([kind, status], n)
        yield rec
        rej = CounterMetricFamily("anxin_records_rejected", "Rejected records, by reason", labels=["reason"])
        for reason, n in sorted(m.rejects.items()):
            rej.add_metric([reason], n)
        yield rej
        al = CounterMetricFamily("anxin_alarms", "Alarms raised since start, by rule", labels=["rule"])
        for rule, n in sorted(m.alarms.items()):
            al.add_metric([rule], n)
        yield al
        lag = GaugeMetricFamily(
            "anxin_station_lag_seconds",
            "Wall clock minus the newest event time received, per station",
            labels=["station"],
        )
        now = time.time()
        for st, t in sorted(m.last_event_us.items()):
            lag.add_metric([st], max(0.0, now - t / 1e6))
        yield lag
        edge = GaugeMetricFamily(
            "anxin_edge_outbox_backlog", "Records waiting in a station's edge outbox", labels=["station"]
        )
        for st, n in sorted(m.edge_backlog.items()):
            edge.add_metric([st], n)
        yield edge
        yield GaugeMetricFamily(
            "anxin_ledger_position", "Newest ledger row fed to the engine", value=self.s.last_ledger_id
        )
        yield GaugeMetricFamily("anxin_registry_version", "Registry version in force", value=self.s.registry_version)
        yield GaugeMetricFamily("anxin_ready", "1 when ready to accept uploads", value=1.0 if self.s.ready else 0.0)
        pending = self.s.store.webhook_backlog()
        wh = GaugeMetricFamily("anxin_webhook_deliveries", "Webhook deliveries by status", labels=["status"])
        for status, n in sorted(pending.items()):
            wh.add_metric([status], n)
        yield wh


def render_metrics(service: IngestService, *extra) -> tuple[bytes, str]:
    """The service's metrics and those of ``extra`` collectors (webhooks, MQTT bridge)."""
    reg = CollectorRegistry()
    reg.register(_Collector(service))
    for collector in extra:
        reg.register(collector)
    return generate_latest(reg), CONTENT_TYPE_LATEST


class MqttCollector:
    """The MQTT bridge's counters."""

    def __init__(self, bridge) -> None:
        self.bridge = bridge

    def collect(self):
        b = self.bridge.metrics
        msgs = CounterMetricFamily("anxin_mqtt_messages", "MQTT messages by outcome", labels=["outcome"])
        for outcome in ("received", "ingested", "auth_failed", "refused", "errors"):
            msgs.add_metric([outcome], getattr(b, outcome))
        yield msgs
        yield CounterMetricFamily(
            "anxin_mqtt_records_wrong_kind", "Records rejected: kind is not the topic's", value=b.wrong_kind
        )
        yield CounterMetricFamily("anxin_mqtt_connects", "Connections to the broker", value=b.connects)
        yield GaugeMetricFamily("anxin_mqtt_connected", "1 when connected to the broker", value=float(b.connected))
