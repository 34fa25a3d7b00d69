"""The engine restored from the store — its newest checkpoint, then the ledger rows after
it fed again — and a tick of the platform's clock as a ledger row: shared by ``anxin
serve`` and the scale-out's partition engines."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from typing import Any

import msgspec

from anxin.contract.alarm import Alarm
from anxin.contract.parse import Parsed, parse_line
from anxin.contract.registry import Registry, parse_registry
from anxin.crypto.keys import KeyVerdict
from anxin.engine import Engine
from anxin.engine.clock import Tick, decode_tick
from anxin.store.database import Store
from anxin.store.ledger import TICK, LedgerRow


class Unprocessable(Exception):
    """The engine failed on one ledger row (a bug, or a record the bounds let through)."""

    def __init__(self, ledger_id: int, exc: BaseException) -> None:
        super().__init__(ledger_id)
        self.ledger_id = ledger_id
        self.reason = f"{type(exc).__name__}: {exc}"[:400]


def restored(state: bytes | None) -> Engine | None:
    """The engine of a checkpoint, or None: no checkpoint, or one of another engine version
    (the whole ledger is replayed instead)."""
    engine = pickle.loads(state) if state is not None else None
    return engine if isinstance(engine, Engine) and engine.state_version == Engine.STATE_VERSION else None


def replay(
    engine: Engine,
    store: Store,
    after: int,
    *,
    set_aside: Callable[[int, str, str], None],
    part: int | None = None,
    collect: list[Alarm] | None = None,
) -> tuple[int, int]:
    """Feed the ledger rows after ``after`` (of ``part``) again, storing their outputs;
    returns (the last ledger id, rows fed). A row set aside before is skipped; one that no
    longer parses is set aside (``set_aside(ledger_id, stage, reason)``); one the engine
    fails on raises :class:`Unprocessable` (the caller sets it aside and starts again).
    ``collect``: receives the alarms the replay newly stored."""
    aside = store.ledger_skipped(after=after)
    last, fed = after, 0
    for ledger_id, body, verdict, received, kind in store.ledger_after(after, part=part):
        if ledger_id not in aside:  # (contract v1.1 §A: never fed again)
            try:
                outputs = feed_row(engine, kind, body, verdict, received)
            except Exception as exc:
                raise Unprocessable(ledger_id, exc) from exc
            if isinstance(outputs, str):  # accepted by an earlier version, out of bounds now
                set_aside(ledger_id, "parse", outputs)
            elif outputs:
                new = store.save_outputs(outputs)
                if collect is not None:
                    collect.extend(new)
            fed += 1
        last = ledger_id
    return last, fed


def newer_registry(store: Store, than: int) -> tuple[int, Registry] | None:
    """(version, registry) of the store's newest registry when it is newer than ``than``;
    its document is read only then (a process polling for changes reads a number)."""
    if store.registry_version() <= than:
        return None
    latest = store.registry_latest()
    if latest is None or latest[0] <= than:
        return None
    return latest[0], parse_registry(latest[1], f"registry version {latest[0]}")


def use_registry(engine: Engine, reg: Registry) -> None:
    """A new registry version for a running engine (its tank log's too)."""
    engine.reg = reg
    if engine.tanklogs is not None:
        engine.tanklogs.reg = reg


def feed_row(engine: Engine, kind: str, body: bytes, verdict: int | None, received: int) -> list[Any] | str:
    """Feed one ledger row with the receipt time stored with it (never the clock again):
    the engine's outputs, or why the row no longer parses (accepted by an earlier
    version, out of bounds now: the caller sets it aside). Raises what the engine raises."""
    if kind == TICK:  # the platform's clock, as it ticked live
        return engine.tick(msgspec.structs.replace(decode_tick(body), received_us=received))
    p = parse_line(body)
    if not isinstance(p, Parsed):
        return p.reason
    return engine.feed(p, None if verdict is None else KeyVerdict(verdict), received_us=received)


def tick_row(tick: Tick, part: int | None = None) -> LedgerRow:
    """A tick as a ledger row (kind ``tick``; a clock tick has the station ""; in the
    scale-out each partition's clock ticks on its own, so its key names the partition)."""
    body = tick.body()
    key = f"{tick.station_id or ''}/{tick.received_us}"
    if part is not None and not tick.station_id:
        key += f"#{part}"
    return LedgerRow(
        kind=TICK,
        station_id=tick.station_id or "",
        natural_key=key,
        event_time_us=tick.until_us if tick.until_us is not None else tick.received_us,
        digest=hashlib.sha256(b"%s\0%s\0%s" % (TICK.encode(), key.encode(), body)).digest(),
        verdict=None,
        quarantined=False,
        source="clock",
        body=body,
        part=part,
        received_us=tick.received_us,
    )
