"""Privacy in the scale-out (docs/privacy.md): a receiver screens personal data as
``anxin serve`` does — a settlement's phone tokenised before it is published, a signed
record holding one refused — and every receiver makes the same token (the key is the
database's), so a resend through another receiver is still one record. The machine's
NATS JetStream and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest
from services import drop_cluster, fresh_pg_database, need_nats
from sqlalchemy import text

from anxin.cluster.receiver import Receiver
from anxin.cluster.worker import Worker
from anxin.serve.config import ServeConfig
from anxin.store.database import Store
from tests.factory import T0, City, line
from tests.test_cluster_pipeline import _drained

pytestmark = pytest.mark.xdist_group("cluster")


def test_receivers_tokenise_alike_and_refuse_a_signed_record_with_a_phone() -> None:
    url = need_nats()
    city = City()
    m1 = city.metering("S1-N1", T0)
    m2 = city.metering("S1-N1", T0 + 600_000_000, customer_phone="13812345678")  # signed with it
    lines = [line(m1), line(city.sale(m1, member={"phone": "13812345678"})), line(m2)]
    with fresh_pg_database() as db:
        store = Store(db)
        store.registry_save(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
        cfg = ServeConfig(db=db, nats_url=url, cluster=f"t{uuid.uuid4().hex[:10]}", partitions=2, clock_every_s=0)

        async def main():
            one = Receiver(cfg, Store(db, migrate=False))
            two = Receiver(cfg, Store(db, migrate=False))
            await one.start()
            await two.start()
            w = Worker(cfg, Store(db, migrate=False), name="w")
            task = asyncio.create_task(w.run())
            try:
                first = await one.ingest("S1", lines, "test", None)
                await _drained(cfg, store)
                again = await two.ingest("S1", lines[1:2], "test", None)  # the same sale, another receiver
                await _drained(cfg, store)
                return first, again
            finally:
                w.stop()
                await task
                await one.stop()
                await two.stop()

        try:
            first, again = asyncio.run(main())
            assert [r.status for r in first.results] == ["accepted", "accepted", "rejected"]
            assert "signed record" in (first.results[2].reason or "")
            assert again.results[0].status == "duplicate"
            with store.engine.connect() as c:
                bodies = [bytes(b) for b in c.execute(text("SELECT body FROM ledger WHERE kind <> 'tick'")).scalars()]
                excerpts = [bytes(b) for b in c.execute(text("SELECT excerpt FROM rejects")).scalars()]
            assert len(bodies) == 2 and any(b"[mobile:" in b for b in bodies)
            assert all(b"13812345678" not in b for b in bodies + excerpts)
        finally:
            drop_cluster(cfg)
            store.close()
