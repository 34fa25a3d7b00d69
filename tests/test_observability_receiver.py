"""Issue 16, item 6 — a scale-out receiver (``anxin serve --role receiver``, a child
process on the machine's NATS JetStream and PostgreSQL) has a /metrics of its own: the
outcomes it answered, the rejects by class, the records published and the duplicates
JetStream reported, the publish latency, the upload histogram and the process's
collectors; and it logs uvicorn and every request in anxin's JSON lines. A worker's
--metrics has sale → alarm, from the receiver's receipt to the worker's announcement."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import httpx2
import msgspec
import pytest
from factory import T0, City, line
from live import free_port
from prometheus_client.parser import text_string_to_metric_families
from services import drop_cluster, fresh_pg_database, need_nats, wait_for
from sqlalchemy import text

from anxin.cluster.metrics import serve_metrics
from anxin.cluster.receiver import Receiver
from anxin.cluster.worker import Worker
from anxin.serve.config import ServeConfig
from anxin.serve.tokens import issue_station_token
from anxin.store.database import Store

pytestmark = pytest.mark.xdist_group("cluster")


def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    r = httpx2.get(url + "/metrics")  # from this machine's loopback: no token needed
    assert r.status_code == 200, r.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(r.text)
        for s in fam.samples
    }


def test_a_receiver_exposes_what_it_published_rejected_and_how_fast(tmp_path) -> None:
    nats_url = need_nats()
    city = City()
    with fresh_pg_database() as db:
        store = Store(db)
        store.registry_save(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
        token = issue_station_token(store, "S1")
        cfg = ServeConfig(db=db, nats_url=nats_url, cluster=f"o{uuid.uuid4().hex[:10]}", partitions=2)
        port = free_port()
        env = dict(os.environ, ANXIN_DB=db, ANXIN_NATS_URL=nats_url, ANXIN_CLUSTER=cfg.cluster, ANXIN_PARTITIONS="2")
        log = tmp_path / "receiver.log"
        cmd = [sys.executable, "-m", "anxin.cli", "--log", "info", "serve", "--role", "receiver", "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env)
        url = f"http://127.0.0.1:{port}"
        try:

            def ready() -> bool:
                assert proc.poll() is None, log.read_text()[-2000:]
                try:
                    return httpx2.get(url + "/readyz", timeout=1).status_code == 200
                except httpx2.HTTPError:
                    return False

            wait_for(ready, 60, "the receiver")
            before = _scrape(url)
            assert before[("anxin_receiver_published_total", ())] == 0.0
            assert ("process_cpu_seconds_total", ()) in before
            assert any(k[0] == "anxin_build_info" for k in before)
            h = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
            m = line(city.metering("S1-N1", T0, 30_000))
            sale = line(city.sale(city.metering("S1-N1", T0 + 600_000_000, 20_000)))
            assert httpx2.post(url + "/v1/records", content=m + b"\n" + sale, headers=h).status_code == 200
            again = httpx2.post(url + "/v1/records", content=m + b"\nnot json\n" + b'{"kind":"x"}', headers=h)
            assert again.status_code == 207 and again.json()["duplicate"] == 1
            assert httpx2.post(url + "/v1/records", content=m, headers={"Authorization": "Bearer x"}).status_code == 401
            after = _scrape(url)
            forward = httpx2.get(url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
            assert forward.status_code == 403  # through a proxy: not the host's scrape
        finally:
            proc.terminate()
            proc.wait(30)
            store.close()
            drop_cluster(cfg)

    def v(name: str, **labels: str) -> float:
        return after[(name, tuple(sorted(labels.items())))]

    assert v("anxin_receiver_published_total") == 3.0  # the first upload's two and the resend
    assert v("anxin_receiver_duplicates_total") == 1.0  # JetStream knew the resend's digest
    assert v("anxin_receiver_records_total", outcome="accepted") == 2.0
    assert v("anxin_receiver_records_total", outcome="duplicate") == 1.0
    assert v("anxin_receiver_records_total", outcome="rejected") == 2.0
    assert v("anxin_receiver_rejects_total", reason="unknown_kind") == 1.0
    assert v("anxin_receiver_publish_seconds_count") == 2.0 and v("anxin_receiver_publish_seconds_sum") > 0
    assert v("anxin_ingest_line_seconds_count") == 2.0
    assert v("anxin_upload_request_seconds_count", code="200") == 1.0
    assert v("anxin_upload_request_seconds_count", code="207") == 1.0
    assert v("anxin_upload_request_seconds_count", code="401") == 1.0
    assert v("anxin_receiver_stream_connected") == 1.0 and v("anxin_registry_version") == 1.0

    entries = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]  # every line JSON
    requests = {(e["method"], e["path"], e["status"]) for e in entries if e["logger"] == "uvicorn.access"}
    assert {("POST", "/v1/records", 200), ("GET", "/metrics", 200), ("GET", "/metrics", 403)} <= requests
    assert any(e["logger"] == "uvicorn.error" and "startup complete" in e["event"] for e in entries)


def test_a_worker_measures_sale_to_alarm_from_the_receivers_receipt(tmp_path) -> None:
    nats_url = need_nats()
    city = City()
    m = city.metering("S1-N1", T0, 30_000)
    sale = city.sale(m, volume_ml=m["volume_ml"] + 500)  # VOLUME_MISMATCH
    port = free_port()
    with fresh_pg_database() as db:
        store = Store(db)
        store.registry_save(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
        cfg = ServeConfig(db=db, nats_url=nats_url, cluster=f"o{uuid.uuid4().hex[:10]}", partitions=2, lease_ttl_s=2)

        def alarms() -> int:
            with store.engine.connect() as c:
                return int(c.execute(text("SELECT count(*) FROM alarms")).scalar_one())

        async def main() -> str:
            receiver = Receiver(cfg, Store(db, migrate=False))
            await receiver.start()
            w = Worker(cfg, Store(db, migrate=False), name="w")
            serve_metrics(w, f"127.0.0.1:{port}")
            task = asyncio.create_task(w.run())
            try:
                assert (await receiver.ingest("S1", [line(m)], "test", None)).accepted == 1
                assert (await receiver.ingest("S1", [line(sale)], "test", None)).accepted == 1
                await asyncio.to_thread(wait_for, lambda: alarms() == 1, 60, "the alarm stored")

                def measured() -> str | None:
                    text = httpx2.get(f"http://127.0.0.1:{port}/metrics").text
                    return text if 'anxin_sale_alarm_seconds_count{rule="VOLUME_MISMATCH"}' in text else None

                return await asyncio.to_thread(wait_for, measured, 30, "sale → alarm measured")
            finally:
                w.stop()
                await task
                await receiver.stop()

        try:
            scraped = asyncio.run(main())
        finally:
            store.close()
            drop_cluster(cfg)
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(scraped)
        for s in fam.samples
    }
    key = (("rule", "VOLUME_MISMATCH"),)
    assert got[("anxin_sale_alarm_seconds_count", key)] == 1.0
    assert 0.0 < got[("anxin_sale_alarm_seconds_sum", key)] < 60.0  # receipt → announced, across processes' clocks
    assert got[("anxin_sale_alarm_unmeasured_total", ())] == 0.0
