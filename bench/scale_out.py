"""The scale-out measured (issue 15): receivers → NATS JetStream → workers on this machine.

    .venv/bin/python bench/scale_out.py [--stations 60] [--receivers 2] [--partitions 16]

* Data: an honest simulated city-day (``bench-data/ingest-N``, as bench/ingest_load.py),
  uploaded per station in the order the station sends it; a "pair" is a signed metering
  record and its settlement.
* The floor: the same city's signatures verified only, on 2 processes, in this run.
* Receivers: ``--receivers`` ``anxin serve --role receiver`` processes take the uploads
  (8 client threads, 500-line uploads) and publish to the stream; no worker runs yet, so
  this is the receivers' own rate (and JetStream's).
* Workers: on that filled stream, 1 worker and then 2 workers consume it all from a fresh
  database (the same messages each time), each worker pinned to its own core
  (``taskset``) — "the same cores per worker"; PostgreSQL and NATS are not pinned and
  share the machine. Records/s until every partition is stored to the stream's end.
* Latency: one receiver and two workers running, ``--rate`` pairs/s paced in 100 ms ticks;
  one settlement in 25 has its volume raised by 0.5 L (valid, unsigned) and raises
  VOLUME_MISMATCH: the time from its upload's send to the alarm's announcement on
  ``<cluster>.alarms`` (what the read side's SSE wakes on).
* Takeover: two workers holding all partitions; one is killed (SIGKILL); the time until
  every partition it held is claimed by the other (``lease_ttl_s`` 10 s, the default).

Everything shares 2 cores with the load generator: figures are a floor for machines of
their own. docs/scale-out.md has the figures and the capacity model built on them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx2
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from check_throughput import verify_only  # noqa: E402
from ingest_load import _is_pair, city, paced_plans, send_paced  # noqa: E402
from live import free_port  # noqa: E402

from anxin.cluster.stream import Names, connect  # noqa: E402
from anxin.serve.config import ServeConfig  # noqa: E402
from anxin.serve.tokens import issue_station_token  # noqa: E402
from anxin.sim.replay import arrival_lines, station_lines  # noqa: E402
from anxin.store import partitions  # noqa: E402
from anxin.store.database import Store  # noqa: E402

PG = os.environ.get("ANXIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NATS = os.environ.get("ANXIN_TEST_NATS", "nats://127.0.0.1:4222")
ANXIN = shutil.which("anxin", path=str(Path(sys.executable).parent)) or "anxin"


# ------------------------------------------------------------------ plumbing
def fresh_db(registry: bytes) -> tuple[str, Store]:
    import psycopg

    name = f"anxin_so_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = PG.rsplit("/", 1)[0] + "/" + name
    store = Store(url)
    store.registry_save(registry, author="bench", reason="bench city")
    return url, store


def drop_db(url: str) -> None:
    import psycopg

    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def env_of(cfg: ServeConfig) -> dict[str, str]:
    return dict(
        os.environ,
        ANXIN_DB=cfg.db,
        ANXIN_NATS_URL=cfg.nats_url,
        ANXIN_CLUSTER=cfg.cluster,
        ANXIN_PARTITIONS=str(cfg.partitions),
        ANXIN_LEASE_TTL_S=str(cfg.lease_ttl_s),
        ANXIN_CLOCK_EVERY_S="0",
        ANXIN_LOG="warning",
    )


def receiver(cfg: ServeConfig, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [ANXIN, "serve", "--role", "receiver", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env_of(cfg), stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"receiver not ready: {log.read_text()[-1000:]}")


CPU_CGROUP = Path("/sys/fs/cgroup/cpu")  # cgroup v1's CPU controller (v2: /sys/fs/cgroup with cpu.max)


def cpu_quota(name: str, cpus: float) -> Path | None:
    """A cgroup of its own that lets its processes use at most ``cpus`` cores (a CFS quota),
    or None where this machine does not let us make one (then the workers are pinned)."""
    period = 100_000
    v2 = Path("/sys/fs/cgroup")
    for root, limit, marker in (
        (CPU_CGROUP, "cpu.cfs_quota_us", CPU_CGROUP / "cgroup.procs"),
        (v2, "cpu.max", v2 / "cgroup.controllers"),
    ):
        if not marker.exists():
            continue
        group = root / f"anxin-bench-{name}"
        try:
            group.mkdir(exist_ok=True)
            value = str(int(cpus * period)) if limit.endswith("_us") else f"{int(cpus * period)} {period}"
            (group / limit).write_text(value)
            return group
        except OSError:
            continue
    return None


def drop_quota(group: Path | None) -> None:
    if group is not None:
        try:
            group.rmdir()  # empty once its processes have exited
        except OSError:
            pass


def worker(
    cfg: ServeConfig, name: str, log: Path, core: int | None = None, group: Path | None = None
) -> subprocess.Popen:
    cmd = [ANXIN, "worker", "--name", name]
    if group is not None:
        procs = group / "cgroup.procs"

        def enter() -> None:  # in the child, before exec: the worker starts inside its quota
            procs.write_text(str(os.getpid()))

        return subprocess.Popen(
            cmd, env=env_of(cfg), stdout=subprocess.DEVNULL, stderr=log.open("ab"), preexec_fn=enter
        )
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    return subprocess.Popen(cmd, env=env_of(cfg), stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


async def stream_end(cfg: ServeConfig) -> tuple[int, int]:
    """(messages, bytes) of the cluster's stream."""
    nc = await connect(cfg, "bench")
    try:
        info = await nc.jetstream().stream_info(Names(cfg.cluster).stream)
        return int(info.state.messages), int(info.state.bytes)
    finally:
        await nc.close()


