"""Examples of the API description, each a real exchange. The upload's signed records are
published test vectors (``docs/vectors/vectors.json``: ``metering-ed25519``,
``event-k-factor-change-ed25519``, ``metering-ed25519-changed-byte``, signed with the
vectors' public test key ``ed25519-a``) with a sale of the metered fuel, as a station
sends them; the answers are the service's to them with that key registered for nozzle
``N0001-1`` (``tests/test_api_description.py`` sends them again, and checks the lines are
the vectors'). The alarm is the one a sale 500 mL above its metering raises
(``tests/test_api_client.py`` raises it through a generated client)."""

from __future__ import annotations

from typing import Any

METERING = (
    '{"kind":"metering","station_id":"S0001","nozzle_id":"N0001-1","seq":1042,'
    '"start":"2026-03-01T08:15:02.250+08:00","end":"2026-03-01T08:17:40.125+08:00",'
    '"pulses":41180,"k_pulses_per_m3":998700,"volume_ml":41234,"totalizer_start_ml":123456789,'
    '"totalizer_end_ml":123498023,"key_id":"K-ED25519-A",'
    '"sig":"iUPxJiu+kpyJ5qwz+ETGbYnyJK+hoqM2XCM1ssbRHOKyIihMrkK6rt8UZLC8DQBlF96GmvZjAUbg9paSJVtcDg=="}'
)
K_FACTOR_CHANGE = (
    '{"kind":"event","station_id":"S0001","nozzle_id":"N0001-1","seq":1043,'
    '"ts":"2026-03-01T08:17:40.125+08:00","event":"k_factor_change","data":{"old":998700,'
    '"new":1001200},"key_id":"K-ED25519-A",'
    '"sig":"8y0BksnQmP1F/sZ9QrER80inPRImVm1a7iokXZ3FPP+RPU+zz6tixb0AtF5W8sVwD1GY90Zez6tiBWrW94/HAA=="}'
)
CHANGED_BYTE = (
    '{"kind":"metering","station_id":"S0001","nozzle_id":"N0001-1","seq":1042,'
    '"start":"2026-03-01T08:15:02.250+08:00","end":"2026-03-01T08:17:40.125+08:00",'
    '"pulses":41180,"k_pulses_per_m3":998700,"volume_ml":41235,"totalizer_start_ml":123456789,'
    '"totalizer_end_ml":123498023,"key_id":"K-ED25519-A",'
    '"sig":"iUPxJiu+kpyJ5qwz+ETGbYnyJK+hoqM2XCM1ssbRHOKyIihMrkK6rt8UZLC8DQBlF96GmvZjAUbg9paSJVtcDg=="}'
)
SETTLEMENT = (
    '{"kind":"settlement","station_id":"S0001","order_id":"20260301081741001",'
    '"nozzle_id":"N0001-1","pump_seq":1042,"ts":"2026-03-01T08:17:55.000+08:00",'
    '"volume_ml":41230,"unit_price_fen":785,"amount_fen":32366,"paid_fen":32366,'
    '"payment":"wechat"}'
)
UPLOAD_BODY = METERING + "\n" + SETTLEMENT + "\n" + K_FACTOR_CHANGE + "\n"
# The metering record again, the vector with one byte changed, and a line that is no record.
MIXED_BODY = METERING + "\n" + CHANGED_BYTE + "\n" + '{"kind":"metering"}\n'

ACCEPTED: dict[str, Any] = {
    "accepted": 3,
    "duplicate": 0,
    "quarantined": 0,
    "rejected": 0,
    "results": [
        {"line": 1, "status": "accepted", "kind": "metering", "key": "N0001-1/1042"},
        {"line": 2, "status": "accepted", "kind": "settlement", "key": "S0001/20260301081741001"},
        {"line": 3, "status": "accepted", "kind": "event", "key": "N0001-1/1043"},
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
            "kind": "metering",
            "key": "N0001-1/1042",
        },
        {
            "line": 2,
            "status": "quarantined",
            "reason": "signature does not verify: quarantined as evidence",
            "kind": "metering",
            "key": "N0001-1/1042",
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
        "sale": {
            "summary": "a signed metering record (test vector), its sale, a K-factor change",
            "value": UPLOAD_BODY,
        },
        "mixed": {"summary": "a resend, the vector with a changed byte, a line that is no record", "value": MIXED_BODY},
    }
    responses = operation["responses"]
    responses["200"]["content"]["application/json"]["examples"] = {"sale": {"value": ACCEPTED}}
    responses["207"]["content"]["application/json"]["examples"] = {"mixed": {"value": MIXED}}


def alarms(operation: dict[str, Any]) -> None:
    page = {"alarms": [{"ord": 1, **ALARM}], "next": 1}
    operation["responses"]["200"]["content"]["application/json"]["examples"] = {"one": {"value": page}}


__all__ = ["ACCEPTED", "ALARM", "MIXED", "UPLOAD_BODY", "WEBHOOK_BODY", "alarms", "upload"]
