"""The store, on SQLite and on real PostgreSQL: migrations give the schema of the code,
the ledger is idempotent, outputs are stored once, checkpoints and registry versions."""

from __future__ import annotations

from sqlalchemy import inspect, text

from anxin.engine.outputs import AlarmNote, make_alarm
from anxin.store import schema as T
from anxin.store.database import Store, migrations_head
from anxin.store.ledger import LedgerRow, RejectRow

T0 = 1_772_294_400_000_000


def _row(i: int, digest: bytes | None = None, quarantined: bool = False) -> LedgerRow:
    return LedgerRow(
        kind="metering",
        station_id="S1",
        natural_key=f"N1/{i}",
        event_time_us=T0 + i,
        digest=digest or i.to_bytes(32, "big"),
        verdict=0,
        quarantined=quarantined,
        source="test",
        body=b'{"i": %d}' % i,
    )


def _alarm(seq: int):
    return make_alarm(
        "VOLUME_MISMATCH",
        key=("N1", seq),
        station_id="S1",
        nozzle_id="N1",
        seq=seq,
        ts_us=T0 + seq,
        message="volume differs",
        evidence={"seq": seq},
    )


def test_migrations_give_the_schema_of_the_code(store: Store) -> None:
    insp = inspect(store.engine)
    tables = set(insp.get_table_names()) - {"alembic_version"}
    assert tables == set(T.metadata.tables)
    for name, table in T.metadata.tables.items():
        assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in table.columns}, name
    store.migrate()  # idempotent
    with store.engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == migrations_head()


def test_ledger_is_idempotent_and_ordered(store: Store) -> None:
    ids = store.append(
        [_row(1), _row(2), _row(3)], [RejectRow(station_id="S1", source="t", line=4, reason="bad", excerpt=b"x" * 5000)]
    )
    assert ids == sorted(ids) and None not in ids
    again = store.append([_row(2), _row(4), _row(4)])  # a resend, a new one, and its repeat in the batch
    assert again[0] is None and again[1] is not None and again[2] is None
    assert store.ledger_max_id() == again[1]
    got = list(store.ledger_after(0, batch=2))
    assert [b for _, b, *_ in got] == [b'{"i": 1}', b'{"i": 2}', b'{"i": 3}', b'{"i": 4}']
    assert [i for i, *_ in store.ledger_after(ids[1])] == [ids[2], again[1]]
    store.append([_row(9, quarantined=True)])
    c = store.counts()
    assert c["ledger_metering"] == 5 and c["quarantined"] == 1 and c["rejects"] == 1


def test_outputs_stored_once_and_notes_merged(store: Store) -> None:
    a1, a2 = _alarm(1), _alarm(2)
    assert [a.alarm_id for a in store.save_outputs([a1, a2])] == [a1.alarm_id, a2.alarm_id]
    assert store.save_outputs([a1]) == []  # a replay re-derives it: no second row
    store.save_outputs([AlarmNote(alarm_id=a1.alarm_id, key="late_partner", value={"seq": 7})])
    store.save_outputs([AlarmNote(alarm_id=a1.alarm_id, key="late_partner", value={"seq": 8})])  # first note kept
    rows = store.alarms_after(0)
    assert [a["alarm_id"] for _, a in rows] == [a1.alarm_id, a2.alarm_id]
    assert rows[0][1]["evidence"] == {"seq": 1, "late_partner": {"seq": 7}}
    assert store.alarms_after(rows[0][0]) == rows[1:]
    assert store.last_alarm_ord() == rows[1][0] and store.alarm_ord(a2.alarm_id) == rows[1][0]


def test_webhook_deliveries_enqueued_once_per_new_alarm(store: Store) -> None:
    store.webhook_add("http://127.0.0.1:9/hook", "s" * 20)
    store.save_outputs([_alarm(1)])
    store.save_outputs([_alarm(1), _alarm(2)])
    assert store.webhook_backlog() == {"pending": 2}


def test_checkpoints_keep_the_newest(store: Store) -> None:
    assert store.checkpoint_latest() is None
    for i in range(5):
        store.checkpoint_save(ledger_id=10 * i, registry_version=1, state=b"state%d" % i)
    assert store.checkpoint_latest() == (40, 1, b"state4")
    with store.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM checkpoints")).scalar_one() == 3


def test_registry_versions_and_tokens(store: Store) -> None:
    assert store.registry_latest() is None
    v1 = store.registry_save(b'{"a": 1}', author="alice", reason="first")
    v2 = store.registry_save(b'{"a": 2}', author="bob", reason="second")
    assert v2 > v1 and store.registry_latest() == (v2, b'{"a": 2}')
    assert [h["author"] for h in store.registry_history()] == ["bob", "alice"]
    store.token_set("S1", "tok-one")
    assert store.token_station("tok-one") == "S1"
    store.token_set("S1", "tok-two")  # replaced: the old token no longer works
    assert store.token_station("tok-one") is None and store.token_station("tok-two") == "S1"
    assert list(store.tokens().values()) == ["S1"]


def test_daily_sales_follow_the_new_settlements(store: Store) -> None:
    rows = [_row(1), _row(2), _row(3)]
    rows[0].sale, rows[1].sale = ("2026-03-01", 30_000, 22_500), ("2026-03-01", 10_000, 7_500)
    store.append(rows)
    store.append([rows[0]])  # a resend: not counted twice
    r4 = _row(4)
    r4.sale = ("2026-03-02", 5_000, 3_750)
    store.append([r4])
    with store.engine.connect() as c:
        got = c.execute(
            text("SELECT station_id, day, sales, volume_ml, amount_fen FROM daily_sales ORDER BY day")
        ).all()
    assert [tuple(r) for r in got] == [("S1", "2026-03-01", 2, 40_000, 30_000), ("S1", "2026-03-02", 1, 5_000, 3_750)]
