"""Who owns which partition (租约): entries of a JetStream key-value bucket whose
messages live ``lease_ttl_s`` unless renewed.

* ``w.<worker>``: a worker's heartbeat — the live workers are the keys present.
* ``p.<part>``: a partition's lease, made only if absent (``create``) and renewed only
  from the revision its holder last wrote (``update(last=…)``): two workers can never
  both renew one. The revision is the lease's epoch, which only grows: the store
  accepts a partition's writes from the newest epoch only (anxin.store.partitions).

Each partition's rightful owner among the live workers is decided by rendezvous
hashing (the worker with the highest hash of (worker, partition)): every worker
computes the same answer from the same membership, and a worker joining or leaving
moves only the partitions it wins or held. A worker takes the partitions it should own
when their lease is free, and lets go of those it should no longer own."""

from __future__ import annotations

import time
import zlib
from typing import Any


def owner_of(part: int, members: list[str]) -> str | None:
    """The rightful owner of ``part`` among ``members`` (None: no member)."""
    if not members:
        return None
    return max(members, key=lambda w: (zlib.crc32(f"{w}:{part}".encode()), w))


class Leases:
    def __init__(self, kv: Any, worker: str, ttl_s: float) -> None:
        self.kv, self.worker, self.ttl_s = kv, worker, ttl_s
        self.held: dict[int, tuple[int, float]] = {}  # part → (revision, monotonic time renewed)

    async def heartbeat(self) -> None:
        await self.kv.put(f"w.{self.worker}", b"1")

    async def members(self) -> list[str]:
        from nats.js.errors import NoKeysError

        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return []
        return sorted(k[2:] for k in keys if k.startswith("w."))

    async def holders(self) -> dict[int, str]:
        """Every partition lease present: part → worker."""
        from nats.js.errors import NoKeysError

        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return {}
        out: dict[int, str] = {}
        for k in keys:
            if k.startswith("p.") and k[2:].isdigit():
                try:
                    entry = await self.kv.get(k)
                except Exception:
                    continue
                if entry.value:
                    out[int(k[2:])] = entry.value.decode()
        return out

    async def acquire(self, part: int) -> int | None:
        """The lease of ``part`` if it is free: its revision (the epoch), else None."""
        from nats.js.errors import KeyWrongLastSequenceError

        try:
            rev = await self.kv.create(f"p.{part}", self.worker.encode())
        except KeyWrongLastSequenceError:
            return None
        self.held[part] = (rev, time.monotonic())
        return rev

    async def renew(self, part: int) -> bool:
        """Renew a held lease; False (and forgotten) when it was lost."""
        from nats.js.errors import KeyWrongLastSequenceError

        rev, _ = self.held[part]
        try:
            new = await self.kv.update(f"p.{part}", self.worker.encode(), last=rev)
        except KeyWrongLastSequenceError:
            del self.held[part]
            return False
        self.held[part] = (new, time.monotonic())
        return True

    def fresh(self, part: int) -> bool:
        """Whether a held lease was renewed within its TTL (else another may hold it now)."""
        got = self.held.get(part)
        return got is not None and time.monotonic() - got[1] < self.ttl_s

    async def release(self, part: int) -> None:
        got = self.held.pop(part, None)
        if got is not None:
            try:
                await self.kv.delete(f"p.{part}", last=got[0])
            except Exception:  # already expired or taken: nothing to give back
                pass

    async def leave(self) -> None:
        for part in list(self.held):
            await self.release(part)
        try:
            await self.kv.delete(f"w.{self.worker}")
        except Exception:
            pass
