"""The ledger's rows (账本): what an upload appends, in one transaction, straight to the
driver — the hot path of every upload (SQLAlchemy's per-row parameter processing cost
more than the insert itself) — with the station's daily sales figures beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, literal

from anxin.contract.records import MAX_INT
from anxin.store import schema as T

TICK = "tick"  # the ledger kind of the platform's clock ticks (anxin.engine.clock.Tick)


@dataclass(slots=True)
class LedgerRow:
    kind: str
    station_id: str
    natural_key: str
    event_time_us: int
    digest: bytes
    verdict: int | None
    quarantined: bool
    source: str
    body: bytes
    sale: tuple[str, int, int] | None = None  # settlements: (local day, volume_ml, amount_fen) for the figures
    part: int | None = None  # scale-out: the stream partition it came from (None: one engine for all)
    received_us: int | None = None  # its own receipt time (None: the append's)


@dataclass(slots=True)
class RejectRow:
    station_id: str | None
    source: str
    line: int
    reason: str
    excerpt: bytes


def append_on(
    c: Any,
    *,
    dialect: str,
    insert: Any,
    rows: Sequence[LedgerRow],
    rejects: Sequence[RejectRow],
    received: int,
) -> list[int | None]:
    """Append ``rows`` (and ``rejects``) in the transaction ``c``: for each row its ledger
    id, or None when the identical record was already there (a duplicate). ``received``:
    the receipt time of a row that carries none of its own."""
    ids: list[int | None] = [None] * len(rows)
    if rows:
        values = [
            (
                received if r.received_us is None else r.received_us,
                r.kind,
                r.station_id,
                r.natural_key,
                r.event_time_us,
                r.digest,
                r.verdict,
                r.quarantined,
                r.source,
                r.body,
                r.part,
            )
            for r in rows
        ]
        raw = c.connection.driver_connection
        if dialect == "sqlite":
            got = _append_sqlite(raw, values)
        else:
            got = _append_postgresql(raw, values)
        seen: set[bytes] = set()
        sales: dict[tuple[str, str], list[int]] = {}
        for k, r in enumerate(rows):
            if r.digest in got and r.digest not in seen:  # a repeat within the batch is a duplicate
                ids[k] = got[r.digest]
                seen.add(r.digest)
                if r.sale is not None and not r.quarantined:
                    agg = sales.setdefault((r.station_id, r.sale[0]), [0, 0, 0])
                    agg[0] += 1
                    agg[1] += r.sale[1]
                    agg[2] += r.sale[2]
        if sales:
            _add_sales(c, insert, sales)
    if rejects:
        c.execute(
            T.rejects.insert(),
            [
                {
                    "received_us": received,
                    "station_id": r.station_id,
                    "source": r.source,
                    "line": r.line,
                    "reason": r.reason[:500],
                    "excerpt": r.excerpt[:1024],
                }
                for r in rejects
            ],
        )
    return ids


COLUMNS = "received_us, kind, station_id, natural_key, event_time_us, digest, verdict, quarantined, source, body, part"


def _append_sqlite(raw: Any, values: list[tuple]) -> dict[bytes, int]:
    # Rows inserted get ids above the highest before (one writer: the ingest lock).
    (before,) = raw.execute("SELECT coalesce(max(id), 0) FROM ledger").fetchone()
    raw.executemany(
        f"INSERT INTO ledger ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (digest) DO NOTHING",
        values,
    )
    return {bytes(d): int(i) for d, i in raw.execute("SELECT digest, id FROM ledger WHERE id > ?", (before,))}


def _append_postgresql(raw: Any, values: list[tuple]) -> dict[bytes, int]:
    # COPY into a per-session staging table, then one INSERT … SELECT in arrival order
    # (a repeat within the batch conflicts with its first): the least Python work per
    # row, which is what the ingest path is bound by.
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ledger_stage (n int, received_us bigint, kind text, station_id text, "
            "natural_key text, event_time_us bigint, digest bytea, verdict int, quarantined boolean, source text, "
            "body bytea, part int) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY ledger_stage (n, {COLUMNS}) FROM STDIN") as cp:
            for k, v in enumerate(values):
                cp.write_row((k, *v))
        cur.execute(
            f"INSERT INTO ledger ({COLUMNS}) SELECT {COLUMNS} FROM ledger_stage "
            "ORDER BY n ON CONFLICT (digest) DO NOTHING RETURNING digest, id"
        )
        return {bytes(d): int(i) for d, i in cur.fetchall()}


def _add_sales(c: Any, insert: Any, sales: dict[tuple[str, str], list[int]]) -> None:
    # Each figure saturates at 2⁵³ − 1 (a record's own bound, contract v1.1 §A): a
    # station sending absurd but accepted volumes (each ≤ 2⁵³ − 1, thousands a day)
    # pins its day at the bound instead of overflowing the 64-bit column and failing
    # the upload. Both terms are ≤ the bound, so the test itself cannot overflow.
    t = T.daily_sales
    stmt = insert(t)

    def add(col: Any, more: Any) -> Any:
        return case((col >= literal(MAX_INT) - more, literal(MAX_INT)), else_=col + more)

    stmt = stmt.on_conflict_do_update(
        index_elements=["station_id", "day"],
        set_={
            "sales": add(t.c.sales, stmt.excluded.sales),
            "volume_ml": add(t.c.volume_ml, stmt.excluded.volume_ml),
            "amount_fen": add(t.c.amount_fen, stmt.excluded.amount_fen),
        },
    )
    c.execute(
        stmt,
        [
            {
                "station_id": st,
                "day": day,
                "sales": min(n, MAX_INT),
                "volume_ml": min(v, MAX_INT),
                "amount_fen": min(a, MAX_INT),
            }
            for (st, day), (n, v, a) in sorted(sales.items())
        ],
    )
