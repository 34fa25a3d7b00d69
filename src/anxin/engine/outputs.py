"""What the engine returns besides state: alarms, notes on earlier alarms, and
verification results. Building an alarm is done only when a rule fires, so the
cost of turning records into evidence dicts is off the hot path."""

from __future__ import annotations

from typing import Any

import msgspec

from anxin.contract.alarm import SEVERITY, Alarm, Severity, alarm_id
from anxin.contract.times import format_ts


class AlarmNote(msgspec.Struct, kw_only=True):
    """An addition to the evidence of an alarm already raised (e.g. a late partner)."""

    alarm_id: str
    key: str
    value: Any


def record_evidence(rec: msgspec.Struct) -> dict[str, Any]:
    """A record as plain JSON-able data (kind included), without its signature."""
    data = msgspec.to_builtins(rec)
    data.pop("sig", None)
    return data


def make_alarm(
    rule: str,
    *,
    key: tuple,
    station_id: str,
    ts_us: int,
    message: str,
    evidence: dict[str, Any],
    nozzle_id: str | None = None,
    tank_id: str | None = None,
    seq: int | None = None,
    order_id: str | None = None,
    severity: Severity | None = None,
) -> Alarm:
    return Alarm(
        alarm_id=alarm_id(rule, *key),
        rule=rule,
        severity=severity or SEVERITY[rule],
        station_id=station_id,
        nozzle_id=nozzle_id,
        tank_id=tank_id,
        seq=seq,
        order_id=order_id,
        ts=format_ts(ts_us),
        message=message,
        evidence=evidence,
    )
