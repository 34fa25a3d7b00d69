"""``anxin serve --role console`` (读取端): the console, the API, the alarm stream (SSE),
webhooks, reports and the audit log of a scale-out cluster — the same application as
``anxin serve``, over the cluster's one PostgreSQL, without an engine of its own.

Uploads are not taken here (421: the receivers take them). The workers announce each
batch's new alarms on the cluster's alarm subject; the read side wakes its SSE streams
and webhook workers on it, which then read the alarms from the store (SSE resumes by
the alarms' order in the store, so ``Last-Event-ID`` stays exact whichever worker
raised them; a webhook delivery is claimed in the store, once across processes). A
registry change made here is stored and audited as ever; receivers read it within
seconds and workers apply it before the first record screened under it."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from anxin.cluster.stream import Names, connect
from anxin.contract.registry import Registry
from anxin.crypto.keys import KeyRing
from anxin.ingest.replay import newer_registry
from anxin.ingest.service import IngestService, NotHere
from anxin.serve.config import ServeConfig
from anxin.store.database import Store

log = logging.getLogger("anxin.cluster")
REGISTRY_EVERY_S = 5.0


class ReadSide(IngestService):
    takes_uploads = False

    def __init__(self, store: Store, cfg: ServeConfig) -> None:
        self.cfg = cfg
        self._registry: Registry | None = None
        self._registry_read = 0.0
        self.nc: Any = None
        super().__init__(store)

    # The registry as the store has it now (another read-side process may change it).
    @property
    def registry(self) -> Registry | None:
        if time.monotonic() - self._registry_read > REGISTRY_EVERY_S:
            self._refresh()
        return self._registry

    @registry.setter
    def registry(self, value: Registry | None) -> None:
        self._registry = value

    def _refresh(self) -> None:
        self._registry_read = time.monotonic()
        got = newer_registry(self.store, self.registry_version)
        if got is not None:
            self.registry_version, self._registry = got
            self.ring = KeyRing.from_registry(self._registry)

    def _recover(self, collect: list | None = None) -> None:
        self._refresh()
        self.ready = True

    def _apply_registry(self, reg: Registry, version: int) -> None:
        self._registry, self.registry_version, self.ring = reg, version, KeyRing.from_registry(reg)

    def checkpoint(self) -> None:
        """No engine here: nothing to keep."""

    def final_look(self) -> list:
        return []

    def tick(self, now_us: int | None = None) -> int:
        return 0  # the workers' clocks tick their partitions

    def ingest(self, *args: Any, **kwargs: Any) -> Any:
        raise NotHere("this process is the scale-out's read side: upload to a receiver")

    async def start(self) -> None:
        """Listen for the workers' announcements of new alarms."""
        names = Names(self.cfg.cluster)
        try:
            self.nc = await connect(self.cfg, "anxin-read-side")
            await self.nc.subscribe(names.alarms, cb=self._on_alarms)
        except Exception:  # the stream's loss must not keep the console down: SSE polls too
            log.exception("not listening for new alarms: the stream is unreachable")

    async def _on_alarms(self, _msg: Any) -> None:
        """Wake SSE and the webhook workers (they read the store); the incidents are the
        workers' (their listener gets nothing here)."""
        for listener in self._listeners:
            try:
                listener([])
            except Exception:
                log.exception("alarm listener failed")

    async def stop(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
