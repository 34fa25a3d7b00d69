"""The scale-out deployment on a real three-node NATS JetStream cluster (issue 15, item
4): stream and lease bucket with R=3, two receivers and two or three workers, each a
process of its own (``anxin serve --role receiver``, ``anxin worker``), on a fresh
PostgreSQL database. One uploader thread per receiver posts a small simulated city's
uploads over HTTP as edge agents do (each station's uploads in order, the same upload
again on a 503 or a lost connection) while, in one test each,

(a) a worker is killed (SIGKILL) and a replacement started;
(b) the NATS node leading the stream is killed (SIGKILL) and started again;
(c) a worker inside a network namespace is cut off for longer than the lease TTL and
    given its network back — (c1) between two of its step transactions, (c2) inside one.

Two faults of the workers these tests found are mended and stay tested: nats-py's
fetch answering a stray status message with no message (it ended a partition's consumer
while its lease was still renewed: the in-process empty-fetch test), and a worker cut off
inside its transaction holding its partition's row lock, so its successor could not
claim it ((c2): the workers' sessions now have a lock timeout, TCP keepalives and an idle
-in-transaction limit, and a taker that cannot claim lets the partition go and tries again).

Afterwards, once drained: every acknowledged record is in the ledger exactly once, no
row set aside, the alarms are ``anxin check``'s on the same city, and every partition
has one owner — the one the live workers' rendezvous hash names. Figures (takeover
time, the stream's unavailability) are printed (``pytest -s``)."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx2
import pytest
from nats_cluster import NatsCluster, Netns, free_port
from services import drop_cluster, fresh_pg_database, wait_for
from sqlalchemy import text

from anxin.check.run import run_check
from anxin.cluster.leases import Leases, assign
from anxin.cluster.stream import Names, connect, ensure_leases, ensure_stream, partition_of
from anxin.serve.config import ServeConfig
from anxin.serve.tokens import issue_institute_token, issue_station_token
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, by_sender, uploads
from anxin.store import partitions
from anxin.store.database import Store

pytestmark = pytest.mark.xdist_group("cluster_faults")
ANXIN = shutil.which("anxin", path=str(Path(sys.executable).parent)) or "anxin"
PARTS = 8
TTL = 3.0  # the lease TTL (s)
CHUNK = 100  # lines per upload: many small uploads, so the upload lasts through a fault
ACKED = {200, 207, 409, 422}  # the station's upload is settled (an edge agent drops it)
RETRY = {429, 502, 503, 504}  # it comes again, unchanged


# ------------------------------------------------------------------ shared fixtures
@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path_factory.mktemp("nats")) as c:
        print(f"\nthree-node NATS cluster ready in {c.start_seconds:.2f} s")
        yield c


@pytest.fixture
def healthy(cluster: NatsCluster) -> NatsCluster:
    cluster.heal()  # a failed test may have left a node down
    return cluster


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "city"
    simulate(out, stations=3, days=1, seed=15, scenarios=ScenarioSet.all(), workers=1, group_size=3)
    return out


@pytest.fixture(scope="module")
def batch_alarm_ids(city: Path, tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("faults-batch") / "check"
    run_check(city, out, workers=0)
    return {json.loads(line)["alarm_id"] for line in (out / "alarms.jsonl").read_text().splitlines()}


# ------------------------------------------------------------------ the deployment
@dataclass
class Upload:
    station: str
    lines: list[bytes]
    sender: str  # whose token: the station's, or "institute" (verifications, contract v1.1 §C)
    status: int | None = None  # the acknowledging status
    tries: int = 0
    acked_at: float = 0.0


@dataclass(eq=False)  # a thread: hashed by identity
class Uploader(threading.Thread):
    """One edge-agent-like sender per receiver: its stations' uploads round-robin, each
    station's in order; an upload is posted again until it is acknowledged."""

    base: str
    tokens: dict[str, str]
    jobs: list[Upload]
    pace: float  # seconds between two uploads
    deadline: float
    done: int = 0
    errors: list[str] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)  # (when, why) of each retry

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, daemon=True, name=f"uploader {self.base}")

    def run(self) -> None:
        with httpx2.Client(base_url=self.base, timeout=15.0) as client:
            for job in self.jobs:
                while True:
                    job.tries += 1
                    try:
                        r = client.post(
                            "/v1/records",
                            content=b"\n".join(job.lines),
                            headers={
                                "Authorization": f"Bearer {self.tokens[job.sender]}",
                                "Content-Type": "application/x-ndjson",
                            },
                        )
                        code, why = r.status_code, f"{r.status_code} {r.text[:120]}"
                    except httpx2.HTTPError as e:  # connection refused/reset, timeout
                        code, why = 0, f"{type(e).__name__}: {e}"
                    if code in ACKED:
                        job.status, job.acked_at = code, time.monotonic()
                        self.done += 1
                        break
                    if code and code not in RETRY:
                        self.errors.append(f"{job.station}: {why}")
                        return
                    self.failures.append((time.monotonic(), why))
                    if time.monotonic() > self.deadline:
                        self.errors.append(f"{job.station}: not acknowledged in time, last {why}")
                        return
                    time.sleep(0.25)
                time.sleep(self.pace)


