"""The firmware register end to end (contract v1.1 §F, issue 17 item 2): the institute
enters builds with its token (a station's token may not, nor may a station's upload
change anything in it); the console's form for who enters the institute's records; every
change a registry version in the audit log; the running version on the nozzle pages and
the register page; and the acceptance — a firmware update to a revoked version raises
its alarm in batch (``anxin check``) and live (``anxin serve``), the same alarm."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
from factory import T0, City, flush_after, line
from fastapi.testclient import TestClient
from sessions_helper import signed_in
from sqlalchemy import select
from test_engine_firmware import APPROVED, CHEAT, FIRMWARE, MODEL, REVOKED, reg_dict

from anxin.check.run import run_check
from anxin.contract.times import US_PER_MIN
from anxin.serve.runtime import build
from anxin.store import schema as T

ADMIN = "admin-token-for-firmware-0123456789"
ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


def _app(tmp_path: Path, doc: dict):
    reg = tmp_path / "registry.json"
    reg.write_bytes(msgspec.json.encode(doc))
    _, service, app = build(db=str(tmp_path / "db.sqlite"), registry=reg, admin_token=ADMIN)
    return service, TestClient(app)


def _upload(c: TestClient, token: str, recs: list[dict]):
    return c.post(
        "/v1/records",
        content=b"\n".join(line(r) for r in recs),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )


def _revoked_update(city: City) -> tuple[dict, dict, list[dict]]:
    """An authorised update to a revoked version (still unapproved), and what follows."""
    ev = city.event("S1-N1", T0, "firmware_update", {"version": "2.3.9", "sha256": REVOKED})
    verification = city.verification("S1-N1", T0 + 30 * US_PER_MIN)
    return ev, verification, flush_after(city, "S1-N2", T0, 6)


def test_a_firmware_update_to_a_revoked_version_raises_its_alarm_in_batch_and_live(tmp_path: Path) -> None:
    city = City()
    doc = reg_dict(city)
    ev, verification, later = _revoked_update(city)
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_bytes(msgspec.json.encode(doc))
    (data / "a.jsonl").write_bytes(b"".join(line(r) + b"\n" for r in [ev, verification, *later]))
    run_check(data, tmp_path / "out", workers=0)
    batch = [json.loads(x) for x in (tmp_path / "out" / "alarms.jsonl").read_text().splitlines()]
    assert [(a["rule"], a["seq"], a["severity"]) for a in batch] == [("UNAPPROVED_FIRMWARE", ev["seq"], "major")]

    (tmp_path / "live").mkdir()
    service, c = _app(tmp_path / "live", doc)
    station = c.post("/v1/stations/S1/token", headers=ADMIN_H).json()["token"]
    institute = c.post("/v1/institutes/I01/token", headers=ADMIN_H).json()["token"]
    assert _upload(c, station, [ev]).status_code == 200
    assert (
        c.post(
            "/v1/records",
            content=line(verification),
            headers={"Authorization": f"Bearer {institute}", "Content-Type": "application/x-ndjson"},
        ).status_code
        == 200
    )
    assert _upload(c, station, later).status_code == 200
    with service.store.engine.connect() as conn:
        live = conn.execute(select(T.alarms.c.alarm_id, T.alarms.c.rule, T.alarms.c.message)).all()
    assert [(r.alarm_id, r.rule, r.message) for r in live] == [(a["alarm_id"], a["rule"], a["message"]) for a in batch]


def test_the_institute_enters_builds_a_station_may_not_and_every_change_is_audited(tmp_path: Path) -> None:
    city = City()
    service, c = _app(tmp_path, reg_dict(city, firmware=[]))
    station = c.post("/v1/stations/S1/token", headers=ADMIN_H).json()["token"]
    institute = c.post("/v1/institutes/I01/token", headers=ADMIN_H).json()["token"]
    entry = {"dispenser_model": MODEL, "version": "2.3.9", "sha256": REVOKED, "status": "approved"}
    r = c.post("/v1/firmware", json=entry, params={"reason": "x"}, headers={"Authorization": f"Bearer {station}"})
    assert r.status_code == 403 and "station S1" in r.json()["detail"]
    assert c.post("/v1/firmware", json=entry, params={"reason": "x"}).status_code == 401
    assert c.post("/v1/firmware", json=entry, params={"reason": "x"}, headers=ADMIN_H).status_code == 401
    h = {"Authorization": f"Bearer {institute}"}
    assert c.post("/v1/firmware", json=entry, params={"reason": "型式批准 2025-118"}, headers=h).status_code == 200
    revoke = {**entry, "status": "revoked"}
    assert c.post("/v1/firmware", json=revoke, params={"reason": "撤销公告 2026-7"}, headers=h).status_code == 200
    cheat = {"dispenser_model": MODEL, "version": "2.3.9", "sha256": REVOKED, "status": "known_cheat"}
    assert c.post("/v1/firmware", json=cheat, params={"reason": "x"}, headers=h).status_code == 200  # same build
    bad = {**entry, "sha256": "not-hex"}
    assert c.post("/v1/firmware", json=bad, params={"reason": "x"}, headers=h).status_code == 422
    assert [f.status for f in service.registry.firmware] == ["known_cheat"]
    # a station's upload cannot write the register: a "registry" line is a reject
    hostile = {"kind": "registry", "station_id": "S1", "firmware": [entry]}
    r = _upload(c, station, [hostile])
    assert r.json()["rejected"] == 1 and [f.status for f in service.registry.firmware] == ["known_cheat"]
    with service.store.engine.connect() as conn:
        audit = conn.execute(
            select(T.audit_log.c.actor, T.audit_log.c.action, T.audit_log.c.reason).where(
                T.audit_log.c.action == "firmware.change"
            )
        ).all()
    assert [(a.actor, a.reason) for a in audit] == [
        ("institute:I01", "型式批准 2025-118"),
        ("institute:I01", "撤销公告 2026-7"),
        ("institute:I01", "x"),
    ]
    got = c.get("/v1/firmware", headers=h).json()
    assert got["firmware"][0]["status"] == "known_cheat"


def test_console_form_pages_and_where_a_revoked_build_still_runs(tmp_path: Path) -> None:
    city = City()
    service, c = _app(tmp_path, reg_dict(city, firmware=FIRMWARE))
    station = c.post("/v1/stations/S1/token", headers=ADMIN_H).json()["token"]
    recs = [
        city.event("S1-N1", T0, "firmware_update", {"version": "2.3.9", "sha256": REVOKED}),
        city.event("S1-N2", T0, "firmware_update", {"version": "2.4.0", "sha256": APPROVED}),
        city.event("S1-N3", T0, "firmware_update", {"version": "2.4.0", "sha256": CHEAT}),
    ]
    assert _upload(c, station, recs).json()["accepted"] == 3
    csrf = signed_in(c, service.store, "zhang", "inspector")
    page = c.get("/console/firmware")
    assert page.status_code == 200
    text = page.text
    bad = text.split('id="firmware-bad"')[1].split("</table>")[0]
    assert "S1-N1" in bad and "S1-N3" in bad and "S1-N2" not in bad
    assert "已撤销" in bad and "已知作弊程序" in bad
    for raw in ("known_cheat", "UNAPPROVED_FIRMWARE", "dispenser_model"):
        assert raw not in text.replace('data-status="known_cheat"', "").replace('value="known_cheat"', "").replace(
            'name="dispenser_model"', ""
        ), raw
    nozzle = c.get("/console/nozzles/S1-N1").text
    assert "2.3.9 · 已撤销" in nozzle and MODEL in nozzle
    public = c.get("/p/S1-N2").text
    assert "2.4.0 · 已批准" in public
    r = c.post(
        "/console/firmware",
        data={
            "csrf": csrf,
            "dispenser_model": MODEL,
            "version": "2.4.2",
            "sha256": "f" * 64,
            "status": "approved",
            "reason": "型式批准",
        },
    )
    assert r.status_code == 200 and "已登记" in r.text
    assert ("2.4.2", "approved") in {(f.version, f.status) for f in service.registry.firmware}
    r = c.post(
        "/console/firmware",
        data={
            "csrf": csrf,
            "dispenser_model": "X-1",
            "version": "9",
            "sha256": CHEAT,
            "status": "approved",
            "reason": "r",
        },
    )
    assert r.status_code == 422 and "登记未通过" in r.text  # a known cheat hash may not be approved
    op = TestClient(c.app)
    signed_in(op, service.store, "li", "operator", ("S1",))
    assert op.post("/console/firmware", data={"csrf": "x", "reason": "r"}).status_code in (403, 303, 400)
