"""The MQTT bridge against a real broker (ANXIN_TEST_MQTT, default mqtt://127.0.0.1:1883)
and a real IngestService on SQLite. Skipped when the broker is unreachable, except
under CI=true where that is a failure. Every test uses its own topic prefix and client
ids, so runs and tests do not hear each other."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from services import wait_for

from anxin.ingest.mqtt import MqttBridge
from anxin.ingest.mqtt_payload import parse_url
from anxin.ingest.service import IngestService
from anxin.serve.app import TokenIndex
from anxin.sim import ScenarioSet, simulate
from anxin.store.database import Store

URL = os.environ.get("ANXIN_TEST_MQTT", "mqtt://127.0.0.1:1883")
SESSION_S = 60  # the bridges' sessions outlive a test run by a minute at most
ST, OTHER = "S0001", "S0002"


def reachable(url: str) -> str | None:
    b = parse_url(url)
    try:
        socket.create_connection((b.host, b.port), timeout=1.0).close()
        return None
    except OSError as exc:
        return f"MQTT broker {url} unreachable: {exc}"


@pytest.fixture(scope="module")
def broker() -> str:
    problem = reachable(URL)
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem + " (CI=true: the broker is required)")
        pytest.skip(problem)
    return URL


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[bytes, dict[tuple[str, str], list[bytes]]]:
    """(registry.json, {(station, kind): record lines}) of a simulated day of 2 stations."""
    out = tmp_path_factory.mktemp("sim")
    simulate(out, stations=2, days=1, seed=23, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    records: dict[tuple[str, str], list[bytes]] = {}
    for f in sorted(out.glob("*.jsonl")):
        for line in f.read_bytes().splitlines():
            d = msgspec.json.decode(line)
            records.setdefault((d["station_id"], d["kind"]), []).append(line)
    return (out / "registry.json").read_bytes(), records


def client(url: str, protocol: int = mqtt.MQTTv5) -> mqtt.Client:
    b = parse_url(url)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:12]}", protocol=protocol)
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect(b.host, b.port, keepalive=30)
    c.loop_start()
    assert connected.wait(5), "test client could not connect"
    return c


def purge_session(url: str, client_id: str) -> None:
    """Drop a bridge's persistent session from the broker (clean start, expiry 0)."""
    b = parse_url(url)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    try:
        c.connect(b.host, b.port, clean_start=True)
        c.loop_start()
        c.disconnect()
        c.loop_stop()
    except OSError:
        pass


@dataclass
class Env:
    url: str
    prefix: str
    db: Path
    service: IngestService
    tokens: TokenIndex
    token: str  # S0001's
    other_token: str  # S0002's
    records: dict[tuple[str, str], list[bytes]]
    results: list[dict] = field(default_factory=list)
    props: list[Properties | None] = field(default_factory=list)
    bridges: list[MqttBridge] = field(default_factory=list)
    clients: list[mqtt.Client] = field(default_factory=list)

    def bridge(self, client_id: str, service: IngestService | None = None) -> MqttBridge:
        svc = service or self.service
        b = MqttBridge(
            svc, TokenIndex(svc).station, self.url, client_id=client_id, prefix=self.prefix, session_expiry=SESSION_S
        ).start()
        self.bridges.append(b)
        assert b.wait_ready(10), "the bridge did not connect and subscribe"
        return b

    def publish(
        self,
        kind: str,
        lines: list[bytes],
        *,
        token: str | None = None,
        station: str = ST,
        correlation: bytes | None = None,
        via: mqtt.Client | None = None,
    ) -> None:
        props = None
        if token is not None or correlation is not None:
            props = Properties(PacketTypes.PUBLISH)
            if token is not None:
                props.UserProperty = ("token", token)
            if correlation is not None:
                props.CorrelationData = correlation
        info = (via or self.clients[0]).publish(
            f"{self.prefix}/{station}/{kind}", b"\n".join(lines) + b"\n", qos=1, properties=props
        )
        info.wait_for_publish(5)

    def result(self, n: int, timeout: float = 10.0) -> dict:
        """The n-th result message (1-based) on the results topics."""
        wait_for(lambda: len(self.results) >= n, timeout, f"result message #{n}")
        return self.results[n - 1]

    def ledger(self) -> dict[str, int]:
        return self.service.store.counts()


