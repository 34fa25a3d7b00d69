"""The receipt's checks, on an evidence bundle — the server's page, ``anxin receipt
verify`` and the page's own script (``static/receipt.js``, the same checks in the same
order) decide alike.

A bundle (``format`` ``anxin-receipt-1``) is what the page embeds and what its download
link serves: the receipt (from the URL), the public sale, the signed metering record as
its canonical bytes (text) with ``sig``, ``alg``, ``key_id`` and ``public_key``, the
nozzle's previous dispensing and the module events between the two (signed likewise),
the nozzle's registered maximum flow, and the server's own answer (which no check here
reads).

The verdict is ``verified`` when every check that applies passes: the sale is the one the
receipt names (digest), the metering record is the module's (signature, canonical bytes)
and the sale's (station, nozzle, ``pump_seq``), and the two agree and are plausible
(volume sold vs metered, amount = volume × price, the record's own arithmetic, flow,
totalizer continuity with the previous dispensing, no gap in the module's sequence).
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
from collections.abc import Callable
from typing import Any, TypeGuard

import msgspec

from anxin.contract.canonical import canonical_of_dict
from anxin.crypto.schemes import KeyFormatError, load_verifier
from anxin.receipt.digest import Receipt, public_sale, sale_day, sale_digest

FORMAT = "anxin-receipt-1"
VOLUME_TOLERANCE_ML = 10  # contract v1 §5, VOLUME_MISMATCH
FLOW_RATIO = 1.1  # FLOW_IMPLAUSIBLE: mean flow above 110 % of the registered maximum
BETWEEN_MAX = 16  # module events shipped between two dispensings
MAX_RECORD_CHARS = 64 * 1024  # a record's line at most (contract v1.1 §A)
KeyLookup = Callable[[str, str], tuple[str, str] | None]  # (nozzle_id, key_id) → (alg, public key)


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One check: ``name`` (a key of the catalog's ``receipt`` table, ``check_<name>``),
    ``status`` ok | fail | na (does not apply: no previous dispensing, no maximum flow),
    ``why`` the catalog key that says what failed (``why_<why>``) and its ``params``."""

    name: str
    status: str
    why: str = ""
    params: dict[str, Any] = {}


class Report(msgspec.Struct, frozen=True, kw_only=True):
    verified: bool
    findings: list[Finding]
    sale: dict[str, Any] | None = None
    metering: dict[str, Any] | None = None


def key_of(registry: Any, nozzle_id: str, key_id: str) -> tuple[str, str] | None:
    """(alg, public key) the registry lists for the nozzle under ``key_id`` (current or retired)."""
    n = registry.nozzle_by_id.get(nozzle_id)
    if n is None:
        return None
    if n.key_id == key_id:
        return n.key_alg, n.public_key
    for k in n.previous_keys:
        if k.key_id == key_id:
            return k.key_alg, k.public_key
    return None


def _half_up(num: int, den: int) -> int:
    return (2 * num + den) // (2 * den)


def _us(ts: Any) -> int | None:
    try:
        t = dt.datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return None
    return None if t.tzinfo is None else int(t.timestamp() * 1_000_000)


def signed_record(item: Any, keys: KeyLookup | None) -> tuple[dict[str, Any] | None, str]:
    """(the record, "") when ``item``'s signature verifies over canonical bytes, else
    (the record or None, why). ``keys``: the registry's key for the record (offline);
    None trusts the key the item carries (what a page shows of the server's registry)."""
    if not isinstance(item, dict) or not isinstance(item.get("canonical"), str):
        return None, "missing"
    text = item["canonical"]
    if len(text) > MAX_RECORD_CHARS:
        return None, "not_json"
    try:
        rec = json.loads(text)
    except (ValueError, RecursionError):
        return None, "not_json"
    if not isinstance(rec, dict) or "sig" in rec:
        return None, "not_json"
    message = text.encode()
    try:
        canonical = canonical_of_dict(rec)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return rec, "not_canonical"
    if canonical != message:
        return rec, "not_canonical"
    alg, public_key = item.get("alg"), item.get("public_key")
    if keys is None and not (alg and public_key):
        return rec, "unknown_key"
    if keys is not None:
        found = keys(str(rec.get("nozzle_id")), str(rec.get("key_id")))
        if found is None:
            return rec, "unknown_key"
        alg, public_key = found
    try:
        verifier = load_verifier(str(alg), str(public_key))
        sig = binascii.a2b_base64(str(item.get("sig", "")), strict_mode=True)
    except (KeyFormatError, ValueError, binascii.Error):
        return rec, "bad_signature"
    if len(sig) != 64 or not verifier.verify(message, sig):
        return rec, "bad_signature"
    return rec, ""


