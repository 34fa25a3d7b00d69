"""An RFC 3161 timestamp (可信时间戳) of the evidence bundle's manifest, from a time-stamping
authority (TSA) the platform is configured with (``tsa_url``; off by default).

The platform sends a ``TimeStampReq`` (DER, ``application/timestamp-query``) with the
manifest's SHA-256, a random nonce and ``certReq`` true, and keeps the authority's
``TimeStampResp`` exactly as received in the bundle (``MANIFEST.tsr``). This module
checks what it can without a CMS library — the status is granted, the token is a
``TSTInfo`` for this very digest and nonce — and reads the authority's time. The
token's signature is the authority's (CMS SignedData): verify it with the authority's
certificate, e.g. ``openssl ts -verify -in MANIFEST.tsr -data MANIFEST.json -CAfile
tsa-ca.pem`` (the bundle's README says so). The DER reading here is deliberately small:
definite lengths, the fields named, nothing else interpreted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import httpx2

from anxin.keyed import KeyedError

SHA256_OID = bytes.fromhex("608648016503040201")  # 2.16.840.1.101.3.4.2.1
SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
TST_INFO_OID = bytes.fromhex("2a864886f70d0109100104")  # 1.2.840.113549.1.9.16.1.4
SEQUENCE, SET, INTEGER, BOOLEAN, OCTETS, NULL, OID, GENTIME = 0x30, 0x31, 0x02, 0x01, 0x04, 0x05, 0x06, 0x18
CONTEXT_0 = 0xA0


class TimestampError(KeyedError):
    """The authority did not answer with a valid timestamp of what was asked: a key of
    the catalog's ``timestamp_error`` table and what is wrong (``exc.text(lang)``)."""

    context = "timestamp_error"