@pytest.fixture
def env(broker, data, migrated_sqlite):
    registry, records = data
    store = Store(str(migrated_sqlite))
    svc = IngestService(store)
    svc.set_registry(registry, author="test", reason="test")
    tokens = TokenIndex(svc)
    token, other = tokens.issue(ST), tokens.issue(OTHER)
    e = Env(
        url=broker,
        prefix=f"t{uuid.uuid4().hex[:10]}",
        db=migrated_sqlite,
        service=svc,
        tokens=tokens,
        token=token,
        other_token=other,
        records=records,
    )
    listener = client(broker)

    def on_message(_c, _u, msg):
        assert not msg.retain
        e.results.append(msgspec.json.decode(msg.payload))
        e.props.append(msg.properties)

    listener.on_message = on_message
    subscribed = threading.Event()
    listener.on_subscribe = lambda *a: subscribed.set()
    listener.subscribe(f"{e.prefix}/+/results", qos=1)
    assert subscribed.wait(5)
    e.clients += [client(broker), listener]
    yield e
    for b in e.bridges:
        b.stop()
    for client_id in {b.client_id for b in e.bridges}:
        purge_session(broker, client_id)
    for c in e.clients:
        c.disconnect()
        c.loop_stop()
    store.close()


def test_records_reach_the_ledger_and_results_come_back(env: Env) -> None:
    bridge = env.bridge(f"bridge-{uuid.uuid4().hex[:8]}")
    metering, settlement = env.records[(ST, "metering")][:20], env.records[(ST, "settlement")][:10]
    env.publish("metering", metering, token=env.token, correlation=b"req-1")
    env.publish("settlement", settlement, token=env.token)
    first, second = env.result(1), env.result(2)
    assert (first["accepted"], first["rejected"], first["topic"]) == (20, 0, f"{env.prefix}/{ST}/metering")
    assert first["correlation"] == "req-1" and isinstance(first["mid"], int)
    assert env.props[0].CorrelationData == b"req-1"  # echoed as the MQTT 5 property too
    assert (second["accepted"], second["rejected"]) == (10, 0) and "correlation" not in second
    assert [r["line"] for r in first["results"]] == list(range(1, 21))
    counts = env.ledger()
    assert (counts["ledger_metering"], counts["ledger_settlement"]) == (20, 10)
    wait_for(lambda: bridge.metrics.ingested == 2, what="metrics")
    assert (bridge.metrics.received, bridge.metrics.auth_failed, bridge.metrics.errors) == (2, 0, 0)
    assert env.service.metrics.records["accepted"] == 30


def test_the_same_message_twice_is_one_ledger_row_each(env: Env) -> None:
    env.bridge(f"bridge-{uuid.uuid4().hex[:8]}")
    lines = env.records[(ST, "tank_reading")][:5]
    env.publish("tank_reading", lines, token=env.token)
    env.publish("tank_reading", lines, token=env.token)
    first, second = env.result(1), env.result(2)
    assert (first["accepted"], first["duplicate"]) == (5, 0)
    assert (second["accepted"], second["duplicate"]) == (0, 5)
    assert env.ledger()["ledger_tank_reading"] == 5


def test_mqtt311_client_sends_its_token_as_the_first_line(env: Env) -> None:
    env.bridge(f"bridge-{uuid.uuid4().hex[:8]}")
    old = client(env.url, protocol=mqtt.MQTTv311)
    env.clients.append(old)
    lines = env.records[(ST, "tank_reading")][:3]
    env.publish("tank_reading", [msgspec.json.encode({"token": env.token}), *lines], via=old)
    res = env.result(1)
    assert (res["accepted"], res["rejected"]) == (3, 0)
    assert [r["line"] for r in res["results"]] == [2, 3, 4]  # payload lines: the token line is line 1
    assert env.ledger()["ledger_tank_reading"] == 3


