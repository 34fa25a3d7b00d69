"""Examples of the API description, each a real exchange: the upload's lines are the first
sale of the simulator's city (``anxin simulate --stations 1 --days 1 --seed 2``, honest
scenarios) and its signed metering record, as the station sends them, and the answers
are the service's to them (``tests/test_api_description.py`` sends them again). The
published test vectors (``docs/vectors/``) were not there yet when these were chosen;
the alarm is the one a sale 500 mL above its metering raises."""

from __future__ import annotations

from typing import Any

METERING = (
    '{"end":"2026-03-01T00:02:32.322+08:00","k_pulses_per_m3":103709,"key_id":"S0001-D4-N1-k1",'
    '"kind":"metering","nozzle_id":"S0001-D4-N1","pulses":655,"seq":2465976,'
    '"start":"2026-03-01T00:02:18.959+08:00","station_id":"S0001","totalizer_end_ml":3781769750,'
    '"totalizer_start_ml":3781763434,"volume_ml":6316,'
    '"sig":"YlHdnJzrqu70cg04KyhPb8yPyB+UYtSYvPGFZgcGmtgHTIBqEEtGElBv3/e0h+2jISpNRpOOdyCYkeIXbNnUAw=="}'
)
SETTLEMENT = (
    '{"kind":"settlement","station_id":"S0001","order_id":"00012026030100001","nozzle_id":"S0001-D4-N1",'
    '"pump_seq":2465976,"ts":"2026-03-01T00:03:24.821+08:00","volume_ml":6320,"unit_price_fen":807,'
    '"amount_fen":5100,"paid_fen":4784,"payment":"wechat"}'
)
UPLOAD_BODY = METERING + "\n" + SETTLEMENT + "\n"
# The same sale again, the metering record with one byte changed, and a line that is no record.
MIXED_BODY = SETTLEMENT + "\n" + METERING.replace('"pulses":655', '"pulses":656') + "\n" + '{"kind":"metering"}\n'

ACCEPTED: dict[str, Any] = {
    "accepted": 2,
    "duplicate": 0,
    "quarantined": 0,
    "rejected": 0,
    "results": [
        {"line": 1, "status": "accepted", "kind": "metering", "key": "S0001-D4-N1/2465976"},
        {"line": 2, "status": "accepted", "kind": "settlement", "key": "S0001/00012026030100001"},
    ],
}
MIXED: dict[str, Any] = {
    "accepted": 0,
    "duplicate": 1,
    "quarantined": 1,
    "rejected": 1,
    "results": [
        {
            "line": 1,
            "status": "duplicate",
            "reason": "identical record already received",
            "kind": "settlement",
            "key": "S0001/00012026030100001",
        },
        {
            "line": 2,
            "status": "quarantined",
            "reason": "signature does not verify: quarantined as evidence",
            "kind": "metering",
            "key": "S0001-D4-N1/2465976",
        },
        {"line": 3, "status": "rejected", "reason": "Object missing required field `station_id`"},
    ],
}

ALARM: dict[str, Any] = {
    "alarm_id": "716c9cdd6a92b4683fe9",
    "rule": "VOLUME_MISMATCH",
    "severity": "critical",
    "station_id": "S1",
    "nozzle_id": "S1-N1",
    "tank_id": None,
    "seq": 1001,
    "order_id": "O000001",
    "ts": "2026-03-02T08:01:20.000+08:00",
    "message": "sold 30500 mL, metered 30000 mL (+500 mL, +1.67 %)",
    "evidence": {
        "metering": {
            "kind": "metering",
            "station_id": "S1",
            "nozzle_id": "S1-N1",
            "seq": 1001,
            "start": "2026-03-02T08:00:00+08:00",
            "end": "2026-03-02T08:01:00+08:00",
            "pulses": 3000,
            "k_pulses_per_m3": 100000,
            "volume_ml": 30000,
            "totalizer_start_ml": 5000000,
            "totalizer_end_ml": 5030000,
            "key_id": "S1-N1-k1",
        },
        "settlement": {
            "kind": "settlement",
            "station_id": "S1",
            "order_id": "O000001",
            "nozzle_id": "S1-N1",
            "pump_seq": 1001,
            "ts": "2026-03-02T08:01:20+08:00",
            "volume_ml": 30500,
            "unit_price_fen": 800,
            "amount_fen": 24400,
            "paid_fen": 24400,
            "payment": "wechat",
        },
        "difference_ml": 500,
        "tolerance_ml": 10,
    },
}
WEBHOOK_BODY = {"event": "alarm", "alarm": ALARM}


def upload(operation: dict[str, Any]) -> None:
    """Examples of POST /v1/records: the body, and the 200 and 207 answers to it."""
    body = operation["requestBody"]["content"]["application/x-ndjson"]
    body["examples"] = {
        "sale": {"summary": "a signed metering record and its sale", "value": UPLOAD_BODY},
        "mixed": {"summary": "a resend, a changed byte, a line that is no record", "value": MIXED_BODY},
    }
    responses = operation["responses"]
    responses["200"]["content"]["application/json"]["examples"] = {"sale": {"value": ACCEPTED}}
    responses["207"]["content"]["application/json"]["examples"] = {"mixed": {"value": MIXED}}


def alarms(operation: dict[str, Any]) -> None:
    page = {"alarms": [{"ord": 1, **ALARM}], "next": 1}
    operation["responses"]["200"]["content"]["application/json"]["examples"] = {"one": {"value": page}}


__all__ = ["ACCEPTED", "ALARM", "MIXED", "UPLOAD_BODY", "WEBHOOK_BODY", "alarms", "upload"]
