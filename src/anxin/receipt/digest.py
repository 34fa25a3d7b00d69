"""The sale as the public sees it, its digest and the receipt's URL (the POS's side).

The digest commits to the sale: SHA-256 of ``anxin-receipt-v1`` and a newline, then the
canonical bytes (contract v1.1 §E) of the sale's public fields, its first 10 bytes in
base32 (16 characters, 80 bits). The public fields carry no personal data: the payment as
its method only (a value that is not a known method is ``other``), no paid amount, no
field the contract does not define — except ``receipt_nonce`` (8–64 of ``A–Z a–z 0–9 _ -``),
which a POS adds so that the digest cannot be guessed from the sale (docs/receipts.md:
what a guessed URL can tell).

The URL: ``{base}/r/{station_id}/{order_id}/{YYYYMMDD}-{digest}`` — the sale's local
day (UTC+08:00) bounds the server's lookup. Minimal install (the SDK re-exports
:func:`receipt_url`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import msgspec

from anxin.contract.canonical import canonical_of_dict
from anxin.contract.times import LOCAL_TZ
from anxin.keyed import KeyedError

DOMAIN = b"anxin-receipt-v1\n"
DIGEST_BYTES = 10  # 80 bits, 16 base32 characters
PUBLIC_FIELDS = (
    "station_id",
    "order_id",
    "nozzle_id",
    "pump_seq",
    "ts",
    "volume_ml",
    "unit_price_fen",
    "amount_fen",
    "payment",
)
# The payment methods a receipt names (contract v1 §3's values, docs/imports.md); a new one
# is a new digest version, never a change of this set (printed receipts must stay valid).
METHODS = frozenset({"wechat", "alipay", "unionpay", "cash", "fuel_card"})
NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
ID_MAX = 128  # a station's or an order's id in a URL (the contract's ids, as the store keeps them)
URL_MAX = 1024
BUNDLE = "bundle.json"  # the evidence bundle: the receipt URL and this
_DIGEST = re.compile(r"[a-z2-7]{16}")
_DAY = re.compile(r"[0-9]{8}")


class ReceiptError(KeyedError, ValueError):
    """A receipt URL or evidence that cannot be used: a key of the catalog's ``receipt``
    table and what is wrong."""

    context = "receipt"


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """What a receipt's URL names."""

    station_id: str
    order_id: str
    day: str  # YYYYMMDD, the sale's local day
    digest: str


def public_sale(settlement: dict[str, Any]) -> dict[str, Any]:
    """The settlement's public fields (the digest covers exactly these)."""
    sale = {k: settlement.get(k) for k in PUBLIC_FIELDS}
    payment = settlement.get("payment")
    sale["payment"] = payment if isinstance(payment, str) and payment in METHODS else "other"
    nonce = settlement.get("receipt_nonce")
    if isinstance(nonce, str) and NONCE.fullmatch(nonce):
        sale["receipt_nonce"] = nonce
    return sale


def sale_digest(sale: dict[str, Any]) -> str:
    """The digest of a public sale (:func:`public_sale`)."""
    h = hashlib.sha256(DOMAIN + canonical_of_dict(sale)).digest()[:DIGEST_BYTES]
    return base64.b32encode(h).decode().lower()


def sale_day(ts: str) -> str:
    """YYYYMMDD: the local day (UTC+08:00) of an RFC 3339 time."""
    t = dt.datetime.fromisoformat(ts)
    if t.tzinfo is None:
        raise ReceiptError("ts_no_offset", ts=ts[:40])
    return t.astimezone(LOCAL_TZ).strftime("%Y%m%d")


def receipt_of(settlement: dict[str, Any]) -> Receipt:
    sale = public_sale(settlement)
    for k in ("station_id", "order_id", "ts"):
        if not isinstance(sale[k], str) or not sale[k]:
            raise ReceiptError("sale_field", field=k)
    return Receipt(
        station_id=sale["station_id"], order_id=sale["order_id"], day=sale_day(sale["ts"]), digest=sale_digest(sale)
    )


def receipt_url(base_url: str, settlement: dict[str, Any]) -> str:
    """The URL a receipt's QR code carries, for the settlement record the POS sends (a
    dict as sent; add ``receipt_nonce`` to it first — e.g. ``secrets.token_urlsafe(12)`` —
    so the digest cannot be guessed from the sale)."""
    r = receipt_of(settlement)
    return f"{base_url.rstrip('/')}{receipt_path(r)}"


def receipt_path(r: Receipt) -> str:
    return f"/r/{quote(r.station_id, safe='')}/{quote(r.order_id, safe='')}/{r.day}-{r.digest}"


def check_parts(station_id: str, order_id: str, tail: str) -> Receipt:
    """The parts of a receipt URL (``tail``: ``YYYYMMDD-digest``), checked
    (:class:`ReceiptError` names what is wrong)."""
    day, _, digest = tail.partition("-")
    if not station_id or not order_id or len(station_id) > ID_MAX or len(order_id) > ID_MAX:
        raise ReceiptError("url_bad_id", most=ID_MAX)
    if not _DAY.fullmatch(day):
        raise ReceiptError("url_bad_day")
    try:
        dt.datetime.strptime(day, "%Y%m%d")
    except ValueError:
        raise ReceiptError("url_bad_day") from None
    if not _DIGEST.fullmatch(digest):
        raise ReceiptError("url_bad_digest")
    return Receipt(station_id=station_id, order_id=order_id, day=day, digest=digest)


def parse_receipt_url(text: str) -> Receipt:
    """A receipt URL (or its path, ``/r/…``) as scanned from the QR code."""
    text = text.strip()
    if len(text) > URL_MAX:
        raise ReceiptError("url_too_long", most=URL_MAX)
    parts = urlsplit(text).path.split("/")
    try:
        at = parts.index("r")
    except ValueError:
        raise ReceiptError("url_not_receipt") from None
    rest = parts[at + 1 :]
    if rest[-1:] == [BUNDLE]:
        rest = rest[:-1]
    if len(rest) != 3:
        raise ReceiptError("url_not_receipt")
    return check_parts(unquote(rest[0]), unquote(rest[1]), unquote(rest[2]))
