"""What ingest does with personal data found in a record (pure: no I/O).

The contract keeps a record's unknown fields; the platform keeps the payment method only.
So every unknown field (at any depth, its name too) and a settlement's ``payment`` are
looked at (:func:`anxin.privacy.detect.find`); the contract's own fields — ids,
totalizers, sequence numbers, digests — never are. What is found:

* ``tokenise`` (the default): in an unsigned record (settlement, tank reading, delivery,
  an unsigned verification) each finding is replaced by ``[kind:token]``, the token a
  keyed HMAC-SHA256 of the normalised value (the same card gives the same token in every
  record, and nobody without the key can tell which card it was); without a key (``anxin
  check``, which stores nothing) by ``[kind]``. The record is then read again from its
  new bytes, so the ledger row, its digest and what the engine sees are all of the line
  as stored.
* ``refuse``: the line is a reject naming the kinds and the fields.
* ``keep``: nothing is looked at (a deployment with its own legal basis).

A **signed** record whose signature holds (metering, event, a verification an institute
signed) cannot be altered: its signature is over its exact bytes. In ``refuse`` and
``tokenise`` it is refused, with a reason that says so. (One whose signature does not
hold is quarantined evidence of a forgery, not bytes to keep: tokenised as above.) A module has no business signing a customer's
data; refusing only ever raises alarms (the missing ``seq``, the unpaired sale), never
silences one — and a station that adds such a field to a module's record has broken its
signature anyway.

Every decision is the line's alone (contract v1.1 §A): the same line, the same outcome.
The reject's excerpt is the line *redacted*, so the rejects table keeps no personal data.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from anxin.contract import strict
from anxin.contract.parse import Parsed, Reject, parse_line
from anxin.contract.records import Event, Metering, Settlement, Verification, VerificationRun
from anxin.crypto.keys import KeyVerdict
from anxin.privacy.detect import _ANY_DIGIT, Finding, find

Mode = Literal["refuse", "tokenise", "keep"]
MODES: tuple[str, ...] = ("refuse", "tokenise", "keep")
_STRICT = frozenset(
    (strict.Metering, strict.Event, strict.Settlement, strict.TankReading, strict.Delivery, strict.Verification)
)
_RUN_FIELDS = frozenset(VerificationRun.__struct_fields__)
_decode = msgspec.json.Decoder()


class Privacy(msgspec.Struct, frozen=True, kw_only=True):
    """The policy: ``mode``, and the tokens' key (None: tokens name the kind only)."""

    mode: Mode = "tokenise"
    key: bytes | None = None


KEEP = Privacy(mode="keep")


class Judged(msgspec.Struct, frozen=True):
    """The outcome for one parsed line: a reject (its reason and the redacted line), or the
    record to store — the same ``Parsed`` and bytes when nothing was found."""

    p: Parsed | Reject
    body: bytes
    found: tuple[str, ...] = ()  # the kinds found (tokenised), for the counters


def token(kind: str, value: str, key: bytes | None) -> str:
    if key is None:
        return f"[{kind}]"
    mac = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"[{kind}:{mac}]"


def _replace(text: str, found: list[Finding], sub: Callable[[Finding], str]) -> str:
    out, at = [], 0
    for f in found:
        out.append(text[at : f.start])
        out.append(sub(f))
        at = f.end
    out.append(text[at:])
    return "".join(out)


