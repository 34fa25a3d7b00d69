"""Issue 16, item 6 — one log format: a real ``anxin serve`` (uvicorn, a child process)
writes uvicorn's server log and its access log in the JSON lines of anxin's own
(``anxin.logs``), every stderr line one object with ts, level, logger and event, the
requests with their method, path and status as fields of their own."""

from __future__ import annotations

import json
import logging

import httpx2
import msgspec
from factory import City, line
from live import ADMIN, Server

from anxin.logs import AccessFormatter, JsonFormatter, uvicorn_log_config


def test_anxin_serve_logs_uvicorn_and_every_request_as_json_lines(tmp_path) -> None:
    city = City()
    registry = tmp_path / "registry.json"
    registry.write_bytes(msgspec.json.encode(city.registry_dict()))
    log = tmp_path / "serve.log"
    server = Server(str(tmp_path / "db.sqlite"), registry, log)  # anxin --log info serve …
    server.start()
    try:
        assert httpx2.get(server.url + "/healthz?probe=1").status_code == 200
        tok = httpx2.post(f"{server.url}/v1/stations/S1/token", headers={"Authorization": f"Bearer {ADMIN}"})
        h = {"Authorization": f"Bearer {tok.json()['token']}", "Content-Type": "application/x-ndjson"}
        up = httpx2.post(server.url + "/v1/records", content=line(city.metering("S1-N1", 0)) + b"\nnot json", headers=h)
        assert up.status_code == 422
        assert httpx2.get(server.url + "/nowhere").status_code == 404
    finally:
        server.stop()
    text = log.read_text()
    entries = [json.loads(x) for x in text.splitlines() if x.strip()]  # every line JSON, or this raises
    assert entries and all({"ts", "level", "logger", "event"} <= e.keys() for e in entries)
    assert all(e["ts"].endswith("Z") and "\x1b" not in json.dumps(e) for e in entries)  # no ANSI colours
    by_logger = {e["logger"] for e in entries}
    assert {"anxin", "uvicorn.error", "uvicorn.access"} <= by_logger, by_logger
    events = [e["event"] for e in entries if e["logger"] == "uvicorn.error"]
    assert any("startup complete" in x for x in events) and any("Shutting down" in x for x in events), events
    requests = {(e["method"], e["path"], e["status"]) for e in entries if e["logger"] == "uvicorn.access"}
    assert {("GET", "/healthz?probe=1", 200), ("POST", "/v1/records", 422), ("GET", "/nowhere", 404)} <= requests
    access = next(e for e in entries if e["logger"] == "uvicorn.access")
    assert access["event"] == "request" and access["client"].startswith("127.0.0.1:") and access["http"] == "1.1"


def test_the_log_config_follows_anxins_level_and_formats_what_uvicorn_gives() -> None:
    anxin = logging.getLogger("anxin")
    old = anxin.level
    try:
        anxin.setLevel(logging.WARNING)
        cfg = uvicorn_log_config()
        assert cfg["loggers"]["uvicorn.access"]["level"] == "WARNING"  # the default: no request lines
        assert uvicorn_log_config("info")["loggers"]["uvicorn"]["level"] == "INFO"
    finally:
        anxin.setLevel(old)
    rec = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', None, None)
    rec.args = ("10.0.0.1:5000", "GET", "/x", "1.1", 200)
    got = json.loads(AccessFormatter().format(rec))
    assert got["status"] == 200 and got["path"] == "/x" and got["event"] == "request"
    err = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "Started server process [%d]", (42,), None)
    err.color_message = "Started server process [\x1b[36m%d\x1b[0m]"
    got = json.loads(JsonFormatter().format(err))
    assert got["event"] == "Started server process [42]" and "color_message" not in got
