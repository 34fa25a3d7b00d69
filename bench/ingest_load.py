"""Load on the live service (issue 4): sustained signed pairs/s through HTTP at the
edge agent's batch size, and the latency from a sale's arrival to its alarm on the
SSE stream, on SQLite and on PostgreSQL.

    .venv/bin/python bench/ingest_load.py [--stations 150] [--seconds 20] [--batch 500]
                                          [--rate 1000] [--backends sqlite,postgresql]

* Data: an honest simulated city-day (``bench-data/ingest-N``), uploaded per station in
  the order the station would send it (``anxin.sim.replay``); a "pair" is a signed
  metering record and its settlement. Tank readings and the rest ride along.
* Throughput: ``anxin serve`` in its own process (fresh database), ``--clients``
  client threads in this process (stations' edge agents) posting ``--batch``-line
  uploads as fast as the server answers, for ``--seconds``; pairs/s = metering and
  settlement records accepted / 2 / elapsed.
* The floor: the same city's signatures (one per pair: the metering record's), only
  verified, on ``--floor-workers`` processes (``check_throughput.verify_only``), measured in
  the same run; throughput is printed as a share of it (issue 14's target: half).
* Latency: a fresh server; ``--latency-stations`` stations' lines paced at ``--rate``
  pairs/s in all, one upload per station per 100 ms tick; one settlement in 25 has its volume
  raised by 0.5 L (unsigned, so the change is valid input) and raises
  VOLUME_MISMATCH when it arrives. Latency = the alarm's arrival on the SSE stream
  minus the moment its upload was sent.

The server and the clients share this machine's cores, so the figures are a floor
for a server with cores of its own.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx2
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the Server helper (anxin serve as a child process)
sys.path.insert(0, str(ROOT / "bench"))  # the verify-only floor of check_throughput.py

from check_throughput import verify_only  # noqa: E402
from live import ADMIN, Server  # noqa: E402

from anxin.sim import ScenarioSet, simulate  # noqa: E402
from anxin.sim.replay import arrival_lines, station_lines  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"


def city(stations: int) -> Path:
    out = ROOT / "bench-data" / f"ingest-{stations}"
    if not (out / "registry.json").exists():
        t = time.perf_counter()
        simulate(out, stations=stations, days=1, seed=4, scenarios=ScenarioSet.honest(), workers=2)
        print(f"simulated {stations} stations × 1 day in {time.perf_counter() - t:.0f} s", flush=True)
    return out


def database(backend: str, tmp: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        path = tmp / f"{uuid.uuid4().hex[:8]}.sqlite"

        def remove() -> None:
            for p in tmp.glob(path.name + "*"):
                p.unlink(missing_ok=True)

        return str(path), remove
    import psycopg

    name = f"anxin_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG.rsplit("/", 1)[0] + "/" + name, drop


def start(backend: str, data: Path, tmp: Path) -> tuple[Server, dict[str, str], Callable[[], None]]:
    url, drop = database(backend, tmp)
    server = Server(url, data / "registry.json", tmp / f"serve-{backend}.log")
    server.start(timeout=120)
    reg = msgspec.json.decode((data / "registry.json").read_bytes())
    with httpx2.Client(timeout=30, headers={"Authorization": f"Bearer {ADMIN}"}) as c:
        tokens = {
            s["station_id"]: c.post(f"{server.url}/v1/stations/{s['station_id']}/token").json()["token"]
            for s in reg["stations"]
        }
    return server, tokens, drop


def _is_pair(line: bytes) -> bool:
    return b'"kind":"metering"' in line or b'"kind":"settlement"' in line


def throughput(backend: str, data: Path, per: dict[str, list[bytes]], args, tmp: Path) -> dict:
    server, tokens, drop = start(backend, data, tmp)
    try:
        work: queue.Queue = queue.Queue()
        cursors = {sid: 0 for sid in per}
        for sid in per:  # one upload per station at a time keeps each station in order
            work.put(sid)
        done = {"pairs": 0, "records": 0, "uploads": 0}
        lock = threading.Lock()
        stop_at = time.perf_counter() + args.seconds

        def client() -> None:
            with httpx2.Client(timeout=60) as c:
                while time.perf_counter() < stop_at:
                    try:
                        sid = work.get(timeout=0.5)
                    except queue.Empty:
                        return
                    i = cursors[sid]
                    batch = per[sid][i : i + args.batch]
                    if not batch:
                        continue
                    r = c.post(
                        f"{server.url}/v1/records",
                        content=b"\n".join(batch),
                        headers={"Authorization": f"Bearer {tokens[sid]}", "Content-Type": "application/x-ndjson"},
                    )
                    assert r.status_code in (200, 207, 409), r.text[:300]
                    res = r.json()["results"]
                    with lock:
                        done["records"] += len(res)
                        done["pairs"] += sum(
                            1 for x in res if x.get("kind") in ("metering", "settlement") and x["status"] == "accepted"
                        )
                        done["uploads"] += 1
                    cursors[sid] = i + len(batch)
                    work.put(sid)

        began = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        return {
            "pairs_per_s": done["pairs"] / 2 / elapsed,
            "records_per_s": done["records"] / elapsed,
            "uploads": done["uploads"],
            "seconds": elapsed,
        }
    finally:
        server.stop()
        drop()


def latency(backend: str, data: Path, per: dict[str, list[bytes]], args, tmp: Path) -> dict:
    server, tokens, drop = start(backend, data, tmp)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    try:
        ready = threading.Event()

        def listen() -> None:
            try:
                with httpx2.stream(
                    "GET", f"{server.url}/v1/alarms/stream", timeout=None, headers={"Authorization": f"Bearer {ADMIN}"}
                ) as r:
                    ready.set()
                    for line in r.iter_lines():
                        if line.startswith("data: "):
                            a = msgspec.json.decode(line[6:])
                            if a["rule"] == "VOLUME_MISMATCH" and a.get("order_id"):
                                seen.setdefault(a["order_id"], time.perf_counter())
                        if stop.is_set():
                            return
            except httpx2.HTTPError:
                return  # the server stopped

        stop = threading.Event()
        threading.Thread(target=listen, daemon=True).start()
        ready.wait(10)
        plans, n_ticks = paced_plans(
            per, sent, stations=args.latency_stations, rate=args.rate, seconds=args.latency_seconds
        )
        behind = send_paced(server.url, tokens, plans, sent, n_ticks)
        deadline = time.perf_counter() + 10
        want = {o for o, t in sent.items() if t > 0}
        while time.perf_counter() < deadline and not want <= set(seen):
            time.sleep(0.05)
        stop.set()
        lat = sorted((seen[o] - sent[o]) * 1000 for o in want if o in seen)
        q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
        return {
            "alarms": len(lat),
            "expected": len(want),
            "p50_ms": q[49],
            "p99_ms": q[98],
            "max_ms": lat[-1] if lat else float("nan"),
            "sender_behind_s": behind,
        }
    finally:
        server.stop()
        drop()


def paced_plans(
    per: dict[str, list[bytes]], sent: dict[str, float], *, stations: int, rate: float, seconds: float
) -> tuple[dict[str, list[list[bytes]]], int]:
    """Per station (the first ``stations``), its lines cut into 100 ms ticks holding its
    share of ``rate`` pairs/s; one settlement in 25 has its volume raised by 0.5 L (it
    raises VOLUME_MISMATCH) and its order id put in ``sent`` (time -1: not sent yet).
    Returns the plans and how many ticks to send (at most ``seconds``' worth)."""
    chosen = dict(list(per.items())[:stations])
    share = max(1, round(rate * 0.1 * 2 / len(chosen)))  # pair records per station per tick
    plans: dict[str, list[list[bytes]]] = {}
    k = 0
    for sid, lines in chosen.items():
        ticks, cur, n = [], [], 0
        for ln in lines:
            if b'"kind":"settlement"' in ln:
                k += 1
                if k % 25 == 0:
                    rec = msgspec.json.decode(ln)
                    rec["volume_ml"] += 500
                    ln = msgspec.json.encode(rec)
                    sent[rec["order_id"]] = -1.0
            cur.append(ln)
            n += _is_pair(ln)
            if n >= share:
                ticks.append(cur)
                cur, n = [], 0
        plans[sid] = ticks
    return plans, min(int(seconds * 10), min(len(t) for t in plans.values()))


def send_paced(
    url: str, tokens: dict[str, str], plans: dict[str, list[list[bytes]]], sent: dict[str, float], n_ticks: int
) -> float:
    """One upload per station per 100 ms tick; each raised settlement's send time into
    ``sent``. Returns how far behind schedule the sender ended (s)."""
    with httpx2.Client(timeout=30) as c:
        t0 = time.perf_counter()
        for tick in range(n_ticks):
            due = t0 + tick * 0.1
            while (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            for sid, ticks in plans.items():
                now = time.perf_counter()
                for ln in ticks[tick]:
                    if b'"kind":"settlement"' in ln:
                        oid = msgspec.json.decode(ln)["order_id"]
                        if sent.get(oid) == -1.0:
                            sent[oid] = now
                c.post(
                    f"{url}/v1/records",
                    content=b"\n".join(ticks[tick]),
                    headers={"Authorization": f"Bearer {tokens[sid]}"},
                )
        return time.perf_counter() - (t0 + n_ticks * 0.1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stations", type=int, default=150)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--batch", type=int, default=500, help="lines per upload (the edge agent's default)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent uploaders (stations' edge agents)")
    ap.add_argument("--latency-stations", type=int, default=20)
    ap.add_argument("--rate", type=float, default=1000.0, help="pairs/s in the latency run")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--floor-workers", type=int, default=2, help="processes verifying in the floor's run")
    args = ap.parse_args(argv)
    data = city(args.stations)
    per = station_lines(arrival_lines(data), "S0001")
    pairs = sum(_is_pair(ln) for v in per.values() for ln in v) // 2
    print(
        f"data: {data.relative_to(ROOT)}: {sum(map(len, per.values())):,} lines, {pairs:,} pairs, {len(per)} stations",
        flush=True,
    )
    sigs, secs = verify_only(data, args.floor_workers)
    floor = sigs / secs
    print(f"verify-only floor: {floor:,.0f} signatures/s ({sigs:,} in {secs:.1f} s on {args.floor_workers} processes)")
    tmp = ROOT / "bench-data" / "ingest-db"
    tmp.mkdir(parents=True, exist_ok=True)
    for backend in args.backends.split(","):
        tp = throughput(backend, data, per, args, tmp)
        print(
            f"{backend:10s} throughput: {tp['pairs_per_s']:,.0f} signed pairs/s "
            f"({tp['records_per_s']:,.0f} records/s, {tp['uploads']} uploads of ≤{args.batch} lines, "
            f"{tp['seconds']:.0f} s) = {tp['pairs_per_s'] / floor:.2f} × the floor (target ≥ 0.5)",
            flush=True,
        )
        la = latency(backend, data, per, args, tmp)
        print(
            f"{backend:10s} latency at {args.rate:,.0f} pairs/s: p50 {la['p50_ms']:.0f} ms, p99 {la['p99_ms']:.0f} ms, "
            f"max {la['max_ms']:.0f} ms ({la['alarms']}/{la['expected']} alarms seen; "
            f"sender {la['sender_behind_s']:+.1f} s behind schedule; target p99 ≤ 250 ms)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