class _Walk:
    """Walks the values to look at, replacing what it finds with ``sub``'s words."""

    def __init__(self, sub: Callable[[Finding], str]) -> None:
        self.sub = sub
        self.paths: list[str] = []
        self.kinds: list[str] = []

    def text(self, text: str, path: str, key: str) -> str:
        found = find(text, key=key)
        if not found:
            return text
        self.paths.append(path)
        self.kinds.extend(f.kind for f in found)
        return _replace(text, found, self.sub)

    def value(self, v: Any, path: str, key: str) -> Any:
        t = type(v)
        if t is str:
            return self.text(v, path, key)
        if t is int:  # a number sent as a JSON number (it fits 2^53: §A)
            s = str(v)
            got = self.text(s, path, key)
            return v if got is s else got
        if t is dict:
            out = {}
            for k, x in v.items():
                nk = self.text(k, path + ".<name>", "")
                out[nk] = self.value(x, f"{path}.{k}" if nk is k else f"{path}.{nk}", k)
            return out
        if t is list:
            return [self.value(x, f"{path}[{i}]", key) for i, x in enumerate(v)]
        return v  # float, bool, null

    def record(self, doc: dict[str, Any], known: frozenset[str], *, payment: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in doc.items():
            if k in known:
                if payment and k == "payment" and type(v) is str:
                    v = self.text(v, "$.payment", "payment")
                elif k == "runs" and type(v) is list:  # a verification's runs: their unknown fields
                    v = [
                        {
                            rk: (rv if rk in _RUN_FIELDS else self.value(rv, f"$.runs[{i}].{rk}", rk))
                            for rk, rv in run.items()
                        }
                        if type(run) is dict
                        else run
                        for i, run in enumerate(v)
                    ]
                out[k] = v
            else:
                nk = self.text(k, "$.<name>", "")
                out[nk] = self.value(v, f"$.{nk}", k)
        return out


def _signed(p: Parsed, verdict: KeyVerdict | None) -> bool:
    """Whether the line's bytes carry a signature that holds (they must not change)."""
    rec = p.rec
    signed = isinstance(rec, (Metering, Event)) or (isinstance(rec, Verification) and rec.sig is not None)
    return signed and verdict == KeyVerdict.OK


def judge(raw: bytes, p: Parsed, policy: Privacy, verdict: KeyVerdict | None = KeyVerdict.OK) -> Judged:
    """Apply ``policy`` to the line ``raw``, parsed as ``p``, whose signature's verdict is
    ``verdict``. A signed record whose signature does not hold (a forgery, an unknown
    device: quarantined as evidence) has no exact bytes to keep: it is tokenised like an
    unsigned one, so adding a phone number to a forgery never turns its BAD_SIGNATURE into
    a silent refusal."""
    if policy.mode == "keep":
        return Judged(p, raw)
    rec = p.rec
    t = type(rec)
    if t in _STRICT:  # the fast path read it: no unknown field anywhere
        payment = rec.payment if t is strict.Settlement else ""  # type: ignore[union-attr]
        if _ANY_DIGIT.search(payment) is None or not find(payment, key="payment"):
            return Judged(p, raw)
    doc = _decode.decode(raw)  # (parsed already: valid JSON within the bounds)
    known = frozenset(type(rec).__struct_fields__) | {"kind"}
    look = _Walk(lambda f: f"[{f.kind}]")
    redacted = look.record(doc, known, payment=isinstance(rec, Settlement))
    if not look.kinds:
        return Judged(p, raw)
    kinds = tuple(dict.fromkeys(look.kinds))
    paths = list(dict.fromkeys(look.paths))
    where = ", ".join(f"`{x[:60]}`" for x in paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
    what = ", ".join(k.replace("_", " ") for k in kinds)
    if _signed(p, verdict):
        reason = (
            f"personal data ({what}) at {where} in a signed record, which cannot be tokenised"
            " without breaking its signature: refused (the platform keeps no personal data)"
        )
        return Judged(Reject(reason), msgspec.json.encode(redacted))
    if policy.mode == "refuse":
        reason = f"personal data ({what}) at {where}: refused (the platform keeps no personal data)"
        return Judged(Reject(reason), msgspec.json.encode(redacted))
    tokens = _Walk(lambda f: token(f.kind, f.value, policy.key))
    body = msgspec.json.encode(tokens.record(doc, known, payment=isinstance(rec, Settlement)))
    again = parse_line(body)
    if isinstance(again, Reject):  # (a token never makes a line unreadable; if it did: refused, named)
        return Judged(Reject(f"personal data at {where} could not be tokenised: {again.reason}"), b"")
    return Judged(again, body, kinds)
