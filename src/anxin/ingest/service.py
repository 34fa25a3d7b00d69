"""The one ingest path (接入) of the live service: every upload — HTTP, MQTT, file
import — goes through ``IngestService.ingest``.

For each line: parse (a reject names the reason), check that the record belongs to
the uploading station, authenticate signed kinds against the key ring (a forgery is
quarantined as evidence, not dropped), then, under one lock so that the ledger's
order is the order the engine is fed:

1. append the batch to the ledger and commit — what is acknowledged is durable;
2. feed the new records (not the duplicates) to the engine;
3. store what the engine returned (alarms, notes, verifications, estimates),
   idempotently, and announce the new alarms.

A crash between 1 and 3 loses nothing: at start the service loads the newest
checkpoint of the engine and replays the ledger after it, re-deriving the outputs
(their keys make a second row impossible). Registry changes are applied under the
same lock and followed by a checkpoint, so a replay never crosses one.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from anxin.audit.chain import record
from anxin.contract.alarm import Alarm
from anxin.contract.parse import Parsed
from anxin.contract.registry import Registry, parse_registry
from anxin.crypto.keys import KeyRing, KeyVerdict
from anxin.engine import Engine, EngineSettings
from anxin.i18n import t as words
from anxin.ingest.principals import Principal
from anxin.ingest.privacy import policy
from anxin.ingest.readers import Readers, RingSpec, shared_readers
from anxin.ingest.replay import Unprocessable, replay, restored, tick_row, use_registry
from anxin.ingest.screen import Result, UploadResult, screen, settle, tally
from anxin.observe.metrics import Latency
from anxin.observe.tracing import span
from anxin.privacy.policy import Privacy
from anxin.store import partitions
from anxin.store.database import Store, StoreError, now_us
from anxin.store.ledger import LedgerRow, RejectRow

log = logging.getLogger("anxin.ingest")


class NoRegistry(Exception):
    """The service has no registry yet: nothing can be accepted."""


class NotHere(Exception):
    """This process takes no uploads (the scale-out's read side: the receivers do)."""


@dataclass
class Metrics:
    """Counters for /metrics (read without the lock: a torn read is harmless here)."""

    records: Counter[str] = field(default_factory=Counter)  # (status) → n
    by_kind: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, status) → n
    rejects: Counter[str] = field(default_factory=Counter)  # reason class → n
    alarms: Counter[str] = field(default_factory=Counter)  # rule → n
    last_event_us: dict[str, int] = field(default_factory=dict)  # station → newest accepted event time
    last_receipt_us: dict[str, int] = field(default_factory=dict)  # station → receipt time of its last upload
    clock_ahead: int = 0  # records quarantined as CLOCK_AHEAD
    set_aside: Counter[str] = field(default_factory=Counter)  # ledger rows set aside since start, by stage
    line_faults: Counter[str] = field(default_factory=Counter)  # lines rejected for a fault of the platform's, by stage
    ticks: int = 0  # ticks of the platform's clock appended to the ledger
    edge_backlog: dict[str, int] = field(default_factory=dict)  # station → its edge agent's outbox


def reason_class(reason: str) -> str:
    """A short, bounded label for a reject reason (metrics must not explode in labels)."""
    for prefix, label in (
        ("line of", "too_long"),
        ("not UTF-8", "not_utf8"),
        ("unknown kind", "unknown_kind"),
        ("record for station", "wrong_station"),
        ("not permitted", "not_permitted"),
        ("personal data", "personal_data"),
        ("internal error", "internal_error"),
        ("station ", "unknown_station"),
    ):
        if reason.startswith(prefix):
            return label
    if "timestamp" in reason or "time" in reason:
        return "bad_time"
    return "invalid"


