"""Serve from an installed wheel and look at it as a user would (run by test_wheel.py,
inside a network namespace with only the loopback interface where the machine allows
one, so that nothing can leave the machine even by accident).

    python wheel_probe.py VENV DATA_DIR

Starts ``VENV/bin/anxin --log info serve`` on a free port with a new SQLite database in
DATA_DIR, checks the console's login page, a static asset, /openapi.json, /docs and
/redoc over HTTP, then renders /docs, /redoc and the login page in Debian's chromium,
recording every request the pages make; after it stops, every line of its stderr
(DATA_DIR/serve.log) must be one JSON object, uvicorn's and the requests' included.
Prints one JSON object (what it saw) and exits 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from services import launch_chromium  # tests/, beside this script


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


def wait_up(base: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"anxin serve exited with {server.returncode}")
        try:
            if get(base + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("anxin serve did not answer /healthz")


def read_log(path: Path) -> dict:
    """What the server's stderr holds: the lines that are not JSON objects, the loggers."""
    not_json, entries = [], []
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            not_json.append(line[:200])
        else:
            entries.append(entry)
    return {
        "not_json": not_json,
        "loggers": sorted({str(e.get("logger")) for e in entries}),
        "healthz_logged": any(e.get("path") == "/healthz" and e.get("status") == 200 for e in entries),
    }


def render(base: str, seen: dict) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(base + "/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
        seen["docs_operations"] = page.locator(".swagger-ui .opblock").count()
        page.goto(base + "/redoc")
        page.wait_for_selector("[role=menuitem], .menu-content", timeout=20_000)
        seen["redoc_rendered"] = True
        page.goto(base + "/console/login")
        seen["login_has_password_field"] = page.locator("input[type=password]").count() == 1
        browser.close()
    seen["browser_requests"] = len(requests)
    seen["external_requests"] = sorted({u for u in requests if not u.startswith((base, "data:", "blob:"))})


def main() -> int:
    venv, data = Path(sys.argv[1]), Path(sys.argv[2])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(data / "serve.log", "wb")
    server = subprocess.Popen(
        [
            str(venv / "bin" / "anxin"),
            "--log",
            "info",
            "serve",
            "--db",
            str(data / "anxin.sqlite"),
            "--port",
            str(port),
        ],
        stdout=open(data / "serve.out", "wb"),
        stderr=log,
        env={**os.environ, "ANXIN_ADMIN_TOKEN": "wheel-probe-admin-token-0123456789"},
    )
    seen: dict = {}
    try:
        wait_up(base, server)
        for name, path in (
            ("login", "/console/login"),
            ("css", "/static/app.css"),
            ("docs", "/docs"),
            ("redoc", "/redoc"),
            ("openapi", "/openapi.json"),
        ):
            status, ctype, body = get(base + path)
            seen[name] = {"status": status, "type": ctype.split(";")[0], "bytes": len(body)}
            if name == "openapi":
                seen[name]["paths"] = len(json.loads(body).get("paths", {}))
        render(base, seen)
    finally:
        server.terminate()
        server.wait(timeout=20)
    seen["log"] = read_log(data / "serve.log")
    ok = (
        seen["log"]["not_json"] == []
        and {"uvicorn.error", "uvicorn.access", "anxin"} <= set(seen["log"]["loggers"])
        and seen["log"]["healthz_logged"]
        and all(seen[k]["status"] == 200 for k in ("login", "css", "docs", "redoc", "openapi"))
        and seen["css"]["type"] == "text/css"
        and seen["openapi"]["paths"] > 10
        and seen["docs_operations"] > 10
        and seen["login_has_password_field"]
        and not seen["external_requests"]
    )
    print(json.dumps(seen, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
