"""Background jobs of the live service on a wall-clock schedule (not the engine's
event time): the daily statistics report (日报), generated for every day that has none,
the platform's clock ticks (DATA_OUTAGE, a silent station's pending decisions), and the
purge of what is past its retention period (anxin.retention, docs/privacy.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("anxin.jobs")


class PeriodicJob:
    """Runs ``fn`` now and then every ``every_s`` seconds in a daemon thread, until stopped;
    a failure is logged and the job goes on."""

    def __init__(self, name: str, fn: Callable[[], object], every_s: float) -> None:
        self.name, self.fn, self.every_s = name, fn, every_s
        self._stop = threading.Event()
        self.ran = threading.Event()  # set after each run of the thread (tests wait on it, never sleep)
        self._thread = threading.Thread(target=self._run, name=f"anxin-job-{name}", daemon=True)

    def start(self) -> PeriodicJob:
        if self.every_s > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def run_once(self) -> object:
        """One run now, in the caller's thread (tests drive a job so, with their own clock)."""
        try:
            result = self.fn()
            if result:
                log.info("job ran", extra={"job": self.name, "result": str(result)})
            return result
        except Exception:
            log.exception("job failed", extra={"job": self.name})
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self.ran.set()
            self._stop.wait(self.every_s)


def daily_reports_job(service, every_s: float) -> PeriodicJob:
    from anxin.reports import make_due_daily_reports

    def run() -> list[int]:
        if service.registry is None:
            return []
        return make_due_daily_reports(service.store, service.registry, now_us=time.time_ns() // 1000)

    return PeriodicJob("daily-reports", run, every_s)


def clock_job(service, every_s: float) -> PeriodicJob:
    """The platform's clock ticks (contract v1.1 §D): every ``every_s`` the service's clock
    is read and the ticks now due are appended to the ledger and fed to the engine
    (:meth:`anxin.ingest.service.IngestService.tick`)."""
    return PeriodicJob("clock", service.tick, every_s)


def purge_job(service, retention, every_s: float) -> PeriodicJob:
    """The purge (:func:`anxin.retention.service.purge`) every ``every_s``: what is past its
    period goes, what an open case or complaint holds stays; each run is audited. (On the
    scale-out's read side too: the workers' checkpoints bound what may go.)"""
    from anxin.retention.service import purge

    def run() -> dict[str, int]:
        now = time.time_ns() // 1000
        report = purge(service.store, retention, now_us=now, actor="system", reason="scheduled purge (anxin serve)")
        return {k: v for k, v in report.purged.items() if v}

    return PeriodicJob("purge", run, every_s)
