"""Natural keys (contract §4, DESIGN.md): what makes every step idempotent. Metrology
and events by (nozzle_id, seq), settlements by (station_id, order_id), tank readings
and deliveries by (tank_id, time), verifications by (nozzle_id, ts)."""

from __future__ import annotations

import hashlib

from anxin.contract.parse import Parsed
from anxin.contract.records import kind_of


def natural_key(p: Parsed) -> str:
    r = p.rec
    kind = kind_of(r)
    if kind in ("metering", "event"):
        return f"{r.nozzle_id}/{r.seq}"  # type: ignore[union-attr]
    if kind == "settlement":
        return f"{r.station_id}/{r.order_id}"  # type: ignore[union-attr]
    if kind in ("tank_reading", "delivery"):
        return f"{r.tank_id}/{p.t}"  # type: ignore[union-attr]
    return f"{r.nozzle_id}/{p.t}"  # type: ignore[union-attr]


def ledger_digest(kind: str, key: str, p: Parsed) -> bytes:
    """SHA-256 of (kind, natural key, content digest): equal exactly for an identical
    resend (for signed kinds the content is the canonical bytes, signature aside)."""
    return hashlib.sha256(b"%s\0%s\0%s" % (kind.encode(), key.encode(), p.digest)).digest()