class Deployment:
    """Receivers and workers (processes) of one cluster name on the shared NATS cluster
    and a fresh PostgreSQL database; the city's registry and station tokens stored."""

    def __init__(self, nats: NatsCluster, city: Path, db: str, tmp: Path) -> None:
        self.nats, self.city, self.db, self.tmp = nats, city, db, tmp
        self.store = Store(db)
        self.store.registry_save((city / "registry.json").read_bytes(), author="test", reason="test city")
        self.stations = [s["station_id"] for s in json.loads((city / "registry.json").read_text())["stations"]]
        self.tokens = {sid: issue_station_token(self.store, sid) for sid in self.stations}
        self.tokens["institute"] = issue_institute_token(self.store, "I01", "test institute")
        self.cfg = ServeConfig(
            db=db,
            nats_url=",".join(nats.urls),
            cluster=f"f{uuid.uuid4().hex[:10]}",
            partitions=PARTS,
            stream_replicas=3,
            lease_ttl_s=TTL,
            clock_every_s=0,
            cluster_secret=f"k{uuid.uuid4().hex}",  # the receivers' messages sealed, the workers checking
        )
        self.names = Names(self.cfg.cluster)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.receiver_urls: list[str] = []
        self.pg_forward: Any = None  # the namespaced worker's way to PostgreSQL (a TcpForward)
        asyncio.run(self._prepare())

    async def _prepare(self) -> None:
        """The R=3 stream and lease bucket made once here, not raced for by five processes."""
        nc = await connect(self.cfg, "test-prepare")
        js = nc.jetstream(timeout=10)
        await ensure_stream(js, self.cfg)
        await ensure_leases(js, self.cfg)
        await nc.close()

    def env(self, *, db: str | None = None, nats_url: str | None = None) -> dict[str, str]:
        return dict(
            os.environ,
            ANXIN_DB=db or self.db,
            ANXIN_NATS_URL=nats_url or self.cfg.nats_url,
            ANXIN_CLUSTER=self.cfg.cluster,
            ANXIN_PARTITIONS=str(PARTS),
            ANXIN_STREAM_REPLICAS="3",
            ANXIN_LEASE_TTL_S=str(TTL),
            ANXIN_CLOCK_EVERY_S="0",
            ANXIN_CLUSTER_SECRET=self.cfg.cluster_secret or "",
            ANXIN_LOG="info",
        )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], ns: Netns | None = None) -> None:
        self.logs[name] = self.tmp / f"{name}.log"
        out = self.logs[name].open("ab")
        kw: dict[str, Any] = dict(env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.procs[name] = ns.popen(argv, **kw) if ns is not None else subprocess.Popen(argv, **kw)
        out.close()

    def receivers(self, n: int = 2) -> None:
        for i in range(n):
            port = free_port()
            self._spawn(f"r{i + 1}", [ANXIN, "serve", "--role", "receiver", "--port", str(port)], self.env())
            self.receiver_urls.append(f"http://127.0.0.1:{port}")
        for url in self.receiver_urls:
            wait_for(functools.partial(_ready, url), timeout=30, what=f"receiver {url} ready")

    def worker(self, name: str, ns: Netns | None = None) -> None:
        env = self.env()
        if ns is not None:  # PostgreSQL and the NATS nodes through forwarders on the veth
            u = urlparse(self.db)
            pg = ns.forward(u.port or 5432)
            self.pg_forward = next(f for f in ns._forwards if f.port == pg)
            env = self.env(
                db=u._replace(netloc=f"{u.username}@{ns.host_addr}:{pg}").geturl(),
                nats_url=",".join(f"nats://{ns.host_addr}:{ns.forward(p)}" for p in self.nats.client_ports),
            )
        self._spawn(name, [ANXIN, "worker", "--name", name], env, ns)

    def kill(self, name: str) -> None:
        p = self.procs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait(10)

    @property
    def workers(self) -> list[str]:
        return sorted(n for n, p in self.procs.items() if n.startswith("w") and p.poll() is None)

    def data_parts(self) -> set[int]:
        return {partition_of(s, PARTS) for s in self.stations}

    def start_upload(self, seconds: float) -> list[Uploader]:
        """Uploads of ``CHUNK`` lines, stations shared out among the receivers, each
        receiver's sender paced so its part lasts about ``seconds``."""
        per_station: dict[str, list[Upload]] = {}
        for sid, lines, who in by_sender(uploads(arrival_lines(self.city), "S0001", size=CHUNK)):
            sid = sid if sid in self.tokens else "S0001"
            per_station.setdefault(sid, []).append(Upload(sid, lines, "institute" if who == "institute" else sid))
        by_receiver: list[list[list[Upload]]] = [[] for _ in self.receiver_urls]
        for i, sid in enumerate(sorted(per_station)):
            by_receiver[i % len(self.receiver_urls)].append(per_station[sid])
        senders = []
        for url, queues in zip(self.receiver_urls, by_receiver, strict=True):
            jobs = [q[k] for k in range(max(map(len, queues))) for q in queues if k < len(q)]
            u = Uploader(url, self.tokens, jobs, seconds / len(jobs), time.monotonic() + 120)
            u.start()
            senders.append(u)
        return senders

    def tails(self) -> str:
        return "\n".join(f"--- {n}\n" + p.read_text(errors="replace")[-3000:] for n, p in self.logs.items())

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)
        self.store.close()
        drop_cluster(self.cfg)


