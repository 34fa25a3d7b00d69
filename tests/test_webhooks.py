"""Webhook delivery of alarms against a real local HTTP receiver and a real database
(SQLite, and PostgreSQL in a fresh database of its own): signatures verify with the
documented recipe, each alarm is delivered once per webhook, failures are retried with
backoff until dead, the dead-letter list and the manual retry work through the router,
concurrent dispatchers never send one delivery twice, and stop is clean."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select

from anxin.engine.outputs import make_alarm
from anxin.notify.webhooks import WebhookDispatcher, backoff_s, verify, webhooks_router
from anxin.store import schema as T
from anxin.store.database import Store

T0 = 1_772_294_400_000_000
SECRET = "s3cret-webhook-key-0123456789"
PG_URL = os.environ.get("ANXIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


# ------------------------------------------------------------------ fixtures
class Receiver:
    """A real HTTP endpoint: records every request; answers from ``plan`` (a status,
    (status, headers), or "hang" until released) and then ``default``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.plan: list[object] = []
        self.default: object = 200
        self.delay_s = 0.0
        self.release = threading.Event()
        self.inflight: Counter[str] = Counter()
        self.overlaps = 0  # a delivery received while the same delivery was still in flight
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()} | {":path": self.path}
                did = headers.get("webhook-id", "")
                with rec.lock:
                    rec.got.append((headers, body))
                    action = rec.plan.pop(0) if rec.plan else rec.default
                    rec.overlaps += rec.inflight[did] > 0
                    rec.inflight[did] += 1
                try:
                    if action == "hang":
                        rec.release.wait(10)
                        return
                    if rec.delay_s:
                        time.sleep(rec.delay_s)  # widens race windows; not a timing assertion
                    code, extra = action if isinstance(action, tuple) else (action, {})
                    self.send_response(code)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass
                finally:
                    with rec.lock:
                        rec.inflight[did] -= 1

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def count(self) -> int:
        with self.lock:
            return len(self.got)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Clock:
    """Unix seconds, moved by hand. Starts well ahead of the wall clock, which the store
    uses to stamp new deliveries (and an operator's retry) due, so those are due at once
    however slowly a loaded machine runs the test (one second ahead was too little in CI)."""

    def __init__(self) -> None:
        self.t = time.time() + 600.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    try:
        import psycopg

        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is not reachable, and CI needs it: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    name = f"anxin_wh_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    u = urlsplit(PG_URL)
    try:
        yield urlunsplit(u._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    if request.param == "sqlite":
        s = Store(str(request.getfixturevalue("migrated_sqlite")))
    else:
        s = Store(request.getfixturevalue("pg_url"))
        with s.engine.begin() as c:  # the session's database is shared: start each test empty
            for table in (T.webhook_deliveries, T.webhooks, T.alarms):
                c.execute(table.delete())
    yield s
    s.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clock():
    return Clock()


def _alarm(seq: int = 1):
    return make_alarm(
        "VOLUME_MISMATCH",
        key=("N1", seq),
        station_id="S1",
        nozzle_id="N1",
        seq=seq,
        ts_us=T0 + seq,
        message="volume differs",
        evidence={"x": 1, "seq": seq},
    )


def _deliveries(store: Store) -> list[dict]:
    with store.engine.connect() as c:
        rows = c.execute(select(T.webhook_deliveries).order_by(T.webhook_deliveries.c.id)).all()
    return [dict(r._mapping) for r in rows]


def _one(store: Store) -> dict:
    (d,) = _deliveries(store)
    return d


def _admin(x_admin: str | None = Header(None)) -> None:
    if x_admin != "yes":
        raise HTTPException(401, "admin only")


def _client(store: Store) -> TestClient:
    app = FastAPI()
    app.include_router(webhooks_router(store, _admin))
    return TestClient(app, headers={"X-Admin": "yes"})


def _poll(cond, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        threading.Event().wait(0.01)


def standard_webhooks_ok(secret: str, headers: dict[str, str], body: bytes, *, now: float) -> bool:
    """The Standard Webhooks check (standardwebhooks.com, "Verifying webhooks"), as a
    receiver would write it from the specification alone: the key is the base64 part of
    ``whsec_…`` (a plain secret is passed as ``whsec_`` + base64 of its bytes), the
    signed content ``id.timestamp.body``, the header a list of ``v1,<base64>``."""
    whsec = secret if secret.startswith("whsec_") else "whsec_" + base64.b64encode(secret.encode()).decode()
    key = base64.b64decode(whsec.removeprefix("whsec_"))
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(now - int(ts)) > 5 * 60:
        return False
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for versioned in headers["webhook-signature"].split(" "):
        version, _, signature = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


# ------------------------------------------------------------------ tests
def test_signed_delivery_verifies_and_happens_once(store, receiver, clock) -> None:
    h1 = store.webhook_add(receiver.url, SECRET)
    h2 = store.webhook_add(receiver.url + "?second", "another-secret-of-the-second-hook")
    assert [a.alarm_id for a in store.save_outputs([_alarm()])] == [_alarm().alarm_id]
    assert store.save_outputs([_alarm()]) == []  # the same alarm again: stored once, enqueued nothing
    assert sorted(d["webhook_id"] for d in _deliveries(store)) == [h1, h2]

    d = WebhookDispatcher(store, allow_private=True, clock=clock)
    try:
        assert d.run_once() == 2
        assert d.run_once() == 0  # nothing due any more
    finally:
        d.close()
    assert receiver.count() == 2
    assert {x["status"] for x in _deliveries(store)} == {"delivered"}
    assert d.counters() == {"delivered": 2, "failed_attempts": 0, "dead": 0}

    by_hook = {x["webhook_id"]: x for x in _deliveries(store)}
    assert {h["webhook-id"] for h, _ in receiver.got} == {f"msg_{_alarm().alarm_id}_{h}" for h in by_hook}
    for headers, body in receiver.got:
        hook = int(headers["webhook-id"].rsplit("_", 1)[1])
        secret = SECRET if hook == h1 else "another-secret-of-the-second-hook"
        assert headers["content-type"] == "application/json"
        assert not any(k.startswith("x-anxin") for k in headers)  # the old scheme is gone
        # Standard Webhooks, written out independently of the module's helpers:
        assert standard_webhooks_ok(secret, headers, body, now=clock())
        assert verify(secret, headers, body, now=clock())
        assert not verify(secret, headers, body.replace(b"differs", b"matches"), now=clock())  # tampered
        assert not verify("wrong-secret-wrong-secret", headers, body, now=clock())
        assert not verify(secret, headers, body, now=clock() + 301)  # a replay after the tolerance
        payload = json.loads(body)
        assert payload == {
            "event": "alarm",
            "alarm": {
                "alarm_id": _alarm().alarm_id,
                "rule": "VOLUME_MISMATCH",
                "severity": "critical",
                "station_id": "S1",
                "nozzle_id": "N1",
                "tank_id": None,
                "seq": 1,
                "order_id": None,
                "ts": _alarm().ts,
                "message": "volume differs",
                "evidence": {"x": 1, "seq": 1},
            },
        }


def test_retries_with_backoff_after_500s_then_delivered(store, receiver, clock, caplog) -> None:
    store.webhook_add(receiver.url, SECRET)
    store.save_outputs([_alarm()])
    receiver.plan = [500, 503, 500]
    d = WebhookDispatcher(store, allow_private=True, clock=clock, base_delay_s=2.0, max_delay_s=300.0)
    did = _one(store)["id"]
    caplog.set_level("INFO", logger="anxin.webhooks")
    try:
        for attempt in (1, 2, 3):
            t_fail = clock()
            assert d.run_once() == 1
            row = _one(store)
            delay = backoff_s(did, attempt, 2.0, 300.0)
            assert 0.8 * 2.0 * 2 ** (attempt - 1) < delay <= 2.0 * 2 ** (attempt - 1)
            assert row["status"] == "pending" and row["attempts"] == attempt
            assert row["next_attempt_us"] == int(t_fail * 1e6 + delay * 1e6)
            assert row["last_error"] in ("HTTP 500", "HTTP 503")
            clock.advance(delay - 0.01)
            assert d.run_once() == 0  # not due yet
            clock.advance(0.02)
        assert d.run_once() == 1
    finally:
        d.close()
    row = _one(store)
    assert row["status"] == "delivered" and row["attempts"] == 4
    assert receiver.count() == 4
    assert len({h["webhook-id"] for h, _ in receiver.got}) == 1  # the same message id on every retry
    assert d.counters() == {"delivered": 1, "failed_attempts": 3, "dead": 0}
    # jitter is reproducible, different per delivery, and never beyond the cap
    assert backoff_s(did, 2, 1.0, 300.0) == backoff_s(did, 2, 1.0, 300.0) != backoff_s(did + 1, 2, 1.0, 300.0)
    assert 240.0 <= backoff_s(did, 30, 1.0, 300.0) <= 300.0
    events = [(r.getMessage(), getattr(r, "delivery_id", None)) for r in caplog.records if r.name == "anxin.webhooks"]
    assert events.count(("webhook attempt failed", did)) == 3 and ("webhook delivered", did) in events
    reg = CollectorRegistry()
    reg.register(d.collector())
    text = generate_latest(reg).decode()
    for line in (
        "anxin_webhook_delivered_total 1.0",
        "anxin_webhook_failed_attempts_total 3.0",
        "anxin_webhook_dead_total 0.0",
    ):
        assert line in text


def test_429_retry_after_is_honoured(store, receiver, clock) -> None:
    store.webhook_add(receiver.url, SECRET)
    store.save_outputs([_alarm()])
    receiver.plan = [(429, {"Retry-After": "120"})]
    d = WebhookDispatcher(store, allow_private=True, clock=clock)
    try:
        assert d.run_once() == 1
        assert _one(store)["next_attempt_us"] == int(clock() * 1e6) + 120_000_000
        clock.advance(119)
        assert d.run_once() == 0
        clock.advance(1)
        assert d.run_once() == 1
    finally:
        d.close()
    assert _one(store)["status"] == "delivered"


def test_timeout_counts_as_a_failed_attempt(store, receiver, clock) -> None:
    store.webhook_add(receiver.url, SECRET)
    store.save_outputs([_alarm()])
    receiver.plan = ["hang"]
    d = WebhookDispatcher(store, allow_private=True, clock=clock, timeout_s=0.3)
    try:
        assert d.run_once() == 1
        row = _one(store)
        assert row["status"] == "pending" and row["attempts"] == 1
        assert row["last_error"].startswith("timeout")
        assert d.counters()["failed_attempts"] == 1
        clock.advance(5)
        assert d.run_once() == 1
    finally:
        d.close()
    assert _one(store)["status"] == "delivered"


def test_dead_after_max_attempts_listed_and_retried(store, receiver, clock) -> None:
    hook = store.webhook_add(receiver.url, SECRET)
    store.save_outputs([_alarm()])
    receiver.default = 410  # the receiver refuses
    d = WebhookDispatcher(store, allow_private=True, clock=clock, max_attempts=3, max_delay_s=60.0)
    api = _client(store)
    try:
        for _ in range(5):
            d.run_once()
            clock.advance(61)
        assert receiver.count() == 3
        row = _one(store)
        assert row["status"] == "dead" and row["attempts"] == 3 and row["last_error"] == "HTTP 410 (refused)"
        assert d.counters() == {"delivered": 0, "failed_attempts": 3, "dead": 1}

        assert TestClient(api.app).get("/v1/webhooks/deliveries").status_code == 401
        got = api.get("/v1/webhooks/deliveries", params={"status": "dead"}).json()["deliveries"]
        assert [(x["id"], x["alarm_id"], x["webhook_id"], x["attempts"], x["last_error"]) for x in got] == [
            (row["id"], _alarm().alarm_id, hook, 3, "HTTP 410 (refused)")
        ]
        assert api.get("/v1/webhooks/deliveries", params={"status": "pending"}).json()["deliveries"] == []
        assert api.get("/v1/webhooks/deliveries", params={"status": "bogus"}).status_code == 422

        receiver.default = 200  # the receiver is fixed; an operator sends it again
        assert api.post(f"/v1/webhooks/deliveries/{row['id']}/retry").status_code == 200
        (p,) = api.get("/v1/webhooks/deliveries", params={"status": "pending"}).json()["deliveries"]
        assert p["id"] == row["id"] and p["attempts"] == 0
        assert d.run_once() == 1
        assert _one(store)["status"] == "delivered" and receiver.count() == 4
        assert api.post(f"/v1/webhooks/deliveries/{row['id']}/retry").status_code == 409  # already delivered
        assert api.post("/v1/webhooks/deliveries/999999/retry").status_code == 404
    finally:
        d.close()


def test_deactivating_a_webhook_kills_its_pending_deliveries(store, receiver, clock) -> None:
    hook = store.webhook_add(receiver.url, SECRET)
    other = store.webhook_add(receiver.url + "?other", SECRET)
    store.save_outputs([_alarm(1), _alarm(2)])
    api = _client(store)
    assert api.delete("/v1/webhooks/999999").status_code == 404
    r = api.delete(f"/v1/webhooks/{hook}")
    assert r.status_code == 200 and r.json() == {"id": hook, "active": False, "deliveries_dead": 2}
    dead = api.get("/v1/webhooks/deliveries", params={"status": "dead"}).json()["deliveries"]
    assert {(x["webhook_id"], x["last_error"]) for x in dead} == {(hook, "webhook deactivated")}
    assert api.post(f"/v1/webhooks/deliveries/{dead[0]['id']}/retry").status_code == 409
    store.save_outputs([_alarm(3)])  # new alarms go to active webhooks only
    d = WebhookDispatcher(store, allow_private=True, clock=clock)
    try:
        assert d.run_once() == 3
    finally:
        d.close()
    assert {h[":path"] for h, _ in receiver.got} == {"/hook?other"}
    assert Counter(x["webhook_id"] for x in _deliveries(store) if x["status"] == "delivered") == {other: 3}


def test_concurrent_dispatchers_never_deliver_twice(store, receiver) -> None:
    store.webhook_add(receiver.url, SECRET)
    n = 24
    store.save_outputs([_alarm(i) for i in range(1, n + 1)])
    receiver.delay_s = 0.005
    # run_once raced by four dispatchers released together
    ds = [WebhookDispatcher(store, allow_private=True, workers=1) for _ in range(4)]
    barrier = threading.Barrier(len(ds))
    done: list[int] = []

    def race(d: WebhookDispatcher) -> None:
        barrier.wait()
        done.append(d.run_once())

    threads = [threading.Thread(target=race, args=(d,)) for d in ds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sum(done) == n
    # then two started dispatchers with three workers each, woken by new alarms
    bg = [WebhookDispatcher(store, allow_private=True, workers=3, poll_s=0.05) for _ in range(2)]
    for d in bg:
        d.start()
    try:
        store.save_outputs([_alarm(i) for i in range(n + 1, 2 * n + 1)])
        for d in bg:
            d.notify()
        _poll(lambda: store.webhook_backlog() == {"delivered": 2 * n})
    finally:
        for d in bg:
            d.stop()
        for d in ds:
            d.close()
    ids = Counter(h["webhook-id"] for h, _ in receiver.got)
    assert len(ids) == 2 * n and set(ids.values()) == {1} and receiver.overlaps == 0
    assert sum(d.counters()["delivered"] for d in ds + bg) == 2 * n


def test_stop_is_clean_and_quick(store, receiver, clock) -> None:
    store.webhook_add(receiver.url, SECRET)
    idle = WebhookDispatcher(store, allow_private=True, workers=3, poll_s=30.0)
    idle.start()
    t0 = time.monotonic()
    idle.stop()
    assert time.monotonic() - t0 < 10.0  # idle workers leave at once, not at the next poll (30 s)

    receiver.plan = ["hang"]
    d = WebhookDispatcher(store, allow_private=True, workers=2, timeout_s=0.5, poll_s=30.0, clock=clock)
    before = set(threading.enumerate())  # (another module's service may have dispatchers of its own running)
    d.start()
    ours = [t for t in threading.enumerate() if t not in before and t.name.startswith("anxin-webhooks")]
    assert ours
    store.save_outputs([_alarm()])
    d.notify()
    _poll(lambda: receiver.count() == 1)  # the attempt is in flight, the receiver hangs
    t0 = time.monotonic()
    d.stop()
    assert time.monotonic() - t0 < 10.0  # the attempt's timeout (0.5 s), not the next poll (30 s)
    assert not any(t.is_alive() for t in ours)
    row = _one(store)  # the attempt in flight was finished and recorded, not lost or left leased
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"].startswith("timeout")
    assert receiver.count() == 1
    clock.advance(5)
    try:
        assert d.run_once() == 1  # a stopped dispatcher can still be driven by hand
    finally:
        d.close()
    assert _one(store)["status"] == "delivered"
