"""Issue 11, finding 7 — the public channels must not steer enforcement: the QR page's
complaint form, the citizen-chosen inspection request (你点我检) and ``POST /v1/complaints``
are rate-limited per address and per nozzle (in the database), challenged past a free
allowance (proof of work, served and checked here), bounded in attachments (count, size,
bytes a day, type by content), guarded by a CSRF token and an origin check, and the
client's address is the connection's unless a configured proxy forwards it. (That
complaints count in the risk score only once triaged: test_supervision_risk.py.)"""

from __future__ import annotations

import contextlib
import re
import time

import httpx2
import msgspec
import pytest
from fastapi.testclient import TestClient
from live import Server
from services import fresh_pg_database
from sqlalchemy import func, select

from anxin.serve.config import ServeConfig
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.store import schema as T
from anxin.web.guard import PublicLimits, leading_zero_bits, solve

MiB = 1024 * 1024
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"
NOZZLE = "S0001-D1-N1"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    root = tmp_path_factory.mktemp("public")
    simulate(root / "city", stations=2, days=1, seed=4, scenarios=ScenarioSet.honest(), workers=1, group_size=2)
    return root


@pytest.fixture(scope="module")
def served(city):
    _, service, app = build(db=str(city / "db.sqlite"), registry=city / "city" / "registry.json", cookie_secure=False)
    return service, app


@pytest.fixture()
def app(served):
    """The module's app with its counters emptied and the default limits back."""
    service, app = served
    with service.store.engine.begin() as c:
        c.execute(T.throttle.delete())
    app.state.guard.limits = PublicLimits()
    return service, app


def _limits(app, **changes) -> None:
    app.state.guard.limits = msgspec.structs.replace(PublicLimits(), **changes)


def _client(app, address: str = "198.51.100.7") -> TestClient:
    return TestClient(app, client=(address, 40000))


def _page(c: TestClient, nozzle: str = NOZZLE) -> dict[str, str | None]:
    html = c.get(f"/p/{nozzle}").text
    token = re.search(r'name="form_token" value="([^"]+)"', html)
    challenge = re.search(r'action="/p/[^"]+/report"[^>]*data-pow="([^"]+)" data-pow-bits="(\d+)"', html)
    return {
        "form_token": token[1] if token else None,
        "challenge": challenge[1] if challenge else None,
        "bits": challenge[2] if challenge else None,
    }


def _complain(c: TestClient, nozzle: str = NOZZLE, *, solved: bool = False, files=None, **extra):
    page = _page(c, nozzle)
    data = {"text": "加了 200 元，油箱只多了一点", "form_token": page["form_token"], **extra}
    if solved and page["challenge"]:
        data |= {"pow_challenge": page["challenge"], "pow_solution": solve(page["challenge"], int(page["bits"]))}
    return c.post(f"/p/{nozzle}/report", data=data, files=files, follow_redirects=False)


def _complaints(service) -> int:
    with service.store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(T.complaints)).scalar_one())


def _stored_bytes(service) -> int:
    with service.store.engine.connect() as c:
        return int(c.execute(select(func.coalesce(func.sum(T.attachments.c.size), 0))).scalar_one())


def test_one_address_meets_a_challenge_then_a_limit(app) -> None:
    """No rate limit and no challenge: any number of complaints from one address. Now a
    few are free, then each needs the proof of work, and past the hour's maximum: 429."""
    service, a = app
    start = _complaints(service)
    _limits(a, difficulty=10, max_per_address_hour=7, free_per_target_hour=100)
    c = _client(a)
    codes = [_complain(c).status_code for _ in range(5)]
    assert codes == [303, 303, 303, 428, 428]
    page = _page(c)
    assert page["challenge"] and int(page["bits"]) >= 10  # the page now carries the challenge
    r = _complain(c, solved=True)
    assert r.status_code == 303, r.text
    r = _complain(c, solved=True)
    assert r.status_code == 303
    r = _complain(c, solved=True)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "12315" in r.text
    assert _complaints(service) - start == 5
    # Another address is not held up by this one.
    assert _complain(_client(a, "203.0.113.50")).status_code == 303


