"""The scale-out's read side (``anxin serve --role console``): the console and API over
the cluster's PostgreSQL with no engine of its own — alarms raised by a worker reach
its SSE stream at once (woken by the workers' announcement, not by the keepalive),
in the store's order; uploads are refused with 421 (the receivers take them)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx2
import pytest
from live import ADMIN, free_port
from services import drop_cluster, fresh_pg_database, need_nats
from sqlalchemy import text

from anxin.cluster.receiver import Receiver
from anxin.cluster.worker import Worker
from anxin.serve.alarms import KEEPALIVE_S
from anxin.serve.config import ServeConfig
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_lines, uploads
from anxin.store.database import Store

pytestmark = pytest.mark.xdist_group("cluster")
ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("read") / "city"
    simulate(out, stations=2, days=1, seed=16, scenarios=ScenarioSet.all(), workers=1, group_size=2)
    return out


def _read_side(cfg: ServeConfig, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(
        os.environ,
        ANXIN_NATS_URL=cfg.nats_url,
        ANXIN_CLUSTER=cfg.cluster,
        ANXIN_COOKIE_SECURE="false",
        ANXIN_ADMIN_TOKEN=ADMIN,
    )
    cmd = [sys.executable, "-m", "anxin.cli", "--log", "info", "serve", "--role", "console"]
    cmd += ["--db", cfg.db, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the read side exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx2.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the read side did not become ready")


def test_the_read_side_streams_the_workers_alarms_and_refuses_uploads(city: Path, tmp_path: Path) -> None:
    nats_url = need_nats()
    with fresh_pg_database() as db:
        store = Store(db)
        store.registry_save((city / "registry.json").read_bytes(), author="test", reason="test city")
        cfg = ServeConfig(db=db, nats_url=nats_url, cluster=f"r{uuid.uuid4().hex[:10]}", partitions=2, clock_every_s=0)
        proc, url = _read_side(cfg, tmp_path / "read.log")
        try:
            _run(cfg, store, city, url)
        finally:
            proc.terminate()
            proc.wait(30)
            drop_cluster(cfg)
            store.close()


def _run(cfg: ServeConfig, store: Store, city: Path, url: str) -> None:
    events: list[tuple[int, str, float]] = []  # (id, alarm_id, arrival)
    opened = threading.Event()
    opened_at: list[float] = []  # when the stream's first line came

    def listen() -> None:
        with httpx2.stream("GET", f"{url}/v1/alarms/stream", headers=ADMIN_H, timeout=60) as r:
            ev: dict = {}
            for line in r.iter_lines():
                if not opened.is_set():
                    opened_at.append(time.monotonic())
                    opened.set()
                if line.startswith("id: "):
                    ev["id"] = int(line[4:])
                elif line.startswith("data: "):
                    ev["alarm"] = json.loads(line[6:])["alarm_id"]
                elif line == "" and ev:
                    events.append((ev["id"], ev["alarm"], time.monotonic()))
                    ev = {}
                    if len(events) >= 5:
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert opened.wait(10)
    r = httpx2.post(f"{url}/v1/records", content=b"{}", headers={"Authorization": "Bearer x"})
    assert r.status_code == 401  # an unknown token first, as anxin serve answers
    tok = httpx2.post(f"{url}/v1/stations/S0001/token", headers=ADMIN_H)
    assert tok.status_code == 200, tok.text  # the admin API works on the read side
    r = httpx2.post(f"{url}/v1/records", content=b"{}", headers={"Authorization": f"Bearer {tok.json()['token']}"})
    assert r.status_code == 421 and "receiver" in r.json()["detail"]

    async def main() -> float:
        receiver = Receiver(cfg, Store(cfg.db, migrate=False))
        await receiver.start()
        w = Worker(cfg, Store(cfg.db, migrate=False), name="w")
        task = asyncio.create_task(w.run())
        sent = time.monotonic()
        try:
            for sid, lines in uploads(arrival_lines(city), "S0001"):
                await receiver.ingest(sid, lines, "test", None)
                if len(events) >= 5:
                    break
            await asyncio.to_thread(t.join, 30)
        finally:
            w.stop()
            await task
            await receiver.stop()
        return sent

    sent = asyncio.run(main())
    assert len(events) >= 5
    ids = [e[0] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    with store.engine.connect() as c:
        ordered = list(c.execute(text("SELECT alarm_id FROM alarms ORDER BY ord")).scalars())
    assert [e[1] for e in events] == ordered[: len(events)]  # the store's order, nothing skipped
    # Woken by the workers' announcement, not by the stream's keepalive, which would also
    # find them in the store: the stream looks at the store first after its opening line,
    # then only when woken or KEEPALIVE_S (15 s) later — an alarm that comes before then
    # was woken. (Not "within N s of the upload": the worker's start alone took 3 s on a
    # loaded CI machine.)
    assert events[0][2] < opened_at[0] + KEEPALIVE_S - 1.0, (
        f"first alarm {events[0][2] - opened_at[0]:.1f} s after the stream opened, "
        f"{events[0][2] - sent:.1f} s after the worker started"
    )
