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

from anxin.cluster.leases import Leases, assign
from anxin.cluster.partition import PartitionEngine
from anxin.cluster.stream import Names, connect, decode, ensure_leases, ensure_stream, tick_headers
from anxin.contract.alarm import Alarm
from anxin.engine import EngineSettings
from anxin.ingest.replay import tick_row
from anxin.observe.metrics import Latency
from anxin.observe.sale_alarm import SaleAlarmTimer
from anxin.serve.config import ServeConfig
from anxin.store import partitions
from anxin.store.database import Store, now_us
from anxin.workflow.service import attach_incidents

log = logging.getLogger("anxin.cluster")
T = TypeVar("T")
FETCH_BATCH = 500
FETCH_LINGER_S = 0.02  # how long a batch waits for more messages once it has one
UNSEALED = (
    "no cluster_secret: every message on the stream is taken as a receiver's — keep NATS closed to all but "
    "the platform's own processes"
)
CONSUMER_IDLE_S = 300.0  # a consumer no one pulls from for this long is removed by the server


class Gap(Exception):
    """A consumer skipped a delivery: it went to someone else, or was lost."""


class _Delivered:
    """A pull subscription that checks each delivery follows the one before (the
    consumer's own sequence): a message it delivered elsewhere would otherwise be a
    record silently missing from the ledger, its acknowledgement swept up by the next
    batch's (AckAll)."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub
        self.next = 1

    async def fetch(self, batch: int, timeout: float) -> list:
        msgs = await self.sub.fetch(batch, timeout=timeout)
        for m in msgs:
            seq = m.metadata.sequence.consumer
            if seq != self.next:
                raise Gap(f"delivery {seq} where {self.next} was due")
            self.next = seq + 1
        return msgs


async def cancelled(task: asyncio.Task, *, every_s: float = 0.5) -> None:
    """Cancel ``task`` and wait until it has ended — cancelling again while it runs.

    One cancel is not enough: Python 3.11's ``asyncio.wait_for`` (inside nats-py's fetch)
    returns a message that arrived in the same loop turn as the cancellation and drops the
    cancellation. A partition's task then went on fetching, and the lease round awaiting
    it waited for ever — no heartbeat, so the worker fell out of the cluster for good
    while its process lived on (seen in CI: a worker holding nothing after a rebalance)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every_s)
    if not task.cancelled():
        task.exception()  # retrieved: what ended it was logged where it happened


