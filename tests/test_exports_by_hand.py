"""The agency export's figures worked out by hand, on SQLite and PostgreSQL: a forged
record and a second record under the same number or order are not counted, a nozzle
without an independent module is apart, a dispensing ending after midnight counts on
the next day and is valued at the price in force when it began, and a station without
any record is flagged."""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec
from factory import City, line
from sqlalchemy import select

from anxin.contract.times import US_PER_MIN, parse_ts
from anxin.exports.service import Scope, export
from anxin.ingest.service import IngestService
from anxin.store import schema as T

NOW = parse_ts("2026-03-05T12:00:00+08:00")
T0 = parse_ts("2026-03-02T08:00:00+08:00")


def test_the_figures_by_hand(store) -> None:
    city = City()
    city.registry_extra["prices"] = [
        {"station_id": st, "product": "92", "from": f"{day}T00:00:00.000+08:00", "unit_price_fen": price}
        for st in ("S1", "S2")
        for day, price in (("2026-01-01", 700), ("2026-02-25", 800))
    ]
    svc = IngestService(store, clock=lambda: NOW)
    svc.set_registry(msgspec.json.encode(city.registry_dict()), author="t", reason="t")
    m1 = city.metering("S1-N1", T0, 30_000)
    s1 = city.sale(m1)
    m2 = city.metering("S1-N3", T0 + 10 * US_PER_MIN, 20_000)  # no independent module
    s2 = city.sale(m2)
    forged = city.metering("S1-N1", T0 + 20 * US_PER_MIN, 40_000)
    forged["volume_ml"] += 1000  # changed after signing: BAD_SIGNATURE, quarantined
    again = city.metering("S1-N1", T0 + 30 * US_PER_MIN, 50_000, seq=m1["seq"])  # DUPLICATE_SEQ
    resold = {**s1, "volume_ml": 99_990, "amount_fen": 79_992}  # the same order again, other content
    # a dispensing that says it began ten days before it ended: the price at its start
    slow = city.metering("S1-N2", parse_ts("2026-02-20T08:00:00+08:00"), 10_000, duration_s=10 * 86_400)
    late = city.metering("S1-N2", parse_ts("2026-03-02T23:59:40+08:00"), 25_000)  # ends 03-03 00:00:40
    s3 = city.sale(late)
    res = svc.ingest("S1", [line(r) for r in (m1, s1, m2, s2, forged, again, resold, slow, late, s3)], source="t")
    assert [r.status for r in res.results].count("quarantined") == 1

    got = export(
        store,
        svc.registry,
        kind="tax",
        fmt="json",
        start=dt.date(2026, 3, 2),
        end=dt.date(2026, 3, 3),
        scope=Scope(actor="t"),
        via="cli",
        now_us=NOW,
    )
    doc = msgspec.json.decode(got.data)
    s1_, s2_ = doc["stations"]
    assert (s1_["station_id"], s2_["station_id"]) == ("S1", "S2")
    day2, day3 = s1_["days"]
    assert day2["products"] == [
        {
            "product": "92",
            "metered_n": 2,
            "metered_ml": 40_000,
            "metered_value_fen": 24_000 + 7_000,
            "unpriced_n": 0,
            "board_n": 1,
            "board_ml": 20_000,
            "settled_n": 2,
            "settled_ml": 50_000,
            "settled_fen": 40_000,
            "settled_board_ml": 20_000,
            "settled_board_fen": 16_000,
            "difference_ml": -10_000,
            "difference_fen": -7_000,
        }
    ]
    q2 = day2["quality"]
    assert q2["excluded_records"] == 1 and q2["doubtful"] and not q2["no_data"]
    assert q2["alarms_by_rule"]["BAD_SIGNATURE"] == 1 and q2["alarms_by_rule"]["DUPLICATE_SEQ"] == 1
    (p3,) = day3["products"]
    assert (p3["metered_n"], p3["metered_ml"], p3["settled_n"], p3["settled_ml"]) == (1, 25_000, 1, 25_000)
    assert all(d["products"] == [] and d["quality"]["no_data"] and d["quality"]["doubtful"] for d in s2_["days"])
    assert s2_["period"]["quality"]["no_data_days"] == 2
    with store.engine.connect() as c:
        entry = c.execute(select(T.audit_log).where(T.audit_log.c.seq == got.audit_seq)).one()
    data = entry.data if isinstance(entry.data, dict) else msgspec.json.decode(entry.data)
    assert data["sha256"] == hashlib.sha256(got.data).hexdigest() and data["stations"] == ["S1", "S2"]
