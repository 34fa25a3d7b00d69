"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) work on a network without internet: the
pages reference only this server, every asset they reference is served with the right
content type, and the shipped third-party files are the ones the vendor README lists."""

from __future__ import annotations

import hashlib
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from live import free_port
from services import wait_for

from anxin.serve.app import VENDOR_DIR
from anxin.serve.runtime import build

REDOC_LOGO_CDN = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOGO_LOCAL = b"data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
    "": ("text/html",),
}


class _Refs(HTMLParser):
    """Every URL an HTML page makes the browser load: src, href, ReDoc's spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    # Swagger UI's configuration in the inline script: the OpenAPI document it fetches.
    parser.urls += re.findall(r"\burl:\s*'([^']*)'", html)
    return parser.urls


@pytest.fixture(scope="module", params=[True, False], ids=["console", "no-console"])
def client(request, tmp_path_factory) -> TestClient:
    db = tmp_path_factory.mktemp("docs") / "db.sqlite"
    _, _, app = build(db=str(db), console=request.param)
    return TestClient(app)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_this_server(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    # No absolute or protocol-relative URL anywhere in the page (not even in its script).
    assert not re.search(r"https?://|(?<![:\w])//[\w.-]+", html), re.findall(r"\S*//\S*", html)
    # The CSP nonce is random text and may spell anything ("…cdn…"): judge the page without it.
    fixed = re.sub(r'nonce="[^"]*"', 'nonce=""', html)
    assert "googleapis" not in fixed and "cdn" not in fixed.lower()
    urls = references(html)
    assert urls, "the page references no asset"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
    loaded = [u for u in urls if u.startswith("/static/vendor/")]
    assert loaded, urls  # the UI's own files come from the package
    for url in urls:
        a = client.get(url)
        assert a.status_code == 200, (url, a.status_code)
        ext = Path(url).suffix
        assert a.headers["content-type"].split(";")[0].strip() in TYPES[ext], (url, a.headers["content-type"])
        assert a.content, url


def test_swagger_ui_fetches_no_validator_badge(client: TestClient) -> None:
    html = client.get("/docs").text
    assert '"validatorUrl": null' in html
    assert "/static/vendor/swagger-ui-bundle.js" in html and "/static/vendor/swagger-ui.css" in html


def test_oauth2_redirect_page_is_served(client: TestClient) -> None:
    r = client.get("/docs/oauth2-redirect")
    assert r.status_code == 200 and "swaggerUIRedirectOauth2" in r.text
    assert not re.search(r"https?://", r.text)


def test_docs_pages_follow_a_proxy_path_prefix(tmp_path) -> None:
    _, _, app = build(db=str(tmp_path / "db.sqlite"))
    c = TestClient(app, root_path="/anxin")
    for page in ("/docs", "/redoc"):
        urls = references(c.get(page).text)
        assert urls and all(u.startswith("/anxin/") for u in urls), urls


def test_the_docs_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)


def test_vendored_files_match_the_readme() -> None:
    """Every file in the vendor folder is listed in its README with its SHA-256, and is that file."""
    readme = (VENDOR_DIR / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", readme, flags=re.M))
    shipped = {p.name for p in VENDOR_DIR.iterdir() if p.is_file() and p.name != "README.md"}
    assert shipped == set(listed), shipped ^ set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest() == digest, name
    # ReDoc's one substitution (its Redocly logo from a CDN), undone, gives the file as published.
    original = re.search(r"as\s+published \(before the substitution\): `([0-9a-f]{64})`", readme)
    assert original is not None
    redoc = (VENDOR_DIR / "redoc.standalone.js").read_bytes()
    assert redoc.count(REDOC_LOGO_LOCAL) == 1 and b"cdn.redoc.ly" not in redoc
    assert hashlib.sha256(redoc.replace(REDOC_LOGO_LOCAL, REDOC_LOGO_CDN)).hexdigest() == original[1]
    # Each UI ships with its licence (and Swagger UI's NOTICE, as Apache-2.0 asks).
    assert {"SWAGGER-UI-LICENSE", "SWAGGER-UI-NOTICE", "REDOC-LICENSE", "ECHARTS-LICENSE"} <= shipped
    assert "Apache License" in (VENDOR_DIR / "SWAGGER-UI-LICENSE").read_text()
    assert "MIT License" in (VENDOR_DIR / "REDOC-LICENSE").read_text()


@pytest.mark.xdist_group("browser")
def test_docs_render_in_a_browser_with_no_request_elsewhere(browser, tmp_path) -> None:
    """Debian's chromium loads /docs and /redoc from a real server; every request the pages
    make is recorded, and any to another origin is refused and fails the test."""
    _, _, app = build(db=str(tmp_path / "db.sqlite"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server.started, timeout=30, what="uvicorn")
        page = browser.new_page()
        seen: list[str] = []

        def route(r) -> None:
            seen.append(r.request.url)
            if r.request.url.startswith(origin + "/"):
                r.continue_()
            else:
                r.abort()

        page.route("**/*", route)
        page.goto(origin + "/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "anxin" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-tag", timeout=30_000)  # the operations, from /openapi.json
        page.goto(origin + "/redoc")
        page.wait_for_selector("h1", timeout=30_000)
        assert "anxin" in page.inner_text("h1")
        page.wait_for_selector("[role=menuitem]", timeout=30_000)
        page.close()
        elsewhere = [u for u in seen if not u.startswith(origin + "/")]
        assert not elsewhere, elsewhere
        assert any(u.endswith("/openapi.json") for u in seen) and any("/static/vendor/" in u for u in seen)
    finally:
        server.should_exit = True
        thread.join(30)
