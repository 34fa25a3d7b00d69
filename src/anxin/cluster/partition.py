"""One partition's engine inside a worker (分区引擎): restored from the partition's newest
checkpoint and its ledger rows after it, then fed the partition's messages in stream
order, each batch committed with its ledger rows, outputs and stream position in one
transaction (:func:`anxin.store.partitions.step`).

A message at or below the stored position is a redelivery and changes nothing. When a
batch fails for its content (a row or output the database refuses, a record the engine
fails on) the engine is restored from the store and the batch goes again one message at
a time; a message the engine fails on alone is kept in the ledger and set aside
(contract v1.1 §A), as ``anxin serve`` does. When the database is away the engine is
restored and the error raised: the batch is not acknowledged and comes again."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from typing import Any

from anxin.cluster.stream import Message
from anxin.contract.alarm import Alarm
from anxin.contract.parse import Parsed, parse_line
from anxin.contract.registry import Registry, parse_registry
from anxin.engine import Engine, EngineSettings
from anxin.engine.clock import decode_tick
from anxin.i18n import t
from anxin.ingest.replay import Unprocessable, newer_registry, replay, restored, tick_row, use_registry
from anxin.ingest.screen import ledger_row
from anxin.store import partitions
from anxin.store.database import Store, StoreError
from anxin.store.ledger import LedgerRow

log = logging.getLogger("anxin.cluster")


class PartitionEngine:
    def __init__(
        self,
        store: Store,
        part: int,
        *,
        owner: str,
        epoch: int,
        settings: EngineSettings = EngineSettings(),
        checkpoint_every: int = 50_000,
    ) -> None:
        """Claim ``part`` for the lease revision ``epoch`` (raises :class:`Fenced` when a
        newer lease holds it) and restore its engine."""
        self.store, self.part, self.owner, self.epoch = store, part, owner, epoch
        self.settings = settings
        self.checkpoint_every = checkpoint_every
        if partitions.deployment(store) == "single":  # anxin serve's rows: no partition would feed them
            raise StoreError(t("db_is_single"))
        self.seq = partitions.claim(store, part, epoch=epoch, owner=owner)
        self.engine: Engine
        self.registry_version = 0
        self.last_ledger_id = 0
        self.replayed = 0
        self.set_aside = 0
        self.unreadable = 0  # messages that were not a receiver's (skipped)
        self.fed = 0  # records and ticks fed since the partition was taken (metrics)
        self._since_checkpoint = 0
        self.restore()

    # ------------------------------------------------------------ state
    def restore(self) -> None:
        """Newest checkpoint of the partition, then its ledger rows after it (a row the
        engine fails on is set aside and the replay starts again without it)."""
        while True:
            try:
                self._replay()
                return
            except Unprocessable as bad:
                self._set_aside(bad.ledger_id, "engine", bad.reason)

    def _replay(self) -> None:
        latest = self.store.registry_latest()
        if latest is None:
            raise RuntimeError("the platform has no registry yet")
        version, doc = latest
        cp = self.store.checkpoint_latest(part=self.part)
        engine = restored(cp[2] if cp is not None else None)
        if cp is not None and engine is not None:
            self.last_ledger_id, self.registry_version = cp[0], cp[1]
            self.engine = engine
        else:  # nothing yet, or a checkpoint of another engine version: the whole ledger
            self.last_ledger_id, self.registry_version = 0, version
            self.engine = Engine(parse_registry(doc, f"registry version {version}"), self.settings)
        self.last_ledger_id, self.replayed = replay(
            self.engine, self.store, self.last_ledger_id, set_aside=self._set_aside, part=self.part
        )
        if version != self.registry_version:
            self.apply_registry(parse_registry(doc, f"registry version {version}"), version)

    def newer_registry(self) -> None:
        """The store's newest registry, when it is newer than the engine's."""
        got = newer_registry(self.store, self.registry_version)
        if got is not None:
            self.apply_registry(got[1], got[0])

    def apply_registry(self, reg: Registry, version: int) -> None:
        """A new registry version, then a checkpoint: a replay never crosses the change."""
        use_registry(self.engine, reg)
        self.registry_version = version
        self.checkpoint()

    def checkpoint(self) -> None:
        state = pickle.dumps(self.engine, protocol=pickle.HIGHEST_PROTOCOL)
        self.store.checkpoint_save(self.last_ledger_id, self.registry_version, state, part=self.part)
        self._since_checkpoint = 0

    def _set_aside(self, ledger_id: int, stage: str, reason: str) -> None:
        if self.store.ledger_skip(ledger_id, stage=stage, reason=reason):
            self.set_aside += 1
            log.error(
                "ledger row set aside: it cannot be processed, and every replay skips it",
                extra={"ledger_id": ledger_id, "stage": stage, "reason": reason, "part": self.part},
            )

    # ------------------------------------------------------------ messages
    def step(self, msgs: Sequence[Message]) -> list[Alarm]:
        """Store and feed the messages after the stored position; returns the new alarms.
        Raises :class:`Fenced` when another lease has the partition now (the caller lets
        it go), or what the store raises when it is away (the engine is restored first)."""
        fresh = [m for m in msgs if m.seq > self.seq]
        if not fresh:
            return []
        if max(m.registry for m in fresh) > self.registry_version:
            self.newer_registry()  # before the records screened under it (a new nozzle's key)
        try:
            return self._commit(fresh)
        except partitions.Fenced:
            raise
        except Exception as exc:
            self.restore()  # the engine may be half-way through the batch
            if self.store.unavailable(exc):
                raise
            log.warning(
                "a batch failed for its content: one message at a time", exc_info=True, extra={"part": self.part}
            )
        new: list[Alarm] = []
        for m in fresh:
            new += self._alone(m)
        return new

    def _commit(self, msgs: Sequence[Message], *, feed: bool = True) -> list[Alarm]:
        rows: list[LedgerRow] = []
        items: list[tuple[Message, Parsed | None]] = []
        for m in msgs:
            row, p = self._row(m)
            if row is None:
                self.unreadable += 1
                log.error("a message is not a receiver's: skipped", extra={"part": self.part, "seq": m.seq})
                continue
            rows.append(row)
            items.append((m, p))
        ids_seen: list[int | None] = []

        def run(ids: list[int | None]) -> list[Any]:
            ids_seen[:] = ids
            out: list[Any] = []
            if not feed:
                return out
            for (m, p), ledger_id in zip(items, ids):
                if ledger_id is None:
                    continue  # already in the ledger: a resend after JetStream's window
                if p is None:
                    out += self.engine.tick(decode_tick(m.body))
                else:
                    out += self.engine.feed(p, m.verdict, received_us=m.received)
            return out

        new = partitions.step(
            self.store, part=self.part, seq_from=self.seq, seq_to=msgs[-1].seq, epoch=self.epoch, rows=rows, feed=run
        )
        self.seq = msgs[-1].seq
        fed = [i for i in ids_seen if i is not None]
        if fed:
            self.last_ledger_id = max(self.last_ledger_id, *fed)
            self._since_checkpoint += len(fed)
            self.fed += len(fed)
        if self._since_checkpoint >= self.checkpoint_every:
            self.checkpoint()
        return new

    def _alone(self, m: Message) -> list[Alarm]:
        try:
            return self._commit([m])
        except partitions.Fenced:
            raise
        except Exception as exc:
            self.restore()
            if self.store.unavailable(exc):
                raise
            log.exception(
                "a message could not be processed: kept in the ledger and set aside", extra={"part": self.part}
            )
        before = self.last_ledger_id
        self._commit([m], feed=False)
        self.last_ledger_id = before  # not fed: the checkpoint must not claim it
        row, _ = self._row(m)
        if row is not None:
            ledger_id = self.store.ledger_id_of(row.digest)
            if ledger_id is not None:
                self._set_aside(ledger_id, "engine", "the engine failed on it")
        return []

    def _row(self, m: Message) -> tuple[LedgerRow | None, Parsed | None]:
        """The ledger row of a message, and its parsed record (None: a tick)."""
        if not m.valid:
            return None, None
        if m.tick:
            try:
                return tick_row(decode_tick(m.body), self.part), None
            except Exception:
                return None, None
        p = parse_line(m.body)
        if not isinstance(p, Parsed):
            return None, None
        row = ledger_row(p, m.body, m.verdict, quarantined=m.quarantined, source=m.source, part=self.part)
        row.received_us = m.received
        return row, p
