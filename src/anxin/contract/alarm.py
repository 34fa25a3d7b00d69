"""Alarm records (报警) as written to ``alarms.jsonl`` and sent by the live service."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import msgspec

RULES: tuple[str, ...] = (
    "VOLUME_MISMATCH",
    "AMOUNT_MISMATCH",
    "PRICE_MISMATCH",
    "UNMATCHED_SETTLEMENT",
    "UNMATCHED_METERING",
    "BAD_SIGNATURE",
    "UNKNOWN_DEVICE",
    "SEQUENCE_GAP",
    "DUPLICATE_SEQ",
    "METROLOGY_INCONSISTENT",
    "TOTALIZER_JUMP",
    "FLOW_IMPLAUSIBLE",
    "K_FACTOR_CHANGE",
    "SEAL_BREACH",
    "UNVERIFIED_USE",
    "METER_DRIFT",
    "TANK_LOSS",
    "STATION_BIAS",  # beyond contract v1: NIST Handbook 44 predominance, from the tank witness
    "CLOCK_AHEAD",  # contract v1.1 §B: event time ahead of the receipt time (quarantined)
    "DATA_OUTAGE",  # contract v1.1 §D: a station, tank gauge or module silent while expected (live)
    "UNAPPROVED_FIRMWARE",  # contract v1.1 §F: an update to a version not approved for the model
    "SELF_LOCK_CLEARED",  # §F: a self-lock cleared with no verification within 2 h
)
RECORD_LEVEL_RULES: tuple[str, ...] = (*RULES[:15], "UNAPPROVED_FIRMWARE", "SELF_LOCK_CLEARED")
# Decided by the platform's clock, which a batch check does not have (contract v1.1 §D):
# a live service raises them, ``anxin check`` never does.
LIVE_ONLY_RULES: tuple[str, ...] = ("DATA_OUTAGE",)

Severity = Literal["critical", "major", "minor"]

SEVERITY: dict[str, Severity] = {
    "VOLUME_MISMATCH": "critical",
    "AMOUNT_MISMATCH": "major",
    "PRICE_MISMATCH": "major",
    "UNMATCHED_SETTLEMENT": "major",
    "UNMATCHED_METERING": "major",
    "BAD_SIGNATURE": "critical",
    "UNKNOWN_DEVICE": "critical",
    "SEQUENCE_GAP": "major",
    "DUPLICATE_SEQ": "critical",
    "METROLOGY_INCONSISTENT": "critical",
    "TOTALIZER_JUMP": "critical",
    "FLOW_IMPLAUSIBLE": "minor",
    "K_FACTOR_CHANGE": "critical",
    "SEAL_BREACH": "critical",
    "UNVERIFIED_USE": "major",
    "METER_DRIFT": "critical",
    "TANK_LOSS": "major",
    "STATION_BIAS": "major",
    "CLOCK_AHEAD": "major",
    "DATA_OUTAGE": "major",
    "UNAPPROVED_FIRMWARE": "major",  # critical when the hash is a known cheat program (the alarm's own)
    "SELF_LOCK_CLEARED": "critical",
}


class Alarm(msgspec.Struct, kw_only=True):
    """One alarm; ``alarm_id`` is derived from what it is about, so it is the same in
    batch and live, and a resend can never make a second one."""

    alarm_id: str
    rule: str
    severity: Severity
    station_id: str
    nozzle_id: str | None = None
    tank_id: str | None = None
    seq: int | None = None
    order_id: str | None = None
    ts: str
    message: str
    evidence: dict[str, Any] = {}


def alarm_id(rule: str, *key: object) -> str:
    """Deterministic id from the rule and the natural key of what the alarm is about."""
    text = "\x1f".join([rule, *(str(k) for k in key)])
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()
