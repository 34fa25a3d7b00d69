"""What ``anxin cluster status`` shows: the stream, the live workers, and per partition
its lease holder, the position the store holds and its consumer's backlog."""

from __future__ import annotations

from dataclasses import dataclass, field

from anxin.cluster.leases import Leases
from anxin.cluster.stream import Names, connect, ensure_leases, ensure_stream
from anxin.serve.config import ServeConfig
from anxin.store import partitions
from anxin.store.database import Store


@dataclass
class PartitionRow:
    part: int
    owner: str | None
    position: int  # the stream sequence the store holds (0: nothing consumed yet)
    pending: int | None  # messages not yet delivered to its consumer (None: no consumer)
    ack_pending: int | None  # delivered, not yet acknowledged


@dataclass
class ClusterStatus:
    stream: str
    partitions: int
    messages: int
    workers: list[str] = field(default_factory=list)
    rows: list[PartitionRow] = field(default_factory=list)


async def cluster_status(cfg: ServeConfig, store: Store) -> ClusterStatus:
    from nats.js.errors import NotFoundError

    names = Names(cfg.cluster)
    nc = await connect(cfg, "anxin-cluster-status")
    try:
        js = nc.jetstream()
        parts = await ensure_stream(js, cfg)
        info = await js.stream_info(names.stream)
        leases = Leases(await ensure_leases(js, cfg), "status", cfg.lease_ttl_s)
        holders = await leases.holders()
        st = ClusterStatus(names.stream, parts, int(info.state.messages), await leases.members())
        stored = partitions.positions(store)
        backlog: dict[int, tuple[int, int]] = {}  # part → (pending, awaiting ack) of its newest consumer
        newest: dict[int, tuple[int, int]] = {}  # part → (epoch, start) of that consumer
        try:
            consumers = await js.consumers_info(names.stream)
        except NotFoundError:
            consumers = []
        for ci in consumers:
            of = names.consumer_of(ci.name)
            if of is not None and of[1:] >= newest.get(of[0], (-1, -1)):
                newest[of[0]] = of[1:]
                backlog[of[0]] = (int(ci.num_pending or 0), int(ci.num_ack_pending or 0))
        for part in range(parts):
            pending, acks = backlog.get(part, (None, None))
            st.rows.append(PartitionRow(part, holders.get(part), stored.get(part, {}).get("seq", 0), pending, acks))
        return st
    finally:
        await nc.close()
