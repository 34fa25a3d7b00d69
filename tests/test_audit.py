"""The hash-chained audit log on SQLite and real PostgreSQL: a chain verifies (and can be
re-verified offline from the documented recipe); an edited, deleted, swapped or cut
entry is found and named; concurrent writers never fork the chain; the CLI reports it."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from services import fresh_pg_database
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from anxin import audit
from anxin.auth.cli import register
from anxin.store import schema as T
from anxin.store.database import Store

T0 = 1_772_294_400_000_000
L = T.audit_log.c


def _add(store: Store, n: int, start: int = 0) -> list[int]:
    seqs = []
    with store.engine.begin() as c:
        for i in range(start, start + n):
            seqs.append(
                audit.append(
                    c,
                    actor="zhang.wei" if i % 2 else "system",
                    action="alarm.acknowledge",
                    subject=f"alarm:A{i}",
                    reason=f"现场核实 {i}",
                    data={"i": i, "note": "油量不符", "nested": {"x": [1, 2.5, None, True]}},
                    now_us=T0 + i,
                )
            )
    return seqs


def _set(store: Store, seq: int, **values) -> None:
    with store.engine.begin() as c:
        c.execute(update(T.audit_log).where(L.seq == seq).values(**values))


def test_a_long_chain_verifies_and_the_recipe_reproduces_it_offline(store: Store) -> None:
    seqs = _add(store, 150)
    with store.engine.begin() as c:  # numbers a database may rewrite: hashed as stored
        seqs.append(
            audit.append(
                c,
                actor="system",
                action="x.y",
                subject="s",
                reason="",
                now_us=T0,
                data={"big": 1e20, "neg0": -0.0, "tiny": 1.5e-7, "huge": 10**30, "空": ""},
            )
        )
    assert seqs == sorted(seqs)
    report = audit.verify(store)
    assert report == audit.AuditReport(ok=True, entries=151)
    # the docstring's recipe, from a plain export
    with store.engine.connect() as c:
        rows = c.execute(select(T.audit_log).order_by(L.seq)).all()
    prev = bytes(32)
    for r in rows:
        content = {
            "ts_us": r.ts_us,
            "actor": r.actor,
            "action": r.action,
            "subject": r.subject,
            "reason": r.reason,
            "data": r.data,
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert bytes(r.prev_hash) == prev
        prev = hashlib.sha256(prev + canonical).digest()
        assert bytes(r.hash) == prev
    assert audit.head(store) == (rows[-1].seq, prev)


def test_entries_pages_newest_first_and_filters(store: Store) -> None:
    seqs = _add(store, 30)
    page = audit.entries(store, limit=10)
    assert [e.seq for e in page] == seqs[::-1][:10]
    assert [e.seq for e in audit.entries(store, limit=10, before_seq=page[-1].seq)] == seqs[::-1][10:20]
    assert [e.subject for e in audit.entries(store, subject="alarm:A7")] == ["alarm:A7"]
    mine = audit.entries(store, actor="zhang.wei", limit=100)
    assert len(mine) == 15 and all(e.actor == "zhang.wei" for e in mine)
    assert page[0].data == {"i": 29, "note": "油量不符", "nested": {"x": [1, 2.5, None, True]}}


def test_the_entry_commits_or_rolls_back_with_the_change(store: Store) -> None:
    _add(store, 3)
    with pytest.raises(RuntimeError), store.engine.begin() as c:
        audit.append(c, actor="system", action="user.create", subject="user:x", reason="r", now_us=T0)
        raise RuntimeError("the change failed")
    assert audit.verify(store).entries == 3
    _add(store, 2, start=3)  # the chain goes on from the last committed entry
    assert audit.verify(store) == audit.AuditReport(ok=True, entries=5)


@pytest.mark.parametrize(
    "field,value",
    [
        ("reason", "没有核实"),
        ("data", {"i": 9, "note": "改了"}),
        ("actor", "li.si"),
        ("ts_us", T0 + 999),
        ("subject", "alarm:B1"),
        ("action", "alarm.close"),
    ],
)
def test_an_edited_entry_is_named(store: Store, field: str, value) -> None:
    seqs = _add(store, 12)
    _set(store, seqs[6], **{field: value})
    report = audit.verify(store)
    assert not report.ok and report.first_bad_seq == seqs[6] and report.entries == 12
    assert str(seqs[6]) in report.problem


def test_a_rewritten_hash_breaks_the_link_of_the_next(store: Store) -> None:
    seqs = _add(store, 8)
    _set(store, seqs[3], reason="edited", hash=hashlib.sha256(b"forged").digest())
    assert audit.verify(store).first_bad_seq == seqs[3]
    # the forger recomputes the edited entry's hash: then its successor no longer links
    with store.engine.connect() as c:
        r = c.execute(select(T.audit_log).where(L.seq == seqs[3])).one()
    fixed = audit.entry_hash(
        bytes(r.prev_hash),
        audit.canonical(ts_us=r.ts_us, actor=r.actor, action=r.action, subject=r.subject, reason=r.reason, data=r.data),
    )
    _set(store, seqs[3], hash=fixed)
    assert audit.verify(store).first_bad_seq == seqs[4]


def test_a_deleted_entry_is_found(store: Store) -> None:
    seqs = _add(store, 10)
    with store.engine.begin() as c:
        c.execute(delete(T.audit_log).where(L.seq == seqs[4]))
    report = audit.verify(store)
    assert (report.ok, report.first_bad_seq, report.entries) == (False, seqs[5], 9)
    with store.engine.begin() as c:  # the first entry gone: the new first does not start the chain
        c.execute(delete(T.audit_log).where(L.seq <= seqs[5]))
    assert audit.verify(store).first_bad_seq == seqs[6]


def test_swapped_entries_are_found(store: Store) -> None:
    seqs = _add(store, 10)
    cols = ["ts_us", "actor", "action", "subject", "reason", "data", "prev_hash", "hash"]
    with store.engine.connect() as c:
        a, b = (c.execute(select(*[L[k] for k in cols]).where(L.seq == s)).one()._asdict() for s in (seqs[2], seqs[7]))
    placeholder = hashlib.sha256(b"tmp").digest()  # the unique hash column: move one aside first
    _set(store, seqs[2], hash=placeholder)
    _set(store, seqs[7], **a)
    _set(store, seqs[2], **b)
    report = audit.verify(store)
    assert not report.ok and report.first_bad_seq == seqs[2]


def test_a_cut_tail_is_found_with_an_anchor(store: Store) -> None:
    _add(store, 6)
    anchor = audit.head(store)
    _add(store, 2, start=6)
    assert audit.verify(store, anchor=anchor).ok
    with store.engine.begin() as c:
        c.execute(delete(T.audit_log).where(L.seq >= anchor[0]))
    assert audit.verify(store).ok  # what the chain alone cannot see
    report = audit.verify(store, anchor=anchor)
    assert not report.ok and report.first_bad_seq == anchor[0]


def test_concurrent_writers_never_fork_the_chain(store: Store) -> None:
    threads, each = 8, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(k: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with store.engine.begin() as c:
                    c.execute(select(L.seq).limit(1)).all()  # the caller read something first
                    audit.append(
                        c,
                        actor=f"w{k}",
                        action="test.write",
                        subject=f"t:{k}:{i}",
                        reason="并发",
                        data={"k": k, "i": i},
                        now_us=T0 + i,
                    )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors, errors
    assert audit.verify(store) == audit.AuditReport(ok=True, entries=threads * each)
    with store.engine.connect() as c:
        prevs = c.execute(select(L.prev_hash)).scalars().all()
    assert len(set(map(bytes, prevs))) == threads * each  # no two entries share a predecessor


def test_content_the_log_cannot_hold_is_refused(store: Store) -> None:
    bad = [
        dict(actor=""),
        dict(actor="x" * 65),
        dict(subject="s" * 201),
        dict(reason="a\x00b"),
        dict(data={"k": float("nan")}),
        dict(data={1: "x"}),
        dict(data={"k": object()}),
        dict(reason="\ud800"),
        dict(data={"k": "\x00"}),
        dict(now_us=1.5),
    ]
    for override in bad:
        kw = dict(actor="system", action="a.b", subject="s", reason="r", data={}, now_us=T0) | override
        with pytest.raises(ValueError), store.engine.begin() as c:
            audit.append(c, **kw)
    assert audit.verify(store).entries == 0


def test_postgresql_refuses_a_snapshot_that_could_predate_the_lock() -> None:
    with fresh_pg_database() as url:
        store = Store(url)
        try:
            with store.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with pytest.raises(RuntimeError, match="READ COMMITTED"), conn.begin():
                    audit.append(conn, actor="system", action="a.b", subject="s", reason="r", now_us=T0)
            assert audit.verify(store).entries == 0
        finally:
            store.close()


def _cli(store: Store):
    app = typer.Typer()
    app.callback()(lambda: None)

    def fail(message: str) -> None:
        print(f"error: {message}")
        raise typer.Exit(2)

    register(app, Console(width=200), fail)
    return lambda *args: CliRunner().invoke(app, [*args, "--db", store.url])


def test_cli_audit_verify(store: Store, monkeypatch) -> None:
    monkeypatch.setenv("ANXIN_LANG", "zh")
    run = _cli(store)
    seqs = _add(store, 5)
    res = run("audit", "verify")
    assert res.exit_code == 0, res.output
    assert "审计日志完整，共 5 条" in res.output
    anchor = res.output.strip().split()[-1]
    assert run("audit", "verify", "--anchor", anchor).exit_code == 0
    assert run("audit", "verify", "--anchor", "3:zz").exit_code == 2
    _set(store, seqs[2], reason="改过")
    res = run("audit", "verify")
    assert res.exit_code == 1 and f"第 {seqs[2]} 条" in res.output, res.output
    monkeypatch.setenv("ANXIN_LANG", "en")
    res = run("audit", "verify")
    assert res.exit_code == 1 and f"first bad entry: {seqs[2]}" in res.output, res.output


# ------------------------------------------------------------ properties (SQLite: one store, many chains)
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_entry = st.fixed_dictionaries(
    {
        "actor": _text.filter(lambda s: 0 < len(s) <= 64),
        "action": st.sampled_from(["user.create", "alarm.close"]),
        "subject": _text.filter(bool),
        "reason": _text,
        "data": st.dictionaries(_text, _json, max_size=4),
        "now_us": st.integers(0, 2**62),
    }
)


@pytest.fixture(scope="module")
def prop_store(tmp_path_factory):
    s = Store(str(tmp_path_factory.mktemp("audit_prop") / "db.sqlite"))
    yield s
    s.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(_entry, min_size=1, max_size=6), data=st.data())
def test_property_any_appends_verify_and_any_changed_byte_is_found(prop_store: Store, batch, data) -> None:
    store = prop_store
    with store.engine.begin() as c:
        seqs = [audit.append(c, **e) for e in batch]
    assert audit.verify(store).ok
    seq = data.draw(st.sampled_from(seqs), label="entry")
    field = data.draw(st.sampled_from(["ts_us", "actor", "action", "subject", "reason", "data", "prev_hash", "hash"]))
    with store.engine.connect() as c:
        original = c.execute(select(L[field]).where(L.seq == seq)).scalar_one()
    if field == "data":  # a byte of its canonical JSON, still JSON, another value
        raw = json.dumps(original, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        changed = _flip(raw, data)
        try:
            new = json.loads(changed.decode())
        except ValueError:
            new = None
        if not isinstance(new, dict) or new == original or "\x00" in changed.decode():
            new = {**original, "\x01changed": 1}  # the flip gave no other object: change it another way
    elif field == "ts_us":
        new = int.from_bytes(_flip(original.to_bytes(8, "big", signed=True), data), "big", signed=True)
    elif field in ("prev_hash", "hash"):
        new = _flip(bytes(original), data)
    else:
        raw = original.encode()
        try:
            new = _flip(raw, data).decode()
        except UnicodeDecodeError:
            new = original + "\x01"
        if "\x00" in new or new == original:
            new = original + "\x01"
    _set(store, seq, **{field: new})
    report = audit.verify(store)
    _set(store, seq, **{field: original})
    assert not report.ok and report.first_bad_seq == seq, (field, report)
    assert audit.verify(store).ok


def _flip(raw: bytes, data) -> bytes:
    if not raw:
        return b"x"
    i = data.draw(st.integers(0, len(raw) - 1), label="byte")
    x = data.draw(st.integers(1, 255), label="xor")
    return raw[:i] + bytes([raw[i] ^ x]) + raw[i + 1 :]