def _ready(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False


@pytest.fixture
def deployment(healthy: NatsCluster, city: Path, tmp_path: Path) -> Iterator[Deployment]:
    with fresh_pg_database() as db:
        d = Deployment(healthy, city, db, tmp_path)
        try:
            yield d
        finally:
            d.close()


# ------------------------------------------------------------------ waiting and checking
def progress(senders: list[Uploader]) -> float:
    return sum(s.done for s in senders) / sum(len(s.jobs) for s in senders)


def wait_uploaded(d: Deployment, senders: list[Uploader]) -> None:
    for s in senders:
        s.join(150)
    errors = [e for s in senders for e in s.errors]
    assert not errors, f"{errors}\n{d.tails()}"
    assert all(j.status in ACKED for s in senders for j in s.jobs)


async def _leases(d: Deployment) -> dict[int, str]:
    nc = await connect(d.cfg, "test-leases")
    try:
        kv = await ensure_leases(nc.jetstream(timeout=5), d.cfg)
        return await Leases(kv, "test", TTL).holders()
    finally:
        await nc.close()


def settled(d: Deployment, timeout: float = 30.0) -> dict[int, str]:
    """Until each partition is held — lease and store alike — by the owner the live
    workers' rendezvous hash names; returns {part: owner}."""
    want = assign(PARTS, d.workers)
    last: dict[str, Any] = {}

    def same() -> bool:
        stored = {p: pos["owner"] for p, pos in partitions.positions(d.store).items()}
        try:
            held = asyncio.run(_leases(d))
        except Exception as e:
            held = {-1: repr(e)}
        last.update(stored=stored, held=held)
        return stored == held == want

    try:
        wait_for(same, timeout=timeout, what="every partition owned as the rendezvous hash says", every=0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}: want {want}, got {last}\n{d.tails()}") from None
    return want


async def _last_seqs(d: Deployment) -> dict[int, int]:
    """Each partition's last stream sequence (0: nothing in it)."""
    from nats.js.errors import NotFoundError

    nc = await connect(d.cfg, "test-drained")
    try:
        js = nc.jetstream(timeout=5)
        out = {}
        for part in range(PARTS):
            try:
                out[part] = int((await js.get_last_msg(d.names.stream, d.names.subject(part))).seq or 0)
            except NotFoundError:
                out[part] = 0
        return out
    finally:
        await nc.close()


def drained(d: Deployment, timeout: float = 30.0) -> None:
    """Until the store's position of every partition is its last message in the stream."""
    got: dict[str, Any] = {}

    def done() -> bool:
        try:
            got["last"] = asyncio.run(_last_seqs(d))
        except Exception as e:  # the cluster electing: ask again
            got["last"] = repr(e)
            return False
        got["stored"] = {p: pos["seq"] for p, pos in partitions.positions(d.store).items()}
        return got["stored"] == got["last"]

    try:
        wait_for(done, timeout=timeout, what="every partition consumed to its end", every=0.25)
    except AssertionError as e:
        raise AssertionError(
            f"{e}: stored {got.get('stored')}, stream {got.get('last')}, consumers {asyncio.run(_consumers(d))}"
            f"\n{d.tails()}"
        ) from None


async def _consumers(d: Deployment) -> dict[int, Any]:
    """Each partition's consumer as JetStream has it: (next stream seq, pending), or why not."""
    try:
        nc = await connect(d.cfg, "test-consumers")
    except Exception as e:
        return {-1: repr(e)}
    out: dict[int, Any] = {}
    js = nc.jetstream(timeout=5)
    try:
        for ci in await js.consumers_info(d.names.stream):
            of = d.names.consumer_of(ci.name)
            if of is not None:
                out.setdefault(of[0], []).append(
                    (ci.name, ci.delivered.stream_seq if ci.delivered else None, ci.num_pending)
                )
    except Exception as e:
        out[-1] = type(e).__name__
    await nc.close()
    return out


def check_outcome(d: Deployment, senders: list[Uploader], batch_alarm_ids: set[str]) -> dict[int, str]:
    """The acceptance: every acknowledged record in the ledger once, nothing set aside,
    the batch check's alarms, one rightful owner per partition."""
    wait_uploaded(d, senders)
    owners = settled(d)
    drained(d)
    sent = _distinct_records(d.city, [(j.station, j.lines) for s in senders for j in s.jobs])
    with d.store.engine.connect() as c:
        rows = int(c.execute(text("SELECT count(*) FROM ledger WHERE kind <> 'tick'")).scalar_one())
        digests = {bytes(x) for x in c.execute(text("SELECT digest FROM ledger WHERE kind <> 'tick'")).scalars()}
        alarm_ids = list(c.execute(text("SELECT alarm_id FROM alarms")).scalars())
        rejects = c.execute(text("SELECT station_id, reason, count(*) FROM rejects GROUP BY 1, 2")).all()
    missing = {k: v for k, v in sent.items() if k not in digests}
    assert not missing, (
        f"{len(missing)} acknowledged records not in the ledger: "
        + "; ".join(f"{st} {kind} {key} part {partition_of(st, PARTS)}" for st, kind, key in missing.values())
        + f"\nrejects: {rejects}\n{d.tails()}"
    )
    assert rows == len(digests) == len(sent)  # each once, and nothing else
    assert d.store.ledger_skips()[0] == 0
    assert len(alarm_ids) == len(set(alarm_ids))
    assert set(alarm_ids) == batch_alarm_ids, (set(alarm_ids) ^ batch_alarm_ids, d.tails())
    stored = partitions.positions(d.store)
    assert sorted(stored) == list(range(PARTS))
    assert {p: pos["owner"] for p, pos in stored.items()} == owners
    return owners


def _distinct_records(city: Path, batches) -> dict[bytes, tuple[str, str, str]]:
    """Records of the registered stations by ledger digest (resends once): digest →
    (station, kind, natural key)."""
    from anxin.contract.natural import ledger_digest, natural_key
    from anxin.contract.parse import Parsed, parse_line
    from anxin.contract.records import kind_of
    from anxin.contract.registry import parse_registry

    stations = parse_registry((city / "registry.json").read_bytes()).station_by_id
    seen: dict[bytes, tuple[str, str, str]] = {}
    for _, lines in batches:
        for ln in lines:
            p = parse_line(ln)
            if isinstance(p, Parsed) and p.rec.station_id in stations:
                key = natural_key(p)
                seen[ledger_digest(kind_of(p.rec), key, p)] = (p.rec.station_id, str(kind_of(p.rec)), str(key))
    return seen


def pick_name(d: Deployment, others: list[str], stem: str) -> str:
    """A worker name that, among ``others``, would own at least one partition with data
    (the fault then hits records in flight, not idle partitions)."""
    for k in range(100):
        name = f"{stem}{k or ''}"
        owners = assign(PARTS, [*others, name])
        if any(owners[p] == name for p in d.data_parts()):
            return name
    raise AssertionError("no name owns a partition with data")


# ------------------------------------------------------------------ the faults
def test_a_worker_killed_under_load_is_taken_over_within_the_lease_ttl(
    deployment: Deployment, batch_alarm_ids: set[str]
) -> None:
    """(a) Three workers; the one owning a partition with data is killed (SIGKILL) a
    third into the upload: its leases expire, the other two take its partitions within
    the TTL and a lease round; a replacement joins later and gets its share back."""
    d = deployment
    victim = pick_name(d, ["w1", "w2"], "w3")
    d.receivers(2)
    for name in ("w1", "w2", victim):
        d.worker(name)
    settled(d)
    senders = d.start_upload(seconds=9)
    wait_for(lambda: progress(senders) >= 0.3, timeout=60, what="a third uploaded")
    held = {p for p, pos in partitions.positions(d.store).items() if pos["owner"] == victim}
    assert held & d.data_parts()
    d.kill(victim)
    t_kill = time.monotonic()
    wait_for(
        lambda: all(partitions.positions(d.store)[p]["owner"] != victim for p in held),
        timeout=30,
        what=f"{victim}'s partitions {sorted(held)} taken over",
        every=0.05,
    )
    takeover = time.monotonic() - t_kill
    print(f"\n(a) worker {victim} killed holding {sorted(held)}: taken over after {takeover:.2f} s (TTL {TTL} s)")
    assert takeover < TTL * 3 + 2  # the TTL, a lease round, the claim and the restore
    time.sleep(1.0)
    d.worker("w4")  # the replacement (a new name: a new member)
    owners = check_outcome(d, senders, batch_alarm_ids)
    assert set(owners.values()) <= {"w1", "w2", "w4"}
    retried = sum(len(s.failures) for s in senders)
    print(f"(a) uploads retried: {retried}; owners at the end {owners}")


def test_the_stream_leader_node_killed_under_load_and_restarted(
    deployment: Deployment, batch_alarm_ids: set[str]
) -> None:
    """(b) The NATS node leading the stream is killed (SIGKILL) mid-upload: the other two
    elect a new leader, the receivers' publishes that failed meanwhile are answered 503
    and sent again, nothing is lost or doubled; the node restarts and catches up."""
    d = deployment
    nats = d.nats
    d.receivers(2)
    d.worker("w1")
    d.worker("w2")
    settled(d)
    senders = d.start_upload(seconds=9)
    wait_for(lambda: progress(senders) >= 0.3, timeout=60, what="a third uploaded")

    async def kill_the_leader() -> tuple[str, float, str]:
        nc = await connect(d.cfg, "test-leader")
        js = nc.jetstream(timeout=1)
        leader = (await js.stream_info(d.names.stream)).cluster.leader
        nats.kill(leader)
        t0 = time.monotonic()
        while True:
            try:
                info = await js.stream_info(d.names.stream)
                if info.cluster.leader and info.cluster.leader != leader:
                    gone = time.monotonic() - t0
                    break
            except Exception:
                pass
            if time.monotonic() - t0 > 30:
                raise AssertionError(f"no new stream leader 30 s after {leader}'s kill")
            await asyncio.sleep(0.05)
        new = info.cluster.leader
        await nc.close()
        return leader, gone, new

    leader, gone, new = asyncio.run(kill_the_leader())
    t_kill = time.monotonic() - gone
    time.sleep(2.0)
    nats.start(leader)
    ready = nats.wait_ready(30)
    acks_after = sorted(j.acked_at for s in senders for j in s.jobs if j.acked_at > t_kill)
    first_ack = acks_after[0] - t_kill if acks_after else float("nan")
    failed = [why for s in senders for t, why in s.failures if t >= t_kill]
    print(
        f"\n(b) stream leader {leader} killed: {new} leads after {gone:.2f} s; first upload acknowledged"
        f" {first_ack:.2f} s after the kill; {len(failed)} retries after the kill; {leader} back and current"
        f" {ready:.2f} s after its restart"
    )
    check_outcome(d, senders, batch_alarm_ids)
    last = max(pos["seq"] for pos in partitions.positions(d.store).values())
    wait_for(  # the restarted node caught up
        lambda: int((nats.stream_state(leader, d.names.stream) or {}).get("last_seq", 0)) == last,
        timeout=20,
        what=f"{leader}'s replica of the stream at {last}",
    )


def _pg_sessions(d: Deployment) -> list[tuple]:
    """The test database's other sessions: state, what they wait for, their statement."""
    with d.store.engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                text(
                    "SELECT state, wait_event_type, left(query, 60), "
                    "round(extract(epoch FROM now() - xact_start)::numeric, 1) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
                )
            )
        ]


