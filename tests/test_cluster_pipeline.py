"""The scale-out pipeline on the machine's NATS JetStream and PostgreSQL: receivers
screen and publish, workers own partitions under leases and commit ledger, outputs and
stream position together. The alarms equal ``anxin check``'s on the same records;
resends, redeliveries and a worker's loss change nothing."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx2
import pytest
from live import free_port
from services import drop_cluster, fresh_pg_database, need_nats
from sqlalchemy import text

from anxin.check.run import run_check
from anxin.cluster.receiver import Receiver
from anxin.cluster.status import cluster_status
from anxin.cluster.stream import Names, connect, partition_of
from anxin.cluster.worker import Worker
from anxin.serve.config import ServeConfig
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, uploads
from anxin.store import partitions
from anxin.store.database import Store

pytestmark = pytest.mark.xdist_group("cluster")
ANXIN = shutil.which("anxin", path=str(Path(sys.executable).parent)) or "anxin"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cluster") / "city"
    simulate(out, stations=3, days=1, seed=15, scenarios=ScenarioSet.parse("all,firmware"), workers=1, group_size=3)
    return out


@pytest.fixture(scope="module")
def batch_alarm_ids(city: Path, tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("batch") / "check"
    run_check(city, out, workers=0)
    return {json.loads(line)["alarm_id"] for line in (out / "alarms.jsonl").read_text().splitlines()}


@pytest.fixture
def setup(city: Path):
    url = need_nats()
    with fresh_pg_database() as db:
        store = Store(db)
        store.registry_save((city / "registry.json").read_bytes(), author="test", reason="test city")
        cfg = ServeConfig(
            db=db,
            nats_url=url,
            cluster=f"t{uuid.uuid4().hex[:10]}",
            partitions=4,
            lease_ttl_s=2.0,
            clock_every_s=0,
        )
        try:
            yield cfg, store
        finally:
            drop_cluster(cfg)
            store.close()


def _alarm_ids(store: Store) -> set[str]:
    with store.engine.connect() as c:
        return set(c.execute(text("SELECT alarm_id FROM alarms")).scalars())


def _ledger_rows(store: Store) -> int:
    with store.engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM ledger WHERE kind <> 'tick'")).scalar_one())


async def _drained(cfg: ServeConfig, store: Store, timeout: float = 60.0) -> None:
    """Until every partition's consumer has nothing pending and the store holds the end."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        st = await cluster_status(cfg, store)
        nc = await connect(cfg, "test-drained")
        info = await nc.jetstream().stream_info(Names(cfg.cluster).stream)
        await nc.close()
        last = int(info.state.last_seq)
        busy = [r for r in st.rows if r.pending or r.ack_pending]
        if not busy and (last == 0 or max(r.position for r in st.rows) == last):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not drained: {busy}, positions {[r.position for r in st.rows]}, last {last}")
        await asyncio.sleep(0.2)


async def _send(receiver: Receiver, batches) -> dict[str, int]:
    totals = {"accepted": 0, "duplicate": 0, "quarantined": 0, "rejected": 0}
    for sid, lines in batches:
        r = await receiver.ingest(sid, lines, "test", None)
        for k in totals:
            totals[k] += getattr(r, k)
    return totals


def test_scale_out_alarms_equal_the_batch_check(setup, city: Path, batch_alarm_ids: set[str]) -> None:
    cfg, store = setup
    batches = uploads(arrival_lines(city), "S0001")

    async def main() -> tuple[dict, dict, list[Worker]]:
        receiver = Receiver(cfg, Store(cfg.db, migrate=False))
        await receiver.start()
        workers = [Worker(cfg, Store(cfg.db, migrate=False), name=f"w{i}") for i in range(2)]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            first = await _send(receiver, batches)
            again = await _send(receiver, batches[:3])  # an edge agent's retry
            await _drained(cfg, store)
        finally:
            for w in workers:
                w.stop()
            await asyncio.gather(*tasks)
            await receiver.stop()
        return first, again, workers

    first, again, workers = asyncio.run(main())
    assert first["accepted"] > 1000 and first["rejected"] > 0 and first["quarantined"] > 0
    assert again["accepted"] == 0 and again["duplicate"] > 0  # JetStream's window dropped them
    assert _alarm_ids(store) == batch_alarm_ids
    assert _ledger_rows(store) == first["accepted"] + first["quarantined"] == _distinct_records(city, batches)
    owned = [sorted(p for p, pos in partitions.positions(store).items() if pos["owner"] == w.id) for w in workers]
    assert all(owned) and sorted(sum(owned, [])) == [0, 1, 2, 3]  # both worked, every partition once


