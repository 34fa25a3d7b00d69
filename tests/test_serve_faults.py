"""Fault tests with real processes: ``anxin serve`` killed with SIGKILL during a
sustained upload and restarted on the same database. Every acknowledged record is
stored exactly once and the alarms equal those of an uninterrupted run (the batch
check of the same data)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx2
import pytest
from live import ADMIN, Server, arrival_lines, uploads

from anxin.check.run import run_check
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import by_sender
from anxin.store.database import Store

pytestmark = pytest.mark.xdist_group("serve")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "city"
    simulate(out, stations=2, days=1, seed=21, scenarios=ScenarioSet.all(), workers=1, group_size=2)
    return out


def _upload_all(server: Server, batches, tokens: dict[str, str], acked: list[int]) -> None:
    """Like the edge agent: each batch until the platform answers, whatever happens."""
    with httpx2.Client(timeout=10) as client:
        for i, (sid, lines) in enumerate(batches):
            while True:
                try:
                    r = client.post(
                        server.url + "/v1/records",
                        content=b"\n".join(lines),
                        headers={"Authorization": f"Bearer {tokens[sid]}", "Content-Type": "application/x-ndjson"},
                    )
                except httpx2.HTTPError:
                    time.sleep(0.05)  # the platform is down: try again
                    continue
                assert r.status_code in (200, 207, 409, 422), r.text
                acked.append(i)
                break


def test_kill9_during_sustained_upload(city: Path, tmp_path) -> None:
    check = tmp_path / "check"
    run_check(city, check, workers=0)
    expected = {json.loads(x)["alarm_id"] for x in (check / "alarms.jsonl").read_text().splitlines()}
    db = str(tmp_path / "db.sqlite")
    server = Server(db, city / "registry.json", tmp_path / "serve.log")
    server.start()
    try:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        tokens = {
            s: httpx2.post(f"{server.url}/v1/stations/{s}/token", headers=admin).json()["token"]
            for s in ("S0001", "S0002")
        }
        # The verifications go with the institute's token (contract v1.1 §C), in their place.
        tokens["institute"] = httpx2.post(f"{server.url}/v1/institutes/I01/token", headers=admin).json()["token"]
        batches = [
            ("institute" if who == "institute" else s if s in tokens else "S0001", ls)
            for s, ls, who in by_sender(uploads(arrival_lines(city), "S0001", size=200))
        ]
        acked: list[int] = []
        t = threading.Thread(target=_upload_all, args=(server, batches, tokens, acked))
        t.start()
        for fraction in (0.3, 0.6):
            deadline = time.monotonic() + 120
            while len(acked) < fraction * len(batches) and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill9()
            server.start()
        t.join(300)
        assert not t.is_alive() and acked == list(range(len(batches)))
        alarms: set[str] = set()
        after = 0
        while True:
            page = httpx2.get(f"{server.url}/v1/alarms", params={"after": after, "limit": 1000}, headers=admin).json()
            if not page["alarms"]:
                break
            alarms |= {a["alarm_id"] for a in page["alarms"]}
            after = page["next"]
        assert alarms == expected
    finally:
        server.stop()
    store = Store(db, migrate=False)
    counts = store.counts()
    from test_ingest_service import _distinct_records

    assert sum(v for k, v in counts.items() if k.startswith("ledger_")) == _distinct_records(batches)
    recovered = [json.loads(x) for x in (tmp_path / "serve.log").read_text().splitlines() if '"recovered"' in x]
    assert len(recovered) == 2 and all(r["replayed"] > 0 for r in recovered)  # both restarts replayed the ledger