def _open_transactions(d: Deployment) -> int:
    """How many of the namespaced worker's PostgreSQL sessions are inside a transaction
    (found by the forwarder's upstream ports, which PostgreSQL sees as client ports)."""
    f = d.pg_forward
    with f._lock:
        ports = [c.getsockname()[1] for c in f._conns if c.fileno() >= 0 and c.getpeername()[1] == f.target[1]]
    with d.store.engine.connect() as c:
        return int(
            c.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(:ports) "
                    "AND xact_start IS NOT NULL AND state <> 'idle'"
                ),
                {"ports": ports},
            ).scalar_one()
        )


def _cut_run(d: Deployment, batch_alarm_ids: set[str], *, in_transaction: bool) -> None:
    """(c) A worker in a network namespace (PostgreSQL and the NATS nodes through
    forwarders on its veth) loses its network mid-upload — between two of its step
    transactions, or inside one: the other workers take its partitions within the TTL
    and a lease round, while it is still cut off. Given its network back (after 2 TTL
    at least) it learns it lost its leases, its writes are fenced, it rejoins and gets
    its share back; the outcome is the batch check's."""
    with Netns() as ns:
        cut_name = pick_name(d, ["w1", "w2"], "w3")
        d.receivers(2)
        d.worker("w1")
        d.worker("w2")
        d.worker(cut_name, ns=ns)
        settled(d)
        held = {p for p, pos in partitions.positions(d.store).items() if pos["owner"] == cut_name}
        senders = d.start_upload(seconds=12)
        wait_for(lambda: progress(senders) >= 0.3, timeout=60, what="a third uploaded")
        # the moment: inside one of its step transactions, or outside any — checked again
        # just after the cut (a transaction may have begun meanwhile: then a brief cut,
        # far shorter than the TTL, is undone and the next moment tried)
        for _ in range(40):
            wait_for(
                lambda: (_open_transactions(d) > 0) == in_transaction,
                timeout=20,
                what=f"{cut_name} {'inside' if in_transaction else 'outside'} a transaction",
                every=0.002,
            )
            ns.cut()
            time.sleep(0.05)
            if (_open_transactions(d) > 0) == in_transaction:
                break
            ns.restore()
            time.sleep(0.5)
        else:
            raise AssertionError(f"no cut {'inside' if in_transaction else 'outside'} a transaction in 40 tries")
        t_cut = time.monotonic()
        takeover: float | None = None
        sessions: list[tuple] = []
        while time.monotonic() - t_cut < 4 * TTL + 3:
            if all(partitions.positions(d.store)[p]["owner"] != cut_name for p in held):
                takeover = time.monotonic() - t_cut
                break
            time.sleep(0.05)
        else:
            sessions = _pg_sessions(d)
        time.sleep(max(0.0, t_cut + 2 * TTL - time.monotonic()))
        ns.restore()
        t_back = time.monotonic()
        tag = "(c2)" if in_transaction else "(c1)"
        print(
            f"\n{tag} worker {cut_name} (holding {sorted(held)}) cut off for {t_back - t_cut:.1f} s"
            f" {'inside' if in_transaction else 'outside'} a transaction: "
            + (f"taken over after {takeover:.2f} s" if takeover is not None else "NOT taken over while cut off")
        )
        assert d.procs[cut_name].poll() is None, d.tails()  # it waited; it did not die
        owners = check_outcome(d, senders, batch_alarm_ids)
        print(f"{tag} its share back and everything drained {time.monotonic() - t_back:.1f} s after the restore")
        assert d.procs[cut_name].poll() is None
        assert {p for p, o in owners.items() if o == cut_name} == held  # its share again
        assert takeover is not None, (
            f"{cut_name}'s partitions {sorted(held)} not taken over in {4 * TTL + 3} s while it was cut off;"
            f" PostgreSQL sessions then (state, wait, query, transaction age): {sessions}\n{d.tails()}"
        )


