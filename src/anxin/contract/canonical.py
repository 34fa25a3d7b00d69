"""Canonical bytes of a record (contract section 4).

The contract fixes them as Python's
``json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``
of the record as received, without ``sig``. orjson produces the same bytes for
records without floats or integers beyond 64 bits, at a tenth of the cost; the
rare record with either takes the reference path. Floats are detected by
decoding them as ``Decimal`` (which orjson refuses), so no extra scan is needed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import orjson

_fast_decoder = msgspec.json.Decoder(float_hook=Decimal)
_plain_decoder = msgspec.json.Decoder()


def canonical_reference(obj: dict[str, Any]) -> bytes:
    """The contract's definition, verbatim."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_of_line(line: bytes) -> tuple[bytes, Any]:
    """(canonical bytes without ``sig``, the ``sig`` value) of one JSON line.

    Raises ``msgspec.DecodeError`` when the line is not JSON; the caller has
    already decoded it once as a typed record, so this does not happen in practice.
    """
    obj = _fast_decoder.decode(line)
    sig = obj.pop("sig", None)
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), sig
    except TypeError:  # a float (as Decimal) or an integer beyond 64 bits
        obj = _plain_decoder.decode(line)
        obj.pop("sig", None)
        return canonical_reference(obj), sig


def canonical_of_dict(obj: dict[str, Any]) -> bytes:
    """Canonical bytes of a record held as a dict (used by signers)."""
    try:
        return canonical_of_line(orjson.dumps(obj))[0]
    except TypeError:  # an integer beyond 64 bits
        return canonical_reference({k: v for k, v in obj.items() if k != "sig"})
