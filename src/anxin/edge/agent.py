"""The edge agent (站端上传代理): sources → outbox → platform.

A reader thread tails the files into the outbox (and an MQTT client thread, when
configured, appends its messages; a gauge thread, when tank gauges are configured,
polls them into it); the uploader runs in the calling thread and
takes the outbox head first. Reading never waits for the platform: during an
outage the outbox grows and is drained when the platform is back. ``stop`` (an
Event, set by SIGTERM/SIGINT in the CLI) ends both after their current step.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from anxin.edge.gauges.config import GaugeSettings
from anxin.edge.gauges.poller import GaugePoller
from anxin.edge.outbox import Outbox, now_us
from anxin.edge.sources import FileTailer, MqttSource
from anxin.edge.uploader import Uploader, UploadSettings

log = logging.getLogger("anxin.edge")


@dataclass
class EdgeSettings:
    outbox: Path
    upload: UploadSettings
    sources: list[str] = field(default_factory=list)
    mqtt: str | None = None
    gauges: GaugeSettings | None = None  # tank gauges read directly (anxin.edge.gauges)
    poll_s: float = 0.2  # how often the files are looked at when nothing new came
    status_every_s: float = 60.0  # a "status" log line this often


class Agent:
    def __init__(self, settings: EdgeSettings, stop: threading.Event | None = None) -> None:
        self.s = settings
        self.stop = stop or threading.Event()
        self.wake = threading.Event()
        self.outbox = Outbox(settings.outbox)  # the uploader's connection
        self.tailer = FileTailer(Outbox(settings.outbox), settings.sources) if settings.sources else None
        self.mqtt = MqttSource(Outbox(settings.outbox), settings.mqtt, self.wake.set) if settings.mqtt else None
        self.gauges = (
            GaugePoller(Outbox(settings.outbox), settings.gauges, self.stop, self.wake.set) if settings.gauges else None
        )
        self.uploader = Uploader(self.outbox, settings.upload, self.stop, self.wake)
        self.reader_error: str | None = None

    def close(self) -> None:
        self.uploader.close()
        if self.gauges is not None:
            self.gauges.close()
        boxes = (self.tailer.outbox if self.tailer else None, self.mqtt.outbox if self.mqtt else None)
        for box in (self.outbox, *boxes, self.gauges.outbox if self.gauges else None):
            if box is not None:
                box.close()

    def _started(self, once: bool) -> None:
        log.info(
            "edge agent started",
            extra={
                "server": self.s.upload.server,
                "outbox": str(self.s.outbox),
                "sources": self.s.sources,
                "mqtt": self.s.mqtt,
                "gauges": [g.name for g in self.s.gauges.gauges] if self.s.gauges else [],
                "once": once,
                "backlog": self.outbox.backlog(),
            },
        )

    # ------------------------------------------------------------ run until stopped
    def run(self) -> None:
        self._started(False)
        if self.mqtt is not None:
            self.mqtt.start()
        reader = threading.Thread(target=self._read_loop, name="anxin-edge-reader", daemon=True)
        reader.start()
        gauges = None
        if self.gauges is not None:
            gauges = threading.Thread(target=self.gauges.run, name="anxin-edge-gauges", daemon=True)
            gauges.start()
        try:
            self.uploader.run()
        finally:
            self.stop.set()
            reader.join(timeout=60)
            if gauges is not None:
                gauges.join(timeout=60)
            if self.mqtt is not None:
                self.mqtt.stop()
            log.info("edge agent stopped", extra=self._brief())
            self.close()

    def _read_loop(self) -> None:
        next_status = time.monotonic() + self.s.status_every_s
        while not self.stop.is_set():
            progress = 0
            if self.tailer is not None:
                try:
                    lines, progress = self.tailer.poll()
                except Exception as exc:  # a full disk, a locked database …: retried, loudly
                    log.exception("reading the sources failed")
                    self.reader_error = f"{type(exc).__name__}: {exc}"
                    self.stop.wait(5)
                    continue
                if lines:
                    self.wake.set()
            if time.monotonic() >= next_status:
                log.info("status", extra=self._brief())
                next_status = time.monotonic() + self.s.status_every_s
            if not progress:
                self.stop.wait(self.s.poll_s)

    # ------------------------------------------------------------ --once
    def run_once(self) -> bool:
        """Read what is there, upload until the outbox is empty or the platform is
        unreachable/refusing. True when the outbox is empty at the end."""
        self._started(True)
        try:
            if self.mqtt is not None:
                self.mqtt.start()
                self.mqtt.drain()
                self.mqtt.stop()
            if self.tailer is not None:
                while not self.stop.is_set() and self.tailer.poll(budget=float("inf"))[1]:
                    pass
            if self.gauges is not None:
                self.gauges.poll()
            empty = self.uploader.run(once=True)
            log.info("edge agent finished", extra={**self._brief(), "empty": empty})
            return empty
        finally:
            self.close()

    def _brief(self) -> dict:
        st = self.outbox.status(recent=0)
        oldest = st["oldest_read_us"]
        return {
            "backlog": st["backlog"],
            "oldest_age_s": round((now_us() - oldest) / 1e6, 1) if oldest else None,
            **{
                k: v
                for k, v in st["counters"].items()
                if k in ("read", "accepted", "duplicate", "rejected", "quarantined", "too_large")
            },
            "last_upload_us": st["last_upload_us"],
        }
