"""``anxin serve --role receiver`` (接收节点): stateless; takes uploads over HTTP exactly
as ``anxin serve`` does (the same handler, token check, limits and per-line outcomes),
screens and verifies each line (the expensive, parallel part), and publishes every
record that passed to its station's partition of the stream. The station is answered
only after JetStream has acknowledged each publish: an accepted record is durable.

A record JetStream reports as a duplicate (the same ledger digest within its window)
is answered ``duplicate``; one resent later is taken again and dropped by the ledger's
digest in the worker. Rejected lines are stored here (the ``rejects`` table), as
``anxin serve`` does. The registry comes from the store, read again every few seconds:
a change made anywhere reaches every receiver."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from anxin.cluster.stream import Names, connect, ensure_stream, partition_of, record_headers
from anxin.contract.registry import Registry
from anxin.crypto.keys import KeyRing
from anxin.engine import EngineSettings
from anxin.ingest.principals import Principal
from anxin.ingest.privacy import policy
from anxin.ingest.replay import newer_registry
from anxin.ingest.screen import UploadResult, screen, settle, tally
from anxin.ingest.service import NoRegistry, reason_class
from anxin.observe.metrics import Latency, publish_histogram
from anxin.serve.config import ServeConfig
from anxin.store.database import Store, now_us

log = logging.getLogger("anxin.cluster")
REGISTRY_EVERY_S = 5.0


class Receiver:
    def __init__(self, cfg: ServeConfig, store: Store, *, settings: EngineSettings = EngineSettings()) -> None:
        self.cfg, self.store, self.settings = cfg, store, settings
        self.privacy = policy(store, mode=cfg.privacy, key=cfg.privacy_key)  # (the same step as anxin serve's)
        self.names = Names(cfg.cluster)
        self.partitions = cfg.partitions
        self.registry: Registry | None = None
        self.registry_version = 0
        self.ring: KeyRing | None = None
        self.js: Any = None
        self.nc: Any = None
        self.published = 0
        self.edge_backlog: dict[str, int] = {}
        # /metrics (anxin.cluster.metrics): outcomes told to the stations, rejects by class,
        # what JetStream reported duplicate, the latencies
        self.outcomes: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.duplicates = 0
        self.latency = Latency()
        self.publish_seconds = publish_histogram()
        self._registry_read = 0.0

    async def start(self) -> None:
        self.nc = await connect(self.cfg, "anxin-receiver")
        self.js = self.nc.jetstream()
        self.partitions = await ensure_stream(self.js, self.cfg)
        await asyncio.to_thread(self.refresh_registry)
        if not self.cfg.cluster_secret:
            log.warning("no cluster_secret: the workers cannot tell this receiver's messages from anyone else's")

    async def stop(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()

    def refresh_registry(self) -> None:
        """Read the newest registry version from the store (a no-op when it is unchanged)."""
        self._registry_read = time.monotonic()
        got = newer_registry(self.store, self.registry_version)
        if got is None:
            return
        version, reg = got
        self.registry, self.ring, self.registry_version = reg, KeyRing.from_registry(reg), version
        log.info("registry loaded", extra={"registry_version": version})

    @property
    def ready(self) -> bool:
        return self.registry is not None and self.nc is not None and self.nc.is_connected

    async def ingest(
        self, station_id: str | None, lines: Sequence[bytes], source: str, principal: Principal | None
    ) -> UploadResult:
        """Screen an upload, store its rejects, publish what passed; returns the outcomes.
        Raises when the stream does not acknowledge (the station retries: resends are
        dropped by their digest) or :class:`NoRegistry`."""
        started = time.perf_counter()
        result = await self._ingest(station_id, lines, source, principal)
        self.latency.ingested(len(result.results), time.perf_counter() - started)
        for r in result.results:
            self.outcomes[r.status] += 1
            if r.status == "rejected":
                self.rejects[reason_class(r.reason or "")] += 1
        return result

    async def _ingest(
        self, station_id: str | None, lines: Sequence[bytes], source: str, principal: Principal | None
    ) -> UploadResult:
        if time.monotonic() - self._registry_read > REGISTRY_EVERY_S:
            await asyncio.to_thread(self.refresh_registry)
        reg, ring, version = self.registry, self.ring, self.registry_version
        if reg is None or ring is None:
            raise NoRegistry("the platform has no registry yet")
        received = now_us()
        tolerance = self.settings.clock_ahead_tolerance_us
        s = await asyncio.to_thread(
            lambda: screen(
                lines,
                station_id=station_id,
                principal=principal,
                source=source,
                received=received,
                registry=reg,
                ring=ring,
                ahead_tolerance_us=tolerance,
                privacy=self.privacy,
            )
        )
        if s.rejects:
            await asyncio.to_thread(self.store.append, [], s.rejects, received_us=received)
        # Published together, acknowledged each: in order on the connection, so a
        # station's lines keep their order in its partition.
        publishing = time.perf_counter()
        acks = await asyncio.gather(
            *(
                self.js.publish(
                    self.names.subject(partition_of(row.station_id, self.partitions)),
                    row.body,
                    headers=record_headers(
                        digest=row.digest,
                        received=received,
                        verdict=row.verdict,
                        quarantined=row.quarantined,
                        source=source,
                        registry=version,
                        body=row.body,
                        secret=self.cfg.cluster_secret,
                    ),
                )
                for row in s.rows
            )
        )
        if acks:  # from the first publish to the last acknowledgement, the upload's records together
            self.publish_seconds.observe(time.perf_counter() - publishing)
        self.published += len(acks)
        self.duplicates += sum(1 for a in acks if a.duplicate)
        settle(s, [not a.duplicate for a in acks], received=received, tolerance_us=tolerance)
        return tally(s.results)
