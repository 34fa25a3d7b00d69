"""Record types of contract v1, section 3 (流数据记录).

Every kind is a msgspec Struct tagged by its ``kind`` field, so one decoder
dispatches the whole union in C. Unknown extra fields are accepted and ignored
here; signature checking works on the record as received (see canonical.py).
Signed records (metering, event) carry integer quantities only; unsigned ones
may carry floats where a gauge or a standard measure reads fractions.

Bounds (contract v1.1 §A), checked by msgspec as it decodes: every integer lies in
±(2⁵³ − 1) (``Int``), quantities that cannot be negative — ``_ml``, ``_fen``,
``_um``, ``seq``, ``pulses``, ``k_pulses_per_m3`` — in 0 … 2⁵³ − 1 (``Count``); a
float quantity within the same range. The rest of §A (unknown fields, nesting) is
``parse.py``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
MAX_INT = 2**53 - 1  # the largest integer a record may hold (JavaScript's, and a float's, exact range)
Int = Annotated[int, msgspec.Meta(ge=-MAX_INT, le=MAX_INT)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]  # a quantity that cannot be negative
_Float = Annotated[float, msgspec.Meta(ge=-MAX_INT, le=MAX_INT)]
_NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0, le=MAX_INT)]
Quantity = Count | _NonNegativeFloat  # unsigned records only
SignedQuantity = Int | _Float  # unsigned records only (temperatures)

EVENT_KINDS = (
    "k_factor_change",
    "seal_open",
    "seal_close",
    "tamper",
    "power_loss",
    "power_on",
    "firmware_update",
    "clock_set",
    "self_lock",  # contract v1.1 §F: the dispenser locked itself (data {"reason"})
    "unlock",  # §F: its lock cleared (authorised: a verification within 2 h)
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
    "self_lock",
    "unlock",
]


class _Rec(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True):
    station_id: Id


class Metering(_Rec, tag="metering", kw_only=True, frozen=True):
    """计量记录 — one dispensing, signed by the nozzle's sealed metrology module."""

    nozzle_id: Id
    seq: Count
    start: datetime
    end: datetime
    pulses: Count
    k_pulses_per_m3: Count
    volume_ml: Count
    totalizer_start_ml: Count
    totalizer_end_ml: Count
    key_id: Id
    sig: str


class Event(_Rec, tag="event", kw_only=True, frozen=True):
    """事件记录 — module event (K change, seal, tamper…), signed, sharing ``seq`` with metering."""

    nozzle_id: Id
    seq: Count
    ts: datetime
    event: EventKind
    data: dict[str, Any] | None = None
    key_id: Id
    sig: str


class Settlement(_Rec, tag="settlement", kw_only=True, frozen=True):
    """结算记录 — a sale from the station POS / payment platform (unsigned)."""

    order_id: Id
    nozzle_id: Id
    pump_seq: Count | None
    ts: datetime
    volume_ml: Count
    unit_price_fen: Count
    amount_fen: Count
    paid_fen: Count
    payment: str


class TankReading(_Rec, tag="tank_reading", kw_only=True, frozen=True):
    """液位仪读数 — automatic tank gauge reading (unsigned)."""

    tank_id: Id
    ts: datetime
    level_um: Quantity
    water_um: Quantity
    temp_mc: SignedQuantity


class Delivery(_Rec, tag="delivery", kw_only=True, frozen=True):
    """卸油 — fuel unloaded into a tank."""

    tank_id: Id
    start: datetime
    end: datetime
    volume_ml: Quantity


class VerificationRun(msgspec.Struct, kw_only=True, frozen=True):
    """One run of a verification against a standard measure (标准量器)."""

    flow_ml_per_min: SignedQuantity
    standard_ml: Quantity
    indicated_ml: Quantity
    standard_temp_mc: SignedQuantity
    dispenser_temp_mc: SignedQuantity


class Verification(_Rec, tag="verification", kw_only=True, frozen=True, omit_defaults=True):
    """强制检定 — a mandatory verification result from the verification institute.

    Where the registry lists institutes (contract v1.1 §C) it carries ``institute_id``,
    ``key_id`` and ``sig`` (the institute's signature over its canonical bytes, v1 §4)."""

    nozzle_id: Id
    ts: datetime
    type: Literal["initial", "periodic", "after_repair"]
    org: str
    certificate_no: str
    k_pulses_per_m3: Count
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
