"""A demonstration station for compose.yaml's `demo` profile (runs in the anxin image).

First start: simulates one station-day with `anxin simulate`, loads its registry into
the platform (PUT /v1/registry) unless the platform has one, and issues the station's
API token (POST /v1/stations/{id}/token), kept in the volume. Every start: runs
`anxin edge run` on the simulated files, the token passed in the environment.

Environment: ANXIN_DEMO_SERVER (http://anxin:8080), ANXIN_DEMO_ADMIN_TOKEN_FILE
(/run/secrets/admin_token), ANXIN_DEMO_DIR (/var/lib/anxin), ANXIN_DEMO_ONCE=1 to
upload what there is and exit (`anxin edge run --once`; tests/test_deploy_files.py).
Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SERVER = os.environ.get("ANXIN_DEMO_SERVER", "http://anxin:8080").rstrip("/")
ADMIN_TOKEN_FILE = Path(os.environ.get("ANXIN_DEMO_ADMIN_TOKEN_FILE", "/run/secrets/admin_token"))
HOME = Path(os.environ.get("ANXIN_DEMO_DIR", "/var/lib/anxin"))
CITY = HOME / "city"
TOKEN_FILE = HOME / "station.token"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def say(msg: str) -> None:
    print(f"edge-demo: {msg}", file=sys.stderr, flush=True)


def call(method: str, path: str, admin: str, body: bytes | None = None) -> dict:
    req = urllib.request.Request(SERVER + path, data=body, method=method)
    req.add_header("Authorization", f"Bearer {admin}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with NO_PROXY.open(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def wait_up(timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with NO_PROXY.open(SERVER + "/healthz", timeout=5):
                return
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"edge-demo: {SERVER} did not come up: {exc}") from None
            time.sleep(2)


def main() -> None:
    if not (CITY / "registry.json").exists():
        say(f"simulating one station-day into {CITY}")
        subprocess.run(
            ["anxin", "simulate", str(CITY), "--stations", "1", "--days", "1", "--seed", "7", "--workers", "1"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    registry = json.loads((CITY / "registry.json").read_bytes())
    station = registry["stations"][0]["station_id"]
    wait_up()
    if not TOKEN_FILE.exists():
        admin = ADMIN_TOKEN_FILE.read_text(encoding="utf-8").strip()
        if not call("GET", "/v1/registry", admin)["stations"]:
            say("loading the simulated registry into the platform")
            body = (CITY / "registry.json").read_bytes()
            call("PUT", "/v1/registry?reason=compose+demo&author=edge-demo", admin, body)
        token = call("POST", f"/v1/stations/{station}/token", admin)["token"]
        TOKEN_FILE.touch(mode=0o600)
        TOKEN_FILE.write_text(token + "\n", encoding="utf-8")
        say(f"issued the API token of {station}")
    env = dict(os.environ, ANXIN_EDGE_TOKEN=TOKEN_FILE.read_text(encoding="utf-8").strip())
    args = ["anxin", "edge", "run", "--server", SERVER, "--outbox", str(HOME / "outbox.sqlite")]
    args += ["--source", str(CITY / "*.jsonl")]
    if os.environ.get("ANXIN_DEMO_ONCE") == "1":
        args.append("--once")
    say(f"{station} uploading to {SERVER}")
    os.execvpe(args[0], args, env)


if __name__ == "__main__":
    main()
