"""Who may send what (contract v1.1 §C, issue 11 finding 4 and deliverable 3): a station's
token never sends a verification (HTTP and MQTT); an institute has a token of its own
and, where the registry lists institutes, signs its verifications; console users are
principals too; the register and the public page say who sent each record; the batch
check keeps v1 where the registry lists no institutes; registry changes are audited."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from pathlib import Path

import msgspec
import pytest
from factory import T0, City, line
from fastapi.testclient import TestClient
from sessions_helper import signed_in
from sqlalchemy import select

from anxin.check.run import run_check
from anxin.contract.canonical import canonical_of_dict
from anxin.contract.times import US_PER_MIN, parse_ts
from anxin.crypto.schemes import generate_signer
from anxin.register import register_rows
from anxin.serve.runtime import build
from anxin.store import schema as T

ADMIN = "admin-token-for-provenance-0123456789"
ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
EXPIRED = "2020-01-01T00:00:00.000+08:00"  # the registry's verification ran out long ago
INSTITUTE = generate_signer("ed25519", b"institute-I01" * 4)
OTHER_KEY = generate_signer("ed25519", b"someone-else" * 4)


def _institutes() -> list[dict]:
    return [
        {
            "institute_id": "I01",
            "name": "杭州市计量检定测试院",
            "key_alg": "ed25519",
            "key_id": "I01-k1",
            "public_key": INSTITUTE.public_key_text,
        }
    ]


def _app(tmp_path: Path, city: City, **over):
    reg = tmp_path / "registry.json"
    reg.write_bytes(msgspec.json.encode(city.registry_dict()))
    _, service, app = build(db=str(tmp_path / "db.sqlite"), registry=reg, admin_token=ADMIN, **over)
    return service, TestClient(app)


def _post(c: TestClient, token: str, recs: list[dict]):
    return c.post(
        "/v1/records",
        content=b"\n".join(line(r) for r in recs),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )


def _rules(service, nozzle_id: str) -> set[str]:
    with service.store.engine.connect() as c:
        return set(c.execute(select(T.alarms.c.rule).where(T.alarms.c.nozzle_id == nozzle_id)).scalars())


def _signed(rec: dict, signer=INSTITUTE, institute_id: str = "I01", key_id: str = "I01-k1") -> dict:
    rec = dict(rec, institute_id=institute_id, key_id=key_id)
    rec["sig"] = base64.b64encode(signer.sign(canonical_of_dict(rec))).decode()
    return rec


def _rigging(city: City) -> tuple[list[dict], list[dict]]:
    """A station breaks its own seal, raises its K factor and sells with it; then it
    uploads two "passing" verifications of its own, valid until 2099."""
    n = "S1-N1"
    t = T0 + 10 * US_PER_MIN
    records = [
        city.event(n, t, "seal_open"),
        city.event(n, t + US_PER_MIN, "k_factor_change", {"old": 100_000, "new": 103_000}),
        city.event(n, t + 2 * US_PER_MIN, "seal_close"),
    ]
    m = city.metering(n, t + 5 * US_PER_MIN, k=103_000)
    records += [m, city.sale(m)]
    fakes = []
    for minutes in (3, 4):
        v = city.verification(n, t + minutes * US_PER_MIN, k=103_000)
        v["valid_until"] = "2099-12-31T00:00:00.000+08:00"
        v["certificate_no"] = f"FAKE-{minutes}"
        fakes.append(v)
    later = city.metering("S1-N2", t + 6 * 60 * US_PER_MIN)  # the watermark passes every horizon
    return records, fakes + [later, city.sale(later)]


def test_finding_4_a_station_cannot_certify_itself(tmp_path: Path) -> None:
    city = City(verified_until=EXPIRED)
    service, c = _app(tmp_path, city)
    token = c.post("/v1/stations/S1/token", headers=ADMIN_H).json()["token"]
    rigging, then = _rigging(city)
    assert _post(c, token, rigging).status_code == 200
    r = _post(c, token, then)
    assert r.status_code == 207, r.text
    results = r.json()["results"]
    refused = [x for x in results if x["status"] == "rejected"]
    assert [x["line"] for x in refused] == [1, 2]
    assert all("verification records come only from a verification institute" in x["reason"] for x in refused)
    with service.store.engine.connect() as conn:
        assert conn.execute(select(T.verifications.c.nozzle_id)).all() == []
        assert conn.execute(select(T.ledger.c.id).where(T.ledger.c.kind == "verification")).all() == []
        reasons = list(conn.execute(select(T.rejects.c.reason)).scalars())
    assert len(reasons) == 2 and all(x.startswith("not permitted") for x in reasons)
    # The breach, the undeclared K and the use after them are all alarmed.
    assert {"SEAL_BREACH", "K_FACTOR_CHANGE", "UNVERIFIED_USE"} <= _rules(service, "S1-N1")
    # The public page does not say "verified, valid" and shows no 2099.
    page = c.get("/p/S1-N1").text
    assert "检定已过期" in page and "2099" not in page and "检定合格，在有效期内" not in page
    # Whatever the record contains: also with an institute's valid signature, a
    # station's token is refused.
    signed = _signed(dict(then[0], certificate_no="FAKE-signed"))
    r = _post(c, token, [signed])
    assert r.status_code == 422 and r.json()["results"][0]["reason"].startswith("not permitted")


def test_station_verification_over_mqtt_is_rejected(tmp_path: Path) -> None:
    from test_mqtt_bridge import client, reachable

    from anxin.ingest.mqtt import MqttBridge
    from anxin.serve.app import TokenIndex

    url = "mqtt://127.0.0.1:1883"
    if (problem := reachable(url)) is not None:
        pytest.skip(problem)
    city = City(verified_until=EXPIRED)
    service, _c = _app(tmp_path, city)
    tokens = TokenIndex(service)
    token = tokens.issue("S1")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    got: list[dict] = []
    done = threading.Event()
    listener = client(url)

    def on_message(_c, _u, msg) -> None:
        got.append(json.loads(msg.payload))
        done.set()

    listener.on_message = on_message
    listener.subscribe(f"{prefix}/+/results", qos=1)
    bridge = MqttBridge(service, tokens.station, url, client_id=f"b-{prefix}", prefix=prefix, session_expiry=10)
    bridge.start()
    try:
        assert bridge.wait_ready(10)
        pub = client(url)
        payload = json.dumps({"token": token}).encode() + b"\n" + line(city.verification("S1-N1", T0))
        pub.publish(f"{prefix}/S1/verification", payload, qos=1).wait_for_publish(5)
        assert done.wait(10), "no result message"
        pub.disconnect()
    finally:
        bridge.stop()
        listener.disconnect()
    result = got[0]
    assert result["accepted"] == 0 and result["rejected"] == 1, result
    assert result["results"][0]["reason"].startswith("not permitted: verification records come only")
    with service.store.engine.connect() as conn:
        assert conn.execute(select(T.ledger.c.id).where(T.ledger.c.kind == "verification")).all() == []


def test_an_institute_has_its_own_token_and_sends_verifications_only(tmp_path: Path) -> None:
    city = City(verified_until=EXPIRED)
    service, c = _app(tmp_path, city)
    r = c.post("/v1/institutes/I09/token", params={"name": "省计量院"}, headers=ADMIN_H)
    assert r.status_code == 200, r.text
    inst = r.json()["token"]
    v1, v2 = city.verification("S1-N1", T0), city.verification("S2-N1", T0)  # any station's nozzles
    m = city.metering("S1-N2", T0)
    r = _post(c, inst, [v1, v2, m])
    assert r.status_code == 207, r.text
    out = r.json()["results"]
    assert [x["status"] for x in out] == ["accepted", "accepted", "rejected"]
    assert "institute I09 may send verification records only" in out[2]["reason"]
    # A record naming another institute is refused.
    r = _post(c, inst, [dict(city.verification("S1-N2", T0), institute_id="I01")])
    assert r.status_code == 422 and "the token is institute 'I09'" in r.json()["results"][0]["reason"]
    with service.store.engine.connect() as conn:
        sources = set(conn.execute(select(T.ledger.c.source).where(T.ledger.c.kind == "verification")).scalars())
        tokens = conn.execute(select(T.institute_tokens.c.institute_id, T.institute_tokens.c.token_sha256)).all()
        audit = list(conn.execute(select(T.audit_log.c.action, T.audit_log.c.subject)))
    assert sources == {"institute:I09"}
    assert [t[0] for t in tokens] == ["I09"] and len(tokens[0][1]) == 32  # the hash only
    assert ("token.issue", "institute:I09") in audit and ("token.issue", "station:S1") not in audit
    # The register says who sent it; the public page says it too.
    row = next(x for x in register_rows(service.store, service.registry, now_us=T0 + 1) if x.nozzle_id == "S1-N1")
    assert (row.sender_role, row.sender, row.status) == ("institute", "省计量院", "valid")
    page = c.get("/p/S1-N1").text
    assert "检定机构 省计量院" in page
    # Revoked at once; then refused.
    assert c.request("DELETE", "/v1/institutes/I09/token", headers=ADMIN_H).status_code == 200
    assert _post(c, inst, [city.verification("S1-N1", T0 + 1)]).status_code == 401
    assert c.get("/v1/institutes", headers=ADMIN_H).json() == []


def test_signed_verifications_where_the_registry_lists_institutes(tmp_path: Path) -> None:
    city = City(verified_until=EXPIRED, registry_extra={"institutes": _institutes()})
    service, c = _app(tmp_path, city)
    inst = c.post("/v1/institutes/I01/token", headers=ADMIN_H).json()["token"]
    assert c.post("/v1/institutes/I99/token", headers=ADMIN_H).status_code == 404  # not listed
    good = _signed(city.verification("S1-N1", T0))
    forged = dict(_signed(city.verification("S1-N2", T0)), certificate_no="ALTERED")
    other_key = _signed(city.verification("S1-N3", T0), signer=OTHER_KEY, key_id="I01-k9")
    unsigned = city.verification("S2-N1", T0)
    r = _post(c, inst, [good, forged, other_key, unsigned])
    assert r.status_code == 207, r.text
    out = r.json()["results"]
    assert [x["status"] for x in out] == ["accepted", "quarantined", "quarantined", "quarantined"]
    assert "signature does not verify" in out[1]["reason"]
    assert "not the institute's key" in out[2]["reason"]
    assert "not signed by a registered institute" in out[3]["reason"]
    assert _rules(service, "S1-N2") == {"BAD_SIGNATURE"}
    assert _rules(service, "S1-N3") == {"UNKNOWN_DEVICE"} and _rules(service, "S2-N1") == {"UNKNOWN_DEVICE"}
    with service.store.engine.connect() as conn:
        assert list(conn.execute(select(T.verifications.c.nozzle_id))) == [("S1-N1",)]
    # The batch check judges the same files the same way.
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    (data / "institute.jsonl").write_bytes(b"\n".join(line(x) for x in (good, forged, other_key, unsigned)) + b"\n")
    run_check(data, tmp_path / "out", workers=0)
    alarms = [json.loads(x) for x in (tmp_path / "out" / "alarms.jsonl").read_text().splitlines()]
    assert sorted((a["rule"], a["nozzle_id"]) for a in alarms) == [
        ("BAD_SIGNATURE", "S1-N2"),
        ("UNKNOWN_DEVICE", "S1-N3"),
        ("UNKNOWN_DEVICE", "S2-N1"),
    ]
    verified = [json.loads(x) for x in (tmp_path / "out" / "verifications.jsonl").read_text().splitlines()]
    assert [v["nozzle_id"] for v in verified] == ["S1-N1"]


def test_batch_check_without_institutes_keeps_v1(tmp_path: Path) -> None:
    city = City(verified_until=EXPIRED)
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_bytes(msgspec.json.encode(city.registry_dict()))
    (data / "v.jsonl").write_bytes(line(city.verification("S1-N1", T0)) + b"\n")
    run_check(data, tmp_path / "out", workers=0)
    assert (tmp_path / "out" / "alarms.jsonl").read_text() == ""
    assert len((tmp_path / "out" / "verifications.jsonl").read_text().splitlines()) == 1


def test_console_users_are_principals_and_registry_changes_are_audited(tmp_path: Path) -> None:
    from anxin.ingest.principals import Principal
    from anxin.register import import_csv

    city = City(verified_until=EXPIRED, registry_extra={"institutes": _institutes()})
    service, c = _app(tmp_path, city)
    # A console user's unsigned hand entry is accepted on the user's authority, even
    # where the registry lists institutes, and recorded as the user's.
    who = Principal.console("li.jian")
    r = service.ingest("S1", [line(city.verification("S1-N1", T0))], source=who.source("form"), principal=who)
    assert r.accepted == 1, r
    # …and the user may not send anything else.
    r = service.ingest("S1", [line(city.metering("S1-N2", T0))], source=who.source("form"), principal=who)
    assert r.rejected == 1 and "console user li.jian may send verification records only" in r.results[0].reason
    csv = (
        "station_id,nozzle_id,ts,type,org,certificate_no,k_pulses_per_m3,valid_until,"
        "flow_ml_per_min,standard_ml,indicated_ml,standard_temp_mc,dispenser_temp_mc\n"
        "S1,S1-N2,2026-03-02T09:00:00+08:00,periodic,杭州市计量检定测试院,C-1,100000,2026-09-01T00:00:00+08:00,"
        "40000,20000,20010,20000,20000\n"
        "S1,S1-N2,2026-03-02T09:00:00+08:00,periodic,杭州市计量检定测试院,C-1,100000,2026-09-01T00:00:00+08:00,"
        "40000,20000,20012,20000,20000\n"
    ).encode()
    who2 = Principal.console("wang.fang")
    report = import_csv(service, csv, source=who2.source("csv"), principal=who2)
    assert not report.errors and report.count("accepted") == 1, report
    rows = {x.nozzle_id: x for x in register_rows(service.store, service.registry, now_us=T0 + US_PER_MIN * 120)}
    assert (rows["S1-N1"].sender_role, rows["S1-N1"].sender) == ("console", "li.jian")
    assert (rows["S1-N2"].sender_role, rows["S1-N2"].sender) == ("console", "wang.fang")
    # Registry changes: the admin API only, each in the hash-chained audit log.
    n = c.post(
        "/v1/registry/prices",
        params={"reason": "调价", "author": "zhang"},
        json={"station_id": "S1", "product": "92", "from": "2026-03-03T00:00:00.000+08:00", "unit_price_fen": 810},
        headers=ADMIN_H,
    )
    assert n.status_code == 200
    assert c.post("/v1/registry/prices", params={"reason": "x"}, json={}).status_code == 401
    with service.store.engine.connect() as conn:
        entries = conn.execute(
            select(T.audit_log.c.actor, T.audit_log.c.action, T.audit_log.c.reason, T.audit_log.c.data)
            .where(T.audit_log.c.action == "registry.change")
            .order_by(T.audit_log.c.seq)
        ).all()
    assert [e.reason for e in entries][-1] == "调价" and entries[-1].data["author"] == "zhang"
    assert len(entries) == 2  # the initial registry, then the price


def test_a_station_sent_verification_from_before_is_never_shown_as_valid(tmp_path: Path) -> None:
    """A database from before §C may hold verifications a station sent (source
    ``http:S1``): the register lists them as the station's, refused, and keeps the
    nozzle's status from the registry; no certificate is issued for them."""
    from anxin.ingest.principals import sender_of

    city = City(verified_until=EXPIRED)
    service, c = _app(tmp_path, city)
    v = city.verification("S1-N1", T0)
    v["valid_until"] = "2099-12-31T00:00:00.000+08:00"
    service.ingest("S1", [line(v)], source="http:S1")  # as the old path took it: no principal
    rows = {x.nozzle_id: x for x in register_rows(service.store, service.registry, now_us=T0 + 1)}
    assert rows["S1-N1"].status == "overdue" and rows["S1-N1"].source == "registry"
    assert sender_of("http:S1").trusted is False and sender_of("institute:I01").trusted
    page = c.get("/p/S1-N1").text
    assert "2099" not in page and "检定已过期" in page
    ts = v["ts"]
    stored = service.store.engine.connect().execute(select(T.verifications.c.ts)).scalar_one()
    assert parse_ts(stored) == parse_ts(ts)
    signed_in(c, service.store, "zhao", "regulator")
    reg_page = c.get("/console/register").text
    assert "加油站自行上传（已拒收" in reg_page
    assert c.get(f"/console/certificates/S1-N1/{stored}.pdf").status_code == 404
