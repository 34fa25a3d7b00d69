"""The engine's outputs in the store (引擎输出): alarms (new ones enqueued for every
active webhook in the same transaction), notes added to an alarm's evidence, the start
of a station's watch, the tank witness's looks and verification results — each
idempotent on its natural key, so a replay stores nothing twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import select, update

from anxin.contract.alarm import Alarm
from anxin.contract.records import MAX_INT
from anxin.contract.times import parse_ts
from anxin.engine.clock import WatchStart
from anxin.engine.outputs import AlarmNote
from anxin.engine.witness import WitnessLook
from anxin.store import schema as T
from anxin.store.witness import save_look


def save_on(c: Any, insert: Any, outputs: Sequence[Any], *, raised: int) -> list[Alarm]:
    """Store ``outputs`` in the transaction ``c``; returns the alarms new to the store, in
    order. ``raised``: the platform's time the new alarms are stamped with."""
    new: list[Alarm] = []
    for o in outputs:
        if isinstance(o, Alarm):
            stmt = (
                insert(T.alarms)
                .values(
                    alarm_id=o.alarm_id,
                    rule=o.rule,
                    severity=o.severity,
                    station_id=o.station_id,
                    nozzle_id=o.nozzle_id,
                    tank_id=o.tank_id,
                    seq=o.seq,
                    order_id=o.order_id,
                    ts=o.ts,
                    ts_us=parse_ts(o.ts),
                    message=o.message,
                    evidence=o.evidence,
                    raised_us=raised,
                )
                .on_conflict_do_nothing(index_elements=["alarm_id"])
                .returning(T.alarms.c.ord)
            )
            if c.execute(stmt).first() is not None:  # (rowcount is not reliable here on psycopg)
                new.append(o)
        elif isinstance(o, AlarmNote):
            row = c.execute(select(T.alarms.c.evidence).where(T.alarms.c.alarm_id == o.alarm_id)).first()
            if row is not None and o.key not in row[0]:
                ev = dict(row[0])
                ev[o.key] = o.value
                c.execute(update(T.alarms).where(T.alarms.c.alarm_id == o.alarm_id).values(evidence=ev))
        elif isinstance(o, WatchStart):
            c.execute(
                insert(T.station_watch)
                .values(station_id=o.station_id, since_us=o.received_us)
                .on_conflict_do_nothing(index_elements=["station_id"])
            )
        elif isinstance(o, WitnessLook):
            save_look(c, insert, o)  # each nozzle's and each tank's figures
        else:  # a verification result
            c.execute(
                insert(T.verifications)
                .values(
                    nozzle_id=o.nozzle_id,
                    ts=o.ts,
                    station_id=o.station_id,
                    passed=bool(o.passed),
                    result=msgspec.to_builtins(o),
                )
                .on_conflict_do_nothing(index_elements=["nozzle_id", "ts"])
            )
    if new:
        enqueue_webhooks(c, insert, [a.alarm_id for a in new], due=raised)
    return new


def enqueue_webhooks(c: Any, insert: Any, alarm_ids: Sequence[str], *, due: int) -> None:
    """One delivery per active webhook and new alarm, in the alarms' transaction, due at
    ``due`` (the platform's time now)."""
    hooks = c.execute(select(T.webhooks.c.id).where(T.webhooks.c.active.is_(True))).scalars().all()
    if hooks and alarm_ids:
        c.execute(
            insert(T.webhook_deliveries).on_conflict_do_nothing(index_elements=["webhook_id", "alarm_id"]),
            [
                {"webhook_id": h, "alarm_id": a, "status": "pending", "attempts": 0, "next_attempt_us": due}
                for a in alarm_ids
                for h in hooks
            ],
        )


def degraded_alarm(a: Alarm, why: str) -> Alarm:
    """An alarm that could not be stored, as it can be: the same id, rule, severity,
    station and time; ids that are plain text kept, the evidence replaced by why."""

    def plain(s: str | None) -> str | None:
        return s if s is not None and "\x00" not in s and len(s) <= 128 else None

    return Alarm(
        alarm_id=a.alarm_id,
        rule=a.rule,
        severity=a.severity,
        station_id=a.station_id,
        nozzle_id=plain(a.nozzle_id),
        tank_id=plain(a.tank_id),
        seq=a.seq if a.seq is not None and -MAX_INT <= a.seq <= MAX_INT else None,
        order_id=plain(a.order_id),
        ts=a.ts,
        message=a.message.replace("\x00", "\\u0000")[:2000],
        evidence={
            "unstorable": why,
            "note": "the evidence could not be stored as computed; the ledger holds the record",
        },
    )


def alarm_dict(m: Any) -> dict[str, Any]:
    return {
        "alarm_id": m["alarm_id"],
        "rule": m["rule"],
        "severity": m["severity"],
        "station_id": m["station_id"],
        "nozzle_id": m["nozzle_id"],
        "tank_id": m["tank_id"],
        "seq": m["seq"],
        "order_id": m["order_id"],
        "ts": m["ts"],
        "message": m["message"],
        "evidence": m["evidence"],
    }
