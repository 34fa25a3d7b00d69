"""``anxin worker`` (工作进程): owns partitions under leases, consumes each owned
partition of the stream in order, feeds its engine, commits, acknowledges.

One asyncio loop does the network (NATS heartbeats, leases, fetches, publishes); the
engines run one step at a time on one thread beside it, so a long step never delays a
heartbeat. Per owned partition: restore its engine (checkpoint + ledger), make its
consumer start after the stored position, then fetch → step (one transaction) → ack the
batch (AckAll: the last message acknowledges those before it). A worker that cannot
renew a lease within its TTL stops feeding that partition at once; the store's fence
refuses its writes anyway once another worker holds it. Every ``clock_every_s`` each
engine's due ticks (contract v1.1 §D) are published into its own partition, so they
reach the ledger in stream order like any record and a replay decides the same."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from anxin.cluster.leases import Leases, owner_of
from anxin.cluster.partition import PartitionEngine
from anxin.cluster.stream import Names, connect, decode, ensure_leases, ensure_stream, tick_headers
from anxin.contract.alarm import Alarm
from anxin.engine import EngineSettings
from anxin.ingest.replay import tick_row
from anxin.serve.config import ServeConfig
from anxin.store import partitions
from anxin.store.database import Store, now_us
from anxin.workflow.service import attach_incidents

log = logging.getLogger("anxin.cluster")
T = TypeVar("T")
FETCH_BATCH = 500
FETCH_LINGER_S = 0.02  # how long a batch waits for more messages once it has one


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        cfg: ServeConfig,
        store: Store,
        *,
        name: str | None = None,
        settings: EngineSettings = EngineSettings(),
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.cfg, self.store, self.settings, self.clock = cfg, store, settings, clock
        self.id = name or worker_id()
        self.names = Names(cfg.cluster)
        self.engines: dict[int, PartitionEngine] = {}
        self.tasks: dict[int, asyncio.Task] = {}
        self.stopping = asyncio.Event()
        self.alarms: list[Alarm] = []  # new alarms since start (tests, status)
        self.processed = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="anxin-engine")
        self.partitions = cfg.partitions
        self.leases: Leases

    async def _engine(self, fn: Callable[..., T], *args: Any) -> T:
        """Run an engine step on the engines' one thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # ------------------------------------------------------------ main loop
    async def run(self) -> None:
        nc = await connect(self.cfg, f"anxin-worker {self.id}")
        self.nc, self.js = nc, nc.jetstream()
        try:
            self.partitions = await ensure_stream(self.js, self.cfg)
            self.leases = Leases(await ensure_leases(self.js, self.cfg), self.id, self.cfg.lease_ttl_s)
            log.info("worker started", extra={"worker": self.id, "partitions": self.partitions})
            ticks = asyncio.create_task(self._clock_loop())
            try:
                # Heard before taking anything: workers started together see each other in
                # their first round, instead of each taking every partition and giving
                # half back (a restore and a checkpoint per partition moved).
                await self.leases.heartbeat()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), min(1.0, self.cfg.lease_ttl_s / 4))
                while not self.stopping.is_set():
                    try:
                        await self._rebalance()
                    except Exception:
                        log.warning("lease round failed: trying again", exc_info=True, extra={"worker": self.id})
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), self.cfg.lease_ttl_s / 4)
            finally:
                ticks.cancel()
                for part in list(self.tasks):
                    await self._let_go(part, checkpoint=True)
                with contextlib.suppress(Exception):
                    await self.leases.leave()
        finally:
            with contextlib.suppress(Exception):
                await nc.close()
            self._pool.shutdown(wait=True)
            log.info("worker stopped", extra={"worker": self.id})

    def stop(self) -> None:
        self.stopping.set()

    async def _rebalance(self) -> None:
        """One lease round: heartbeat, renew what is held, let go of what another should
        own or what could not be renewed, take what this worker should own and is free."""
        await self.leases.heartbeat()
        for part in list(self.leases.held):
            if not await self.leases.renew(part):
                log.warning("lease lost", extra={"worker": self.id, "part": part})
                await self._let_go(part, checkpoint=False)
        members = await self.leases.members()
        if self.id not in members:
            members.append(self.id)
        for part in range(self.partitions):
            mine = owner_of(part, members) == self.id
            if mine and part not in self.leases.held:
                epoch = await self.leases.acquire(part)
                if epoch is not None:
                    self.tasks[part] = asyncio.create_task(self._consume(part, epoch))
            elif not mine and part in self.leases.held:
                await self._let_go(part, checkpoint=True)
                await self.leases.release(part)

    async def _let_go(self, part: int, *, checkpoint: bool) -> None:
        task = self.tasks.pop(part, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        engine = self.engines.pop(part, None)
        if engine is not None and checkpoint:
            with contextlib.suppress(Exception):
                await self._engine(engine.checkpoint)

    # ------------------------------------------------------------ one partition
    async def _consume(self, part: int, epoch: int) -> None:
        from nats.js import api
        from nats.js.errors import NotFoundError

        try:
            engine = await self._engine(
                lambda: PartitionEngine(self.store, part, owner=self.id, epoch=epoch, settings=self.settings)
            )
        except partitions.Fenced:
            log.warning("partition held under a newer lease", extra={"worker": self.id, "part": part})
            return
        self.engines[part] = engine
        log.info(
            "partition taken",
            extra={"worker": self.id, "part": part, "seq": engine.seq, "replayed": engine.replayed, "epoch": epoch},
        )
        durable = self.names.consumer(part)
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.names.stream, durable)  # start after what the store holds
        config = api.ConsumerConfig(
            durable_name=durable,
            filter_subject=self.names.subject(part),
            ack_policy=api.AckPolicy.ALL,
            ack_wait=120.0,
            max_ack_pending=-1,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE if engine.seq else api.DeliverPolicy.ALL,
            opt_start_seq=engine.seq + 1 if engine.seq else None,
        )
        sub = await self.js.pull_subscribe(
            self.names.subject(part), durable=durable, stream=self.names.stream, config=config
        )
        while not self.stopping.is_set():
            if not self.leases.fresh(part):
                log.warning("lease not renewed in time: pausing", extra={"worker": self.id, "part": part})
                await asyncio.sleep(self.cfg.lease_ttl_s / 10)
                continue
            try:
                # Wait for the first message, then take what else is there at once: one
                # fetch of a whole batch would hold the first until the batch is full or
                # its time is up (a trickle of sales would wait a second for its alarm).
                msgs = await sub.fetch(1, timeout=1.0)
                with contextlib.suppress(TimeoutError):
                    msgs += await sub.fetch(FETCH_BATCH - 1, timeout=FETCH_LINGER_S)
            except TimeoutError:
                continue
            except Exception:
                log.warning("fetch failed: trying again", exc_info=True, extra={"part": part})
                await asyncio.sleep(0.5)
                continue
            batch = [decode(m.metadata.sequence.stream, m.headers, m.data) for m in msgs]
            try:
                new = await self._engine(engine.step, batch)
            except partitions.Fenced:
                log.warning("partition fenced: another worker holds it", extra={"worker": self.id, "part": part})
                self.engines.pop(part, None)
                self.leases.held.pop(part, None)
                return
            except Exception:
                log.exception("step failed: the batch comes again", extra={"part": part})
                await asyncio.sleep(1.0)
                continue
            await msgs[-1].ack()  # AckAll: the batch
            self.processed += len(batch)
            if new:
                self.alarms += new
                await self._engine(self._incidents, new)
                await self._announce(new)

    def _incidents(self, alarms: list[Alarm]) -> None:
        """Repeated alarms of a nozzle form an incident (as anxin serve's listener does)."""
        try:
            attach_incidents(self.store, alarms, now_us=self.clock())
        except Exception:  # the alarms are stored; the console backfills incidents
            log.exception("alarms not attached to incidents", extra={"worker": self.id})

    async def _announce(self, alarms: list[Alarm]) -> None:
        """New alarms on the cluster's alarm subject (the read side fans them out)."""
        with contextlib.suppress(Exception):
            await self.nc.publish(self.names.alarms, msgspec.json.encode([a.alarm_id for a in alarms]))

    # ------------------------------------------------------------ the platform's clock
    async def _clock_loop(self) -> None:
        every = self.cfg.clock_every_s
        if every <= 0:
            return
        while not self.stopping.is_set():
            await asyncio.sleep(every)
            now = self.clock()
            for part, engine in list(self.engines.items()):
                if not self.leases.fresh(part):
                    continue
                try:
                    due = await self._engine(engine.engine.due_ticks, now)
                    for tick in due:
                        row = tick_row(tick, part)
                        await self.js.publish(
                            self.names.subject(part), tick.body(), headers=tick_headers(tick, row.digest)
                        )
                except Exception:
                    log.warning("ticks not published: next round", exc_info=True, extra={"part": part})


def run_worker(cfg: ServeConfig, store: Store, *, name: str | None = None, metrics: str | None = None) -> None:
    """Run a worker until SIGINT/SIGTERM (then it checkpoints and gives its leases back);
    ``metrics``: HOST:PORT of its Prometheus metrics."""
    import signal

    async def main() -> None:
        w = Worker(cfg, store, name=name)
        if metrics:
            from anxin.cluster.metrics import serve_metrics

            serve_metrics(w, metrics)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, w.stop)
        started = time.monotonic()
        await w.run()
        log.info("worker ran", extra={"seconds": round(time.monotonic() - started, 1), "processed": w.processed})

    asyncio.run(main())
