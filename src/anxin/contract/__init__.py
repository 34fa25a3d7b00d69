"""The data contract v1 (数据契约): record types, parsing, canonical bytes, schema."""

from anxin.contract.parse import Parsed, Reject, parse_line
from anxin.contract.records import (
    Delivery,
    Event,
    Metering,
    Record,
    Settlement,
    TankReading,
    Verification,
    VerificationRun,
)
from anxin.contract.times import format_ts, parse_ts

__all__ = [
    "Delivery",
    "Event",
    "Metering",
    "Parsed",
    "Record",
    "Reject",
    "Settlement",
    "TankReading",
    "Verification",
    "VerificationRun",
    "format_ts",
    "parse_line",
    "parse_ts",
]