def test_a_worker_cut_off_between_transactions_is_taken_over_and_comes_back(
    deployment: Deployment, batch_alarm_ids: set[str]
) -> None:
    _cut_run(deployment, batch_alarm_ids, in_transaction=False)


def test_a_worker_cut_off_inside_a_transaction_is_taken_over_and_comes_back(
    deployment: Deployment, batch_alarm_ids: set[str]
) -> None:
    _cut_run(deployment, batch_alarm_ids, in_transaction=True)


def test_an_empty_fetch_does_not_stop_a_partition(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker (in this process) whose first fetch of each partition comes back empty,
    as nats-py's does after a stray status message, still consumes what follows."""
    from nats.js.client import JetStreamContext

    from anxin.cluster.receiver import Receiver
    from anxin.cluster.worker import Worker

    d = deployment
    real = JetStreamContext.PullSubscription.fetch
    seen: set[int] = set()

    async def fetch(self, *a, **kw):
        if id(self) not in seen:
            seen.add(id(self))
            return []
        return await real(self, *a, **kw)

    monkeypatch.setattr(JetStreamContext.PullSubscription, "fetch", fetch)
    batch = [
        (s, ls) for s, ls, who in by_sender(uploads(arrival_lines(d.city), "S0001", size=CHUNK)) if who != "institute"
    ]

    async def main() -> tuple[int, dict[int, str]]:
        receiver = Receiver(d.cfg, Store(d.db, migrate=False))
        await receiver.start()
        w = Worker(d.cfg, Store(d.db, migrate=False), name="w1")
        task = asyncio.create_task(w.run())
        try:
            while len(seen) < PARTS:  # every partition's first fetch done
                await asyncio.sleep(0.1)
            for sid, lines in batch[:3]:
                await receiver.ingest(sid, lines, "test", None)
            # until every partition is consumed to its end (or a minute: the assertions say what failed)
            until = time.monotonic() + 60
            while time.monotonic() < until:
                stored = {p: pos["seq"] for p, pos in partitions.positions(d.store).items()}
                if w.processed and stored == await _last_seqs(d):
                    break
                await asyncio.sleep(0.25)
            return w.processed, await _leases(d)
        finally:
            w.stop()
            await task
            await receiver.stop()

    processed, held = asyncio.run(main())
    assert set(held.values()) == {"w1"}  # it holds them all...
    assert processed > 0  # ...and consumes them
    drained(d, timeout=5)
