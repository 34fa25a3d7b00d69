"""Backup and restore, and the ledger exported as files, on SQLite and PostgreSQL.

A store filled through the real ingest path (a simulated city with cheating stations:
alarms), with a user and audit entries, is backed up (``anxin db backup``: SQLite's
online backup; ``pg_dump -Fc``) and restored in a new place (``anxin db restore``; a
fresh PostgreSQL database through ``pg_restore``). The restored database has the same
ledger and alarms, an intact audit log, the service starts from it, and a re-upload of
the same records is all duplicates. ``anxin ledger export`` → ``anxin check`` raises the
alarms the store has."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import msgspec
import pytest
from live import arrival_lines, uploads
from services import fresh_pg_database, missing, wait_for
from sqlalchemy import select
from typer.testing import CliRunner

from anxin import audit
from anxin.auth import create_user
from anxin.cli import app
from anxin.ingest.service import IngestService
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.store import schema as T
from anxin.store.access import open_store
from anxin.store.database import Store, migrations_head, now_us

PW = "a long enough password"


@pytest.fixture(autouse=True)
def _chinese(monkeypatch):
    monkeypatch.setenv("ANXIN_LANG", "zh")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("backup") / "city"
    simulate(out, stations=2, days=1, seed=12, scenarios=ScenarioSet.all(), workers=1, group_size=2)
    return out


@pytest.fixture(scope="module")
def batches(city: Path) -> list[tuple[str, list[bytes]]]:
    return uploads(arrival_lines(city), "S0001")


def run(*args: str):
    res = CliRunner().invoke(app, list(args))
    return res


def feed(svc: IngestService, batches) -> dict[str, int]:
    totals = {"accepted": 0, "duplicate": 0, "quarantined": 0, "rejected": 0, "quarantined_again": 0}
    for sid, lines in batches:
        r = svc.ingest(sid, lines, source="test")
        for k in ("accepted", "duplicate", "quarantined", "rejected"):
            totals[k] += getattr(r, k)
        totals["quarantined_again"] += sum(
            x.status == "quarantined" and "already received" in (x.reason or "") for x in r.results
        )
    return totals


def fill(url: str, city: Path, batches) -> dict[str, int]:
    """A platform that has run: records in (alarms raised), a user, audit entries."""
    svc = IngestService(open_store(url, "migrate"))
    svc.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    totals = feed(svc, batches)
    assert totals["accepted"] > 1000 and totals["quarantined"] > 0 and totals["rejected"] > 0
    create_user(
        svc.store,
        username="li",
        display_name="李检查员",
        role="inspector",
        password=PW,
        actor="system",
        reason="test",
        now_us=now_us(),
    )
    audit.record(svc.store, actor="system", action="test.note", subject="backup", reason="before the backup", now_us=1)
    svc.store.token_set("S0001", "station-token")
    svc.store.close()
    return totals


def snapshot(url: str) -> dict:
    """What must survive a backup: the ledger, the alarms, users, the audit log, tokens."""
    store = open_store(url, "read")
    try:
        with store.engine.connect() as c:
            ledger = [tuple(r) for r in c.execute(select(T.ledger).order_by(T.ledger.c.id))]
            assert T.ledger.c.keys()[1] == "received_us"
            alarms = {r.alarm_id: (r.rule, r.evidence) for r in c.execute(select(T.alarms))}
            users = [r.username for r in c.execute(select(T.users.c.username).order_by(T.users.c.username))]
        return {
            "ledger": ledger,
            "alarms": alarms,
            "users": users,
            "audit": audit.head(store),
            "audit_entries": audit.verify(store).entries,
            "token": store.token_station("station-token"),
        }
    finally:
        store.close()


def alarm_ids_of_check(out: Path) -> set[str]:
    return {msgspec.json.decode(line)["alarm_id"] for line in (out / "alarms.jsonl").read_bytes().splitlines()}


def check_restored(restored: str, before: dict, totals: dict[str, int], batches) -> None:
    after = snapshot(restored)
    assert after == before
    assert len(after["ledger"]) == totals["accepted"] + totals["quarantined"] and len(after["alarms"]) > 10
    assert before["audit_entries"] >= 2 and before["users"] == ["li"] and before["token"] == "S0001"
    res = run("audit", "verify", "--db", restored)
    assert res.exit_code == 0 and f"审计日志完整，共 {before['audit_entries']} 条" in res.output, res.output
    cfg, service, _app = build(db=restored)  # the service starts from it
    try:
        assert service.ready and service.registry is not None
        assert service.last_ledger_id == max(row[0] for row in before["ledger"])
        again = feed(service, batches)
        assert again["accepted"] == 0 and again["duplicate"] == totals["accepted"] + totals["duplicate"]
        assert again["quarantined"] == again["quarantined_again"] == totals["quarantined"]  # (a forgery stays one)
    finally:
        service.store.close()
    assert snapshot(restored)["alarms"] == before["alarms"]


def check_export(db: str, tmp_path: Path, alarms: set[str]) -> Path:
    out = tmp_path / "ledger"
    res = run("ledger", "export", "--db", db, str(out))
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in out.iterdir())
    assert "registry.json" in files and "SHA256SUMS" in files and "S0001.jsonl" in files and "S0002.jsonl" in files
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    res = run("check", str(out), "--out", str(tmp_path / "recheck"), "--workers", "0")
    assert res.exit_code == 0, res.output
    assert alarm_ids_of_check(tmp_path / "recheck") == alarms
    res = run("ledger", "export", "--db", db, str(out))  # never into a directory with files
    assert res.exit_code == 2 and "不是空目录" in res.output
    return out


def test_sqlite_backup_restore_and_ledger_export(city: Path, batches, tmp_path: Path) -> None:
    src = str(tmp_path / "live" / "anxin.sqlite")
    totals = fill(src, city, batches)
    before = snapshot(src)
    backup = tmp_path / "backups" / "anxin-2026-03-02.sqlite"
    res = run("db", "backup", "--db", src, str(backup))
    assert res.exit_code == 0 and migrations_head() in res.output, res.output  # the schema's revision
    assert not Path(f"{backup}-wal").exists()  # one self-contained file
    res = run("db", "backup", "--db", src, str(backup))
    assert res.exit_code == 2 and "已存在" in res.output  # never over an earlier backup
    restored = str(tmp_path / "elsewhere" / "anxin.sqlite")
    res = run("db", "restore", str(backup), "--db", restored)
    assert res.exit_code == 0, res.output
    res = run("db", "restore", str(backup), "--db", restored)
    assert res.exit_code == 2 and "已存在" in res.output  # never over a database
    check_restored(restored, before, totals, batches)
    out = check_export(src, tmp_path / "from-live", set(before["alarms"]))
    again = check_export(restored, tmp_path / "from-restored", set(before["alarms"]))
    assert (out / "SHA256SUMS").read_text() == (again / "SHA256SUMS").read_text()


def test_sqlite_backup_while_the_service_writes_is_a_consistent_snapshot(city: Path, batches, tmp_path: Path) -> None:
    src = str(tmp_path / "anxin.sqlite")
    svc = IngestService(open_store(src, "migrate"))
    svc.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    half = len(batches) // 2
    feed(svc, batches[:half])
    backup = tmp_path / "hot.sqlite"
    before = svc.store.ledger_max_id()
    writer = threading.Thread(target=feed, args=(svc, batches[half:]))
    writer.start()
    try:
        wait_for(lambda: svc.store.ledger_max_id() > before, what="the writer's first upload")
        res = run("db", "backup", "--db", src, str(backup))
    finally:
        writer.join()
    assert res.exit_code == 0, res.output
    final = snapshot(src)
    svc.store.close()
    restored = str(tmp_path / "restored.sqlite")
    assert run("db", "restore", str(backup), "--db", restored).exit_code == 0
    copy = snapshot(restored)
    n = len(copy["ledger"])
    assert before < n <= len(final["ledger"]) and copy["ledger"] == final["ledger"][:n]  # a prefix: one moment
    cfg, service, _app = build(db=restored)  # recovers (replays what the snapshot's alarms lacked)…
    try:
        feed(service, batches[half:])  # …and, given the rest, ends where the live one did
    finally:
        service.store.close()
    end = snapshot(restored)
    assert end["alarms"].keys() == final["alarms"].keys()
    unreceived = [(row[0], *row[2:]) for row in end["ledger"]]  # (received_us: the time it came again)
    assert unreceived == [(row[0], *row[2:]) for row in final["ledger"]]


def _pg_tools() -> None:
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            missing(tool)  # (in CI: a failure, not a skip)


def test_postgresql_backup_restore_and_ledger_export(city: Path, batches, tmp_path: Path) -> None:
    _pg_tools()
    with fresh_pg_database() as src:
        totals = fill(src, city, batches)
        before = snapshot(src)
        dump = tmp_path / "anxin.dump"
        res = run("db", "backup", "--db", src, str(dump))
        assert res.exit_code == 0 and "pg_dump" in res.output, res.output
        assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format (-Fc)
        check_export(src, tmp_path / "from-live", set(before["alarms"]))
    with fresh_pg_database() as target:
        res = run("db", "restore", str(dump), "--db", target)
        assert res.exit_code == 0, res.output
        res = run("db", "restore", str(dump), "--db", target)
        assert res.exit_code == 2 and "不是空的" in res.output
        check_restored(target, before, totals, batches)
        check_export(target, tmp_path / "from-restored", set(before["alarms"]))


def test_postgresql_backup_without_pg_dump_says_what_to_use(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump here
    res = run("db", "backup", "--db", "postgresql://anxin@127.0.0.1/anxin", str(tmp_path / "x.dump"))
    assert res.exit_code == 2 and "pg_dump -Fc" in res.output and not (tmp_path / "x.dump").exists()


def test_a_restore_refuses_what_is_no_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"junk" * 100)
    res = run("db", "restore", str(junk), "--db", str(tmp_path / "db.sqlite"))
    assert res.exit_code == 2 and not (tmp_path / "db.sqlite").exists()
    empty = tmp_path / "empty.sqlite"
    Store(str(empty), migrate=False).close()
    empty.write_bytes(b"")
    res = run("db", "restore", str(empty), "--db", str(tmp_path / "db.sqlite"))
    assert res.exit_code == 2 and "不是 anxin 数据库的备份" in res.output
    assert not (tmp_path / "db.sqlite").exists()
