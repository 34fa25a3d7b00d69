"""Canonical bytes of a record (contract section 4).

The contract fixes them as Python's
``json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``
of the record as received, without ``sig``. msgspec's encoder with sorted keys
produces the same bytes for records without floats (integers of any size included),
at a tenth of the cost; the rare record with a float takes the reference path. Floats
are detected by decoding them as a marker type the encoder refuses, so no extra scan
is needed.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec


class _Float(str):
    """A JSON float as decoded on the fast path: the encoder refuses it (TypeError)."""

    __slots__ = ()


def _refuse(obj: Any) -> Any:
    raise TypeError(type(obj).__name__)


_fast_decoder = msgspec.json.Decoder(float_hook=_Float)
_plain_decoder = msgspec.json.Decoder()
_sorted_encoder = msgspec.json.Encoder(order="sorted", enc_hook=_refuse)
_encoder = msgspec.json.Encoder()


def canonical_reference(obj: dict[str, Any]) -> bytes:
    """The contract's definition, verbatim."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_of_line(line: bytes) -> tuple[bytes, Any]:
    """(canonical bytes without ``sig``, the ``sig`` value) of one JSON line.

    Raises ``msgspec.DecodeError`` when the line is not JSON; the caller has
    already decoded it once as a typed record, so this does not happen in practice.
    Only for lines ``parse_line`` accepted (nested 16 levels at most, contract v1.1 §A):
    a deeper line is refused here too (DecodeError), never a RecursionError.
    """
    try:
        obj = _fast_decoder.decode(line)
    except RecursionError:
        raise msgspec.DecodeError("nested too deep") from None
    sig = obj.pop("sig", None)
    try:
        return _sorted_encoder.encode(obj), sig
    except TypeError:  # a float
        obj = _plain_decoder.decode(line)
        obj.pop("sig", None)
        return canonical_reference(obj), sig


def canonical_of_dict(obj: dict[str, Any]) -> bytes:
    """Canonical bytes of a record held as a dict (used by signers)."""
    return canonical_of_line(_encoder.encode(obj))[0]
