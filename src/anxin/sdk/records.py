"""Records as a vendor builds them: fields in, a JSON object out; its canonical bytes
(contract v1 §4, v1.1 §E: RFC 8785), its signature, its verification, and the reason the
platform would reject it (the platform's own parser, :func:`anxin.contract.parse_line`).

A record is a plain ``dict`` — unknown extra fields are kept and signed like the others
(contract §1) — and travels as one JSON line (:func:`to_line`).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import msgspec

from anxin.contract.canonical import canonical_of_dict, canonical_of_line
from anxin.contract.parse import Reject, parse_line
from anxin.contract.records import KINDS
from anxin.crypto.schemes import Signer, load_verifier
from anxin.sdk.keys import KeyPair

__all__ = [
    "record",
    "metering",
    "event",
    "to_line",
    "canonical_bytes",
    "sign",
    "verify",
    "validate",
    "SIGNED_KINDS",
]

SIGNED_KINDS = ("metering", "event", "verification")  # verification: by an institute (v1.1 §C)
_encoder = msgspec.json.Encoder()


def _value(v: Any) -> Any:
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError(f"timestamp {v.isoformat()} has no UTC offset (contract §1: RFC 3339 with an offset)")
        return v.isoformat(timespec="milliseconds")
    return v


def record(kind: str, **fields: Any) -> dict[str, Any]:
    """A record of ``kind`` with ``fields`` (datetimes, which must be aware, become RFC 3339
    text with milliseconds). Nothing is checked here: :func:`validate` says what the
    platform would say."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    return {"kind": kind, **{k: _value(v) for k, v in fields.items()}}


def metering(
    *,
    station_id: str,
    nozzle_id: str,
    seq: int,
    start: datetime | str,
    end: datetime | str,
    pulses: int,
    k_pulses_per_m3: int,
    totalizer_start_ml: int,
    key_id: str,
    volume_ml: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A metering record (contract §3) as an honest module computes it: ``volume_ml`` from
    the pulses and K unless given (the contract's ``round(pulses * 1e6 / k_pulses_per_m3)``),
    and ``totalizer_end_ml`` from it. ``extra``: the vendor's own fields, signed with the rest."""
    if volume_ml is None:
        volume_ml = round(pulses * 1e6 / k_pulses_per_m3)
    return record(
        "metering",
        station_id=station_id,
        nozzle_id=nozzle_id,
        seq=seq,
        start=start,
        end=end,
        pulses=pulses,
        k_pulses_per_m3=k_pulses_per_m3,
        volume_ml=volume_ml,
        totalizer_start_ml=totalizer_start_ml,
        totalizer_end_ml=totalizer_start_ml + volume_ml,
        key_id=key_id,
        **extra,
    )


def event(
    *,
    station_id: str,
    nozzle_id: str,
    seq: int,
    ts: datetime | str,
    event: str,
    key_id: str,
    data: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A module event (contract §3; ``seq`` shared with the module's metering records)."""
    fields: dict[str, Any] = dict(station_id=station_id, nozzle_id=nozzle_id, seq=seq, ts=ts, event=event)
    if data is not None:
        fields["data"] = data
    return record("event", **fields, key_id=key_id, **extra)


def to_line(rec: dict[str, Any]) -> bytes:
    """The record as one JSON line (UTF-8, no newline) for an upload."""
    return _encoder.encode(rec)


def canonical_bytes(rec: dict[str, Any] | bytes) -> bytes:
    """The bytes a signature covers: the record as received without ``sig``, keys sorted at
    every level, no whitespace, UTF-8 (contract §4; RFC 8785 for these records, v1.1 §E).
    ``rec``: a dict, or a line as received (what a verifier must use: the line's own
    fields, unknown ones included)."""
    if isinstance(rec, bytes | bytearray | memoryview):
        return canonical_of_line(bytes(rec))[0]
    return canonical_of_dict(rec)


def sign(rec: dict[str, Any], key: KeyPair | Signer, *, key_id: str | None = None) -> dict[str, Any]:
    """A copy of ``rec`` with ``sig``: base64 of the 64-byte signature (Ed25519, or SM2's
    ``r‖s`` with SM3 and user id 1234567812345678) over its canonical bytes. ``key_id``,
    when given, is set first (it is signed too)."""
    signer = key.signer if isinstance(key, KeyPair) else key
    out = {k: v for k, v in rec.items() if k != "sig"}
    if key_id is not None:
        out["key_id"] = key_id
    out["sig"] = base64.b64encode(signer.sign(canonical_bytes(out))).decode()
    return out


def verify(rec: dict[str, Any] | bytes, public_key: str, alg: str) -> bool:
    """Whether ``rec``'s ``sig`` verifies under ``public_key`` (the registry's text) —
    as the platform decides it. A malformed key is a ``KeyFormatError``."""
    verifier = load_verifier(alg, public_key)
    if isinstance(rec, bytes | bytearray | memoryview):
        message, sig_text = canonical_of_line(bytes(rec))
    else:
        message, sig_text = canonical_bytes(rec), rec.get("sig")
    if not isinstance(sig_text, str):
        return False
    try:
        sig = binascii.a2b_base64(sig_text, strict_mode=True)
    except (binascii.Error, ValueError):
        return False
    return verifier.verify(message, sig)


def validate(rec: dict[str, Any] | bytes) -> str | None:
    """None when the platform would take the record (contract v1, v1.1 §A bounds), else
    the reject reason it would give — the platform's own parser decides. (Whether the
    nozzle, key and station are registered, and the signature, are the platform's to
    judge with its registry: see :func:`verify`.) A module record not yet signed is checked
    as it will be once signed (``sig`` is its only field a signer adds)."""
    if isinstance(rec, dict) and rec.get("kind") in ("metering", "event") and "sig" not in rec:
        rec = {**rec, "sig": ""}
    try:
        line = bytes(rec) if isinstance(rec, bytes | bytearray | memoryview) else to_line(rec)
    except (TypeError, OverflowError) as exc:  # e.g. an integer beyond 64 bits, a set
        return f"not encodable as JSON: {exc}"
    got = parse_line(line)
    return got.reason if isinstance(got, Reject) else None