def session_limits(cfg: ServeConfig, worker: str) -> str:
    """PostgreSQL session settings of a worker: its name (a successor that finds the
    partition's row locked ends the sessions of the worker it takes over from:
    :func:`anxin.store.partitions.claim`); a lock is waited for at most a lease's TTL; the
    server drops the session of a worker gone silent — its TCP keepalives unanswered
    after ~11 s, or idle inside a transaction for 3 TTLs (at least 30 s) — which rolls
    its transaction back and frees the row its successor needs."""
    ttl_ms = int(cfg.lease_ttl_s * 1000)
    app = partitions.worker_app(worker)
    return " ".join(
        f"-c {k}={v}"
        for k, v in (
            ("application_name", app),
            ("lock_timeout", ttl_ms),
            ("idle_in_transaction_session_timeout", max(30_000, 3 * ttl_ms)),
            ("tcp_keepalives_idle", 5),
            ("tcp_keepalives_interval", 2),
            ("tcp_keepalives_count", 3),
            ("tcp_user_timeout", 10_000),
        )
    )


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
        self.cfg, self.settings, self.clock = cfg, settings, clock
        # Its own connections, with limits: a worker cut off inside a transaction must not
        # hold its partition's row lock (and so its successor) for TCP's two hours.
        self.id = name or worker_id()
        self._given = store
        self.store = (
            Store(store.url, migrate=False, pg_options=session_limits(cfg, self.id))
            if store.dialect == "postgresql"
            else store
        )
        self.names = Names(cfg.cluster)
        self.engines: dict[int, PartitionEngine] = {}
        self.tasks: dict[int, asyncio.Task] = {}
        self.stopping = asyncio.Event()
        self.alarms: list[Alarm] = []  # new alarms since start (tests, status)
        # sale → alarm on --metrics: the receiver's receipt time (the ledger's) to the announcement
        self.latency = Latency()
        self._sale_alarm = SaleAlarmTimer(self.store, self.latency, clock, window_us=2 * settings.horizon_us)
        self.processed = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="anxin-engine")
        self.partitions = cfg.partitions
        self.leases: Leases
        self.consumers: dict[int, str] = {}  # part → its consumer now
        self._starts = 0

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
            if not self.cfg.cluster_secret:
                log.warning(UNSEALED, extra={"worker": self.id})
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
            if self.store is not self._given:
                self.store.close()
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
        owners = assign(self.partitions, members)
        for part in range(self.partitions):
            mine = owners[part] == self.id
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
            await cancelled(task)
        engine = self.engines.pop(part, None)
        if engine is not None and checkpoint:
            with contextlib.suppress(Exception):
                await self._engine(engine.checkpoint)

    # ------------------------------------------------------------ one partition
    async def _consume(self, part: int, epoch: int) -> None:
        """Own ``part`` until cancelled. Whatever ends it otherwise — a fault of the stream,
        the store or this code — lets the partition go (its lease given back), so the next
        lease round takes it afresh, from the store, rather than leaving it held and fed by
        no one."""
        try:
            await self._own(part, epoch)
        except asyncio.CancelledError:
            raise
        except partitions.Fenced:
            log.warning("partition fenced: another worker holds it", extra={"worker": self.id, "part": part})
            self.engines.pop(part, None)
            self.tasks.pop(part, None)
            self.leases.held.pop(part, None)
        except Exception:
            log.exception("partition stopped by a fault: letting it go", extra={"worker": self.id, "part": part})
            self.engines.pop(part, None)
            self.tasks.pop(part, None)
            with contextlib.suppress(Exception):
                await self.leases.release(part)

    async def _own(self, part: int, epoch: int) -> None:
        engine = await self._engine(
            lambda: PartitionEngine(self.store, part, owner=self.id, epoch=epoch, settings=self.settings)
        )
        self.engines[part] = engine
        log.info(
            "partition taken",
            extra={"worker": self.id, "part": part, "seq": engine.seq, "replayed": engine.replayed, "epoch": epoch},
        )
        sub = await self._subscribe(part, engine.seq, engine.epoch)
        quiet = 0
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
                quiet += 1
                if quiet % 10 == 0 and not await self._consumer_exists(part):  # (deleted under us)
                    sub = await self._subscribe(part, engine.seq, engine.epoch)
                continue
            except Exception:
                log.warning("fetch failed: from the stored position again", exc_info=True, extra={"part": part})
                await asyncio.sleep(0.5)
                sub = await self._subscribe(part, engine.seq, engine.epoch)
                continue
            if not msgs:  # nats-py answers a stray status message with no message at all
                if not await self._consumer_exists(part):
                    sub = await self._subscribe(part, engine.seq, engine.epoch)
                continue
            quiet = 0
            batch = [decode(m.metadata.sequence.stream, m.headers, m.data, self.cfg.cluster_secret) for m in msgs]
            try:
                new = await self._engine(engine.step, batch)
            except partitions.Fenced:
                raise
            except Exception:
                # Not stored, not acknowledged: the batch again, from the stored position
                # (the consumer would otherwise go on after it and leave a gap).
                log.exception("step failed: the batch comes again", extra={"part": part})
                await asyncio.sleep(1.0)
                sub = await self._subscribe(part, engine.seq, engine.epoch)
                continue
            await msgs[-1].ack()  # AckAll: the batch
            self.processed += len(batch)
            if new:
                self.alarms += new
                await self._engine(self._incidents, new)
                await self._announce(new)

    async def _subscribe(self, part: int, after: int, epoch: int) -> Any:
        """A new consumer of the partition starting after stream sequence ``after`` (the
        store's position): whatever was delivered before and not stored comes again. The
        partition's other consumers — an earlier holder's, this worker's previous one — are
        deleted: nothing else may take its messages (a delivery to anyone else is a gap)."""
        from nats.js import api
        from nats.js.errors import NotFoundError

        self._starts += 1
        name = self.names.consumer(part, epoch, self._starts)
        for ci in await self.js.consumers_info(self.names.stream):
            of = self.names.consumer_of(ci.name)
            if of is not None and of[0] == part:
                with contextlib.suppress(NotFoundError):
                    await self.js.delete_consumer(self.names.stream, ci.name)
        config = api.ConsumerConfig(
            durable_name=name,
            filter_subject=self.names.subject(part),
            ack_policy=api.AckPolicy.ALL,
            ack_wait=120.0,
            max_ack_pending=-1,
            inactive_threshold=CONSUMER_IDLE_S,  # a dead worker's, removed by the server
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE if after else api.DeliverPolicy.ALL,
            opt_start_seq=after + 1 if after else None,
        )
        sub = await self.js.pull_subscribe(
            self.names.subject(part), durable=name, stream=self.names.stream, config=config
        )
        self.consumers[part] = name
        return _Delivered(sub)

    async def _consumer_exists(self, part: int) -> bool:
        from nats.js.errors import NotFoundError

        name = self.consumers.get(part)
        if name is None:
            return False
        try:
            await self.js.consumer_info(self.names.stream, name)
            return True
        except NotFoundError:
            return False
        except Exception:  # the stream is away: nothing to decide now
            return True

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
        try:
            await asyncio.to_thread(self._sale_alarm, alarms)
        except Exception:  # a measurement, never the worker's loop
            log.exception("sale → alarm not measured", extra={"worker": self.id})

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
                        body = tick.body()
                        headers = tick_headers(tick, row.digest, body, self.cfg.cluster_secret)
                        await self.js.publish(self.names.subject(part), body, headers=headers)
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
