"""A nozzle's recent dispensings (issue 13 item 2): each metering record beside the sale
it was settled as, in litres and yuan, the disagreement marked with its difference, the
signature's verdict and the alarms on the record; a sale without its dispensing is a row
of its own; hostile bodies do not break the page."""

from __future__ import annotations

from anxin.crypto.keys import KeyVerdict
from anxin.web.timeline import timeline

T0 = 1_764_900_000_000_000  # µs


def _meter(seq: int, ml, t: int, verdict=KeyVerdict.OK, quarantined=False):
    return {"rec": {"seq": seq, "volume_ml": ml}, "verdict": verdict, "quarantined": quarantined, "t_us": t}


def _sale(order: str, seq, ml, t: int, amount=30000, paid=30000):
    rec = {"order_id": order, "pump_seq": seq, "volume_ml": ml, "unit_price_fen": 768, "amount_fen": amount}
    return {"rec": rec | {"paid_fen": paid, "payment": "wechat", "nozzle_id": "N"}, "t_us": t}


def test_records_are_paired_labelled_and_marked() -> None:
    raw = {
        "metering": [_meter(12, 40_215, T0 + 2_000_000), _meter(11, 39_415, T0 + 1_000_000, KeyVerdict.BAD_SIGNATURE)],
        "sales": [
            _sale("A11", 11, 40_430, T0 + 1_000_001),
            _sale("A12", 12, 40_215, T0 + 2_000_001),
            _sale("X", None, 5_000, T0 + 3_000_000),  # no pump_seq, nothing metered
            _sale("OLD", None, 5_000, T0 - 1),  # before the window's first dispensing: not shown
        ],
    }
    alarms = [
        {"rule": "VOLUME_MISMATCH", "seq": 11, "order_id": None},
        {"rule": "UNMATCHED_SETTLEMENT", "seq": None, "order_id": "X"},
    ]
    rows = timeline(raw, alarms, "zh")
    assert [r["seq"] for r in rows] == ["—", "12", "11"]
    orphan, ok, off = rows
    assert orphan["metered"] == "—" and orphan["off"] and orphan["rules"] == ["UNMATCHED_SETTLEMENT"]
    assert ok["metered"] == ok["settled"] == "40.22 升" and not ok["off"] and ok["signed"] and ok["diff"] == "+0.00 升"
    assert ok["price"] == "7.68 元/升" and ok["amount"] == "300.00 元" and ok["payment"] != "wechat"
    assert off["off"] and off["diff"] == "+1.02 升" and off["signed"] is False and off["rules"] == ["VOLUME_MISMATCH"]
    en = timeline(raw, alarms, "en")
    assert en[1]["metered"] == "40.22 L" and en[1]["payment"] != "wechat"


def test_hostile_bodies_are_shown_not_trusted() -> None:
    raw = {
        "metering": [
            {"rec": {"seq": "7", "volume_ml": "lots"}, "verdict": None, "quarantined": True, "t_us": T0},
            {"rec": {}, "verdict": KeyVerdict.OK, "quarantined": False, "t_us": T0 + 1},
        ],
        "sales": [{"rec": {"pump_seq": True, "volume_ml": 2**80, "order_id": ["x"]}, "t_us": T0 + 2}],
    }
    rows = timeline(raw, [{"rule": "BAD_SIGNATURE", "seq": True, "order_id": None}], "zh")
    assert len(rows) == 3 and all(r["signed"] is not True for r in rows if r["seq"] == "—" and r["metered"] == "lots")
    assert rows[-1]["metered"] == "lots" and rows[-1]["signed"] is False
