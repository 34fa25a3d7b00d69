"""Prometheus exposition of the service's counters (``/metrics``)."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from anxin.ingest.service import IngestService
from anxin.observe.metrics import exposition


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
        # Not clamped: a station whose clock runs ahead of the platform's shows a negative lag.
        lag = GaugeMetricFamily(
            "anxin_station_lag_seconds",
            "The platform's clock minus the newest accepted event time, per station (negative: ahead)",
            labels=["station"],
        )
        age = GaugeMetricFamily(
            "anxin_station_receipt_age_seconds",
            "The platform's clock minus the receipt time of the station's last upload",
            labels=["station"],
        )
        for st, (behind, since) in self.s.lag().items():
            if behind is not None:
                lag.add_metric([st], behind)
            if since is not None:
                age.add_metric([st], since)
        yield lag
        yield age
        yield CounterMetricFamily(
            "anxin_clock_ahead_quarantined",
            "Records quarantined as CLOCK_AHEAD (event time after the receipt time + tolerance) since start",
            value=m.clock_ahead,
        )
        yield CounterMetricFamily(
            "anxin_clock_ticks", "Ticks of the platform's clock appended to the ledger since start", value=m.ticks
        )
        outages = GaugeMetricFamily(
            "anxin_outages_open", "Open DATA_OUTAGE (silent while expected), by level", labels=["level"]
        )
        engine = self.s.engine
        open_ = engine.watch.open_outages() if engine is not None else {}
        for level in ("station", "tank", "nozzle"):
            outages.add_metric([level], open_.get(level, 0))
        yield outages
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
        engine = self.s.engine
        yield CounterMetricFamily(
            "anxin_readings_too_frequent",
            "Tank readings not taken: closer than the minimum gap to one the tank already has (since the engine's start)",
            value=engine.counts.get("readings_too_frequent", 0) if engine is not None else 0,
        )
        yield GaugeMetricFamily("anxin_ready", "1 when ready to accept uploads", value=1.0 if self.s.ready else 0.0)
        # One line judged alone (contract v1.1 §A): what the platform set aside rather than stop.
        yield GaugeMetricFamily(
            "anxin_ledger_rows_set_aside",
            "Ledger rows that cannot be processed: kept as evidence, skipped by every replay (all time)",
            value=self.s.store.ledger_skips(limit=0)[0],
        )
        faults = CounterMetricFamily(
            "anxin_line_faults",
            "Lines rejected since start for a failure of the platform's own (read, store, engine), by stage",
            labels=["stage"],
        )
        for stage in ("read", "store", "engine"):
            faults.add_metric([stage], m.line_faults.get(stage, 0))
        yield faults
        yield CounterMetricFamily(
            "anxin_outputs_unstored",
            "Outputs the database refused since start (an alarm is then stored degraded, never lost)",
            value=self.s.store.unstored_outputs,
        )
        pending = self.s.store.webhook_backlog()
        wh = GaugeMetricFamily("anxin_webhook_deliveries", "Webhook deliveries by status", labels=["status"])
        for status, n in sorted(pending.items()):
            wh.add_metric([status], n)
        yield wh


def service_collectors(service: IngestService, *extra) -> list:
    """The service's metrics, its latency histograms and ``extra`` collectors (webhooks,
    MQTT bridge)."""
    return [_Collector(service), *service.latency.collectors(), *extra]


def render_metrics(service: IngestService, *extra) -> tuple[bytes, str]:
    """``service_collectors``' exposition, after the process's and the build's
    (anxin.observe.metrics)."""
    return exposition(service_collectors(service, *extra))


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
