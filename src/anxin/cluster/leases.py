"""Who owns which partition (租约): entries of a JetStream key-value bucket whose
messages live ``lease_ttl_s`` unless renewed.

* ``w.<worker>``: a worker's heartbeat — the live workers are the keys present.
* ``p.<part>``: a partition's lease, made only if absent (``create``) and renewed only
  from the revision its holder last wrote (``update(last=…)``): two workers can never
  both renew one. The revision is the lease's epoch, which only grows: the store
  accepts a partition's writes from the newest epoch only (anxin.store.partitions).

Each partition's rightful owner among the live workers is decided by rendezvous
hashing with bounded loads: every (worker, partition) pair has a score (a hash of
both); pairs are taken from the highest score down, a partition going to the first
worker that still has room for its share (⌈P / workers⌉). Every worker computes the same
answer from the same membership; none holds more than its share rounded up (plain
rendezvous hashing gave the bench's two workers 37 and 27 of 64, and the whole cluster waits
for the fuller one); a worker joining or leaving moves its share and a little more
(1.3 × on average at P = 64, at most 2.4 × in 2 000 random memberships; plain
rendezvous hashing moves 1 ×).
A worker takes the partitions it should own when their lease is free, and lets go of
those it should no longer own."""

from __future__ import annotations

import hashlib
import time
from typing import Any


def _score(worker: str, part: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{worker}:{part}".encode(), digest_size=8).digest(), "big")


def assign(parts: int, members: list[str]) -> dict[int, str]:
    """The rightful owner of each of ``parts`` partitions among ``members`` ({} when there
    is no member); the same whatever the order of ``members``."""
    workers = sorted(set(members))
    if not workers:
        return {}
    room = {w: -(-parts // len(workers)) for w in workers}
    owners: dict[int, str] = {}
    for _, part, w in sorted(((_score(w, p), p, w) for p in range(parts) for w in workers), reverse=True):
        if part not in owners and room[w]:
            owners[part] = w
            room[w] -= 1
    return owners


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
