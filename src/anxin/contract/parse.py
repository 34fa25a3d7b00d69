"""Strict parsing of one JSON line into a typed record, or a reject with its reason.

Never raises on bad input: every problem becomes a ``Reject`` whose reason names
what is wrong (field path, expected type, offending value).
"""

from __future__ import annotations

import binascii
import hashlib

import msgspec

from anxin.contract.canonical import canonical_of_line
from anxin.contract.records import (
    KINDS,
    Delivery,
    Event,
    Metering,
    Record,
    Verification,
)
from anxin.contract.times import TimestampError, to_us

MAX_LINE_BYTES = 64 * 1024

_decoder = msgspec.json.Decoder(Record)


class Parsed(msgspec.Struct, frozen=True):
    """A record that passed parsing, with what every later stage needs.

    ``t`` is the event time (µs): ``end`` for metering and delivery, ``ts`` for
    the rest. ``t0`` is the start of a metering or delivery (else ``t``).
    ``digest`` identifies the content for idempotency (natural key → same
    content?). ``canonical``/``sig`` are set for signed kinds only.
    """

    rec: Record
    t: int
    t0: int
    digest: bytes
    canonical: bytes | None = None
    sig: bytes | None = None


class Reject(msgspec.Struct, frozen=True):
    reason: str


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def _times(rec: Record) -> tuple[int, int]:
    if isinstance(rec, Metering):
        return to_us(rec.end), to_us(rec.start)
    if isinstance(rec, Delivery):
        return to_us(rec.end), to_us(rec.start)
    t = to_us(rec.ts)
    if isinstance(rec, Verification):
        to_us(rec.valid_until)
    return t, t


def _explain(exc: Exception, line: bytes) -> str:
    msg = str(exc)
    if "`$.kind`" in msg and msg.startswith("Invalid value"):
        kind = msg.split("'")[1] if "'" in msg else "?"
        return f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})"
    if isinstance(exc, msgspec.ValidationError):
        return msg
    if not line.strip():
        return "empty line"
    if True:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return f"not UTF-8: invalid byte at offset {uexc.start}"
        return f"not valid JSON: {msg}"
    return msg


def _check_event(rec: Event) -> str | None:
    if rec.event == "k_factor_change":
        data = rec.data or {}
        for key in ("old", "new"):
            value = data.get(key)
            if type(value) is not int or value <= 0:
                return f"k_factor_change data.{key} must be a positive integer, got {value!r}"
    return None


def parse_line(line: bytes) -> Parsed | Reject:
    """Parse one line (without its newline)."""
    if len(line) > MAX_LINE_BYTES:
        return Reject(f"line of {len(line)} bytes exceeds the {MAX_LINE_BYTES}-byte limit")
    try:
        rec = _decoder.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return Reject(_explain(exc, line))
    except UnicodeDecodeError as exc:  # raised as such for bad bytes inside a string
        return Reject(f"not UTF-8: invalid byte at offset {exc.start}")
    try:
        t, t0 = _times(rec)
    except TimestampError as exc:
        return Reject(str(exc))
    if isinstance(rec, (Metering, Event)):
        if isinstance(rec, Event) and (problem := _check_event(rec)) is not None:
            return Reject(problem)
        canonical, sig_text = canonical_of_line(line)
        try:
            sig = binascii.a2b_base64(sig_text, strict_mode=True) if isinstance(sig_text, str) else b""
        except (binascii.Error, ValueError):
            sig = b""  # undecodable signature: a forgery to quarantine, not a reject
        return Parsed(rec, t, t0, _digest(canonical), canonical, sig)
    # Unsigned records: the digest only tells an identical resend from a conflicting one.
    return Parsed(rec, t, t0, _digest(line))
