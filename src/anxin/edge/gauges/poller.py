"""Polls the configured gauges on an interval and queues their answers in the outbox
as contract records (``tank_reading``: ``station_id, tank_id, ts, level_um, water_um,
temp_mc``; ``delivery``: ``station_id, tank_id, start, end, volume_ml``). Both kinds
are unsigned in the contract: the station's token vouches for them.

Each record is queued under its natural key (the platform's: tank and time), so a
delivery the console reports on every poll, or a reading asked twice within the
console's minute, goes to the platform once. A gauge that does not answer, answers
garbage or answers absurd values costs a logged error naming what is wrong; the other
gauges, the other report and the values that were fine are queued all the same.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime

from anxin.contract.times import US_PER_DAY, US_PER_S, to_us
from anxin.edge.gauges import Gauge, GaugeError, Level, Unload
from anxin.edge.gauges.config import GaugeSettings, GaugeSpec
from anxin.edge.outbox import Outbox, now_us

log = logging.getLogger("anxin.edge.gauges")

# Beyond these a value is a broken probe or console, not a tank (sent, it would only
# mislead the platform's tank model).
MAX_LEVEL_MM = 10_000.0  # no station tank is 10 m deep
TEMP_C = (-60.0, 90.0)
MAX_DELIVERY_L = 100_000.0  # a road tanker carries ~40 m³
NEGATIVE_MM = 1.0  # a probe's -0.0001 in of water is none
READING_KEYS_KEPT_US = 2 * US_PER_DAY  # a console never answers i201 with an older time


Row = tuple[str, int, bytes]  # natural key, event time (µs), the JSON line


def _encode(rec: dict) -> bytes:
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode()


def _um(mm: float) -> int:
    return round(mm * 1000)


def reading_row(settings: GaugeSettings, tank_id: str, lv: Level) -> Row | str:
    """The ``tank_reading`` of a level, or what is wrong with it."""
    if not all(math.isfinite(v) for v in (lv.level_mm, lv.water_mm, lv.temp_c)):
        return f"tank {lv.tank}: values not finite"
    if not -NEGATIVE_MM <= lv.level_mm <= MAX_LEVEL_MM:
        return f"tank {lv.tank}: height {lv.level_mm:.1f} mm outside 0 … {MAX_LEVEL_MM:.0f} mm"
    if not -NEGATIVE_MM <= lv.water_mm <= max(lv.level_mm, 0.0) + NEGATIVE_MM:
        return f"tank {lv.tank}: water {lv.water_mm:.1f} mm outside 0 … the fuel height {lv.level_mm:.1f} mm"
    if not TEMP_C[0] <= lv.temp_c <= TEMP_C[1]:
        return f"tank {lv.tank}: temperature {lv.temp_c:.1f} °C outside {TEMP_C[0]:.0f} … {TEMP_C[1]:.0f} °C"
    at = lv.at.replace(tzinfo=settings.tz)
    ts = at.isoformat(timespec="milliseconds")
    rec = {
        "kind": "tank_reading",
        "station_id": settings.station_id,
        "tank_id": tank_id,
        "ts": ts,
        "level_um": max(0, _um(lv.level_mm)),
        "water_um": max(0, _um(lv.water_mm)),
        "temp_mc": round(lv.temp_c * 1000),
    }
    return f"tank_reading/{tank_id}/{ts}", to_us(at), _encode(rec)


def delivery_row(settings: GaugeSettings, tank_id: str, u: Unload) -> Row | str:
    """The ``delivery`` of an unload, or what is wrong with it."""
    what = f"tank {u.tank}: delivery {u.start:%Y-%m-%d %H:%M}–{u.end:%H:%M}"
    if not math.isfinite(u.volume_l):
        return f"{what}: volume not finite"
    if u.end < u.start:
        return f"{what}: ends before it starts"
    if u.start_volume_l < 0 or u.end_volume_l < 0:
        return f"{what}: negative tank volume ({u.start_volume_l:.1f} L → {u.end_volume_l:.1f} L)"
    if not 0 < u.volume_l <= MAX_DELIVERY_L:
        return f"{what}: volume {u.volume_l:.1f} L outside 0 … {MAX_DELIVERY_L:.0f} L"
    start, end = u.start.replace(tzinfo=settings.tz), u.end.replace(tzinfo=settings.tz)
    end_ts = end.isoformat(timespec="milliseconds")
    rec = {
        "kind": "delivery",
        "station_id": settings.station_id,
        "tank_id": tank_id,
        "start": start.isoformat(timespec="milliseconds"),
        "end": end_ts,
        "volume_ml": round(u.volume_l * 1000),
    }
    return f"delivery/{tank_id}/{end_ts}", to_us(end), _encode(rec)


class GaugePoller:
    """Asks every gauge for its levels and its deliveries, queues the records."""

    def __init__(
        self,
        outbox: Outbox,
        settings: GaugeSettings,
        stop: threading.Event | None = None,
        on_data: Callable[[], None] = lambda: None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox, self.s = outbox, settings
        self.stop = stop or threading.Event()
        self.on_data, self.clock = on_data, clock
        self.gauges: list[tuple[GaugeSpec, Gauge]] = [(spec, spec.open()) for spec in settings.gauges]
        self.unmapped: set[tuple[str, int]] = set()
        self.skew_warned: dict[str, float] = {}
        self.errors = 0  # failed exchanges and refused values since start
        self.next_prune = 0.0

    def close(self) -> None:
        for _, gauge in self.gauges:
            gauge.close()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception:  # the outbox itself failing (a full disk …): retried next interval, loudly
                log.exception("polling the gauges failed")
            self.stop.wait(max(0.0, self.s.interval_s - (time.monotonic() - started)))

    def poll(self) -> int:
        """One round over the gauges: how many new records were queued."""
        queued = 0
        for spec, gauge in self.gauges:
            for report, build in (("i201", self._reading), ("i202", self._delivery)):
                if self.stop.is_set():
                    return queued
                queued += self._ask(spec, gauge, report, build)
        if queued:
            self.on_data()
        if time.monotonic() >= self.next_prune:
            cutoff = int(self.clock() * US_PER_S) - READING_KEYS_KEPT_US
            self.outbox.forget_seen(before_us=cutoff, prefix="tank_reading/")
            self.next_prune = time.monotonic() + 3600
        return queued

    def _ask(self, spec: GaugeSpec, gauge: Gauge, report: str, build) -> int:
        try:
            answer = gauge.levels() if report == "i201" else gauge.unloads()
        except GaugeError as exc:
            self._error(spec, "gauge not read", report=report, error=str(exc))
            return 0
        except Exception as exc:  # a bug must not stop the agent's other work: loudly, and on
            log.exception("gauge adapter failed", extra={"gauge": spec.name, "report": report})
            self._note(spec, error=f"{type(exc).__name__}: {exc}")
            self.errors += 1
            return 0
        self._check_clock(spec, answer.at)
        for problem in answer.problems:
            self._error(spec, "gauge value refused", report=report, error=problem)
        rows: list[Row] = []
        for item in answer.items:
            tank_id = spec.tanks.get(item.tank)
            if tank_id is None:
                if (spec.name, item.tank) not in self.unmapped:
                    self.unmapped.add((spec.name, item.tank))
                    log.warning(
                        "gauge tank not in the configuration's tanks map: not sent",
                        extra={"gauge": spec.name, "tank": item.tank},
                    )
                continue
            row = build(tank_id, item)
            if isinstance(row, str):
                self._error(spec, "gauge value refused", report=report, error=row)
            else:
                rows.append(row)
        n = self.outbox.append_new(f"gauge:{spec.name}", rows)
        self._note(spec, ok=True)
        if n:
            log.info("gauge records queued", extra={"gauge": spec.name, "report": report, "records": n})
        return n

    def _reading(self, tank_id: str, item: Level) -> Row | str:
        return reading_row(self.s, tank_id, item)

    def _delivery(self, tank_id: str, item: Unload) -> Row | str:
        return delivery_row(self.s, tank_id, item)

    def _error(self, spec: GaugeSpec, what: str, **extra) -> None:
        self.errors += 1
        log.error(what, extra={"gauge": spec.name, **extra})
        self._note(spec, error=f"{extra.get('report', '')}: {extra.get('error', '')}")

    def _note(self, spec: GaugeSpec, *, ok: bool = False, error: str | None = None) -> None:
        key = f"gauge:{spec.name}"
        if ok:
            self.outbox.note(**{f"{key}:last_ok_us": now_us()})
        if error is not None:
            self.outbox.note(**{f"{key}:last_error": error, f"{key}:last_error_us": now_us()})

    def _check_clock(self, spec: GaugeSpec, console: datetime) -> None:
        """A console clock far from the agent's: the platform would quarantine its
        readings as CLOCK_AHEAD (ahead) or misplace them (behind) — say so, every 15 min."""
        skew = to_us(console.replace(tzinfo=self.s.tz)) / US_PER_S - self.clock()
        if abs(skew) <= self.s.clock_skew_warn_s + 60:  # + the console's minute resolution
            return
        now = time.monotonic()
        if now - self.skew_warned.get(spec.name, -math.inf) >= 900:
            self.skew_warned[spec.name] = now
            log.warning(
                "gauge clock differs from the agent's: set the console's clock",
                extra={"gauge": spec.name, "skew_s": round(skew), "utc_offset": str(self.s.tz)},
            )