async def drop_stream(cfg: ServeConfig) -> None:
    nc = await connect(cfg, "bench")
    js = nc.jetstream()
    for name in (Names(cfg.cluster).stream, "KV_" + Names(cfg.cluster).leases):
        try:
            await js.delete_stream(name)
        except Exception:
            pass
    await nc.close()


def subject_ends(cfg: ServeConfig, per: dict[str, list[bytes]]) -> dict[int, int]:
    """The last stream sequence of each partition that has messages."""

    async def run() -> dict[int, int]:
        from anxin.cluster.stream import partition_of

        nc = await connect(cfg, "bench")
        js = nc.jetstream()
        out: dict[int, int] = {}
        try:
            for part in sorted({partition_of(s, cfg.partitions) for s in per}):
                msg = await js.get_last_msg(Names(cfg.cluster).stream, Names(cfg.cluster).subject(part))
                out[part] = int(msg.seq)
        finally:
            await nc.close()
        return out

    return asyncio.run(run())


def wait_stored(store: Store, ends: dict[int, int], timeout: float = 600.0) -> float:
    """Seconds until every partition's stored position reaches its stream end."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        pos = partitions.positions(store)
        if all(pos.get(p, {}).get("seq", 0) >= e for p, e in ends.items()):
            return time.perf_counter() - t0
        time.sleep(0.1)
    raise RuntimeError("the workers did not reach the stream's end")


# ------------------------------------------------------------------ phases
def through_receivers(urls: list[str], tokens: dict[str, str], per: dict[str, list[bytes]], batch: int) -> dict:
    """Every station's lines through the receivers (round robin by station), 8 clients."""
    work: queue.Queue = queue.Queue()
    for sid in per:
        work.put(sid)
    cursors = {sid: 0 for sid in per}
    done = {"pairs": 0, "records": 0}
    lock = threading.Lock()
    home = {sid: urls[i % len(urls)] for i, sid in enumerate(sorted(per))}

    def client() -> None:
        with httpx2.Client(timeout=120) as c:
            while True:
                try:
                    sid = work.get_nowait()
                except queue.Empty:
                    return
                i = cursors[sid]
                lines = per[sid][i : i + batch]
                if not lines:
                    continue
                r = c.post(
                    f"{home[sid]}/v1/records",
                    content=b"\n".join(lines),
                    headers={"Authorization": f"Bearer {tokens[sid]}", "Content-Type": "application/x-ndjson"},
                )
                if r.status_code == 503:
                    work.put(sid)
                    continue
                res = r.json()["results"]
                with lock:
                    done["records"] += len(res)
                    done["pairs"] += sum(1 for x in res if x.get("kind") in ("metering", "settlement"))
                cursors[sid] = i + len(lines)
                work.put(sid)

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - began
    return {"pairs_per_s": done["pairs"] / 2 / secs, "records_per_s": done["records"] / secs, "seconds": secs}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(names: tuple[str, ...]) -> float:
    """CPU seconds so far of every process whose command name is one of ``names`` (the
    machine's PostgreSQL backends, nats-server)."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        if comm in names or any(comm.startswith(n) for n in names):
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def consume(
    cfg: ServeConfig, registry: bytes, ends: dict[int, int], n: int, tmp: Path, cpus: float | None = None
) -> dict:
    """``n`` workers drain the filled stream into a fresh database: each within a CPU quota
    of ``cpus`` cores where given (and the machine allows it), else each pinned to a core."""
    db, store = fresh_db(registry)
    run = msgspec.structs.replace(cfg, db=db)
    groups = [cpu_quota(f"w{n}-{i}", cpus) if cpus else None for i in range(n)]
    if cpus and None in groups:
        print("  (no CPU quota possible here: a cgroup cannot be made; the workers are pinned instead)", flush=True)
    procs = [
        worker(run, f"w{i}", tmp / f"w{n}-{i}.log", core=i % (os.cpu_count() or 1), group=groups[i]) for i in range(n)
    ]
    pg0, nats0 = cpu_of(("postgres",)), cpu_of(("nats-server",))
    try:
        secs = wait_stored(store, ends)
        each = [cpu_seconds(p.pid) for p in procs]
        cpu = sum(each)
        pg, nats = cpu_of(("postgres",)) - pg0, cpu_of(("nats-server",)) - nats0
        with store.engine.connect() as c:
            from sqlalchemy import text

            rows = int(c.execute(text("SELECT count(*) FROM ledger")).scalar_one())
            db_bytes = int(c.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
            # Who stored what: a worker's share is bounded by the partitions it won (their
            # stations' records), so two workers finish together only if the split is even.
            owned = c.execute(
                text(
                    "SELECT s.owner, count(*) FROM ledger l JOIN stream_positions s ON s.part = l.part GROUP BY s.owner"
                )
            ).all()
        shares = {str(o): int(k) / rows for o, k in owned}
        return {
            "shares": " / ".join(f"{shares.get(f'w{i}', 0.0):.0%}" for i in range(n)),
            "busy": " / ".join(f"{c / (secs * (cpus or 1.0)):.0%}" for c in each),
            "seconds": secs,
            "records_per_s": rows / secs,
            "rows": rows,
            "per_cpu_s": rows / cpu,
            "pg_us": pg / rows * 1e6,
            "nats_us": nats / rows * 1e6,
            "db_bytes_per_record": db_bytes / rows,
        }
    finally:
        stop(procs)
        for g in groups:
            drop_quota(g)
        store.close()
        drop_db(db)


def latency(cfg: ServeConfig, url: str, tokens: dict[str, str], per: dict[str, list[bytes]], args) -> dict:
    """Paced uploads through one receiver, two workers running; send → announcement."""
    announced: dict[str, float] = {}
    ready = threading.Event()
    stop_listen = threading.Event()

    def listen() -> None:
        async def run() -> None:
            nc = await connect(cfg, "bench-latency")

            async def cb(msg) -> None:
                now = time.perf_counter()
                for alarm_id in msgspec.json.decode(msg.data):
                    announced.setdefault(alarm_id, now)

            await nc.subscribe(Names(cfg.cluster).alarms, cb=cb)
            ready.set()
            while not stop_listen.is_set():
                await asyncio.sleep(0.05)
            await nc.close()

        asyncio.run(run())

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(10)
    sent: dict[str, float] = {}
    plans, n_ticks = paced_plans(
        per, sent, stations=args.latency_stations, rate=args.rate, seconds=args.latency_seconds
    )
    behind = send_paced(url, tokens, plans, sent, n_ticks)
    from sqlalchemy import text

    want = sum(1 for t in sent.values() if t > 0)
    store = Store(cfg.db, migrate=False)
    deadline = time.perf_counter() + 10  # the last alarms stored and announced
    while True:
        with store.engine.connect() as c:
            rows = c.execute(text("SELECT alarm_id, order_id FROM alarms WHERE rule = 'VOLUME_MISMATCH'")).all()
        seen = [(a, o) for a, o in rows if o in sent and sent[o] > 0 and a in announced]
        if len(seen) >= want or time.perf_counter() > deadline:
            break
        time.sleep(0.1)
    stop_listen.set()
    store.close()
    lat = sorted((announced[a] - sent[o]) * 1000 for a, o in seen)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {
        "alarms": len(lat),
        "expected": want,
        "p50": q[49],
        "p99": q[98],
        "max": lat[-1] if lat else 0,
        "behind": behind,
    }


def settled(store: Store, parts: int, owners: set[str], timeout: float = 60.0) -> None:
    """Until every partition is claimed and the owners are exactly ``owners``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pos = partitions.positions(store)
        if len(pos) == parts and {p["owner"] for p in pos.values()} == owners:
            return
        time.sleep(0.1)
    raise RuntimeError(f"partitions not settled on {owners}")