def test_the_challenge_is_checked_and_taken_once(app) -> None:
    service, a = app
    _limits(a, difficulty=10, free_per_address_hour=0)
    c = _client(a)
    page = _page(c)
    assert page["challenge"]
    challenge, bits = page["challenge"], int(page["bits"])
    good = solve(challenge, bits)
    wrong = next(str(i) for i in range(10_000) if leading_zero_bits(_sha(f"{challenge}:{i}")) < bits)
    post = {"text": "少油", "form_token": page["form_token"], "pow_challenge": challenge}
    assert c.post(f"/p/{NOZZLE}/report", data={**post, "pow_solution": wrong}).status_code == 428
    forged = challenge.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAA"
    assert (
        c.post(f"/p/{NOZZLE}/report", data={**post, "pow_challenge": forged, "pow_solution": good}).status_code == 428
    )
    other = "/p/S0002-D1-N1/report"  # issued for another nozzle's form: refused
    assert c.post(other, data={**post, "pow_solution": good}).status_code == 428
    assert c.post(f"/p/{NOZZLE}/report", data={**post, "pow_solution": good}, follow_redirects=False).status_code == 303
    assert c.post(f"/p/{NOZZLE}/report", data={**post, "pow_solution": good}).status_code == 428  # used
    r = c.post(f"/p/{NOZZLE}/report", data={**post, "pow_solution": ""})
    assert r.status_code == 428 and "JavaScript" not in r.text.split("<noscript>")[0][-200:]
    assert "<noscript>" in r.text and "12315" in r.text  # without JavaScript: what to do


def _sha(text: str) -> bytes:
    import hashlib

    return hashlib.sha256(text.encode()).digest()


def test_many_addresses_against_one_nozzle_are_challenged_and_capped(app) -> None:
    """Spam from many addresses at one nozzle: past the nozzle's free allowance everyone
    about it is challenged, and past the day's maximum it is 429 (call 12315)."""
    service, a = app
    start = _complaints(service)
    _limits(a, difficulty=8, free_per_target_hour=4, max_per_target_day=6)
    codes = [_complain(_client(a, f"203.0.113.{i}")).status_code for i in range(6)]
    assert codes == [303, 303, 303, 303, 428, 428]
    solved = [_complain(_client(a, f"198.51.100.{i}"), solved=True).status_code for i in range(4)]
    assert solved == [303, 303, 429, 429]
    assert _complaints(service) - start == 6
    assert _complain(_client(a, "192.0.2.1"), "S0002-D1-N1").status_code == 303  # another nozzle is open


def test_the_inspection_request_is_guarded_alike(app) -> None:
    service, a = app
    _limits(a, difficulty=8, free_per_address_hour=1)
    c = _client(a)

    def ask(solved: bool = False):
        html = c.get(f"/p/{NOZZLE}").text
        data = {"form_token": re.search(r'name="form_token" value="([^"]+)"', html)[1]}
        m = re.search(r'action="/p/[^"]+/inspect"[^>]*data-pow="([^"]+)" data-pow-bits="(\d+)"', html)
        if solved and m:
            data |= {"pow_challenge": m[1], "pow_solution": solve(m[1], int(m[2]))}
        return c.post(f"/p/{NOZZLE}/inspect", data=data, follow_redirects=False).status_code

    assert c.post(f"/p/{NOZZLE}/inspect", data={}).status_code == 403  # no form token
    assert [ask(), ask(), ask(solved=True)] == [303, 428, 303]
    with service.store.engine.connect() as db:
        assert db.execute(select(func.count()).select_from(T.citizen_requests)).scalar_one() == 2