class IngestService:
    takes_uploads = True  # (the scale-out's read side takes none)

    def __init__(
        self,
        store: Store,
        settings: EngineSettings = EngineSettings(),
        *,
        checkpoint_every: int = 200_000,
        on_alarms: Callable[[list[Alarm]], None] | None = None,
        clock: Callable[[], int] = now_us,
        privacy: Privacy | None = None,
        readers: Readers | None = None,
    ) -> None:
        """``clock``: the platform's clock in µs (receipt times, ticks); tests inject one.
        ``privacy``: personal data in records (default: tokenised with the database's key).
        ``readers``: how uploads' lines are read, their signatures checked in a worker
        process (default: the process's, :mod:`anxin.ingest.readers`)."""
        self.store = store
        self.readers = readers if readers is not None else shared_readers()
        self._keys: RingSpec | None = None  # the registry's key ring, and its noting copy (readers)
        self.privacy = privacy if privacy is not None else policy(store)
        self.clock = clock
        self.settings = settings
        self.checkpoint_every = checkpoint_every
        self.lock = threading.RLock()
        self.metrics = Metrics()
        self.latency = Latency()  # /metrics' histograms (anxin.observe.metrics)
        self._listeners: list[Callable[[list[Alarm]], None]] = [on_alarms] if on_alarms else []
        self.registry: Registry | None = None
        self.registry_version = 0
        self.engine: Engine | None = None
        self.last_ledger_id = 0
        self._since_checkpoint = 0
        self.replayed = 0
        self.ready = False
        self._recover()

    # ------------------------------------------------------------ start and recovery
    def _recover(self, collect: list[Alarm] | None = None) -> None:
        """Newest checkpoint + replay of the ledger after it (or the whole ledger).

        A ledger row that cannot be processed never blocks it (contract v1.1 §A): a row
        that no longer parses is set aside as it is met; a row the engine fails on (the
        engine may be half-way through it) is set aside and the replay starts again from
        the checkpoint without it. Set aside = marked in the store (``ledger_skipped``),
        logged, counted, shown on /readyz and /metrics, and skipped by every later replay,
        so the same ledger always gives the same engine state, whether the row failed live
        or on a replay. ``collect``: receives the alarms the replay newly stored (for the
        live path to announce). Raises only what the store raises (the database is away)."""
        while True:
            try:
                self._replay(collect)
                return
            except Unprocessable as bad:
                self._set_aside(bad.ledger_id, "engine", bad.reason)

    def _set_aside(self, ledger_id: int, stage: str, reason: str) -> None:
        if self.store.ledger_skip(ledger_id, stage=stage, reason=reason):
            self.metrics.set_aside[stage] += 1
            log.error(
                "ledger row set aside: it cannot be processed, and every replay skips it",
                extra={"ledger_id": ledger_id, "stage": stage, "reason": reason},
            )

    def _replay(self, collect: list[Alarm] | None) -> None:
        self.ready = False
        self.engine = None
        self.replayed = 0
        latest = self.store.registry_latest()
        if latest is None:
            self.ready = True
            return  # an empty platform: waits for its registry
        version, doc = latest
        if partitions.deployment(self.store) == "cluster":  # its rows are the workers' to feed
            raise StoreError(words("db_is_cluster"))
        cp = self.store.checkpoint_latest()
        started = time.perf_counter()
        restored_engine = restored(cp[2] if cp is not None else None)
        if cp is not None and restored_engine is not None:
            self.last_ledger_id, cp_version, _state = cp
            self.engine = restored_engine
            self.registry = self.engine.reg
            self.registry_version = cp_version
        else:
            self.last_ledger_id = 0
            self.registry = parse_registry(doc, f"registry version {version}")
            self.registry_version = version
            self.engine = Engine(self.registry, self.settings)
        self._keys = RingSpec(KeyRing.from_registry(self.registry))
        self.readers.warm()
        self.last_ledger_id, self.replayed = replay(
            self.engine, self.store, self.last_ledger_id, set_aside=self._set_aside, collect=collect
        )
        if version != self.registry_version:  # a change whose checkpoint never came
            self._apply_registry(parse_registry(doc, f"registry version {version}"), version)
        self.ready = True
        log.info(
            "recovered",
            extra={
                "ledger_id": self.last_ledger_id,
                "replayed": self.replayed,
                "registry_version": self.registry_version,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    async def start(self) -> None:
        """Called when the application starts (the scale-out's read side listens then)."""

    async def stop(self) -> None:
        """Called when the application stops."""

    def subscribe(self, listener: Callable[[list[Alarm]], None]) -> None:
        self._listeners.append(listener)

    def _announce(self, alarms: list[Alarm]) -> None:
        """Tell the listeners (SSE, webhooks, incidents) of alarms just committed."""
        if not alarms:
            return
        with span("anxin.alarms.announce", {"anxin.alarms": len(alarms)}):
            for listener in self._listeners:
                try:
                    listener(alarms)
                except Exception:  # a listener's failure must not fail the upload
                    log.exception("alarm listener failed")

    # ------------------------------------------------------------ registry
    def set_registry(
        self,
        document: bytes,
        *,
        author: str,
        reason: str,
        actor: str = "admin",
        action: str = "registry.change",
        detail: dict | None = None,
    ) -> int:
        """Validate and store a new registry version, apply it, checkpoint. Raises
        RegistryError with a one-line reason; nothing changes then. ``actor``/``action``/
        ``detail``: the audit entry's, for a change that is not the administrator's (the
        institute's firmware register, contract v1.1 §F)."""
        reg = parse_registry(document, "registry")
        with self.lock:
            version = self.store.registry_save(document, author=author, reason=reason)
            # Registry and price changes come only from administrators (the admin API,
            # the service's own start): each one in the hash-chained audit log too.
            record(
                self.store,
                actor=actor[:64] or "admin",
                action=action,
                subject=f"registry:{version}",
                reason=reason.replace("\x00", "")[:2000] or "-",
                data={
                    "version": version,
                    "author": author[:128],
                    "sha256": hashlib.sha256(document).hexdigest(),
                    **(detail or {}),
                },
                now_us=time.time_ns() // 1000,
            )
            self._apply_registry(reg, version)
            self.checkpoint()
        return version

    def _apply_registry(self, reg: Registry, version: int) -> None:
        if self.engine is None:
            self.engine = Engine(reg, self.settings)
        else:
            use_registry(self.engine, reg)
        self.registry, self.registry_version = reg, version
        self._keys = RingSpec(KeyRing.from_registry(reg))
        self.readers.warm()

    def registry_document(self) -> bytes | None:
        latest = self.store.registry_latest()
        return latest[1] if latest else None

    # ------------------------------------------------------------ checkpoints
    def checkpoint(self) -> None:
        with self.lock:
            if self.engine is None:
                return
            state = pickle.dumps(self.engine, protocol=pickle.HIGHEST_PROTOCOL)
            self.store.checkpoint_save(self.last_ledger_id, self.registry_version, state)
            self._since_checkpoint = 0

    def final_look(self) -> list[Alarm]:
        """The tank witness once more with every test, as at the end of a batch (the
        demo's replay ends so): its estimates stored like a scheduled look's; returns and
        announces the alarms not raised before."""
        with self.lock:
            if self.engine is None:
                return []
            raised = self.engine.witness_raised
            res = self.engine.witness()
            new = self.store.save_outputs([*(a for a in res.alarms if a.alarm_id not in raised), *res.looks])
        self._announce(new)
        return new

    # ------------------------------------------------------------ the platform's clock
    def tick(self, now_us: int | None = None) -> int:
        """Append the ticks now due to the ledger and feed them (contract v1.1 §D): for
        every station whose pending decisions wait on a watermark that has not moved for
        ``decide_after_silence``, and a clock tick when a DATA_OUTAGE is due. What the
        clock decides is in the ledger first, so a replay decides the same. The background
        job of ``anxin serve`` calls this; returns the ticks appended."""
        new: list[Alarm] = []
        with self.lock:
            engine = self.engine
            if engine is None or not self.ready:
                return 0
            now = self.clock() if now_us is None else now_us
            ticks = engine.due_ticks(now)
            if not ticks:
                return 0
            rows = [tick_row(t) for t in ticks]
            ids = self.store.append(rows, received_us=now)
            try:
                outputs: list[Any] = []
                for tick, ledger_id in zip(ticks, ids):
                    if ledger_id is not None:
                        outputs.extend(engine.tick(tick))
                        self.last_ledger_id = max(self.last_ledger_id, ledger_id)
                        self._since_checkpoint += 1
                new = self.store.save_outputs(outputs)
            except Exception:
                log.exception("engine step failed after a tick was appended: recovering from the ledger")
                self._recover()
            self.metrics.ticks += sum(1 for i in ids if i is not None)
        for a in new:
            self.metrics.alarms[a.rule] += 1
        self._announce(new)
        return sum(1 for i in ids if i is not None)

    def lag(self, now_us: int | None = None) -> dict[str, tuple[float | None, float | None]]:
        """Per station (seconds, not clamped): the platform's clock minus the newest accepted
        event time (negative: a station clock ahead of the platform's), and the age of its
        last receipt. From the engine (which a restart restores), newer uploads first."""
        now = self.clock() if now_us is None else now_us
        m = self.metrics
        newest: dict[str, int] = {}
        receipt: dict[str, int] = {}
        engine = self.engine
        if engine is not None:
            for sid, st in list(engine.stations.items()):
                if st.mark > -(1 << 62):
                    newest[sid] = st.mark
            for sid, w in list(engine.watch.stations.items()):
                if w.rx is not None:
                    receipt[sid] = w.rx
        for sid, t in list(m.last_event_us.items()):
            newest[sid] = max(t, newest.get(sid, t))
        for sid, t in list(m.last_receipt_us.items()):
            receipt[sid] = max(t, receipt.get(sid, t))
        return {
            sid: (
                (now - newest[sid]) / 1e6 if sid in newest else None,
                (now - receipt[sid]) / 1e6 if sid in receipt else None,
            )
            for sid in sorted(set(newest) | set(receipt))
        }

    # ------------------------------------------------------------ one line, alone
    def _append(
        self,
        rows: list[LedgerRow],
        rejects: list[RejectRow],
        received: int,
        parsed: list[tuple[int, Parsed, KeyVerdict | None]],
        results: list[Result],
        source: str,
    ) -> tuple[list[int | None], list[tuple[int, Parsed, KeyVerdict | None]]]:
        """``store.append`` of an upload; when the database refuses what a row holds (not
        when it is away: that raises, a 503), each row alone, and a row it still refuses
        becomes its line's reject. Returns the ledger ids and ``parsed`` without those."""
        try:
            return self.store.append(rows, rejects, received_us=received), parsed
        except Exception as exc:
            if self.store.unavailable(exc):
                raise
            log.warning("an upload could not be appended at once: appending its rows one by one", exc_info=True)
        ids: list[int | None] = []
        kept: list[tuple[int, Parsed, KeyVerdict | None]] = []
        refused: list[RejectRow] = []
        committed = False
        for row, item in zip(rows, parsed):
            try:
                ids += self.store.append([row], received_us=received)
                kept.append(item)
                committed = True
            except Exception as exc:
                if self.store.unavailable(exc):
                    if committed:  # some rows are in the ledger, not in the engine: rebuild it first next time
                        self.engine = None
                    raise
                r = results[item[0]]
                r.status, r.kind, r.key = "rejected", None, None
                r.reason = f"the record could not be stored ({type(exc).__name__}: the database refused a value)"
                self.metrics.line_faults["store"] += 1
                log.error("a record could not be stored: rejected", extra={"line": r.line, "error": repr(exc)[:300]})
                refused.append(RejectRow(row.station_id, source, r.line, r.reason, row.body[:1024]))
        if rejects or refused:
            self.store.append([], [*rejects, *refused], received_us=received)
        return ids, kept

    def _answer_set_aside(
        self,
        parsed: list[tuple[int, Parsed, KeyVerdict | None]],
        ids: list[int | None],
        results: list[Result],
    ) -> None:
        """After a rebuild: the lines of this upload whose rows were set aside are rejects."""
        mine = {lid: i for (i, _p, _v), lid in zip(parsed, ids) if lid is not None}
        if not mine:
            return
        for lid in self.store.ledger_skipped(after=min(mine) - 1) & mine.keys():
            r = results[mine[lid]]
            r.status = "rejected"
            r.reason = (
                "the platform could not process this record (internal error): it is kept in the ledger "
                "as evidence, set aside and reported to the operators"
            )
            self.metrics.line_faults["engine"] += 1

    # ------------------------------------------------------------ ingest
    def ingest(
        self, station_id: str | None, lines: Sequence[bytes], *, source: str, principal: Principal | None = None
    ) -> UploadResult:
        """Take one upload of ``station_id`` (already authenticated by its token; None:
        records of any station, e.g. an institute's). ``principal``: who sends it
        (contract v1.1 §C, :mod:`anxin.ingest.principals`) — a record kind it may not
        send is rejected with that reason. Every network path passes one; None is an
        in-process replay of the platform's own (the demo, a test), trusted as
        ``anxin check`` trusts a data directory."""
        started = time.perf_counter()
        with span("anxin.ingest", {"anxin.lines": len(lines), "anxin.source": source.split(":", 1)[0]}):
            result = self._ingest(station_id, lines, source=source, principal=principal)
        self.latency.ingested(len(result.results), time.perf_counter() - started)
        return result

    def _ingest(
        self, station_id: str | None, lines: Sequence[bytes], *, source: str, principal: Principal | None
    ) -> UploadResult:
        received = self.clock()  # the receipt time of these lines, stored with them (contract v1.1 §B)
        reg, keys = self.registry, self._keys  # (the ring and its noting copy of one registry version)
        if reg is None or keys is None:
            raise NoRegistry("the platform has no registry yet")
        tolerance = self.settings.clock_ahead_tolerance_us
        s = screen(
            lines,
            station_id=station_id,
            principal=principal,
            source=source,
            received=received,
            registry=reg,
            ring=keys.ring,
            ahead_tolerance_us=tolerance,
            privacy=self.privacy,
            readers=self.readers,
            spec=keys,
        )
        self.metrics.line_faults["read"] += s.faults
        results, rejects = s.results, s.rejects
        new_alarms: list[Alarm] = []
        with self.lock:
            if self.engine is None:  # an earlier failure left no usable engine: rebuild it first
                self._recover()
            engine = self.engine
            assert engine is not None
            # committed: acknowledged from here on (a row the database refuses is that line's reject)
            with span("anxin.ledger.append", {"anxin.rows": len(s.rows), "anxin.rejects": len(rejects)}):
                ids, s.parsed = self._append(s.rows, rejects, received, s.parsed, results, source)
            parsed = s.parsed
            self.metrics.clock_ahead += settle(
                s, [i is not None for i in ids], received=received, tolerance_us=tolerance
            )
            try:
                outputs: list[Any] = []
                with span("anxin.engine.feed", {"anxin.records": sum(1 for i in ids if i is not None)}):
                    for (_i, p, verdict), ledger_id in zip(parsed, ids):
                        if ledger_id is not None:
                            outputs.extend(engine.feed(p, verdict, received_us=received))
                            self.last_ledger_id = max(self.last_ledger_id, ledger_id)
                            self._since_checkpoint += 1
                if outputs:
                    with span("anxin.alarms.store", {"anxin.outputs": len(outputs)}):
                        new_alarms = self.store.save_outputs(outputs)
            except Exception:
                # The rows are in the ledger but the engine or the outputs failed midway:
                # the engine's state is no longer that of the ledger. Rebuild it from the
                # checkpoint and the ledger (these rows included) rather than go on: a row
                # the engine fails on is set aside on the way (the replay meets it again),
                # and becomes its line's reject. If that fails too (the database is away),
                # the upload is a 503, the next one tries again and /readyz says so.
                log.exception("engine step failed after the ledger commit: recovering from the ledger")
                recovered: list[Alarm] = []
                self._recover(collect=recovered)
                new_alarms = recovered
                self._answer_set_aside(parsed, ids, results)
                self.checkpoint()  # the next failure replays from here, not from far back
            if self._since_checkpoint >= self.checkpoint_every:
                self.checkpoint()
        m = self.metrics
        for r in results:
            m.records[r.status] += 1
            m.by_kind[(r.kind or "unknown", r.status)] += 1
            if r.status == "rejected":
                m.rejects[reason_class(r.reason or "")] += 1
        for a in new_alarms:
            m.alarms[a.rule] += 1
        for i, p, _ in parsed:
            sid = p.rec.station_id
            m.last_receipt_us[sid] = max(received, m.last_receipt_us.get(sid, received))
            if results[i].status == "accepted" and p.t > m.last_event_us.get(sid, p.t - 1):
                m.last_event_us[sid] = p.t
        self._announce(new_alarms)
        return tally(results)


__all__ = ["IngestService", "UploadResult", "Result", "NoRegistry", "NotHere"]
