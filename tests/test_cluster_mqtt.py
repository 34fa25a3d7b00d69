"""MQTT through the scale-out's receivers: two receivers share one subscription group
(each message to one of them, answered on the station's results topic), and what they
publish reaches the workers once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx2
import msgspec
import paho.mqtt.client as mqtt
import pytest
from live import free_port
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from services import MQTT_URL, drop_cluster, fresh_pg_database, missing, need_nats, reachable, wait_for
from sqlalchemy import text

from anxin.cluster.worker import Worker
from anxin.serve.config import ServeConfig
from anxin.serve.tokens import issue_station_token
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines
from anxin.store.database import Store

pytestmark = pytest.mark.xdist_group("cluster")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mqtt") / "city"
    simulate(out, stations=1, days=1, seed=17, scenarios=ScenarioSet.honest(), workers=1)
    return out


def _receiver(cfg: ServeConfig, mqtt_url: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(
        os.environ,
        ANXIN_DB=cfg.db,
        ANXIN_NATS_URL=cfg.nats_url,
        ANXIN_CLUSTER=cfg.cluster,
        ANXIN_PARTITIONS=str(cfg.partitions),
        ANXIN_MQTT_URL=mqtt_url,
    )
    cmd = [sys.executable, "-m", "anxin.cli", "--log", "info", "serve", "--role", "receiver", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"the receiver exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            return httpx2.get(url + "/readyz", timeout=1).status_code == 200
        except httpx2.HTTPError:
            return False

    wait_for(ready, 60, "the receiver (stream connected, MQTT subscribed)", every=0.05)
    return proc, url


def test_mqtt_messages_go_through_one_receiver_each(city: Path, tmp_path: Path) -> None:
    if not reachable(MQTT_URL, 1883):
        missing(f"the MQTT broker at {MQTT_URL}")
    nats_url = need_nats()
    prefix = f"t{uuid.uuid4().hex[:10]}"
    mqtt_url = f"{MQTT_URL}?prefix={prefix}"
    with fresh_pg_database() as db:
        store = Store(db)
        store.registry_save((city / "registry.json").read_bytes(), author="test", reason="test city")
        token = issue_station_token(store, "S0001")
        cfg = ServeConfig(db=db, nats_url=nats_url, cluster=f"m{uuid.uuid4().hex[:10]}", partitions=2, clock_every_s=0)
        procs = []
        try:
            urls = []
            for i in range(2):
                proc, url = _receiver(cfg, mqtt_url, tmp_path / f"r{i}.log")
                procs.append(proc)
                urls.append(url)
            sent, results = _publish(city, prefix, token)
            asyncio.run(_work(cfg, store, sent))
            wait_for(lambda: len(results) >= len(sent), 30, "a result per message")
            published = [httpx2.get(u + "/readyz").json()["published"] for u in urls]
        finally:
            for p in procs:
                p.terminate()
                p.wait(30)
            store.close()
            drop_cluster(cfg)
    assert len(results) == len(sent)  # each message answered once: taken by one receiver
    assert all(r.get("accepted", 0) + r.get("duplicate", 0) > 0 for r in results), results[:3]
    # Both receivers took a share, and together published each record once.
    assert all(n > 0 for n in published) and sum(published) == sum(len(m) for m in sent), published


def _publish(city: Path, prefix: str, token: str) -> tuple[list[list[bytes]], list[dict]]:
    """S0001's lines as MQTT messages of up to 40 lines of one kind each, in order."""
    by_kind: dict[str, list[bytes]] = defaultdict(list)
    messages: list[tuple[str, list[bytes]]] = []
    for sid, raw in arrival_lines(city):
        if sid != "S0001":
            continue
        kind = msgspec.json.decode(raw)["kind"]
        by_kind[kind].append(raw)
        if len(by_kind[kind]) == 40:
            messages.append((kind, by_kind.pop(kind)))
    messages += list(by_kind.items())
    results: list[dict] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"station-{prefix}", protocol=mqtt.MQTTv5)
    c.on_message = lambda _c, _u, m: results.append(msgspec.json.decode(m.payload))
    host, port = MQTT_URL.removeprefix("mqtt://").split(":")
    c.connect(host, int(port))
    c.subscribe(f"{prefix}/S0001/results", qos=1)
    c.loop_start()
    for kind, lines in messages:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("token", token)
        c.publish(f"{prefix}/S0001/{kind}", b"\n".join(lines) + b"\n", qos=1, properties=props).wait_for_publish(5)
    return [lines for _, lines in messages], results


async def _work(cfg: ServeConfig, store: Store, sent: list[list[bytes]]) -> None:
    """A worker until the ledger holds every record sent, once."""
    expected = len({raw for lines in sent for raw in lines})
    w = Worker(cfg, Store(cfg.db, migrate=False), name="w")
    task = asyncio.create_task(w.run())
    try:
        deadline = time.monotonic() + 60
        while True:
            with store.engine.connect() as c:
                n = int(c.execute(text("SELECT count(*) FROM ledger")).scalar_one())
            if n >= expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        with store.engine.connect() as c:
            assert int(c.execute(text("SELECT count(*) FROM ledger")).scalar_one()) == expected
    finally:
        w.stop()
        await task