def test_attachments_cannot_fill_the_database(app) -> None:
    """10 requests with 5 × 5 MiB attachments grew the database by 275 MB in 2.8 s. Now
    one submission carries at most 10 MiB, one address 20 MiB a day, and only JPEG, PNG
    or PDF by their content."""
    service, a = app
    _limits(a, free_per_address_hour=100, max_per_address_hour=100)
    c = _client(a)
    before = _stored_bytes(service)
    big = [("files", (f"p{i}.jpg", JPEG + b"\0" * (5 * MiB - len(JPEG)), "image/jpeg")) for i in range(5)]
    codes = [_complain(c, files=big).status_code for _ in range(3)]
    assert codes == [413, 413, 413] and _stored_bytes(service) == before
    four = [("files", (f"p{i}.jpg", JPEG + b"\0" * (2 * MiB), "image/jpeg")) for i in range(4)]  # 8 MiB
    codes = [_complain(c, files=four).status_code for _ in range(4)]
    assert codes == [303, 303, 413, 413]  # 16 MiB stored; a third would pass 20 MiB today
    stored = _stored_bytes(service) - before
    assert 16 * MiB <= stored <= PublicLimits().address_bytes_day
    r = _complain(c, files=[("files", ("x.jpg", b"\0" * 1000, "image/jpeg"))])  # says JPEG, is not
    assert r.status_code == 422 and "JPEG" in r.text
    r = _complain(c, files=[("files", ("x.html", b"<script>alert(1)</script>", "image/png"))])
    assert r.status_code == 422
    r = _complain(c, files=[("files", (f"{i}.png", b"\x89PNG\r\n\x1a\n", "image/png")) for i in range(6)])
    assert r.status_code == 413  # six files
    assert _complain(_client(a, "203.0.113.77"), files=four).status_code == 303  # another address: its own quota


def test_the_public_forms_need_their_token_and_this_site(app) -> None:
    """No CSRF token: another site could make its visitors' browsers file complaints (each
    from its own address). Now the form's token is bound to this site's cookie, and an
    Origin (or Referer) of another site is refused."""
    service, a = app
    start = _complaints(service)
    c = _client(a)
    page = _page(c)
    data = {"text": "少油", "form_token": page["form_token"]}
    assert c.post(f"/p/{NOZZLE}/report", data={"text": "少油"}).status_code == 403
    stranger = _client(a, "203.0.113.9")  # a token taken from a page, used without its cookie
    assert stranger.post(f"/p/{NOZZLE}/report", data=data).status_code == 403
    evil = {"Origin": "https://evil.example"}
    assert c.post(f"/p/{NOZZLE}/report", data=data, headers=evil).status_code == 403
    assert c.post(f"/p/{NOZZLE}/report", data=data, headers={"Referer": "https://evil.example/x"}).status_code == 403
    assert c.post(f"/p/{NOZZLE}/report", data=data, headers={"Origin": "null"}).status_code == 403
    r = c.post(f"/p/{NOZZLE}/report", data=data, headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    assert "anxin_form" in c.cookies and "HttpOnly" in c.get(f"/p/{NOZZLE}").headers.get("set-cookie", "HttpOnly")
    assert _complaints(service) - start == 1


def test_the_complaint_api_takes_this_site_only_and_challenges_past_the_threshold(app) -> None:
    service, a = app
    start = _complaints(service)
    _limits(a, difficulty=10, free_per_address_hour=2)
    c = _client(a)
    body = {"station_id": "S0001", "nozzle_id": NOZZLE, "text": "油量不足"}
    assert c.post("/v1/complaints", json=body, headers={"Origin": "https://evil.example"}).status_code == 403
    assert c.post("/v1/complaints", json=body, headers={"Origin": "http://testserver"}).status_code == 201
    assert c.post("/v1/complaints", json=body).status_code == 201  # no Origin: a program, not a page
    r = c.post("/v1/complaints", json=body)
    assert r.status_code == 428
    ch = r.json()
    answer = {"X-Anxin-Challenge": ch["challenge"], "X-Anxin-Solution": solve(ch["challenge"], ch["difficulty"])}
    assert c.post("/v1/complaints", json=body, headers=answer).status_code == 201
    assert c.post("/v1/complaints", json=body, headers=answer).status_code == 428  # each challenge once
    other = {**body, "nozzle_id": "S0001-D1-N2"}  # solved for one nozzle, not another
    fresh = c.post("/v1/complaints", json=body).json()
    answer = {"X-Anxin-Challenge": fresh["challenge"], "X-Anxin-Solution": solve(fresh["challenge"], 10)}
    assert c.post("/v1/complaints", json=other, headers=answer).status_code == 428
    assert _complaints(service) - start == 3
    spec = c.get("/openapi.json").json()["paths"]["/v1/complaints"]["post"]["responses"]
    assert {"403", "428", "429"} <= set(spec)


def test_x_forwarded_for_is_not_believed_unless_a_proxy_is_configured(city, tmp_path) -> None:
    """Rotating X-Forwarded-For bypassed the API's per-address limit: uvicorn believed it
    from 127.0.0.1 by default. Now ``anxin serve`` believes no proxy unless
    ``forwarded_allow_ips`` names one, so the forged header changes nothing."""
    assert ServeConfig().forwarded_allow_ips == ""
    server = Server(str(tmp_path / "db.sqlite"), city / "city" / "registry.json", tmp_path / "serve.log")
    server.start()
    try:
        body = {"station_id": "S0001", "nozzle_id": NOZZLE, "text": "油量不足"}
        codes = [
            httpx2.post(
                f"{server.url}/v1/complaints", json=body, headers={"X-Forwarded-For": f"203.0.113.{i}"}
            ).status_code
            for i in range(10)
        ]
    finally:
        server.stop()
    free = PublicLimits().free_per_address_hour
    assert codes == [201] * free + [428] * (10 - free), codes


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_counters_are_shared_through_the_database(city, tmp_path, backend: str) -> None:
    """Two apps (two worker processes) on one database count the same address together."""
    with contextlib.ExitStack() as stack:
        db = str(tmp_path / "db.sqlite") if backend == "sqlite" else stack.enter_context(fresh_pg_database())
        built = [build(db=db, registry=city / "city" / "registry.json", cookie_secure=False) for _ in range(2)]
        for _, service, _ in built:
            stack.callback(service.store.close)
        apps = [a for _, _, a in built]
        for a in apps:
            a.state.guard.limits = msgspec.structs.replace(PublicLimits(), free_per_address_hour=2)
        body = {"station_id": "S0001", "text": "油量不足"}
        codes = [_client(apps[i % 2]).post("/v1/complaints", json=body).status_code for i in range(4)]
        assert codes == [201, 201, 428, 428]


def test_the_counters_table_stays_bounded(app) -> None:
    from anxin.store import throttle

    service, _ = app
    now = time.time_ns() // 1000
    hits = [throttle.Hit(key=f"pub:a:h0:10.0.{i // 256}.{i % 256}", window_us=1000) for i in range(500)]
    throttle.hit(service.store, hits, now_us=now)
    assert throttle.sweep(service.store, now_us=now + 2000) >= 500  # expired: gone
    with service.store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(T.throttle)).scalar_one() == 0
    assert not throttle.crowded(service.store)


