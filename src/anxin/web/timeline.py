"""A nozzle's recent dispensings as a regulator reads them (油枪近期记录): each metering
record beside the sale it was settled as — metered and settled litres, price, amount,
paid, payment — with the difference where they disagree, the signature's verdict and the
alarms raised on it; a sale with no metering record in the window is a row of its own.
Pure: rows from what :func:`anxin.web.queries.nozzle_dispensings` read."""

from __future__ import annotations

from typing import Any

from anxin.contract.times import format_ts
from anxin.crypto.keys import KeyVerdict
from anxin.web.evidence import value

TOLERANCE_ML = 10  # contract §5: VOLUME_MISMATCH beyond 10 mL


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _sale_cells(sale: dict[str, Any] | None, lang: str) -> dict[str, str]:
    if sale is None:
        return {k: "—" for k in ("settled", "price", "amount", "paid", "payment", "order")}
    return {
        "settled": value("volume_ml", sale.get("volume_ml"), lang),
        "price": value("unit_price_fen", sale.get("unit_price_fen"), lang),
        "amount": value("amount_fen", sale.get("amount_fen"), lang),
        "paid": value("paid_fen", sale.get("paid_fen"), lang),
        "payment": value("payment", sale.get("payment"), lang),
        "order": str(sale.get("order_id") or "—"),
    }


def timeline(
    raw: dict[str, Any],
    alarms: list[dict[str, Any]],
    lang: str,
    *,
    seq: int | None = None,
    order_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rows newest first. ``raw``: {"metering": [...], "sales": [...]} of the ledger;
    ``alarms``: the nozzle's alarms (``seq``/``order_id`` name the record they are on);
    ``seq``/``order_id``: the record an alarm's page is about (its row marked ``this``)."""
    by_seq: dict[int, list[str]] = {}
    by_order: dict[str, list[str]] = {}
    for a in alarms:
        if _int(a.get("seq")) is not None:
            by_seq.setdefault(a["seq"], []).append(a["rule"])
        elif a.get("order_id"):
            by_order.setdefault(str(a["order_id"]), []).append(a["rule"])
    sale_of: dict[int, dict[str, Any]] = {}
    for s in raw["sales"]:
        seq = _int(s["rec"].get("pump_seq"))
        if seq is not None:
            sale_of.setdefault(seq, s["rec"])
    rows: list[dict[str, Any]] = []
    seqs: set[int | None] = set()
    for m in raw["metering"]:
        rec, seq = m["rec"], _int(m["rec"].get("seq"))
        seqs.add(seq)
        sale = sale_of.get(seq) if seq is not None else None
        metered, settled = _int(rec.get("volume_ml")), None if sale is None else _int(sale.get("volume_ml"))
        diff = None if metered is None or settled is None else settled - metered
        rules = (by_seq.get(seq, []) if seq is not None else []) + (
            [] if sale is None else by_order.get(str(sale.get("order_id")), [])
        )
        rows.append(
            {
                "t_us": m["t_us"],
                "time": format_ts(m["t_us"])[5:19].replace("T", " "),
                "seq": "—" if seq is None else str(seq),
                "metered": value("volume_ml", rec.get("volume_ml"), lang),
                **_sale_cells(sale, lang),
                "diff": None if diff is None else value("difference_ml", diff, lang),
                "off": diff is not None and abs(diff) > TOLERANCE_ML,
                "signed": m["verdict"] == KeyVerdict.OK and not m["quarantined"],
                "rules": sorted(set(rules)),
            }
        )
    oldest = min((m["t_us"] for m in raw["metering"]), default=None)
    for s in raw["sales"]:
        seq = _int(s["rec"].get("pump_seq"))
        if (seq is not None and seq in seqs) or oldest is None or s["t_us"] < oldest:
            continue
        rows.append(
            {
                "t_us": s["t_us"],
                "time": format_ts(s["t_us"])[5:19].replace("T", " "),
                "seq": "—",
                "metered": "—",
                **_sale_cells(s["rec"], lang),
                "diff": None,
                "off": True,  # a sale without its dispensing
                "signed": None,
                "rules": sorted(set(by_order.get(str(s["rec"].get("order_id")), []))),
            }
        )
    rows.sort(key=lambda r: -r["t_us"])
    for r in rows:
        r["this"] = (seq is not None and r["seq"] == str(seq)) or (order_id is not None and r["order"] == str(order_id))
    return rows
