"""The store (存储): one interface over SQLite (embedded default, WAL) and PostgreSQL
(production), through SQLAlchemy Core; the schema is created and changed by Alembic.

Every write that acknowledges something to a station commits before the
acknowledgement; everything derived (alarms, estimates, deliveries of webhooks) is
idempotent on its natural key, so replaying the ledger after a crash re-derives it
without a second row.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from anxin.contract.alarm import Alarm
from anxin.i18n import t
from anxin.store import ledger
from anxin.store import schema as T
from anxin.store.ledger import TICK, LedgerRow, RejectRow
from anxin.store.outputs import alarm_dict, degraded_alarm, save_on
from anxin.store.results import inserted_id
from anxin.store.urls import display_url, normalise_url, one_line, sqlite_path

MIGRATIONS = Path(__file__).with_name("migrations")
log = logging.getLogger("anxin.store")


def now_us() -> int:
    return time.time_ns() // 1000


class StoreError(Exception):
    """The store cannot be used (no such database, unreachable, schema behind or ahead of
    the code). Its message is one line, for the user."""


def migrations_config() -> Any:
    """The Alembic configuration of the store's migrations (``anxin/store/migrations``)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrations_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrations_config()).get_current_head()
    assert head is not None
    return head


class Store:
    def __init__(self, url: str, *, migrate: bool = True, readonly: bool = False, pg_options: str = "") -> None:
        """Open the database at ``url`` (a path: SQLite). ``migrate``: create a missing SQLite
        file and bring the schema to the newest migration. ``readonly``: no connection may
        write. ``pg_options``: PostgreSQL session settings of every connection (``-c k=v …``;
        a scale-out worker's limits). Commands open it through :func:`open_store`, which
        checks first."""
        self.url = normalise_url(url)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        self.readonly = readonly
        self.unstored_outputs = 0  # outputs left out or degraded by save_outputs since start (metrics)
        self.migrated_from: str | None = None  # (open_store "migrate": the revision before)
        path = sqlite_path(self.url) if self.dialect == "sqlite" else None
        if path is not None and migrate:
            path.parent.mkdir(parents=True, exist_ok=True)
        if self.dialect == "postgresql" and (readonly or pg_options):
            options = " ".join(o for o in ("-c default_transaction_read_only=on" if readonly else "", pg_options) if o)
            self.engine: Engine = create_engine(
                self.url, future=True, pool_pre_ping=True, connect_args={"options": options}
            )
        else:
            self.engine = create_engine(self.url, future=True, pool_pre_ping=self.dialect != "sqlite")
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas_readonly if readonly else _sqlite_pragmas)
        self._insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        if migrate:
            self.migrate()

    # ------------------------------------------------------------ schema
    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic ``upgrade head``)."""
        from alembic import command

        cfg = migrations_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def revision(self) -> str | None:
        """The schema revision the database is at (None: no schema yet)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as c:
            return MigrationContext.configure(c).get_current_revision()

    def current_revision(self) -> str | None:
        """:meth:`revision`, failing with :class:`StoreError` (one line) when the database
        cannot be read: unreachable, no such database, a file that is not a database."""
        try:
            return self.revision()
        except Exception as exc:
            raise StoreError(t("db_cannot_open").format(db=display_url(self.url), reason=one_line(exc))) from exc

    def check_schema(self, *, allow_behind: bool = False) -> str | None:
        """Raise :class:`StoreError` unless the schema is at the code's newest migration
        (``allow_behind``: or older, or none yet — what a migration may bring up); returns
        the database's revision."""
        from alembic.script import ScriptDirectory

        shown = display_url(self.url)
        current = self.current_revision()
        head = migrations_head()
        if current == head:
            return current
        known = {s.revision for s in ScriptDirectory.from_config(migrations_config()).walk_revisions()}
        if current is not None and current not in known:
            raise StoreError(t("db_ahead").format(db=shown, current=current, head=head))
        if allow_behind:
            return current
        if current is None:
            raise StoreError(t("db_no_schema").format(db=shown, head=head))
        raise StoreError(t("db_behind").format(db=shown, current=current, head=head))

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ registry and tokens
    def registry_latest(self) -> tuple[int, bytes] | None:
        with self.engine.connect() as c:
            row = c.execute(
                select(T.registry_versions.c.version, T.registry_versions.c.document)
                .order_by(T.registry_versions.c.version.desc())
                .limit(1)
            ).first()
        return (int(row[0]), bytes(row[1])) if row else None

    def registry_version(self) -> int:
        """The newest registry version (0: none) — without reading its document."""
        with self.engine.connect() as c:
            return int(c.execute(select(func.coalesce(func.max(T.registry_versions.c.version), 0))).scalar_one())

    def registry_save(self, document: bytes, *, author: str, reason: str) -> int:
        with self.engine.begin() as c:
            res = c.execute(
                T.registry_versions.insert().values(
                    created_us=now_us(), author=author, reason=reason, document=document
                )
            )
            return inserted_id(res)

    def registry_history(self, limit: int = 100) -> list[dict[str, Any]]:
        rv = T.registry_versions.c
        with self.engine.connect() as c:
            rows = c.execute(
                select(rv.version, rv.created_us, rv.author, rv.reason).order_by(rv.version.desc()).limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]

    def token_set(self, station_id: str, token: str) -> None:
        digest = hashlib.sha256(token.encode()).digest()
        with self.engine.begin() as c:
            stmt = self._insert(T.station_tokens).values(
                station_id=station_id, token_sha256=digest, created_us=now_us()
            )
            c.execute(
                stmt.on_conflict_do_update(
                    index_elements=["station_id"], set_={"token_sha256": digest, "created_us": now_us()}
                )
            )

    def token_station(self, token: str) -> str | None:
        """The station an API token belongs to (tokens are stored as SHA-256 only)."""
        digest = hashlib.sha256(token.encode()).digest()
        with self.engine.connect() as c:
            row = c.execute(
                select(T.station_tokens.c.station_id).where(T.station_tokens.c.token_sha256 == digest)
            ).first()
        return row[0] if row else None

    def tokens(self) -> dict[bytes, str]:
        with self.engine.connect() as c:
            rows = c.execute(select(T.station_tokens.c.token_sha256, T.station_tokens.c.station_id)).all()
        return {bytes(a): b for a, b in rows}

    # ------------------------------------------------------------ ingest
    def append(
        self, rows: Sequence[LedgerRow], rejects: Sequence[RejectRow] = (), *, received_us: int | None = None
    ) -> list[int | None]:
        """Append records to the ledger in one transaction: for each row its ledger id,
        or None when the identical record was already there (a duplicate).
        ``received_us``: their receipt time (the platform's clock when the upload was
        received; default now), kept with each row: a replay feeds it again."""
        with self.engine.begin() as c:
            return self.append_on(c, rows, rejects, received_us=received_us)

    def append_on(
        self, c: Any, rows: Sequence[LedgerRow], rejects: Sequence[RejectRow] = (), *, received_us: int | None = None
    ) -> list[int | None]:
        """:meth:`append` inside the caller's transaction ``c`` (a scale-out worker commits
        the rows with its outputs and its stream position)."""
        received = now_us() if received_us is None else received_us
        return ledger.append_on(
            c, dialect=self.dialect, insert=self._insert, rows=rows, rejects=rejects, received=received
        )

    def ledger_id_of(self, digest: bytes) -> int | None:
        """The ledger id of the record with this digest (None: not in the ledger)."""
        with self.engine.connect() as c:
            return c.execute(select(T.ledger.c.id).where(T.ledger.c.digest == digest)).scalar_one_or_none()

    def ledger_max_id(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.coalesce(func.max(T.ledger.c.id), 0))).scalar_one())

    def ledger_lines(self, *, upto: int, batch: int = 5000) -> Iterator[tuple[int, str, bytes]]:
        """(id, station_id, line as received) of every ledger row up to ``upto``, in feed order
        (the records: the platform's clock ticks are left out)."""
        last = 0
        L = T.ledger.c
        while last < upto:
            with self.engine.connect() as c:
                rows = c.execute(
                    select(L.id, L.station_id, L.body, L.kind)
                    .where(L.id > last, L.id <= upto)
                    .order_by(L.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for i, station_id, body, kind in rows:
                if kind != TICK:
                    yield int(i), station_id, bytes(body)
            last = int(rows[-1][0])

    def ledger_after(
        self, ledger_id: int, *, batch: int = 5000, part: int | None = None
    ) -> Iterator[tuple[int, bytes, int | None, int, str]]:
        """(id, line, verdict, receipt time, kind) of every ledger row after ``ledger_id``,
        in feed order (kind ``tick``: a tick of the platform's clock). ``part``: only the
        rows of that stream partition (scale-out: one partition's engine)."""
        last = ledger_id
        L = T.ledger.c
        while True:
            q = select(L.id, L.body, L.verdict, L.received_us, L.kind).where(L.id > last)
            if part is not None:
                q = q.where(L.part == part)
            with self.engine.connect() as c:
                rows = c.execute(q.order_by(L.id).limit(batch)).all()
            if not rows:
                return
            for i, body, verdict, received, kind in rows:
                yield int(i), bytes(body), verdict, int(received), kind
            last = int(rows[-1][0])

    # ------------------------------------------------------------ rows set aside
    def ledger_skip(self, ledger_id: int, *, stage: str, reason: str) -> bool:
        """Mark a ledger row that cannot be processed (contract v1.1 §A): every replay skips
        it from now on, and the operators see it (:meth:`ledger_skips`). ``stage``: where it
        failed (``parse``, ``engine``). True when newly marked."""
        L = T.ledger.c
        with self.engine.begin() as c:
            row = c.execute(select(L.station_id, L.kind).where(L.id == ledger_id)).first()
            if row is None:
                return False
            res = c.execute(
                self._insert(T.ledger_skipped)
                .values(
                    ledger_id=ledger_id,
                    created_us=now_us(),
                    station_id=row[0],
                    kind=row[1],
                    stage=stage[:16],
                    reason=reason.replace("\x00", "")[:500],
                )
                .on_conflict_do_nothing(index_elements=["ledger_id"])
                .returning(T.ledger_skipped.c.ledger_id)
            )
            return res.first() is not None

    def ledger_skipped(self, *, after: int = 0) -> set[int]:
        """The ids of the ledger rows set aside, after ``after``."""
        k = T.ledger_skipped.c
        with self.engine.connect() as c:
            return {int(i) for i in c.execute(select(k.ledger_id).where(k.ledger_id > after)).scalars()}

    def ledger_skips(self, *, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
        """(how many rows are set aside, the newest ``limit`` of them) — for the operators."""
        k = T.ledger_skipped.c
        with self.engine.connect() as c:
            n = int(c.execute(select(func.count()).select_from(T.ledger_skipped)).scalar_one())
            rows = c.execute(
                select(k.ledger_id, k.created_us, k.station_id, k.kind, k.stage, k.reason)
                .order_by(k.ledger_id.desc())
                .limit(limit)
            ).all()
        return n, [dict(r._mapping) for r in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as c:
            led: dict[str, int] = {
                str(k): int(v) for k, v in c.execute(select(T.ledger.c.kind, func.count()).group_by(T.ledger.c.kind))
            }
            q = c.execute(select(func.count()).where(T.ledger.c.quarantined.is_(True))).scalar_one()
            rej = c.execute(select(func.count()).select_from(T.rejects)).scalar_one()
            al = c.execute(select(func.count()).select_from(T.alarms)).scalar_one()
        return {
            **{f"ledger_{k}": int(v) for k, v in led.items()},
            "quarantined": int(q),
            "rejects": int(rej),
            "alarms": int(al),
        }

    # ------------------------------------------------------------ outputs
    def save_outputs(self, outputs: Sequence[Any]) -> list[Alarm]:
        """Store what the engine returned; returns the alarms that are new (not stored
        before), in order — what the live streams should announce.

        One output that cannot be stored as it is (a value the database refuses) never
        fails the others, nor the upload: the outputs are then stored one by one, and
        an alarm that still fails is stored degraded — same id, rule, station and time,
        its evidence replaced by why (``unstorable``) — so that no alarm is lost; any
        other output that fails is left out, logged and counted (``unstored_outputs``).
        Raises only when the database itself cannot be used (:meth:`unavailable`)."""
        try:
            return self._save_outputs(outputs)
        except Exception as exc:
            if self.unavailable(exc):
                raise
            log.warning("outputs could not be stored together: storing them one by one", exc_info=True)
        new: list[Alarm] = []
        for o in outputs:
            try:
                new += self._save_outputs([o])
                continue
            except Exception as exc:
                if self.unavailable(exc):
                    raise
                why = f"{type(exc).__name__}: {one_line(exc)}"[:300]
            self.unstored_outputs += 1
            degraded = degraded_alarm(o, why) if isinstance(o, Alarm) else None
            log.error(
                "an output could not be stored",
                extra={"output": type(o).__name__, "alarm_id": getattr(o, "alarm_id", None), "error": why},
            )
            if degraded is not None:
                try:
                    new += self._save_outputs([degraded])
                except Exception as exc:
                    if self.unavailable(exc):
                        raise
                    log.error("a degraded alarm could not be stored either", extra={"alarm_id": o.alarm_id})
        return new

    def reachable(self) -> bool:
        """True when the database answers a trivial query now."""
        try:
            with self.engine.connect() as c:
                c.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def unavailable(self, exc: BaseException) -> bool:
        """True when ``exc`` says the database cannot be used now — unreachable, locked,
        out of space, a failed transaction: infrastructure, where a retry later may
        succeed — rather than that one value could not be stored (a number or string the
        database refuses: the data's fault, the same every time)."""
        if isinstance(exc, sa_exc.DBAPIError) and not isinstance(exc, (sa_exc.DataError, sa_exc.IntegrityError)):
            return True  # OperationalError (connection, lock, disk), InterfaceError, InternalError, …
        if isinstance(exc, (OSError, MemoryError)):
            return True
        return not self.reachable()

    def _save_outputs(self, outputs: Sequence[Any]) -> list[Alarm]:
        new: list[Alarm] = []
        if not outputs:
            return new
        with self.engine.begin() as c:
            return self.save_outputs_on(c, outputs)

    def save_outputs_on(self, c: Any, outputs: Sequence[Any]) -> list[Alarm]:
        """:meth:`save_outputs` inside the caller's transaction, without its one-by-one
        fallback (the caller's transaction fails whole: it goes the two-step way then)."""
        return save_on(c, self._insert, outputs, raised=now_us())

    def alarms_after(self, ord_: int, *, limit: int = 500) -> list[tuple[int, dict[str, Any]]]:
        """(ord, alarm as contract §6) of alarms raised after ``ord_`` (SSE resumption)."""
        a = T.alarms.c
        with self.engine.connect() as c:
            rows = c.execute(select(T.alarms).where(a.ord > ord_).order_by(a.ord).limit(limit)).all()
        return [(int(r.ord), alarm_dict(r._mapping)) for r in rows]

    def alarm_ord(self, alarm_id: str) -> int | None:
        with self.engine.connect() as c:
            return c.execute(select(T.alarms.c.ord).where(T.alarms.c.alarm_id == alarm_id)).scalar_one_or_none()

    def last_alarm_ord(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.coalesce(func.max(T.alarms.c.ord), 0))).scalar_one())

    # ------------------------------------------------------------ checkpoints
    def checkpoint_save(
        self, ledger_id: int, registry_version: int, state: bytes, *, keep: int = 3, part: int | None = None
    ) -> None:
        """Store an engine's state covering the ledger up to ``ledger_id`` (``part``: a
        scale-out partition's engine); the newest ``keep`` of its kind are kept."""
        cp = T.checkpoints.c
        mine = cp.part.is_(None) if part is None else cp.part == part
        with self.engine.begin() as c:
            c.execute(
                T.checkpoints.insert().values(
                    ledger_id=ledger_id, registry_version=registry_version, created_us=now_us(), state=state, part=part
                )
            )
            old = c.execute(select(cp.id).where(mine).order_by(cp.id.desc()).offset(keep)).scalars().all()
            if old:
                c.execute(T.checkpoints.delete().where(cp.id.in_(old)))

    def checkpoint_latest(self, *, part: int | None = None) -> tuple[int, int, bytes] | None:
        """(ledger_id, registry_version, state) of the newest checkpoint (of ``part``'s engine)."""
        cp = T.checkpoints.c
        mine = cp.part.is_(None) if part is None else cp.part == part
        with self.engine.connect() as c:
            row = c.execute(
                select(cp.ledger_id, cp.registry_version, cp.state).where(mine).order_by(cp.id.desc()).limit(1)
            ).first()
        return (int(row[0]), int(row[1]), bytes(row[2])) if row else None

    # ------------------------------------------------------------ webhooks
    def webhook_add(self, url: str, secret: str) -> int:
        with self.engine.begin() as c:
            res = c.execute(T.webhooks.insert().values(url=url, secret=secret, active=True, created_us=now_us()))
            return inserted_id(res)

    def webhooks(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(select(T.webhooks).order_by(T.webhooks.c.id)).all()]

    def webhook_backlog(self) -> dict[str, int]:
        d = T.webhook_deliveries.c
        with self.engine.connect() as c:
            return {s: int(n) for s, n in c.execute(select(d.status, func.count()).group_by(d.status)).all()}


def _sqlite_pragmas_readonly(dbapi_conn: Any, _record: Any) -> None:
    # query_only: no statement may write. (Not mode=ro: a read-only connection cannot remove
    # the -wal and -shm it needs, and leaves them behind — owned by whoever ran the command.)
    # The journal mode is the file's: setting it would be a write.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; synchronous=NORMAL survives a killed process
    # (the acknowledged rows are in the WAL), which is what "nothing acknowledged lost" needs.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