def test_a_regulator_triages_a_complaint_in_the_console(app) -> None:
    """The triage that makes a complaint count in the draw is a regulator's decision."""
    from anxin.auth import create_user, list_users
    from anxin.supervision import complaints as C

    service, a = app
    now = time.time_ns() // 1000
    for name, role in (("zhao", "regulator"), ("qian", "inspector")):
        if not any(u["username"] == name for u in list_users(service.store)):
            create_user(
                service.store,
                username=name,
                display_name=name,
                role=role,
                password="correct horse battery staple",
                actor="test",
                reason="test",
                now_us=now,
            )
    cid = C.submit(service.store, service.registry, station_id="S0001", text="少油", channel="api", now_us=now)

    def signed_in(user: str) -> tuple[TestClient, str]:
        c = _client(a, "10.0.0.1")
        token = re.search(r'name="form_token" value="([^"]+)"', c.get("/console/login").text)[1]
        data = {"username": user, "password": "correct horse battery staple", "next": "/console", "form_token": token}
        assert c.post("/console/login", data=data, follow_redirects=False).status_code == 303
        page = c.get(f"/console/complaints/{cid}").text
        return c, re.search(r'name="csrf" value="([^"]+)"', page)[1]

    inspector, csrf = signed_in("qian")
    assert "/triage" not in inspector.get(f"/console/complaints/{cid}").text
    r = inspector.post(f"/console/complaints/{cid}/triage", data={"csrf": csrf, "plausible": "yes"})
    assert r.status_code == 403 and C.get(service.store, cid)["plausible"] is None
    regulator, csrf = signed_in("zhao")
    assert "/triage" in regulator.get(f"/console/complaints/{cid}").text
    r = regulator.post(f"/console/complaints/{cid}/triage", data={"csrf": csrf, "plausible": "maybe"})
    assert r.status_code == 400 and "plausible" in r.text
    r = regulator.post(
        f"/console/complaints/{cid}/triage",
        data={"csrf": csrf, "plausible": "no", "text": "刷单"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and C.get(service.store, cid)["plausible"] is False
    assert "不可信（不计入）" in regulator.get(f"/console/complaints/{cid}").text
