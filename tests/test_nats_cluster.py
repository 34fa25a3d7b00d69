"""The NATS JetStream cluster harness (tests/nats_cluster.py) on a real three-node
cluster: R=3 streams survive ``kill -9`` of their leader and a restarted node catches
up; ``Nats-Msg-Id`` dedups across nodes; a process in a network namespace reaches the
cluster through the veth, loses it on ``cut()`` and gets it back on ``restore()``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import nats  # a requirement (requirements/dev.txt): missing, the module errors, never skips
import pytest
from nats_cluster import Lines, NatsCluster, Netns

pytestmark = pytest.mark.xdist_group("nats_cluster")  # one cluster, shared by the module's tests


@pytest.fixture(scope="module")
def cluster() -> Iterator[NatsCluster]:
    with NatsCluster() as c:
        print(f"\ncluster started in {c.start_seconds:.2f} s")
        yield c


@pytest.fixture
def healthy(cluster: NatsCluster) -> NatsCluster:
    """The shared cluster with every node up and current (a failed test may have left one down)."""
    cluster.heal()
    return cluster


async def _stream_leader(js, stream: str) -> str | None:
    info = (await js.stream_info(stream)).cluster
    return info.leader if info else None


async def _publish_until_acked(js, subject: str, data: bytes, msg_id: str, deadline: float):
    """Publish (same ``Nats-Msg-Id`` on every retry) until the stream acknowledges it."""
    while True:
        try:
            return await js.publish(subject, data, timeout=1.0, headers={"Nats-Msg-Id": msg_id})
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def test_r3_stream_survives_kill_9_of_its_leader_and_the_node_catches_up(healthy: NatsCluster) -> None:
    c = healthy
    stream, n_before, n_during = "FAULT_LEADER", 20, 20

    async def run() -> tuple[str, float, int]:
        nc = await nats.connect(servers=c.urls, connect_timeout=2, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
        js = nc.jetstream(timeout=2)
        await js.add_stream(name=stream, subjects=["fault.leader.>"], num_replicas=3)
        for i in range(n_before):
            ack = await js.publish("fault.leader.a", f"m{i}".encode(), headers={"Nats-Msg-Id": f"m{i}"})
            assert ack.seq == i + 1
        leader = await _stream_leader(js, stream)
        assert leader in c.running()

        c.kill(leader)  # SIGKILL, waits for the exit
        t_kill = time.monotonic()
        ack = await _publish_until_acked(js, "fault.leader.a", b"first", "first", t_kill + 20)
        reelect = time.monotonic() - t_kill
        new_leader = await _stream_leader(js, stream)
        assert new_leader and new_leader != leader
        for i in range(n_during):
            await _publish_until_acked(js, "fault.leader.a", f"d{i}".encode(), f"d{i}", time.monotonic() + 10)
        total = (await js.stream_info(stream)).state.messages
        await nc.close()
        return leader, reelect, total

    leader, reelect, total = asyncio.run(run())
    assert total == n_before + 1 + n_during  # retries deduplicated, nothing lost
    print(f"\nstream leader {leader} killed: publishes acknowledged again after {reelect:.2f} s")

    t0 = time.monotonic()
    c.start(leader)
    c.wait_ready(30)
    end = time.monotonic() + 20
    while (state := c.stream_state(leader, stream) or {}).get("messages") != total:  # its own store
        assert time.monotonic() < end, f"{leader} did not catch up: {state}"
        time.sleep(0.05)
    print(f"{leader} restarted and caught up in {time.monotonic() - t0:.2f} s")

    async def read_from_restarted() -> list[bytes]:
        nc = await nats.connect(servers=[c.url(leader)], connect_timeout=2, allow_reconnect=False)
        js = nc.jetstream(timeout=5)
        sub = await js.subscribe("fault.leader.>", ordered_consumer=True)
        got = [(await sub.next_msg(timeout=5)).data for _ in range(total)]
        await nc.close()
        return got

    got = asyncio.run(read_from_restarted())
    assert got[:n_before] == [f"m{i}".encode() for i in range(n_before)]
    assert got[n_before] == b"first" and got[-1] == f"d{n_during - 1}".encode()


def test_msg_id_dedup_across_the_cluster(healthy: NatsCluster) -> None:
    c = healthy

    async def run() -> None:
        ncs = [await nats.connect(servers=[u], connect_timeout=2) for u in c.urls]  # one client per node
        jss = [nc.jetstream(timeout=5) for nc in ncs]
        await jss[0].add_stream(name="DEDUP", subjects=["dedup.>"], num_replicas=3, duplicate_window=60)
        first = await jss[0].publish("dedup.x", b"one", headers={"Nats-Msg-Id": "same"})
        assert not first.duplicate
        for js in jss:  # the same id again, through every node
            again = await js.publish("dedup.x", b"two", headers={"Nats-Msg-Id": "same"})
            assert again.duplicate and again.seq == first.seq
        other = await jss[2].publish("dedup.x", b"three", headers={"Nats-Msg-Id": "other"})
        assert not other.duplicate and other.seq == first.seq + 1
        assert (await jss[1].stream_info("DEDUP")).state.messages == 2
        for nc in ncs:
            await nc.close()

    asyncio.run(run())


PROBE = r"""
import asyncio, json, socket, sys, time
from urllib.parse import urlparse
import nats