def _worker(cfg: ServeConfig, name: str, log: Path, *args: str) -> subprocess.Popen:
    """``anxin worker`` in a process of its own (its configuration from the environment)."""
    env = dict(
        os.environ,
        ANXIN_DB=cfg.db,
        ANXIN_NATS_URL=cfg.nats_url,
        ANXIN_CLUSTER=cfg.cluster,
        ANXIN_PARTITIONS=str(cfg.partitions),
        ANXIN_LEASE_TTL_S=str(cfg.lease_ttl_s),
        ANXIN_CLOCK_EVERY_S="0",
        ANXIN_LOG="info",
    )
    out = log.open("wb")
    return subprocess.Popen([ANXIN, "worker", "--name", name, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def test_a_worker_killed_mid_stream_is_replaced_and_nothing_doubles(
    setup, city: Path, batch_alarm_ids: set[str], tmp_path: Path
) -> None:
    """Worker A (a process) takes every partition and is killed (SIGKILL) mid-stream: no
    checkpoint, no lease given back, a batch perhaps stored but not acknowledged. B
    takes over once A's leases expire, restores from the store and goes on; the uploads
    in flight at the loss come again. Every record is in the ledger once and the alarms
    are the batch check's."""
    cfg, store = setup
    batches = uploads(arrival_lines(city), "S0001")
    half = len(batches) // 2
    a = _worker(cfg, "a", tmp_path / "a.log")
    b: subprocess.Popen | None = None
    metrics_port, scraped, status = free_port(), [], []
    try:

        async def main() -> dict[str, int]:
            receiver = Receiver(cfg, Store(cfg.db, migrate=False))
            await receiver.start()
            try:
                sent = await _send(receiver, batches[:half])
                await _drained(cfg, store)
                a.send_signal(signal.SIGKILL)
                a.wait(10)
                nonlocal b
                b = _worker(cfg, "b", tmp_path / "b.log", "--metrics", f"127.0.0.1:{metrics_port}")
                more = await _send(receiver, batches[half - 2 :])
                await _drained(cfg, store, timeout=90)
                scraped.append(httpx2.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
                env = dict(os.environ, ANXIN_DB=cfg.db, ANXIN_NATS_URL=cfg.nats_url, ANXIN_CLUSTER=cfg.cluster)
                cmd = [ANXIN, "--lang", "en", "cluster", "status"]
                status.append(await asyncio.to_thread(subprocess.run, cmd, env=env, capture_output=True, text=True))
            finally:
                await receiver.stop()
            return {k: sent[k] + more[k] for k in sent}

        totals = asyncio.run(main())
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(30)
    assert _alarm_ids(store) == batch_alarm_ids
    owners = {pos["owner"] for pos in partitions.positions(store).values()}
    assert owners == {"b"}, owners
    # B's metrics: every partition, each at its stored position.
    assert "anxin_worker_partitions 4.0" in scraped[0]
    for part, pos in partitions.positions(store).items():
        assert f'anxin_partition_position{{part="{part}"}} {float(pos["seq"])}' in scraped[0]
    # The operators' view while B ran: B holds every partition, nothing pending.
    out = status[0]
    assert out.returncode == 0, out.stderr
    assert f"{cfg.partitions} partitions" in out.stdout and "1 live workers" in out.stdout, out.stdout
    assert out.stdout.count("│ b ") == cfg.partitions, out.stdout
    assert totals["duplicate"] > 0  # the uploads in flight, sent again
    assert _ledger_rows(store) == _distinct_records(city, batches)


def _distinct_records(city: Path, batches) -> int:
    """Records of the registered stations, counted once per ledger digest (resends once)."""
    from anxin.contract.natural import ledger_digest, natural_key
    from anxin.contract.parse import Parsed, parse_line
    from anxin.contract.records import kind_of
    from anxin.contract.registry import parse_registry

    stations = parse_registry((city / "registry.json").read_bytes()).station_by_id
    seen = set()
    for _, lines in batches:
        for ln in lines:
            p = parse_line(ln)
            if isinstance(p, Parsed) and p.rec.station_id in stations:
                seen.add(ledger_digest(kind_of(p.rec), natural_key(p), p))
    return len(seen)


def test_a_registry_change_reaches_the_worker_before_the_records_screened_under_it(setup, city: Path) -> None:
    """A nozzle registered while the cluster runs: the receiver screens its first record
    under the new registry, and the worker applies that registry (and checkpoints)
    before it feeds the record — never the old registry that does not know the nozzle."""
    import base64

    import msgspec

    from anxin.contract.canonical import canonical_of_dict
    from anxin.crypto.schemes import generate_signer

    cfg, store = setup
    doc = json.loads((city / "registry.json").read_text())
    old = next(n for n in doc["nozzles"] if n["station_id"] == "S0001" and n["key_alg"] == "ed25519")
    signer = generate_signer("ed25519")
    new = dict(old, nozzle_id=old["nozzle_id"] + "-NEW", key_id="k-new", public_key=signer.public_key_text)
    lines = [raw for sid, raw in arrival_lines(city) if sid == "S0001"]
    meter = msgspec.json.decode(
        next(ln for ln in lines if b'"kind":"metering"' in ln and old["nozzle_id"].encode() in ln)
    )
    rec = dict(meter, nozzle_id=new["nozzle_id"], key_id="k-new")
    rec.pop("sig")
    rec["sig"] = base64.b64encode(signer.sign(canonical_of_dict(rec))).decode()

    async def main() -> None:
        receiver = Receiver(cfg, Store(cfg.db, migrate=False))
        await receiver.start()
        w = Worker(cfg, Store(cfg.db, migrate=False), name="w")
        task = asyncio.create_task(w.run())
        try:
            await _send(receiver, uploads(arrival_lines(city), "S0001")[:2])
            await _drained(cfg, store)
            doc["nozzles"].append(new)
            store.registry_save(msgspec.json.encode(doc), author="test", reason="a nozzle added")
            receiver.refresh_registry()
            got = await receiver.ingest("S0001", [msgspec.json.encode(rec)], "test", None)
            assert [r.status for r in got.results] == ["accepted"]
            await _drained(cfg, store)
            part = partition_of("S0001", cfg.partitions)
            assert w.engines[part].registry_version == receiver.registry_version == 2
            cp = store.checkpoint_latest(part=part)  # applied, then checkpointed: a replay never crosses it
            assert cp is not None and cp[1] == 2
        finally:
            w.stop()
            await task
            await receiver.stop()

    asyncio.run(main())
    assert store.ledger_skips()[0] == 0  # nothing set aside: the engine knew the nozzle
    with store.engine.connect() as c:
        assert (
            c.execute(
                text("SELECT count(*) FROM ledger WHERE body LIKE :n"), {"n": f"%{new['nozzle_id']}%"}
            ).scalar_one()
            == 1
        )


def test_a_cluster_database_and_a_single_server_database_are_never_mixed(setup, city: Path, tmp_path: Path) -> None:
    """anxin serve (one engine) refuses a cluster's database, and a worker refuses one that
    anxin serve has written: each would miss the other's rows."""
    from anxin.ingest.service import IngestService
    from anxin.store.database import StoreError

    cfg, store = setup
    partitions.claim(store, 0, epoch=1, owner="w")  # a worker has been here
    with pytest.raises(StoreError, match="scale-out|横向扩展"):
        IngestService(Store(cfg.db, migrate=False))
    with fresh_pg_database() as other:
        single = IngestService(Store(other))
        single.set_registry((city / "registry.json").read_bytes(), author="test", reason="test")
        first = next(lines for sid, lines in uploads(arrival_lines(city), "S0001") if sid == "S0001")
        assert single.ingest("S0001", first, source="test").accepted > 0
        from anxin.cluster.partition import PartitionEngine

        with pytest.raises(StoreError, match="single server|单机"):
            PartitionEngine(single.store, 0, owner="w", epoch=1)
        single.store.close()


def test_a_message_not_from_a_receiver_is_skipped_and_stops_nothing(setup, city: Path) -> None:
    """Whoever reaches the stream directly — a misconfigured NATS, a station on the wrong
    network — cannot pass for a receiver: with cluster_secret each message carries a MAC
    of what the receiver decided, and one that does not hold (a record claiming a good
    signature, unsigned by the receivers' key) or whose headers are garbage is skipped,
    counted, and the partition goes on with the next."""
    import msgspec

    from anxin.cluster.stream import RECEIVED, VERDICT, partition_of

    cfg, store = setup
    cfg = msgspec.structs.replace(cfg, cluster_secret="s3cret-of-the-receivers")
    lines = next(lines for sid, lines in uploads(arrival_lines(city), "S0001") if sid == "S0001")
    forged = next(ln for ln in lines if b'"kind":"metering"' in ln)
    rec = msgspec.json.decode(forged)
    rec["volume_ml"] += 1000  # the module's signature no longer holds
    forged = msgspec.json.encode(rec)

    async def main() -> int:
        receiver = Receiver(cfg, Store(cfg.db, migrate=False))
        await receiver.start()
        w = Worker(cfg, Store(cfg.db, migrate=False), name="w")
        task = asyncio.create_task(w.run())
        try:
            subject = Names(cfg.cluster).subject(partition_of("S0001", cfg.partitions))
            await receiver.js.publish(subject, forged, headers={RECEIVED: "1", VERDICT: "0"})  # "verified"
            await receiver.js.publish(subject, b"{}", headers={"Anxin-Received": "not a number"})
            got = await receiver.ingest("S0001", lines[:50], "test", None)  # the real thing, after them
            assert got.accepted + got.quarantined == 50
            await _drained(cfg, store)
            return sum(e.unreadable for e in w.engines.values())
        finally:
            w.stop()
            await task
            await receiver.stop()

    skipped = asyncio.run(main())
    assert skipped == 2
    assert _ledger_rows(store) == 50  # the receiver's, and nothing else
    with store.engine.connect() as c:
        bodies = set(c.execute(text("SELECT body FROM ledger")).scalars())
    assert forged not in {bytes(b) for b in bodies}