def test_bad_credentials_and_unknown_kinds_are_refused(env: Env) -> None:
    bridge = env.bridge(f"bridge-{uuid.uuid4().hex[:8]}")
    lines = env.records[(ST, "metering")][:3]
    env.publish("metering", lines)  # no token
    env.publish("metering", lines, token="not-a-token")
    env.publish("metering", lines, token=env.other_token)  # S0002's token on S0001's topic
    env.publish("metering", [msgspec.json.encode({"token": env.other_token}), *lines])  # the same, as a 3.1.1 line
    env.publish("gossip", lines, token=env.token)
    errors = [env.result(n)["error"] for n in range(1, 6)]
    assert "token is required" in errors[0]
    assert errors[1] == "unknown station API token"
    assert errors[2] == errors[3] == f"the token is not station {ST!r}'s"
    assert "unknown kind 'gossip'" in errors[4]
    assert all("accepted" not in env.results[i] for i in range(5))
    assert env.results[4]["topic"] == f"{env.prefix}/{ST}/gossip"
    counts = env.ledger()
    assert "ledger_metering" not in counts and counts["rejects"] == 0
    wait_for(lambda: bridge.metrics.auth_failed == 4 and bridge.metrics.refused == 1, what="metrics")
    assert bridge.metrics.ingested == 0


def test_wrong_kind_and_bad_json_are_rejected_with_reasons(env: Env) -> None:
    bridge = env.bridge(f"bridge-{uuid.uuid4().hex[:8]}")
    metering = env.records[(ST, "metering")][:2]
    settlement = env.records[(ST, "settlement")][0]
    misplaced = msgspec.json.encode({"token": env.token})
    payload = [metering[0], settlement, b'{"kind": "metering", oops', metering[1], misplaced]
    env.publish("metering", payload, token=env.token)
    res = env.result(1)
    assert (res["accepted"], res["rejected"]) == (2, 3)
    by_line = {r["line"]: r for r in res["results"]}
    assert by_line[1]["status"] == by_line[4]["status"] == "accepted"
    assert by_line[2]["status"] == "rejected" and "'settlement'" in by_line[2]["reason"]
    assert "'metering'" in by_line[2]["reason"]
    assert by_line[3]["status"] == "rejected" and "JSON" in by_line[3]["reason"]
    assert by_line[5]["reason"] == "a token line must be the first line"
    counts = env.ledger()
    assert counts["ledger_metering"] == 2 and "ledger_settlement" not in counts
    assert counts["rejects"] == 1  # the ingest path keeps its reject; the bridge's are in the result only
    assert bridge.metrics.wrong_kind == 1


def test_failing_ingest_is_retried_and_a_stop_leaves_the_message_to_the_broker(env: Env, data, tmp_path) -> None:
    store = Store(str(tmp_path / "empty.sqlite"))  # no registry yet: ingest raises NoRegistry
    svc = IngestService(store)
    env.token = TokenIndex(svc).issue(ST)
    client_id = f"bridge-{uuid.uuid4().hex[:8]}"
    bridge = env.bridge(client_id, svc)
    lines = env.records[(ST, "metering")][:4]
    env.publish("metering", lines, token=env.token)
    wait_for(lambda: bridge.metrics.errors >= 2, what="ingest retried")
    bridge.stop()  # gives up on the failing message without acknowledging it
    assert bridge.metrics.ingested == 0 and env.results == []
    svc.set_registry(data[0], author="test", reason="test")
    bridge = env.bridge(client_id, svc)  # the broker sends it again
    wait_for(lambda: store.counts().get("ledger_metering") == 4, what="the records after the restart")
    assert env.result(1)["accepted"] == 4
    store.close()


_CRASHING = textwrap.dedent("""
    import os, sys
    from anxin.ingest.mqtt import MqttBridge
    from anxin.ingest.service import IngestService
    from anxin.serve.app import TokenIndex
    from anxin.store.database import Store

    class Crashing(MqttBridge):
        def _ack(self, gen, mid, qos):  # the first message is in the ledger: die before its PUBACK
            os._exit(17)

    db, url, client_id, prefix = sys.argv[1:5]
    svc = IngestService(Store(db))
    bridge = Crashing(svc, TokenIndex(svc).station, url, client_id=client_id, prefix=prefix, session_expiry=60)
    bridge.start()
    assert bridge.wait_ready(10)
    print("ready", flush=True)
    sys.stdin.read()
""")


