"""Strict parsing of one JSON line into a typed record, or a reject with its reason.

Never raises on bad input: every problem becomes a ``Reject`` whose reason names
what is wrong (field path, expected type, offending value). The reject is decided
by the line alone (contract v1.1 §A): the same line, the same reason, every time.

Bounds (§A): a line of at most 64 KiB; no value nested deeper than 16 levels (the
record object is level 1, each array or object inside adds one); every integer,
known field or unknown, within ±(2⁵³ − 1), and the contract's non-negative
quantities within 0 … 2⁵³ − 1 (``records.py``); and no string holding U+0000, which
PostgreSQL can store neither in text nor in jsonb (so SQLite and PostgreSQL, the
live service and ``anxin check``, all refuse the same lines).

Two paths. The fast one decodes the line into ``strict.py``'s types — the contract's
fields and nothing else, every integer bounded by msgspec as it decodes — and needs no
other look (unless the line spells ``\\u0000``): the common line costs what it cost
before the bounds. Any other line (an unknown field, nested event data, a value that
does not fit, deep nesting found by msgspec's own recursion guard) takes the careful
path: nesting is measured on the bytes first (no decoder ever recurses deeper than
the limit), then the lenient types give v1's reasons for what does not fit, then
every value is walked for the bounds the types do not state.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from typing import Any

import msgspec

from anxin.contract import strict
from anxin.contract.canonical import canonical_of_line
from anxin.contract.records import (
    KINDS,
    MAX_INT,
    Delivery,
    Event,
    Metering,
    Record,
    Verification,
)
from anxin.contract.times import TimestampError, to_us

MAX_LINE_BYTES = 64 * 1024
MAX_DEPTH = 16  # levels of objects and arrays, the record itself being the first

_strict = msgspec.json.Decoder(strict.Record)  # the fast path
_decoder = msgspec.json.Decoder(Record)  # the careful path: v1's reasons
_untyped = msgspec.json.Decoder()
# A JSON string (to its closing quote, or to the end of an unterminated one: never
# backtracks) or a structural character. Possessive quantifiers: linear on any input.
_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\Z)|[\[\]{}:,]', re.DOTALL)


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


def _key_text(token: bytes) -> str:
    """An object key as a path element (``.name``, or ``["odd key"]``)."""
    try:
        key = msgspec.json.decode(token)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return "[?]"
    if isinstance(key, str) and key.isidentifier() and key.isascii():
        return "." + key
    return "[" + msgspec.json.encode(key).decode()[:40] + "]"


def nesting_problem(line: bytes) -> str | None:
    """Why ``line`` nests deeper than ``MAX_DEPTH`` (naming where), or None; measured on
    the bytes, so that no decoder ever recurses into such a line. Strings are skipped,
    so brackets inside them do not count. Cheap when the line holds few brackets (the
    common case: two counts in C); a linear scan otherwise."""
    if line.count(b"[") + line.count(b"{") <= MAX_DEPTH:
        return None
    path: list[str] = []  # one element per open container: ".key", "[i]", or "" (not yet known)
    kinds: list[int] = []  # the open containers' opening bytes
    pending = b""  # the last string token (an object key when a colon follows)
    for m in _TOKENS.finditer(line):
        tok = m.group()
        c = tok[0]
        if c == 0x22:  # "
            pending = tok
        elif c in (0x5B, 0x7B):  # [ {
            if len(kinds) >= MAX_DEPTH:
                where = "$" + "".join(path)
                return f"nested deeper than {MAX_DEPTH} levels (objects and arrays) - at `{where}`"
            kinds.append(c)
            path.append("[0]" if c == 0x5B else "")
        elif c in (0x5D, 0x7D):  # ] }
            if kinds:
                kinds.pop()
                path.pop()
        elif c == 0x3A:  # :  the string before it was a key
            if kinds and kinds[-1] == 0x7B:
                path[-1] = _key_text(pending)
        elif kinds and kinds[-1] == 0x5B:  # , in an array: the next element
            path[-1] = f"[{int(path[-1][1:-1]) + 1}]"
    return None


def _bounds_problem(value: Any, path: str) -> str | None:
    """The first value (in document order) that breaks the bounds the types do not state:
    an integer beyond ±(2⁵³ − 1) anywhere (unknown fields, event data), a string or key
    holding U+0000. ``value`` is nested at most ``MAX_DEPTH`` levels (checked before)."""
    t = type(value)
    if t is int:
        if not -MAX_INT <= value <= MAX_INT:
            shown = str(value) if value.bit_length() <= 256 else f"of {value.bit_length()} bits"
            return f"integer {shown} is outside -(2**53-1) … 2**53-1 - at `{path}`"
    elif t is str:
        if "\x00" in value:
            return f"string holds U+0000 (NUL) - at `{path}`"
    elif t is dict:
        for k, v in value.items():
            if "\x00" in k:
                return f"key holds U+0000 (NUL) - at `{path}`"
            if (problem := _bounds_problem(v, path + _key_text(msgspec.json.encode(k)))) is not None:
                return problem
    elif t is list:
        for i, v in enumerate(value):
            if (problem := _bounds_problem(v, f"{path}[{i}]")) is not None:
                return problem
    return None


def _careful(line: bytes) -> Record | Reject:
    """The careful path: nesting on the bytes, then v1's types, then the other bounds."""
    if (problem := nesting_problem(line)) is not None:
        return Reject(problem)
    try:
        rec = _decoder.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return Reject(_explain(exc, line))
    except UnicodeDecodeError as exc:  # raised as such for bad bytes inside a string
        return Reject(f"not UTF-8: invalid byte at offset {exc.start}")
    try:
        whole = _untyped.decode(line)  # every value, unknown fields included
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:  # e.g. a number beyond a float's range
        return Reject(_explain(exc, line))
    if (problem := _bounds_problem(whole, "$")) is not None:
        return Reject(problem)
    return rec


def parse_line(line: bytes) -> Parsed | Reject:
    """Parse one line (without its newline)."""
    if len(line) > MAX_LINE_BYTES:
        return Reject(f"line of {len(line)} bytes exceeds the {MAX_LINE_BYTES}-byte limit")
    got: Record | Reject | None
    try:
        got = _strict.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # Not the contract's shape alone, or not JSON: the careful path decides, nesting
        # first — whatever msgspec met first (or how deep the caller's stack is).
        got = None
    # U+0000 can only be spelled as an escape: look for one only in a line with a
    # backslash (``0x5C in line`` is a memchr; a substring search costs ten times more).
    if got is None or (0x5C in line and b"\\u0000" in line):
        got = _careful(line)
        if isinstance(got, Reject):
            return got
    rec = got
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
