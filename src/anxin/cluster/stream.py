"""The stream the receivers publish to and the workers consume (NATS JetStream): its
names, its set-up, and what one message carries.

One stream per cluster (``ANXIN_<NAME>``), subjects ``<name>.rec.<partition>``; the
partition of a station is a stable hash of its id modulo the partitions P, fixed when
the stream is made (the same hash as ``anxin check``'s shards). A message is the line
as the station sent it; its headers carry what the receiver decided when it took it —
the receipt time (the platform's clock, contract v1.1 §B), the signature's verdict,
whether it is quarantined, its source — and ``Nats-Msg-Id``, the ledger digest, by
which JetStream drops a resend within its duplicate window (the ledger's unique digest
drops one later). A tick of the platform's clock is a message of its own kind."""

from __future__ import annotations

import hashlib
import hmac
import zlib
from dataclasses import dataclass
from typing import Any

from anxin.crypto.keys import KeyVerdict
from anxin.engine.clock import Tick
from anxin.serve.config import ServeConfig

# Headers (NATS headers are case-sensitive strings)
MSG_ID = "Nats-Msg-Id"
KIND = "Anxin-Kind"  # absent: a record; "tick": the platform's clock
RECEIVED = "Anxin-Received"
VERDICT = "Anxin-Verdict"
QUARANTINED = "Anxin-Quarantined"
SOURCE = "Anxin-Source"
REGISTRY = "Anxin-Registry"  # the registry version the receiver screened it under
MAC = "Anxin-Mac"  # HMAC-SHA256 of the headers and the line, with cluster_secret
TICK_KIND = "tick"
DUPLICATE_WINDOW_S = 600.0  # resends within it are dropped by JetStream itself


def partition_of(station_id: str, partitions: int) -> int:
    """The partition of a station: CRC-32 of its id modulo P (stable across processes,
    machines and versions)."""
    return zlib.crc32(station_id.encode()) % partitions


@dataclass(frozen=True)
class Names:
    """The names of one cluster's stream, subjects, consumers and lease bucket."""

    cluster: str

    @property
    def stream(self) -> str:
        return "ANXIN_" + self.cluster.upper().replace("-", "_")

    def subject(self, part: int) -> str:
        return f"{self.cluster}.rec.{part}"

    @property
    def subjects(self) -> str:
        return f"{self.cluster}.rec.*"

    def consumer(self, part: int, epoch: int, k: int) -> str:
        """The consumer of one subscription: its own per claim (``epoch``) and per start
        (``k``), so that nothing left by an earlier holder — a pull request a cut-off
        worker sent before it knew it had lost the lease — can take messages from it."""
        return f"{self.cluster}-p{part}-e{epoch}-{k}"

    def consumer_of(self, name: str) -> tuple[int, int, int] | None:
        """(partition, epoch, start) of one of this cluster's consumer names, else None."""
        prefix = self.cluster + "-p"
        if not name.startswith(prefix):
            return None
        bits = name[len(prefix) :].split("-")
        if len(bits) != 3 or not bits[0].isdigit() or not bits[1][1:].isdigit() or not bits[2].isdigit():
            return None
        return int(bits[0]), int(bits[1][1:]), int(bits[2])

    @property
    def leases(self) -> str:
        return f"{self.cluster}_leases"

    @property
    def alarms(self) -> str:
        """The subject new alarms are announced on (the read side's SSE fans them out)."""
        return f"{self.cluster}.alarms"


def servers(cfg: ServeConfig) -> list[str]:
    return [u.strip() for u in cfg.nats_url.split(",") if u.strip()]


async def connect(cfg: ServeConfig, name: str) -> Any:
    """A NATS connection that keeps reconnecting (a node's loss is a pause, not an end)."""
    import nats

    return await nats.connect(
        servers=servers(cfg),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        allow_reconnect=True,
    )