async def main():
    urls, subject = json.loads(sys.argv[1]), sys.argv[2]
    u = urlparse(urls[0])
    t = time.monotonic()
    try:
        socket.create_connection((u.hostname, u.port), timeout=1.5).close()
        tcp = "ok"
    except OSError as e:
        tcp = type(e).__name__
    out = {"tcp": tcp, "tcp_s": round(time.monotonic() - t, 2), "ok": False}
    if tcp == "ok":
        nc = await nats.connect(servers=urls, connect_timeout=2, allow_reconnect=False)
        if subject == "-":  # no stream: the connection is enough
            await nc.flush(timeout=5)
            out.update(ok=True)
        else:
            ack = await nc.jetstream(timeout=5).publish(subject, b"from the namespace")
            out.update(ok=True, seq=ack.seq)
        await nc.close()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_netns_reaches_the_cluster_through_the_veth_and_cut_severs_it(healthy: NatsCluster) -> None:
    c = healthy

    async def make_stream() -> None:
        nc = await nats.connect(servers=c.urls)
        await nc.jetstream().add_stream(name="NETNS", subjects=["netns.>"], num_replicas=3)
        await nc.close()

    asyncio.run(make_stream())
    with Netns() as ns:
        urls = [f"nats://{ns.host_addr}:{ns.forward(p)}" for p in c.client_ports]

        def probe() -> dict:
            r = ns.run([sys.executable, "-c", PROBE, json.dumps(urls), "netns.probe"], capture_output=True, timeout=30)
            assert r.returncode == 0, r.stderr.decode()
            return json.loads(r.stdout)

        # A long-lived client inside, as a worker would be: it keeps one connection.
        worker = ns.popen(
            [sys.executable, "-u", "-c", WORKER, json.dumps(urls)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert worker.stdout is not None
        out = Lines(worker.stdout)
        out.wait_for("ok", timeout=10)

        assert probe()["ok"]
        ns.cut()
        t_cut = time.monotonic()
        cut = probe()
        assert cut["tcp"] == "TimeoutError" and not cut["ok"], cut  # silently dropped, not refused
        out.wait_for("err", after=t_cut, timeout=5)  # its publishes time out
        ns.restore()
        t_back = time.monotonic()
        assert probe()["ok"]
        t_ok, _ = out.wait_for("ok", after=t_back, timeout=30)  # the same connection carries on
        print(f"\nthe worker's publishes acknowledged again {t_ok - t_back:.2f} s after restore()")
    assert worker.poll() is not None  # killed with its namespace
    assert ns.name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_cluster_listening_on_all_addresses_is_reached_at_the_veth_address(tmp_path) -> None:
    """``host="0.0.0.0"``: a namespaced client needs no forwarder (``urls_at(ns.host_addr)``)."""
    with NatsCluster(tmp_path, host="0.0.0.0") as c, Netns() as ns:
        r = ns.run(
            [sys.executable, "-c", PROBE, json.dumps(c.urls_at(ns.host_addr)), "-"],
            capture_output=True,
            timeout=30,
        )
        assert r.returncode == 0, r.stderr.decode()
        assert json.loads(r.stdout)["ok"]
        ns.cut()
        r = ns.run([sys.executable, "-c", PROBE, json.dumps(c.urls_at(ns.host_addr)), "-"], capture_output=True)
        assert json.loads(r.stdout)["tcp"] == "TimeoutError"
    assert not any(n.running for n in c.nodes)  # stopped on exit; tmp_path left to pytest


WORKER = r"""
import asyncio, json, sys
import nats

async def main():
    nc = await nats.connect(servers=json.loads(sys.argv[1]), connect_timeout=2, max_reconnect_attempts=-1)
    js = nc.jetstream(timeout=0.5)
    while True:
        try:
            await js.publish("netns.worker", b"w")
            print("ok", flush=True)
        except Exception:
            print("err", flush=True)
        await asyncio.sleep(0.2)

asyncio.run(main())
"""


def test_netns_reaches_postgresql_through_a_forwarder() -> None:
    """PostgreSQL listens on 127.0.0.1 only: ``ns.forward(port)`` is how a namespaced
    worker reaches it (its configuration untouched; it sees a local connection)."""
    from urllib.parse import urlparse

    from services import PG_URL, missing, reachable

    if not reachable(PG_URL, 5432):
        missing(f"PostgreSQL at {PG_URL}")
    u = urlparse(PG_URL)
    with Netns() as ns:
        port = ns.forward(u.port or 5432, u.hostname or "127.0.0.1")
        creds = u.netloc.rpartition("@")[0]  # user (and password) kept, host and port replaced
        inside = u._replace(netloc=f"{creds + '@' if creds else ''}{ns.host_addr}:{port}").geturl()
        code = "import psycopg, sys; print(psycopg.connect(sys.argv[1], connect_timeout=3).execute('select 41 + 1').fetchone()[0])"
        r = ns.run([sys.executable, "-c", code, inside], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "42", r.stderr
        ns.cut()
        r = ns.run([sys.executable, "-c", code, inside], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "timeout" in r.stderr.lower(), r.stderr
