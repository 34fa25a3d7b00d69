"""A receipt's evidence bundle from the ledger (the server's side of the receipt page).

Every lookup goes through the ledger's (station, event time) index, bounded by the day the
receipt names: a receipt never makes the server scan a station's whole history.
"""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from sqlalchemy import literal_column, select

from anxin.contract.canonical import canonical_of_line
from anxin.contract.registry import Registry
from anxin.contract.times import LOCAL_OFFSET_US, US_PER_H
from anxin.receipt.check import BETWEEN_MAX, FORMAT, key_of
from anxin.receipt.digest import Receipt, public_sale, receipt_of
from anxin.store import schema as T
from anxin.store.database import Store

DAY_US = 24 * US_PER_H
SEQ_LOOKBACK = 64  # the nozzle's module records read back to find its previous dispensing
_led = T.ledger.c


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _day_start_us(day: str) -> int:
    import datetime as dt

    d = dt.date(int(day[:4]), int(day[4:6]), int(day[6:]))
    return (d - dt.date(1970, 1, 1)).days * DAY_US - LOCAL_OFFSET_US


def _signed(raw: bytes, registry: Registry) -> dict[str, Any] | None:
    """A module record as the bundle ships it: canonical text, sig, and the registry's key."""
    rec = _decode(raw)
    if rec is None:
        return None
    message, sig = canonical_of_line(raw)
    key = key_of(registry, str(rec.get("nozzle_id")), str(rec.get("key_id")))
    return {
        "canonical": message.decode(),
        "sig": sig if isinstance(sig, str) else "",
        "key_id": rec.get("key_id"),
        "alg": key[0] if key else None,
        "public_key": key[1] if key else None,
    }


def find_sale(store: Store, receipt: Receipt) -> tuple[dict[str, Any], int] | None:
    """(the settlement as received, its event time) when the receipt names it exactly —
    the same None for an unknown order and for a wrong digest, so no answer tells the two
    apart."""
    lo = _day_start_us(receipt.day)
    with store.engine.connect() as c:
        rows = c.execute(
            select(_led.body, _led.event_time_us)
            .where(
                _led.station_id == receipt.station_id,
                _led.event_time_us.between(lo - DAY_US, lo + 2 * DAY_US),
                _led.kind == literal_column("'settlement'"),
                _led.natural_key == f"{receipt.station_id}/{receipt.order_id}",
                ~_led.quarantined,
            )
            .order_by(_led.id)
            .limit(1)
        ).all()
    for body, t in rows:
        rec = _decode(bytes(body))
        if rec is None:
            continue
        try:
            got = receipt_of(rec)
        except ValueError:
            continue
        if hmac.compare_digest(got.digest, receipt.digest) and got.day == receipt.day:
            return rec, int(t)
    return None


def _module_rows(store: Store, station_id: str, nozzle_id: str, lo: int, hi: int, limit: int) -> list[Any]:
    with store.engine.connect() as c:
        return list(
            c.execute(
                select(_led.kind, _led.body, _led.event_time_us, _led.id, _led.quarantined)
                .where(
                    _led.station_id == station_id,
                    _led.event_time_us.between(lo, hi),
                    _led.kind.in_(("metering", "event")),
                    _led.natural_key.startswith(f"{nozzle_id}/", autoescape=True),
                )
                .order_by(_led.event_time_us.desc(), _led.id)
                .limit(limit)
            ).all()
        )