# ------------------------------------------------------------------ DER, the little needed
def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def der_int(v: int) -> bytes:
    return tlv(INTEGER, v.to_bytes(v.bit_length() // 8 + 1, "big"))  # a leading 0 keeps it positive


def read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, content, position after it) of the DER element at ``pos``."""
    try:
        tag, first = data[pos], data[pos + 1]
        pos += 2
        if first & 0x80:
            k = first & 0x7F
            if k == 0 or k > 4:
                raise TimestampError("der_length")
            n = int.from_bytes(data[pos : pos + k], "big")
            pos += k
        else:
            n = first
    except IndexError:
        raise TimestampError("der_truncated") from None
    if pos + n > len(data):
        raise TimestampError("der_truncated")
    return tag, data[pos : pos + n], pos + n


def children(content: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(content):
        tag, value, pos = read(content, pos)
        out.append((tag, value))
    return out


def _expect(item: tuple[int, bytes], tag: int, what: str) -> bytes:
    if item[0] != tag:
        raise TimestampError("wrong_tag", field=what, tag=f"{item[0]:#x}", expected=f"{tag:#x}")
    return item[1]


# ------------------------------------------------------------------ request and response
def timestamp_request(digest: bytes, nonce: int) -> bytes:
    """TimeStampReq (RFC 3161 §2.4.1) for a SHA-256 ``digest``: version 1, the message
    imprint, the nonce, certReq true; no policy, no extensions."""
    algorithm = tlv(SEQUENCE, tlv(OID, SHA256_OID) + tlv(NULL, b""))
    imprint = tlv(SEQUENCE, algorithm + tlv(OCTETS, digest))
    return tlv(SEQUENCE, der_int(1) + imprint + der_int(nonce) + tlv(BOOLEAN, b"\xff"))


@dataclass(frozen=True, slots=True)
class Timestamp:
    gen_time: str  # the authority's time, RFC 3339 (UTC)
    digest: bytes  # the message imprint (SHA-256)
    nonce: int | None
    response: bytes  # the TimeStampResp, as received


def _gen_time(raw: bytes) -> str:
    text = raw.decode("ascii")  # YYYYMMDDhhmmss[.fff]Z
    if not text.endswith("Z"):
        raise TimestampError("gen_time_not_utc", gen_time=text)
    base, _, frac = text[:-1].partition(".")
    t = dt.datetime.strptime(base, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    return t.isoformat().replace("+00:00", (f".{frac}" if frac else "") + "Z")


def parse_response(response: bytes) -> Timestamp:
    """Read a TimeStampResp: granted (status 0 or 1), a SignedData whose content is a
    TSTInfo; its time, imprint and nonce. Raises TimestampError."""
    try:
        return _parse(response)
    except (IndexError, ValueError, UnicodeDecodeError) as exc:  # a field missing or malformed
        raise TimestampError("malformed", detail=type(exc).__name__) from None


def _parse(response: bytes) -> Timestamp:
    tag, body, end = read(response)
    if tag != SEQUENCE or end != len(response):
        raise TimestampError("not_response")
    parts = children(body)
    if not parts:
        raise TimestampError("not_response")
    status = children(_expect(parts[0], SEQUENCE, "PKIStatusInfo"))
    code = int.from_bytes(_expect(status[0], INTEGER, "status"), "big")
    if code not in (0, 1):
        raise TimestampError("refused", status=code)
    if len(parts) < 2:
        raise TimestampError("no_token")
    content_info = children(_expect(parts[1], SEQUENCE, "ContentInfo"))
    if _expect(content_info[0], OID, "contentType") != SIGNED_DATA_OID:
        raise TimestampError("not_signed_data")
    signed_data = children(_expect(children(_expect(content_info[1], CONTEXT_0, "content"))[0], SEQUENCE, "SignedData"))
    encap = children(_expect(signed_data[2], SEQUENCE, "encapContentInfo"))
    if _expect(encap[0], OID, "eContentType") != TST_INFO_OID:
        raise TimestampError("not_tst_info")
    tst_der = _expect(children(_expect(encap[1], CONTEXT_0, "eContent"))[0], OCTETS, "eContent")
    _tag, tst_body, _ = read(tst_der)
    tst = children(tst_body)
    imprint = children(_expect(tst[2], SEQUENCE, "messageImprint"))
    if _expect(children(_expect(imprint[0], SEQUENCE, "hashAlgorithm"))[0], OID, "algorithm") != SHA256_OID:
        raise TimestampError("not_sha256")
    digest = _expect(imprint[1], OCTETS, "hashedMessage")
    gen_time = _gen_time(_expect(tst[4], GENTIME, "genTime"))
    nonce = None
    for t, v in tst[5:]:
        if t == INTEGER:
            nonce = int.from_bytes(v, "big", signed=True)
            break
    return Timestamp(gen_time=gen_time, digest=digest, nonce=nonce, response=response)


def check(response: bytes, data: bytes, nonce: int | None = None) -> Timestamp:
    """:func:`parse_response`, and the token is for ``data`` (and ``nonce``, if given)."""
    ts = parse_response(response)
    if ts.digest != hashlib.sha256(data).digest():
        raise TimestampError("other_data")
    if nonce is not None and ts.nonce != nonce:
        raise TimestampError("other_nonce")
    return ts


def request_timestamp(url: str, data: bytes, *, timeout_s: float = 10.0) -> Timestamp:
    """Ask the authority at ``url`` for a timestamp of ``data``; checked as :func:`check`."""
    nonce = secrets.randbits(63)
    req = timestamp_request(hashlib.sha256(data).digest(), nonce)
    try:
        resp = httpx2.post(url, content=req, headers={"Content-Type": "application/timestamp-query"}, timeout=timeout_s)
    except httpx2.HTTPError as exc:
        raise TimestampError("unreachable", detail=type(exc).__name__) from None
    if resp.status_code != 200:
        raise TimestampError("http_status", status=resp.status_code)
    return check(resp.content, data, nonce)


__all__ = ["Timestamp", "TimestampError", "check", "parse_response", "request_timestamp", "timestamp_request"]