def _ok(name: str) -> Finding:
    return Finding(name=name, status="ok")


def _fail(name: str, why: str, **params: Any) -> Finding:
    return Finding(name=name, status="fail", why=why, params=params)


def _na(name: str, why: str) -> Finding:
    return Finding(name=name, status="na", why=why)


def check(bundle: dict[str, Any], receipt: Receipt, *, keys: KeyLookup | None = None) -> Report:
    """Every check of the receipt ``receipt`` against ``bundle`` (the receipt comes from
    the URL the customer holds, never from the bundle)."""
    out: list[Finding] = []
    raw_sale = bundle.get("sale") if isinstance(bundle, dict) else None
    sale = public_sale(raw_sale) if isinstance(raw_sale, dict) else None
    # 1. The sale is the receipt's.
    try:
        digest = sale_digest(sale) if sale is not None and sale == raw_sale else None
    except (ValueError, TypeError, OverflowError, RecursionError):  # (not a sale: values no record has)
        digest = None
    if sale is None or digest is None:
        out.append(_fail("digest", "no_sale"))
        return Report(verified=False, findings=out)
    try:
        day = sale_day(str(sale["ts"]))
    except ValueError:
        day = ""
    same = (sale["station_id"], sale["order_id"], day) == (receipt.station_id, receipt.order_id, receipt.day)
    if not same or digest != receipt.digest:
        out.append(_fail("digest", "digest"))
        return Report(verified=False, findings=out, sale=sale)
    out.append(_ok("digest"))
    # 2. The metering record is the module's.
    rec, why = signed_record(bundle.get("metering"), keys)
    if why:
        out.append(_fail("signature", why))
        return Report(verified=False, findings=out, sale=sale)
    assert rec is not None
    out.append(_ok("signature"))
    # 3. … and the sale's.
    if rec.get("kind") != "metering" or rec.get("station_id") != sale["station_id"]:
        out.append(_fail("paired", "not_paired"))
        return Report(verified=False, findings=out, sale=sale, metering=rec)
    if rec.get("nozzle_id") != sale["nozzle_id"] or (
        sale["pump_seq"] is not None and rec.get("seq") != sale["pump_seq"]
    ):
        out.append(_fail("paired", "not_paired"))
        return Report(verified=False, findings=out, sale=sale, metering=rec)
    if sale["pump_seq"] is None:  # a legacy POS: paired by time (contract v1 §5)
        end, ts = _us(rec.get("end")), _us(sale["ts"])
        if end is None or ts is None or not end <= ts <= end + 15 * 60_000_000:
            out.append(_fail("paired", "not_paired"))
            return Report(verified=False, findings=out, sale=sale, metering=rec)
    out.append(_ok("paired"))
    out.extend(plausibility(bundle, sale, rec, keys))
    return Report(verified=all(f.status != "fail" for f in out), findings=out, sale=sale, metering=rec)


def _is_int(v: Any) -> TypeGuard[int]:
    """An integer of a record (JSON's ``true`` is not one; as the page's script decides)."""
    return isinstance(v, int) and not isinstance(v, bool)


def _int(rec: dict[str, Any], *names: str) -> list[int] | None:
    vals = [rec.get(n) for n in names]
    ok = all(_is_int(v) for v in vals)
    return vals if ok else None  # type: ignore[return-value]


