"""A ledger row fed to the engine again (the replay after a checkpoint), and a tick of the
platform's clock as a ledger row — shared by ``anxin serve`` and the scale-out workers."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from anxin.contract.parse import Parsed, parse_line
from anxin.crypto.keys import KeyVerdict
from anxin.engine import Engine
from anxin.engine.clock import Tick, decode_tick
from anxin.store.database import TICK, LedgerRow


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
