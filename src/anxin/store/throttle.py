"""Counters that expire, kept in the database so that every worker process and every
restart sees the same ones: the public channels' rate limits and attachment quotas,
the login throttle, the windows of the aggregated failed-login audit entries, and the
single-use nonces of the proof-of-work challenges. Also the installation's keys that
sign anonymous forms, device cookies and challenges (``installation_key``).

A counter is one row of ``throttle``: ``key``, ``count``, ``first_us`` (the first hit
of its window), ``last_us`` (the latest), ``expires_us`` and optional ``data``. A row
whose ``expires_us`` has passed counts as absent: the next hit starts a new window.
Fixed windows (``slide=False``) expire ``window_us`` after their first hit; sliding
ones (``slide=True``) ``window_us`` after their latest.

Bounded: expired rows are deleted every ``SWEEP_EVERY`` new keys (and by ``sweep``);
the callers bound how fast new keys appear (every key is per address, per nozzle or
per account, and each address is itself limited), and :func:`crowded` tells them when
the live rows pass ``MAX_ROWS`` so they can make everyone solve a challenge instead of
adding more.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.transactions import write_transaction

MAX_ROWS = 200_000
SWEEP_EVERY = 200  # new keys between sweeps of expired rows (per process)
_R = T.throttle.c
_K = T.web_keys.c


class Counter(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    count: int = 0
    first_us: int = 0
    last_us: int = 0
    expires_us: int = 0
    data: Any = None


class Hit(msgspec.Struct, frozen=True, kw_only=True):
    """One increment: ``amount`` added to ``key`` whose window is ``window_us``."""

    key: str
    window_us: int
    amount: int = 1
    slide: bool = False
    merge: Callable[[Any], Any] | None = None  # new ``data`` from the old (None when the window is new)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.new_keys = 0
        self.crowded: dict[str, bool] = {}
        self.keys: dict[tuple[str, str], bytes] = {}


_state = _State()


def _counter(row: Any) -> Counter:
    m = row._mapping  # (a Row is a tuple: row.count would be tuple.count)
    return Counter(
        key=m["key"],
        count=int(m["count"]),
        first_us=int(m["first_us"]),
        last_us=int(m["last_us"]),
        expires_us=int(m["expires_us"]),
        data=m["data"],
    )


def hit(store: Store, hits: Sequence[Hit], *, now_us: int) -> list[Counter]:
    """Add each hit to its counter in one transaction; returns the counters after it, in
    the order given."""
    for attempt in range(3):
        try:
            return _hit(store, hits, now_us)
        except IntegrityError:  # another process inserted the same new key first: again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _hit(store: Store, hits: Sequence[Hit], now_us: int) -> list[Counter]:
    out: list[Counter] = []
    created = 0
    with write_transaction(store) as c:
        for h in hits:
            row = c.execute(select(T.throttle).where(_R.key == h.key).with_for_update()).first()
            old = _counter(row) if row is not None else None
            if old is not None and old.expires_us > now_us:  # the window goes on
                count = old.count + h.amount
                expires = now_us + h.window_us if h.slide else old.expires_us
                data = h.merge(old.data) if h.merge is not None else old.data
                c.execute(
                    update(T.throttle)
                    .where(_R.key == h.key)
                    .values(count=count, last_us=now_us, expires_us=expires, data=data)
                )
                out.append(
                    Counter(
                        key=h.key, count=count, first_us=old.first_us, last_us=now_us, expires_us=expires, data=data
                    )
                )
                continue
            new = Counter(
                key=h.key,
                count=h.amount,
                first_us=now_us,
                last_us=now_us,
                expires_us=now_us + h.window_us,
                data=h.merge(None) if h.merge is not None else None,
            )
            values = msgspec.structs.asdict(new)
            if old is None:
                c.execute(T.throttle.insert().values(**values))
                created += 1
            else:  # an expired window: a new one in its place
                c.execute(update(T.throttle).where(_R.key == h.key).values(**values))
            out.append(new)
    if created:
        _maybe_sweep(store, now_us, created)
    return out


def peek(store: Store, keys: Sequence[str], *, now_us: int) -> dict[str, Counter]:
    """The live counters of ``keys`` (an absent or expired one: count 0)."""
    found: dict[str, Counter] = {}
    if keys:
        with store.engine.connect() as c:
            for row in c.execute(select(T.throttle).where(_R.key.in_(list(keys)), _R.expires_us > now_us)):
                found[row.key] = _counter(row)
    return {k: found.get(k, Counter(key=k)) for k in keys}


def clear(store: Store, keys: Sequence[str]) -> None:
    if keys:
        with store.engine.begin() as c:
            c.execute(delete(T.throttle).where(_R.key.in_(list(keys))))


def take_once(store: Store, key: str, *, expires_us: int, now_us: int) -> bool:
    """True the first time ``key`` is taken before it expires; False every later time
    (a single-use nonce)."""
    (got,) = hit(store, [Hit(key=key, window_us=max(1, expires_us - now_us))], now_us=now_us)
    return got.count == 1


def expired(store: Store, prefix: str, *, now_us: int, limit: int = 500) -> list[Counter]:
    """Counters under ``prefix`` whose window has ended (oldest first)."""
    with store.engine.connect() as c:
        rows = c.execute(
            select(T.throttle)
            .where(_R.key.startswith(prefix, autoescape=True), _R.expires_us <= now_us)
            .order_by(_R.expires_us)
            .limit(limit)
        ).all()
    return [_counter(r) for r in rows]


def take_expired(c: Connection, key: str, *, now_us: int) -> Counter | None:
    """In the caller's transaction: delete the counter if its window has ended and
    return it (None when it is gone or still open: another process got it first)."""
    row = c.execute(select(T.throttle).where(_R.key == key).with_for_update()).first()
    got = _counter(row) if row is not None else None
    if got is None or got.expires_us > now_us:
        return None
    c.execute(delete(T.throttle).where(_R.key == key))
    return got


def sweep(store: Store, *, now_us: int) -> int:
    """Delete the expired counters that are not waiting to be read (the failed-login
    windows are read and deleted by their own flush); returns how many went."""
    with store.engine.begin() as c:
        gone = c.execute(
            delete(T.throttle).where(_R.expires_us <= now_us, ~_R.key.startswith("loginaudit:", autoescape=True))
        ).rowcount
        live = int(c.execute(select(func.count()).select_from(T.throttle)).scalar_one())
    _state.crowded[store.url] = live > MAX_ROWS
    return int(gone or 0)


def crowded(store: Store) -> bool:
    """True when the last sweep found more than MAX_ROWS counters: callers then stop
    adding free passes (the public channels ask everyone for a challenge)."""
    return _state.crowded.get(store.url, False)


def _maybe_sweep(store: Store, now_us: int, created: int) -> None:
    with _state.lock:
        _state.new_keys += created
        due = _state.new_keys >= SWEEP_EVERY
        if due:
            _state.new_keys = 0
    if due:
        sweep(store, now_us=now_us)


def installation_key(store: Store, name: str) -> bytes:
    """This installation's secret ``name`` (32 random bytes made on first use, kept in
    the database so every worker and restart signs alike)."""
    cache = (store.url, name)
    got = _state.keys.get(cache)
    if got is not None:
        return got
    with store.engine.connect() as c:
        row = c.execute(select(_K.secret).where(_K.name == name)).first()
    if row is None:
        try:
            with store.engine.begin() as c:
                c.execute(T.web_keys.insert().values(name=name, secret=secrets.token_bytes(32)))
        except IntegrityError:  # made by another process at the same moment
            pass
        with store.engine.connect() as c:
            row = c.execute(select(_K.secret).where(_K.name == name)).one()
    key = bytes(row.secret)
    _state.keys[cache] = key
    return key