def bundle(store: Store, registry: Registry, receipt: Receipt) -> dict[str, Any] | None:
    """The receipt's evidence bundle (:mod:`anxin.receipt.check`), without the server's
    answer; None when the receipt names no sale."""
    found = find_sale(store, receipt)
    if found is None:
        return None
    sale_rec, t = found
    sale = public_sale(sale_rec)
    nozzle_id, seq = str(sale["nozzle_id"]), sale["pump_seq"]
    rows = _module_rows(store, receipt.station_id, nozzle_id, t - 2 * DAY_US, t + DAY_US, 2000)
    # The sale's record: by pump_seq, else the latest dispensing that ended up to 15 min
    # before it (contract v1 §5); of several with that seq (DUPLICATE_SEQ), the first that
    # arrived and is not quarantined, as the engine keeps it.
    candidates = []
    for k, body, tt, row_id, quarantined in rows:
        rec = _decode(bytes(body)) or {}
        if k != "metering":
            continue
        if isinstance(seq, int) and rec.get("seq") == seq:
            candidates.append((bool(quarantined), row_id, body, rec, tt))
        elif seq is None and tt <= t <= tt + 15 * 60_000_000:
            candidates.append((bool(quarantined), -tt, body, rec, tt))
    metering = min(candidates, key=lambda x: (x[0], x[1]))[2:] if candidates else None
    n = registry.nozzle_by_id.get(nozzle_id)
    out: dict[str, Any] = {
        "format": FORMAT,
        "receipt": msgspec.to_builtins(receipt),
        "sale": sale,
        "metering": None,
        "previous": None,
        "between": [],
        "max_flow_ml_per_min": n.max_flow_ml_per_min if n is not None else None,
    }
    if metering is None:
        return out
    body, rec, tt = metering
    out["metering"] = _signed(bytes(body), registry)
    my_seq = rec.get("seq")
    if not isinstance(my_seq, int):
        return out
    back = _module_rows(store, receipt.station_id, nozzle_id, tt - 30 * DAY_US, tt, SEQ_LOOKBACK)
    earlier: list[tuple[int, str, bytes]] = []
    for k, b, _, _, quarantined in back:
        s = (_decode(bytes(b)) or {}).get("seq")
        if isinstance(s, int) and s < my_seq and not quarantined:  # (a quarantined one never arrived: §5)
            earlier.append((s, k, bytes(b)))
    earlier.sort(key=lambda x: x[0])
    prev = next((x for x in reversed(earlier) if x[1] == "metering"), None)
    if prev is not None:
        out["previous"] = _signed(bytes(prev[2]), registry)
        between = [x for x in earlier if prev[0] < x[0] and x[1] == "event"][:BETWEEN_MAX]
        out["between"] = [_signed(bytes(b), registry) for _, _, b in between]
    return out


def alarms_of(
    store: Store, station_id: str, order_id: str, nozzle_id: str, seq: Any, *, t_us: int
) -> list[dict[str, Any]]:
    """The alarms that name the sale or its metering record (rule, severity, time): an
    alarm's time is its record's event time, so they lie within days of the sale's (``t_us``)."""
    a = T.alarms.c
    cond = a.order_id == order_id
    if isinstance(seq, int):
        cond = cond | ((a.nozzle_id == nozzle_id) & (a.seq == seq))
    with store.engine.connect() as c:
        rows = c.execute(
            select(a.rule, a.severity, a.ts)
            .where(a.station_id == station_id, a.ts_us.between(t_us - 2 * DAY_US, t_us + 2 * DAY_US), cond)
            .order_by(a.ord)
            .limit(20)
        ).all()
    return [dict(r._mapping) for r in rows]


def example(store: Store, registry: Registry, station_id: str, *, alg: str | None = None, limit: int = 200) -> Any:
    """A receipt of the station's that verifies (the newest of its last ``limit`` sales;
    ``alg``: of a nozzle with a key of that algorithm), or None — the demo's example."""
    from anxin.receipt.check import check

    nozzles = {n.nozzle_id for n in registry.nozzles if alg is None or n.key_alg == alg}
    with store.engine.connect() as c:
        rows = c.execute(
            select(_led.body)
            .where(_led.station_id == station_id, _led.kind == literal_column("'settlement'"), ~_led.quarantined)
            .order_by(_led.event_time_us.desc())
            .limit(limit)
        ).all()
    for (body,) in rows:
        rec = _decode(bytes(body))
        if rec is None or rec.get("nozzle_id") not in nozzles or rec.get("pump_seq") is None:
            continue
        try:
            receipt = receipt_of(rec)
        except ValueError:
            continue
        b = bundle(store, registry, receipt)
        if b is not None and check(b, receipt, keys=lambda n, k: key_of(registry, n, k)).verified:
            return receipt
    return None