def test_a_crash_before_the_ack_loses_nothing_and_doubles_nothing(env: Env) -> None:
    env.service.store.close()
    client_id = f"bridge-crash-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASHING, str(env.db), env.url, client_id, env.prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready and proc.stdout.readline().strip() == b"ready", "the crashing bridge did not start"
        sent = {kind: env.records[(ST, kind)][:10] for kind in ("metering", "settlement", "tank_reading")}
        for kind, lines in sent.items():
            env.publish(kind, lines, token=env.token)
        assert proc.wait(15) == 17
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    st = Store(str(env.db))
    assert st.counts().get("ledger_metering") == 10  # committed, never acknowledged
    st.close()
    env.service = IngestService(Store(str(env.db)))  # the restarted service recovers from the ledger
    bridge = env.bridge(client_id, env.service)  # same client id: the session and its unacked messages
    for kind in sent:
        wait_for(lambda k=kind: env.ledger().get(f"ledger_{k}") == 10, what=f"ledger_{kind}")
    wait_for(lambda: bridge.metrics.ingested == 3, what="3 messages (re)delivered and acknowledged")
    metering = [r for r in env.results if r.get("topic", "").endswith("/metering")]
    assert metering[-1]["duplicate"] == 10 and metering[-1]["accepted"] == 0  # the resent first message
    counts = env.ledger()
    assert {k: counts[f"ledger_{k}"] for k in sent} == {k: 10 for k in sent}
    bridge.stop()  # a clean stop: everything was acknowledged, so nothing comes back at the next start
    bridge = env.bridge(client_id, env.service)
    env.publish("delivery", env.records[(ST, "delivery")][:1], token=env.token)
    wait_for(lambda: bridge.metrics.ingested == 1, what="a fresh message after the restart")
    assert bridge.metrics.received == 1
    env.service.store.close()


@pytest.mark.skipif(
    shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
    reason="no mosquitto binary to run a private broker",
)
def test_the_bridge_reconnects_when_the_broker_comes_back(env: Env, tmp_path: Path) -> None:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")

    def broker_up() -> subprocess.Popen:
        p = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: reachable(f"mqtt://127.0.0.1:{port}") is None, 5, "the private broker")
        return p

    proc = broker_up()
    try:
        env.url = f"mqtt://127.0.0.1:{port}"
        bridge = env.bridge(f"bridge-{uuid.uuid4().hex[:8]}")
        proc.terminate()
        proc.wait(5)
        wait_for(lambda: not bridge.metrics.connected, what="the bridge to notice")
        proc = broker_up()  # a fresh broker (no persistence): the bridge must subscribe again
        assert bridge.wait_ready(15), "the bridge did not reconnect"
        pub = client(env.url)
        env.publish("tank_reading", env.records[(ST, "tank_reading")][:4], token=env.token, via=pub)
        pub.disconnect()
        pub.loop_stop()
        wait_for(lambda: env.ledger().get("ledger_tank_reading") == 4, what="records after the reconnect")
        assert bridge.metrics.connects == 2
    finally:
        for b in env.bridges:
            b.stop()
        env.bridges.clear()
        proc.terminate()
        proc.wait(5)


def test_anxin_serve_runs_the_bridge_from_its_configuration(broker, data, tmp_path) -> None:
    """End to end through the app: mqtt_url in the configuration starts the bridge with
    the service, a record published with a station token lands in the ledger, the
    bridge's counters are on /metrics, and a clean stop stops it."""
    from fastapi.testclient import TestClient

    from anxin.serve.runtime import build

    registry, records = data
    (tmp_path / "registry.json").write_bytes(registry)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    client_id = f"serve-{prefix}"
    url = f"{broker}?client_id={client_id}&prefix={prefix}"
    admin = {"Authorization": "Bearer admin-token-0123456789"}
    _, service, app = build(
        db=str(tmp_path / "db.sqlite"),
        registry=tmp_path / "registry.json",
        admin_token="admin-token-0123456789",
        mqtt_url=url,
    )
    try:
        with TestClient(app) as c:
            token = c.post(f"/v1/stations/{ST}/token", headers=admin).json()["token"]
            bridge = app.state.mqtt
            wait_for(lambda: bridge.metrics.connected, what="the bridge to connect")
            pub = client(broker, mqtt.MQTTv311)
            line = records[(ST, "settlement")][0]
            pub.publish(f"{prefix}/{ST}/settlement", b'{"token": "%s"}\n%s' % (token.encode(), line), qos=1)
            wait_for(lambda: service.store.counts().get("ledger_settlement", 0) == 1, what="the ledger row")
            metrics = TestClient(app, client=("127.0.0.1", 50000)).get("/metrics")  # the scrape on the host
            assert "anxin_mqtt_messages_total" in metrics.text
            pub.loop_stop()
            pub.disconnect()
        assert not bridge.metrics.connected  # the app's stop stopped the bridge
    finally:
        purge_session(broker, client_id)