async def ensure_stream(js: Any, cfg: ServeConfig) -> int:
    """Create the cluster's stream if it is missing; returns its partitions P — the
    stream's own (kept in its metadata-free description), which wins over ``cfg``'s:
    changing P is a migration, never a restart with another number."""
    from nats.js import api
    from nats.js.errors import NotFoundError

    names = Names(cfg.cluster)
    try:
        info = await js.stream_info(names.stream)
        return _partitions_of(info.config.description, cfg.partitions)
    except NotFoundError:
        pass
    await js.add_stream(
        api.StreamConfig(
            name=names.stream,
            description=f"anxin records; partitions={cfg.partitions}",
            subjects=[names.subjects],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            num_replicas=cfg.stream_replicas,
            max_age=cfg.stream_max_age_days * 86400.0,
            duplicate_window=DUPLICATE_WINDOW_S,
        )
    )
    return cfg.partitions


def _partitions_of(description: str | None, default: int) -> int:
    for part in (description or "").split(";"):
        k, _, v = part.strip().partition("=")
        if k == "partitions" and v.isdigit() and int(v) > 0:
            return int(v)
    return default


async def ensure_leases(js: Any, cfg: ServeConfig) -> Any:
    """The lease bucket (JetStream key-value): an entry lives ``lease_ttl_s`` unless renewed."""
    from nats.js import api
    from nats.js.errors import BucketNotFoundError

    names = Names(cfg.cluster)
    try:
        return await js.key_value(names.leases)
    except BucketNotFoundError:
        pass
    return await js.create_key_value(
        api.KeyValueConfig(bucket=names.leases, ttl=cfg.lease_ttl_s, history=1, replicas=cfg.stream_replicas)
    )


def record_headers(
    *,
    digest: bytes,
    received: int,
    verdict: int | None,
    quarantined: bool,
    source: str,
    registry: int,
    body: bytes,
    secret: str | None,
) -> dict:
    h = {MSG_ID: digest.hex(), RECEIVED: str(received), SOURCE: source, REGISTRY: str(registry)}
    if verdict is not None:
        h[VERDICT] = str(verdict)
    if quarantined:
        h[QUARANTINED] = "1"
    return sealed(h, body, secret)


def tick_headers(tick: Tick, digest: bytes, body: bytes, secret: str | None) -> dict:
    h = {MSG_ID: digest.hex(), KIND: TICK_KIND, RECEIVED: str(tick.received_us), SOURCE: "clock"}
    return sealed(h, body, secret)


def _mac(headers: dict, body: bytes, secret: str) -> str:
    text = "".join(f"{k}={headers[k]}\n" for k in sorted(headers) if k != MAC).encode() + b"\n" + body
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def sealed(headers: dict, body: bytes, secret: str | None) -> dict:
    """The headers with their MAC (``cluster_secret``: the receivers' and workers' own key):
    what the receiver decided — the signature's verdict above all — cannot be written by
    anyone else who reaches the stream."""
    if secret:
        headers[MAC] = _mac(headers, body, secret)
    return headers


@dataclass(frozen=True, slots=True)
class Message:
    """One consumed message, as the worker needs it."""

    seq: int  # the stream sequence
    tick: bool
    body: bytes
    received: int
    verdict: KeyVerdict | None
    quarantined: bool
    source: str
    registry: int  # the registry version it was screened under (0: a tick)
    valid: bool = True  # False: not a receiver's or a worker's (skipped)


def decode(seq: int, headers: dict | None, body: bytes, secret: str | None) -> Message:
    """A consumed message. One that is not a receiver's or a worker's — headers missing or
    out of range, or (with ``cluster_secret``) a MAC that does not hold — comes back with
    ``valid`` False: it is skipped, never fed, and never stops the partition."""
    h = headers or {}
    try:
        if secret and not hmac.compare_digest(str(h.get(MAC, "")), _mac(h, body, secret)):
            raise ValueError("its MAC does not hold")
        verdict = h.get(VERDICT)
        return Message(
            seq=seq,
            tick=h.get(KIND) == TICK_KIND,
            body=body,
            received=int(h[RECEIVED]),
            verdict=None if verdict is None else KeyVerdict(int(verdict)),
            quarantined=h.get(QUARANTINED) == "1",
            source=str(h.get(SOURCE, "?"))[:200],
            registry=int(h.get(REGISTRY, 0)),
        )
    except (KeyError, ValueError, TypeError):
        return Message(seq, False, body, 0, None, True, "?", 0, valid=False)
