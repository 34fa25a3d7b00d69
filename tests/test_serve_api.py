"""The HTTP API of ``anxin serve``: every bad upload gets a clear 4xx naming the problem
and changes nothing already accepted; registry administration; operations endpoints;
alarms arrive on the SSE stream of a real server and resume by Last-Event-ID."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx2
import msgspec
import pytest
from fastapi.testclient import TestClient
from live import ADMIN, Server, arrival_lines

from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("api") / "city"
    simulate(
        out,
        stations=2,
        days=1,
        seed=5,
        scenarios=ScenarioSet.parse("honest,amount_fraud=0.05"),
        workers=1,
        group_size=2,
    )
    return out


def _client(tmp_path: Path, city: Path, **over) -> tuple[TestClient, dict[str, str]]:
    _, service, app = build(db=str(tmp_path / "db.sqlite"), registry=city / "registry.json", admin_token=ADMIN, **over)
    c = TestClient(app)
    tokens = {s: c.post(f"/v1/stations/{s}/token", headers=ADMIN_H).json()["token"] for s in ("S0001", "S0002")}
    return c, tokens


def _lines(city: Path, station: str) -> list[bytes]:
    return [raw for sid, raw in arrival_lines(city) if sid == station]


def _post(c: TestClient, token: str | None, body: bytes, ctype: str = "application/x-ndjson") -> httpx2.Response:
    h = {"Content-Type": ctype}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return c.post("/v1/records", content=body, headers=h)


def test_bad_uploads_get_a_clear_4xx_and_change_nothing(tmp_path, city) -> None:
    c, tok = _client(tmp_path, city, max_body_bytes=200_000, max_lines=300)
    good = _lines(city, "S0001")[:100]
    r = _post(c, tok["S0001"], b"\n".join(good))
    assert r.status_code == 200 and r.json()["accepted"] == 100
    before = c.app.state.service.store.counts()

    def detail(r: httpx2.Response) -> str:
        return r.json()["detail"] if "detail" in r.json() else json.dumps(r.json()["results"])

    cases = {
        "unauthenticated": (_post(c, None, good[0]), 401, "token"),
        "unknown token": (_post(c, "nope", good[0]), 401, "unknown"),
        "not NDJSON": (_post(c, tok["S0001"], good[0], "application/xml"), 415, "NDJSON"),
        "empty": (_post(c, tok["S0001"], b"\n\n"), 400, "no record"),
        "oversized": (_post(c, tok["S0001"], b"\n".join(good * 10)), 413, "limit"),
        "too many lines": (_post(c, tok["S0001"], b"\n".join([good[0]] * 400)), 413, "line"),
        "replayed": (_post(c, tok["S0001"], b"\n".join(good[:5])), 409, "already received"),
        "malformed": (_post(c, tok["S0001"], b'{"kind": "metering", "seq": "x"}'), 422, "$.seq"),
        "other station's token": (_post(c, tok["S0002"], good[0]), 422, "S0001"),
    }
    meter = msgspec.json.decode(next(ln for ln in _lines(city, "S0001")[100:] if b'"metering"' in ln))
    meter["volume_ml"] += 500
    cases["forged"] = (_post(c, tok["S0001"], msgspec.json.encode(meter)), 422, "signature does not verify")
    for name, (r, code, words) in cases.items():
        assert r.status_code == code, (name, r.status_code, r.text)
        assert words in detail(r), (name, r.text)
    after = c.app.state.service.store.counts()
    assert after["ledger_metering"] == before["ledger_metering"] + 1  # only the forgery, as evidence
    assert after["quarantined"] == before["quarantined"] + 1
    mixed = _post(c, tok["S0001"], b"\n".join([_lines(city, "S0001")[100], b"{bad json"]))
    assert mixed.status_code == 207 and [x["status"] for x in mixed.json()["results"]] == ["accepted", "rejected"]


def test_rate_limit_answers_429_with_retry_after(tmp_path, city) -> None:
    c, tok = _client(tmp_path, city, rate_per_station=0.5, burst_per_station=2)
    line = _lines(city, "S0001")[0]
    codes = [_post(c, tok["S0001"], line).status_code for _ in range(3)]
    assert codes[:2] in ([200, 409],) and codes[2] == 429
    r = _post(c, tok["S0001"], line)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert _post(c, tok["S0002"], _lines(city, "S0002")[0]).status_code == 200  # per station


def test_registry_administration(tmp_path, city) -> None:
    c, _ = _client(tmp_path, city)
    assert c.get("/v1/registry").status_code == 401
    reg = c.get("/v1/registry", headers=ADMIN_H).json()
    h = ADMIN_H
    why = {"reason": "新站开业", "author": "张科长"}
    st = dict(reg["stations"][0], station_id="S0100", name="新站")
    r = c.post("/v1/registry/stations", json=st, headers=h, params=why)
    assert r.status_code == 200 and r.json()["version"] == 2
    bad = dict(reg["nozzles"][0], nozzle_id="S0100-N9", station_id="S0100", tank_id="no-such-tank")
    r = c.post("/v1/registry/nozzles", json=bad, headers=h, params=why)
    assert r.status_code == 422 and "no-such-tank" in r.json()["detail"]
    assert c.post("/v1/registry/stations", json=st, headers=ADMIN_H).status_code == 422  # a reason is required
    nz = reg["nozzles"][0]
    rot = {"key_id": "rotated-1", "key_alg": "ed25519", "public_key": nz["public_key"]}
    r = c.post(f"/v1/registry/nozzles/{nz['nozzle_id']}/key", json=rot, headers=h, params=why)
    assert r.status_code == 200
    now = c.get("/v1/registry", headers=ADMIN_H).json()
    moved = next(n for n in now["nozzles"] if n["nozzle_id"] == nz["nozzle_id"])
    assert moved["key_id"] == "rotated-1" and moved["previous_keys"][-1]["key_id"] == nz["key_id"]
    assert (
        c.post(f"/v1/registry/nozzles/{nz['nozzle_id']}/key", json=rot, headers=h, params=why).status_code == 422
    )  # reused
    assert c.post("/v1/registry/nozzles/nope/key", json=dict(rot, key_id="x"), headers=h, params=why).status_code == 404
    hist = c.get("/v1/registry/history", headers=ADMIN_H).json()
    assert [v["author"] for v in hist][:2] == ["张科长", "张科长"] and len(hist) == 3
    assert c.post("/v1/stations/S0100/token", headers=ADMIN_H).status_code == 200
    assert c.post("/v1/stations/S4040/token", headers=ADMIN_H).status_code == 404


def test_operations_endpoints(tmp_path, city) -> None:
    c, tok = _client(tmp_path, city)
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").status_code == 200
    _post(c, tok["S0001"], b"\n".join(_lines(city, "S0001")[:50] + [b"not json"]))
    assert c.get("/metrics").status_code == 403  # not from this machine's loopback, and no metrics token
    text = TestClient(c.app, client=("127.0.0.1", 50000)).get("/metrics").text  # the scrape on the host
    assert 'anxin_records_total{kind="unknown",status="rejected"} 1.0' in text
    assert "anxin_station_lag_seconds" in text and "anxin_ready 1.0" in text
    spec = c.get("/openapi.json").json()
    assert "/v1/records" in spec["paths"] and "/v1/alarms/stream" in spec["paths"]


def test_alarms_arrive_on_the_sse_stream_and_resume(tmp_path, city) -> None:
    server = Server(str(tmp_path / "db.sqlite"), city / "registry.json", tmp_path / "serve.log")
    server.start()
    try:
        tok = httpx2.post(f"{server.url}/v1/stations/S0001/token", headers=ADMIN_H).json()["token"]
        events: list[dict] = []
        got_two = threading.Event()

        def listen() -> None:
            with httpx2.stream("GET", f"{server.url}/v1/alarms/stream", headers=ADMIN_H, timeout=30) as r:
                ev: dict = {}
                for line in r.iter_lines():
                    if line.startswith("id: "):
                        ev["id"] = int(line[4:])
                    elif line.startswith("data: "):
                        ev["alarm"] = json.loads(line[6:])
                    elif line == "" and ev:
                        events.append(ev)
                        ev = {}
                        if len(events) >= 2:
                            got_two.set()
                            return

        t = threading.Thread(target=listen, daemon=True)
        t.start()
        lines = _lines(city, "S0001")
        for i in range(0, len(lines), 300):
            httpx2.post(
                f"{server.url}/v1/records",
                content=b"\n".join(lines[i : i + 300]),
                headers={"Authorization": f"Bearer {tok}"},
            )
            if got_two.is_set():
                break
        assert got_two.wait(30)
        assert events[1]["id"] > events[0]["id"] and events[0]["alarm"]["station_id"] == "S0001"
        # A client reconnecting with Last-Event-ID gets what came after, nothing twice.
        with httpx2.stream(
            "GET",
            f"{server.url}/v1/alarms/stream",
            headers={**ADMIN_H, "Last-Event-ID": str(events[0]["id"])},
            timeout=30,
        ) as r:
            first_id = None
            for line in r.iter_lines():
                if line.startswith("id: "):
                    first_id = int(line[4:])
                    break
        assert first_id == events[1]["id"]
        assert httpx2.get(f"{server.url}/v1/alarms/stream").status_code == 401
    finally:
        server.stop()


def test_webhooks_to_internal_addresses_are_refused(tmp_path, city) -> None:
    c, _ = _client(tmp_path, city)
    secret = {"secret": "s" * 20}
    for url in (
        "http://127.0.0.1:8080/hook",
        "http://localhost/x",
        "http://10.0.0.5/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
    ):
        r = c.post("/v1/webhooks", json={"url": url, **secret}, headers=ADMIN_H)
        assert r.status_code == 422 and "webhook refused" in r.json()["detail"], url
    assert (
        c.post(
            "/v1/webhooks", json={"url": "https://alarms.example.gov.cn/anxin", **secret}, headers=ADMIN_H
        ).status_code
        == 200
    )
    c2, _ = _client(tmp_path / "lan", city, webhook_allow_private=True)
    assert c2.post("/v1/webhooks", json={"url": "http://10.0.0.5/x", **secret}, headers=ADMIN_H).status_code == 200


def test_a_webhook_url_that_is_not_one_is_a_422_naming_it(tmp_path, city) -> None:
    c, _ = _client(tmp_path, city)
    for url in ("http://[", "http://[::1", "https://host:99999/x", "http://:80/x", "https://"):
        r = c.post("/v1/webhooks", json={"url": url, "secret": "s" * 20}, headers=ADMIN_H)
        assert r.status_code == 422 and "url" in str(r.json()["detail"]), (url, r.text)