def plausibility(
    bundle: dict[str, Any], sale: dict[str, Any], rec: dict[str, Any], keys: KeyLookup | None
) -> list[Finding]:
    """What the OCMF verifiers leave out: the sale against the record, the record against
    itself, its flow, and its place in the module's sequence."""
    out: list[Finding] = []
    metered, sold, price, amount = rec.get("volume_ml"), sale["volume_ml"], sale["unit_price_fen"], sale["amount_fen"]
    nums = _int({"a": metered, "b": sold, "c": price, "d": amount}, "a", "b", "c", "d")
    if nums is None:
        return [_fail("volume", "not_numbers")]
    metered, sold, price, amount = nums
    if abs(sold - metered) > VOLUME_TOLERANCE_ML:
        out.append(_fail("volume", "volume", sold_ml=sold, metered_ml=metered))
    else:
        out.append(_ok("volume"))
    expected = _half_up(sold * price, 1000)
    out.append(_ok("amount") if abs(amount - expected) <= 1 else _fail("amount", "amount", expected_fen=expected))
    own = _int(rec, "pulses", "k_pulses_per_m3", "totalizer_start_ml", "totalizer_end_ml")
    if own is None or own[1] <= 0:
        out.append(_fail("arithmetic", "not_numbers"))
    else:
        pulses, k, t0, t1 = own
        good = abs(metered * k - pulses * 1_000_000) <= k and t1 - t0 == metered
        out.append(_ok("arithmetic") if good else _fail("arithmetic", "arithmetic"))
    start, end = _us(rec.get("start")), _us(rec.get("end"))
    top = bundle.get("max_flow_ml_per_min")
    if start is None or end is None or end <= start:
        out.append(_fail("flow", "no_duration"))
    elif not _is_int(top) or top <= 0:
        out.append(_na("flow", "no_max_flow"))
    else:
        flow = metered * 60_000_000 / (end - start)
        ok = flow <= top * FLOW_RATIO
        out.append(_ok("flow") if ok else _fail("flow", "flow", flow=round(flow), most=top))
    out.extend(_sequence(bundle, rec, keys))
    return out


def _sequence(bundle: dict[str, Any], rec: dict[str, Any], keys: KeyLookup | None) -> list[Finding]:
    """Totalizer continuity with the previous dispensing, and no gap in ``seq`` between."""
    if bundle.get("previous") is None:
        return [_na("continuity", "first"), _na("sequence", "first")]
    prev, why = signed_record(bundle.get("previous"), keys)
    if why or prev is None or prev.get("kind") != "metering" or prev.get("nozzle_id") != rec.get("nozzle_id"):
        return [_fail("continuity", "previous_unsigned"), _fail("sequence", "previous_unsigned")]
    out = []
    if prev.get("totalizer_end_ml") == rec.get("totalizer_start_ml"):
        out.append(_ok("continuity"))
    else:
        out.append(
            _fail(
                "continuity", "jump", previous_ml=prev.get("totalizer_end_ml"), start_ml=rec.get("totalizer_start_ml")
            )
        )
    seqs = [prev.get("seq")]
    between = bundle.get("between")
    between = [] if between is None else between  # (anything else but a list is damage)
    if not isinstance(between, list) or len(between) > BETWEEN_MAX:
        return [*out, _fail("sequence", "gap")]
    for item in between:
        ev, why = signed_record(item, keys)
        if why or ev is None or ev.get("kind") != "event" or ev.get("nozzle_id") != rec.get("nozzle_id"):
            return [*out, _fail("sequence", "previous_unsigned")]
        seqs.append(ev.get("seq"))
    seqs.append(rec.get("seq"))
    ints = [s for s in seqs if _is_int(s)]
    if len(ints) == len(seqs) and all(b == a + 1 for a, b in zip(ints, ints[1:])):
        out.append(_ok("sequence"))
    else:
        out.append(_fail("sequence", "gap", previous=seqs[0], seq=seqs[-1]))
    return out
