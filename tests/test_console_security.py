"""Issue 11, finding 8 (the console's part), in-process: security headers and a
Content-Security-Policy on every HTML response (the API docs with a nonce for their one
inline script), no inline script left in the console's pages, bad filter and paging
values answered 400 naming the field, CSRF and the origin check on the login form, a
guesser who cannot lock the owner out, the session cookie Secure by default whatever the
scheme, /metrics behind its token or this machine, and ``max_lines`` exact. (The login
throttle, the uniform answers and timing, the password rules and the aggregated audit
entries: test_auth.py; in a browser: test_console_security_browser.py.)"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from anxin.auth import create_user
from anxin.serve.config import ServeConfig, load_config
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, uploads

PASSWORD = "correct horse battery staple"
ADMIN = "admin-token-0123456789"


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("console-security")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    simulate(
        root / "city",
        stations=2,
        days=1,
        seed=4,
        scenarios=ScenarioSet.parse("honest,amount_fraud=0.03"),
        workers=1,
        group_size=2,
    )
    return root


@pytest.fixture(scope="module")
def app(city):
    _, service, app = build(
        db=str(city / "db.sqlite"), registry=city / "city" / "registry.json", admin_token=ADMIN, cookie_secure=False
    )
    create_user(
        service.store,
        username="zhang",
        display_name="张科长",
        role="regulator",
        password=PASSWORD,
        actor="test",
        reason="test",
        now_us=time.time_ns() // 1000,
    )
    for sid, lines in uploads(arrival_lines(city / "city"), "S0001"):
        service.ingest(sid, lines, source="test")
    return service, app


def _token(c: TestClient, path: str = "/console/login") -> str:
    return re.search(r'name="form_token" value="([^"]+)"', c.get(path).text)[1]


def _login(c: TestClient, user: str = "zhang", password: str = PASSWORD, **headers):
    data = {"username": user, "password": password, "next": "/console", "form_token": _token(c)}
    return c.post("/console/login", data=data, headers=headers, follow_redirects=False)


def _signed_in(a) -> TestClient:
    c = TestClient(a)
    assert _login(c).status_code == 303
    return c


PAGES = (
    "/console",
    "/console/alarms",
    "/console/workorders",
    "/console/register",
    "/console/register/new",
    "/console/complaints",
    "/console/inspections",
    "/console/cases",
    "/console/risk",
    "/console/oversight",
    "/console/statistics",
    "/console/audit",
    "/console/stations/S0001",
    "/console/nozzles/S0001-D1-N1",
)


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.handlers += [f"{tag}[{k}]" for k in a if k.startswith("on")]
        self.handlers += [f"{tag}[{k}]" for k, v in a.items() if v and v.strip().lower().startswith("javascript:")]
        if tag == "script" and "src" not in a and a.get("type") != "application/json":
            self.inline.append(str(a))


def test_every_html_page_has_the_security_headers_and_no_inline_script(app) -> None:
    """There was no Content-Security-Policy and no security header."""
    service, a = app
    c = _signed_in(a)
    alarm = re.search(r"/console/alarms/([0-9a-f]{20,})", c.get("/console/alarms").text)[1]
    anon = TestClient(a)
    pages = [(c, p) for p in (*PAGES, f"/console/alarms/{alarm}", "/console/alarms/no-such-alarm")]
    pages += [(anon, p) for p in ("/console/login", "/p/S0001-D1-N1", "/p/S0001-D1-N1/thanks", "/p/NOPE")]
    for client, path in pages:
        r = client.get(path)
        assert r.headers["content-type"].startswith("text/html"), path
        h = r.headers
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY", path
        assert h["referrer-policy"] == "same-origin", path
        csp = dict(d.strip().split(" ", 1) for d in h["content-security-policy"].split(";"))
        assert csp["script-src"] == "'self'" and csp["object-src"] == "'none'", path
        assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'self'", path
        parser = _Scripts()
        parser.feed(r.text)
        assert parser.inline == [] and parser.handlers == [], (path, parser.inline, parser.handlers)
    api = anon.get("/healthz")  # JSON and files: nosniff, no framing
    assert api.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in api.headers
    js = anon.get("/static/app.js")
    assert js.headers["x-content-type-options"] == "nosniff"


def test_the_api_docs_allow_exactly_their_own_inline_script(app) -> None:
    _, a = app
    c = TestClient(a)
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        r = c.get(page)
        csp = r.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([^']+)'", csp)[1]
        inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", r.text)  # ReDoc's page has none
        assert all(f'nonce="{nonce}"' in attrs for attrs in inline), (page, inline)
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert nonce != re.search(r"'nonce-([^']+)'", c.get(page).headers["content-security-policy"])[1]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/console/complaints?status=x", "status"),
        ("/console/alarms?before=99999999999999999999999", "before"),
        ("/console/audit?before=99999999999999999999999", "before"),
        ("/console/audit?before=abc", "before"),
        ("/console/alarms?before=-1", "before"),
        ("/console/alarms?rule=NOPE", "rule"),
        ("/console/alarms?severity=huge", "severity"),
        ("/console/alarms?status=gone", "status"),
        ("/console/alarms?since=2026-13-01", "since"),
        ("/console/alarms?until=yesterday", "until"),
        ("/console/cases?status=x", "status"),
    ],
)
def test_bad_filter_and_paging_values_are_400_naming_the_field(app, path: str, field: str) -> None:
    """``/console/complaints?status=x``, ``/console/alarms?before=99999999999999999999999``
    and ``/console/audit?before=…`` were 500s."""
    _, a = app
    r = _signed_in(a).get(path)
    assert r.status_code == 400 and f"{field}:" in r.text, (path, r.status_code)


def test_ids_past_64_bits_in_a_path_are_refused_not_500(app) -> None:
    _, a = app
    c = _signed_in(a)
    for path in (
        "/console/complaints/99999999999999999999999",
        "/console/inspections/99999999999999999999999",
        "/console/cases/99999999999999999999999",
        "/console/workorders/99999999999999999999999",
    ):
        assert c.get(path).status_code == 422, path


def test_the_login_form_needs_its_token_and_this_site(app) -> None:
    """The login form had no CSRF token (a login CSRF signs the victim in as the attacker)."""
    _, a = app
    c = TestClient(a)
    plain = {"username": "zhang", "password": PASSWORD, "next": "/console"}
    assert c.post("/console/login", data=plain, follow_redirects=False).status_code == 403
    assert c.post("/console/login", data={**plain, "form_token": "1.forged"}).status_code == 403
    other = TestClient(a)  # a token from a page fetched by someone else (another cookie)
    assert other.post("/console/login", data={**plain, "form_token": _token(c)}).status_code == 403
    assert _login(c, Origin="https://evil.example").status_code == 403
    r = _login(c, Origin="http://testserver")
    assert r.status_code == 303 and r.headers["location"] == "/console"


def test_a_guesser_cannot_lock_the_owner_out(app, monkeypatch) -> None:
    """Five failed logins locked any account: anyone could shut a regulator out."""
    from anxin.auth import throttle

    # the delays run on the wall clock: a 2 s first delay could pass between the guesses
    # and the last attempt on a loaded CI machine (seen once); a minute cannot
    monkeypatch.setattr(throttle, "BASE_DELAY_US", 60_000_000)
    service, a = app
    create_user(
        service.store,
        username="wang",
        display_name="王",
        role="inspector",
        password=PASSWORD,
        actor="test",
        reason="test",
        now_us=time.time_ns() // 1000,
    )
    owner = TestClient(a, client=("10.1.2.3", 40000))
    assert _login(owner, "wang").status_code == 303  # the owner's browser, known from now on
    owner.post(
        "/console/logout", data={"csrf": re.search(r'name="csrf" value="([^"]+)"', owner.get("/console").text)[1]}
    )
    guesser = TestClient(a, client=("203.0.113.9", 40000))
    answers = {_login(guesser, "wang", f"guess number {i}").status_code for i in range(12)}
    assert answers == {401}
    assert _login(guesser, "wang").status_code == 401  # the guesser: throttled even with the right password
    r = _login(owner, "wang")
    assert r.status_code == 303  # the owner: in
    unknown = _login(guesser, "no.such.user")
    wrong = _login(TestClient(a, client=("198.51.100.1", 40000)), "wang", "wrong password!")
    assert unknown.status_code == wrong.status_code == 401
    message = lambda r: re.search(r'role="alert">([^<]+)<', r.text)[1]  # noqa: E731
    assert message(unknown) == message(wrong) == "用户名或密码错误，或尝试过于频繁，请稍后再试"


def test_the_session_cookie_is_secure_by_default_whatever_the_scheme(city, tmp_path) -> None:
    """The cookie's Secure flag followed the request's scheme (http behind a proxy that
    does not say X-Forwarded-Proto: no Secure). Now it is configuration, on by default."""
    assert ServeConfig().cookie_secure is True
    _, service, a = build(db=str(tmp_path / "db.sqlite"), registry=city / "city" / "registry.json")
    create_user(
        service.store,
        username="zhang",
        display_name="张",
        role="regulator",
        password=PASSWORD,
        actor="test",
        reason="test",
        now_us=time.time_ns() // 1000,
    )
    secure = TestClient(a, base_url="https://testserver")
    page = secure.get("/console/login")
    assert "secure" in page.headers["set-cookie"].lower()
    form = re.search(r'name="form_token" value="([^"]+)"', page.text)[1]
    cookie = secure.cookies["anxin_form"]
    plain = TestClient(a)  # the same form, sent over plain http
    plain.cookies.set("anxin_form", cookie)
    r = plain.post(
        "/console/login",
        data={"username": "zhang", "password": PASSWORD, "next": "/console", "form_token": form},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookies = r.headers.get_list("set-cookie")
    session = next(x for x in cookies if x.startswith("anxin_session="))
    assert "secure" in session.lower() and "httponly" in session.lower()


def test_metrics_needs_its_token_or_this_machine(city, tmp_path, monkeypatch) -> None:
    """/metrics was public."""
    _, _, a = build(db=str(tmp_path / "a.sqlite"), registry=city / "city" / "registry.json")
    assert TestClient(a, client=("203.0.113.9", 1)).get("/metrics").status_code == 403
    assert TestClient(a, client=("127.0.0.1", 1)).get("/metrics").status_code == 200
    forwarded = {"X-Forwarded-For": "203.0.113.9"}  # through a proxy on this machine: not this machine
    assert TestClient(a, client=("127.0.0.1", 1)).get("/metrics", headers=forwarded).status_code == 403
    secret = tmp_path / "metrics_token"
    secret.write_text("scrape-token-0123456789\n")
    monkeypatch.setenv("ANXIN_METRICS_TOKEN_FILE", str(secret))
    assert load_config().metrics_token == "scrape-token-0123456789"
    _, _, b = build(db=str(tmp_path / "b.sqlite"), registry=city / "city" / "registry.json")
    c = TestClient(b, client=("203.0.113.9", 1))
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    r = c.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert r.status_code == 200 and "anxin_ready" in r.text
    assert TestClient(b, client=("127.0.0.1", 1)).get("/metrics").status_code == 401  # the token, then, always


def test_max_lines_is_the_number_of_records(app, city, tmp_path) -> None:
    """``max_lines`` was off by one: max_lines + 1 records were taken in one upload."""
    _, _, a = build(
        db=str(tmp_path / "db.sqlite"), registry=city / "city" / "registry.json", admin_token=ADMIN, max_lines=3
    )
    c = TestClient(a)
    token = c.post("/v1/stations/S0001/token", headers={"Authorization": f"Bearer {ADMIN}"}).json()["token"]
    lines = [raw for sid, raw in arrival_lines(city / "city") if sid == "S0001"][:8]

    def post(body: bytes) -> int:
        h = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        return c.post("/v1/records", content=body, headers=h).status_code

    assert post(b"\n".join(lines[:4])) == 413  # four records, no final newline
    assert post(b"\n".join(lines[:4]) + b"\n") == 413
    assert post(b"\n".join(lines[:3])) in (200, 207)
    assert post(b"\n".join(lines[4:7]) + b"\n") in (200, 207)  # a final newline adds no record
