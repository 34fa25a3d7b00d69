"""A complainant's contact is personal data kept apart (docs/privacy.md): never in a
complaint's listing or page data, shown only to a regulator or the inspector the
complaint is assigned to, each view (and each download of a complainant's file) an entry
of the audit log."""

from __future__ import annotations

import re
import time
from pathlib import Path

import msgspec
import pytest
from fastapi.testclient import TestClient
from sessions_helper import signed_in
from sqlalchemy import select

from anxin.auth.roles import User
from anxin.serve.runtime import build
from anxin.store import schema as T
from anxin.supervision import SupervisionError
from anxin.supervision import complaints as C
from tests.factory import City

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def console(tmp_path: Path):
    reg = tmp_path / "registry.json"
    reg.write_bytes(msgspec.json.encode(City().registry_dict()))
    _, service, app = build(db=str(tmp_path / "db.sqlite"), registry=reg, cookie_secure=False)
    yield service, app
    service.store.close()


def _views(store, cid: int) -> list[tuple[str, str, dict]]:
    au = T.audit_log.c
    with store.engine.connect() as c:
        rows = c.execute(
            select(au.actor, au.action, au.data)
            .where(au.subject == f"complaint:{cid}", au.action.like("complaint.%_view"))
            .order_by(au.seq)
        ).all()
    return [(r.actor, r.action, r.data) for r in rows]


def test_the_contact_is_kept_apart_and_each_view_is_audited(console) -> None:
    service, _ = console
    store, now = service.store, time.time_ns() // 1000
    cid = C.submit(
        store, service.registry, station_id="S1", text="少油", contact="13812345678", channel="qr", now_us=now
    )
    d = C.get(store, cid)
    assert d is not None and "contact" not in d and d["has_contact"] is True
    assert all("contact" not in r for r in C.listing(store))
    regulator = User(id=1, username="zhao", display_name="zhao", role="regulator")
    inspector = User(id=2, username="qian", display_name="qian", role="inspector")
    operator = User(id=3, username="wang", display_name="wang", role="operator", stations=["S1"])
    admin = User(id=4, username="root", display_name="root", role="admin")
    assert C.reveal_contact(store, cid, viewer=regulator, now_us=now + 1) == "13812345678"
    for who in (inspector, operator, admin):
        with pytest.raises(SupervisionError) as err:
            C.reveal_contact(store, cid, viewer=who, now_us=now + 2)
        assert err.value.code == "contact_not_permitted"
    C.assign(store, cid, assignee="qian", actor="zhao", now_us=now + 3)
    assert C.reveal_contact(store, cid, viewer=inspector, now_us=now + 4) == "13812345678"
    assert [(a, act) for a, act, _ in _views(store, cid)] == [
        ("zhao", "complaint.contact_view"),
        ("qian", "complaint.contact_view"),
    ]


def test_the_console_shows_the_contact_on_request_to_who_may_see_it(console) -> None:
    service, app = console
    store, now = service.store, time.time_ns() // 1000
    cid = C.submit(
        store,
        service.registry,
        station_id="S1",
        text="少油",
        contact="13812345678",
        channel="qr",
        attachments=[("receipt.png", "image/png", PNG)],
        now_us=now,
    )
    regulator, inspector = TestClient(app), TestClient(app)
    csrf = signed_in(regulator, store, "zhao", "regulator")
    icsrf = signed_in(inspector, store, "qian", "inspector")
    page = regulator.get(f"/console/complaints/{cid}").text
    assert "13812345678" not in page and f"/console/complaints/{cid}/contact" in page
    assert "投诉人联系方式" in page
    shown = regulator.post(f"/console/complaints/{cid}/contact", data={"csrf": csrf})
    assert shown.status_code == 200 and "13812345678" in shown.text
    # an inspector it is not assigned to: no button, and the step is refused
    ipage = inspector.get(f"/console/complaints/{cid}").text
    assert "13812345678" not in ipage and f"/console/complaints/{cid}/contact" not in ipage
    refused = inspector.post(f"/console/complaints/{cid}/contact", data={"csrf": icsrf})
    assert refused.status_code == 400 and "13812345678" not in refused.text
    assert "无权查看投诉人联系方式" in refused.text
    # a complainant's file, downloaded: audited too
    aid = int(re.search(rf"/console/complaints/{cid}/attachments/(\d+)", page)[1])
    assert regulator.get(f"/console/complaints/{cid}/attachments/{aid}").content == PNG
    assert [(a, act) for a, act, _ in _views(store, cid)] == [
        ("zhao", "complaint.contact_view"),
        ("zhao", "complaint.attachment_view"),
    ]


def test_a_citizen_requests_contact_is_never_listed(console) -> None:
    from anxin.supervision import inspections as I

    service, _ = console
    now = time.time_ns() // 1000
    I.citizen_request(service.store, service.registry, nozzle_id="S1-N1", contact="13812345678", now_us=now)
    rows = I.citizen_requests(service.store)
    assert rows and all("contact" not in r for r in rows)
