"""The record types as the parser's fast path decodes them: the same classes with no
field beyond the contract's (``forbid_unknown_fields``) and no value of free shape
(an event's ``data`` holds scalars only).

A line that decodes into these has every integer within the bounds of contract v1.1
§A (the annotated fields of ``records.py``) and nests no deeper than the contract's
own shape (a verification's runs: 3 levels), so it needs no further look. Any other
line — an unknown field, nested event data, or a value that does not fit — takes the
careful path of ``parse.py``, which decides it as the lenient types of ``records.py``
plus the bounds on what they do not type. Each class here subclasses its ``records``
class (``isinstance`` holds; the engine cannot tell them apart) and keeps its name.
"""

from __future__ import annotations

from typing import Annotated, Union

import msgspec

from anxin.contract import records as r

Scalar = str | r.Int | float | bool | None


class Metering(r.Metering, tag="metering", kw_only=True, frozen=True, forbid_unknown_fields=True):
    __doc__ = r.Metering.__doc__


class Event(r.Event, tag="event", kw_only=True, frozen=True, forbid_unknown_fields=True):
    __doc__ = r.Event.__doc__

    data: dict[str, Scalar] | None = None


class Settlement(r.Settlement, tag="settlement", kw_only=True, frozen=True, forbid_unknown_fields=True):
    __doc__ = r.Settlement.__doc__


class TankReading(r.TankReading, tag="tank_reading", kw_only=True, frozen=True, forbid_unknown_fields=True):
    __doc__ = r.TankReading.__doc__


class Delivery(r.Delivery, tag="delivery", kw_only=True, frozen=True, forbid_unknown_fields=True):
    __doc__ = r.Delivery.__doc__


class VerificationRun(r.VerificationRun, kw_only=True, frozen=True, forbid_unknown_fields=True):
    __doc__ = r.VerificationRun.__doc__


class Verification(r.Verification, tag="verification", kw_only=True, frozen=True, forbid_unknown_fields=True):
    __doc__ = r.Verification.__doc__

    runs: Annotated[list[VerificationRun], msgspec.Meta(min_length=1, max_length=100)]  # type: ignore[assignment]


Record = Union[Metering, Event, Settlement, TankReading, Delivery, Verification]
