"""Record types of contract v1, section 3 (流数据记录).

Every kind is a msgspec Struct tagged by its ``kind`` field, so one decoder
dispatches the whole union in C. Unknown extra fields are accepted and ignored
here; signature checking works on the record as received (see canonical.py).
Signed records (metering, event) carry integer quantities only; unsigned ones
may carry floats where a gauge or a standard measure reads fractions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Quantity = int | float  # unsigned records only

EVENT_KINDS = (
    "k_factor_change",
    "seal_open",
    "seal_close",
    "tamper",
    "power_loss",
    "power_on",
    "firmware_update",
    "clock_set",
)
EventKind = Literal[
    "k_factor_change",
    "seal_open",
    "seal_close",
    "tamper",
    "power_loss",
    "power_on",
    "firmware_update",
    "clock_set",
]


class _Rec(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True):
    station_id: Id


class Metering(_Rec, tag="metering", kw_only=True, frozen=True):
    """计量记录 — one dispensing, signed by the nozzle's sealed metrology module."""

    nozzle_id: Id
    seq: int
    start: datetime
    end: datetime
    pulses: int
    k_pulses_per_m3: int
    volume_ml: int
    totalizer_start_ml: int
    totalizer_end_ml: int
    key_id: Id
    sig: str


class Event(_Rec, tag="event", kw_only=True, frozen=True):
    """事件记录 — module event (K change, seal, tamper…), signed, sharing ``seq`` with metering."""

    nozzle_id: Id
    seq: int
    ts: datetime
    event: EventKind
    data: dict[str, Any] | None = None
    key_id: Id
    sig: str


class Settlement(_Rec, tag="settlement", kw_only=True, frozen=True):
    """结算记录 — a sale from the station POS / payment platform (unsigned)."""

    order_id: Id
    nozzle_id: Id
    pump_seq: int | None
    ts: datetime
    volume_ml: int
    unit_price_fen: int
    amount_fen: int
    paid_fen: int
    payment: str


class TankReading(_Rec, tag="tank_reading", kw_only=True, frozen=True):
    """液位仪读数 — automatic tank gauge reading (unsigned)."""

    tank_id: Id
    ts: datetime
    level_um: Quantity
    water_um: Quantity
    temp_mc: Quantity


class Delivery(_Rec, tag="delivery", kw_only=True, frozen=True):
    """卸油 — fuel unloaded into a tank."""

    tank_id: Id
    start: datetime
    end: datetime
    volume_ml: Quantity


class VerificationRun(msgspec.Struct, kw_only=True, frozen=True):
    """One run of a verification against a standard measure (标准量器)."""

    flow_ml_per_min: Quantity
    standard_ml: Quantity
    indicated_ml: Quantity
    standard_temp_mc: Quantity
    dispenser_temp_mc: Quantity


class Verification(_Rec, tag="verification", kw_only=True, frozen=True, omit_defaults=True):
    """强制检定 — a mandatory verification result from the verification institute.

    Where the registry lists institutes (contract v1.1 §C) it carries ``institute_id``,
    ``key_id`` and ``sig`` (the institute's signature over its canonical bytes, v1 §4)."""

    nozzle_id: Id
    ts: datetime
    type: Literal["initial", "periodic", "after_repair"]
    org: str
    certificate_no: str
    k_pulses_per_m3: int
    valid_until: datetime
    runs: Annotated[list[VerificationRun], msgspec.Meta(min_length=1, max_length=100)]
    institute_id: Id | None = None
    key_id: Id | None = None
    sig: str | None = None


Record = Union[Metering, Event, Settlement, TankReading, Delivery, Verification]
RECORD_TYPES: tuple[type, ...] = (Metering, Event, Settlement, TankReading, Delivery, Verification)
KINDS: tuple[str, ...] = tuple(t.__struct_config__.tag for t in RECORD_TYPES)  # type: ignore[attr-defined]


def kind_of(rec: Record) -> str:
    return rec.__struct_config__.tag  # type: ignore[return-value]