def takeover(cfg: ServeConfig, store: Store, tmp: Path) -> float:
    """Two workers idle on a drained stream; kill one: seconds until the other has claimed
    every partition the dead one held."""
    a = worker(cfg, "ta", tmp / "ta.log")
    b = worker(cfg, "tb", tmp / "tb.log")
    try:
        settled(store, cfg.partitions, {"ta", "tb"})
        held = {part for part, p in partitions.positions(store).items() if p["owner"] == "ta"}
        t0 = time.perf_counter()
        a.send_signal(signal.SIGKILL)
        while time.perf_counter() - t0 < 120:
            pos = partitions.positions(store)
            if all(pos[p]["owner"] == "tb" for p in held):
                return time.perf_counter() - t0
            time.sleep(0.05)
        raise RuntimeError("no takeover within 120 s")
    finally:
        stop([a, b])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stations", type=int, default=60)
    ap.add_argument("--receivers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rate", type=float, default=500.0, help="pairs/s in the latency run")
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--latency-stations", type=int, default=20)
    ap.add_argument(
        "--worker-cpus",
        type=float,
        default=None,
        help="each worker within a CPU quota of this many cores (a cgroup), e.g. 0.5, so that "
        "PostgreSQL and NATS keep cores of their own; default: each worker pinned to a core",
    )
    ap.add_argument("--workers-only", action="store_true", help="stop after the 1- and 2-worker runs")
    args = ap.parse_args(argv)
    data = city(args.stations)
    registry = (data / "registry.json").read_bytes()
    per = station_lines(arrival_lines(data), "S0001")
    pairs = sum(_is_pair(ln) for v in per.values() for ln in v) // 2
    lines = sum(map(len, per.values()))
    print(f"data: {data.relative_to(ROOT)}: {lines:,} lines, {pairs:,} pairs, {len(per)} stations", flush=True)
    sigs, secs = verify_only(data, 2)
    floor = sigs / secs
    print(f"verify-only floor: {floor:,.0f} signatures/s ({sigs:,} in {secs:.1f} s on 2 processes)", flush=True)
    tmp = ROOT / "bench-data" / "scale-out"
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = ServeConfig(nats_url=NATS, cluster=f"bench{uuid.uuid4().hex[:6]}", partitions=args.partitions)
    db, store = fresh_db(registry)
    cfg = msgspec.structs.replace(cfg, db=db)
    tokens = {sid: issue_station_token(store, sid) for sid in per}
    try:
        recs = [receiver(cfg, tmp / f"r{i}.log") for i in range(args.receivers)]
        try:
            before = sum(cpu_seconds(p.pid) for p, _ in recs)
            nats0 = cpu_of(("nats-server",))
            r = through_receivers([u for _, u in recs], tokens, per, args.batch)
            rcpu = sum(cpu_seconds(p.pid) for p, _ in recs) - before
            ncpu = cpu_of(("nats-server",)) - nats0
        finally:
            stop([p for p, _ in recs])
        messages, stream_bytes = asyncio.run(stream_end(cfg))
        print(
            f"receivers ({args.receivers}): {r['pairs_per_s']:,.0f} pairs/s ({r['records_per_s']:,.0f} records/s, "
            f"{r['seconds']:.1f} s) = {r['pairs_per_s'] / floor:.2f} × the floor; {messages:,} messages in the stream",
            flush=True,
        )
        print(
            f"  per record: receiver {rcpu / messages * 1e6:.0f} µs CPU ({messages / rcpu:,.0f} records per receiver "
            f"CPU-second), NATS publish {ncpu / messages * 1e6:.0f} µs CPU; stream {stream_bytes / messages:.0f} "
            f"bytes per message (R=1)",
            flush=True,
        )
        ends = subject_ends(cfg, per)
        cores = f"{args.worker_cpus:g} core quota" if args.worker_cpus else "1 core"
        one = consume(cfg, registry, ends, 1, tmp, args.worker_cpus)
        print(
            f"1 worker ({cores}): {one['records_per_s']:,.0f} records/s ({one['rows']:,} in {one['seconds']:.1f} s; "
            f"{one['per_cpu_s']:,.0f} records per worker CPU-second)",
            flush=True,
        )
        two = consume(cfg, registry, ends, 2, tmp, args.worker_cpus)
        print(
            f"2 workers ({cores} each): {two['records_per_s']:,.0f} records/s ({two['rows']:,} in {two['seconds']:.1f} s; "
            f"{two['per_cpu_s']:,.0f} records per worker CPU-second) = "
            f"{two['records_per_s'] / one['records_per_s']:.2f} × one worker (target ≥ 1.6)",
            flush=True,
        )
        print(
            f"  2 workers: shares of the records {two['shares']}; CPU used {two['busy']} of each one's "
            f"{cores} over the run (1 worker: {one['busy']})",
            flush=True,
        )
        print(
            f"  per record (1 worker): PostgreSQL {one['pg_us']:.0f} µs CPU, NATS delivery {one['nats_us']:.0f} µs CPU, "
            f"database {one['db_bytes_per_record']:.0f} bytes per record (ledger, outputs, indexes)",
            flush=True,
        )
        if args.workers_only:
            return 0
        # Latency on a cluster of its own (a fresh stream and database).
        lat_cfg = msgspec.structs.replace(cfg, cluster=cfg.cluster + "l")
        ldb, lstore = fresh_db(registry)
        lat_cfg = msgspec.structs.replace(lat_cfg, db=ldb)
        ltokens = {sid: issue_station_token(lstore, sid) for sid in per}
        rproc, rurl = receiver(lat_cfg, tmp / "rl.log")
        ws = [worker(lat_cfg, f"l{i}", tmp / f"l{i}.log") for i in range(2)]
        try:
            settled(lstore, lat_cfg.partitions, {"l0", "l1"})  # the workers up before the clock starts
            la = latency(lat_cfg, rurl, ltokens, per, args)
        finally:
            stop([rproc, *ws])
        print(
            f"latency at {args.rate:,.0f} pairs/s: p50 {la['p50']:.0f} ms, p99 {la['p99']:.0f} ms, max {la['max']:.0f} ms "
            f"({la['alarms']}/{la['expected']} alarms; sender {la['behind']:+.1f} s behind; target p99 ≤ 1000 ms)",
            flush=True,
        )
        t = takeover(lat_cfg, lstore, tmp)
        print(f"takeover after a worker's SIGKILL: {t:.1f} s (lease_ttl_s {lat_cfg.lease_ttl_s:g}; target ≤ 30 s)")
        lstore.close()
        drop_db(ldb)
        asyncio.run(drop_stream(lat_cfg))
    finally:
        store.close()
        drop_db(db)
        asyncio.run(drop_stream(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
