"""The database commands and who may migrate: ``anxin db upgrade|current|history``; the
commands that read or write a database that is missing, behind or ahead fail with exit 2
and one line, creating nothing; a read command cannot write; the migrations equal
``store/schema.py`` on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from services import PG_URL, fresh_pg_database
from sqlalchemy import text
from typer.testing import CliRunner

from anxin.cli import app
from anxin.store.access import open_store
from anxin.store.database import Store, StoreError, migrations_config, migrations_head
from anxin.store.schema import metadata

PW = "a long enough password"
HEAD = migrations_head()


@pytest.fixture(autouse=True)
def _chinese(monkeypatch):
    monkeypatch.setenv("ANXIN_LANG", "zh")


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def one_line_error(res, *expect: str) -> None:
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    for e in expect:
        assert e in lines[0], (e, res.output)


# The commands that use an existing database without changing its schema, with their
# arguments (the database is added as --db).
USERS = [
    ("audit", "verify"),
    ("report", "--period", "2026-03"),
    ("user", "list"),
    ("user", "add", "wang", "--role", "regulator", "--name", "王"),
    ("user", "passwd", "wang"),
    ("token", "S0001"),
    ("ledger", "export", "{tmp}/export"),
]


@pytest.mark.parametrize("args", USERS, ids=lambda a: " ".join(a[:2]))
def test_a_missing_sqlite_database_is_exit_2_and_nothing_is_created(args, tmp_path: Path) -> None:
    db = tmp_path / "typo" / "x.sqlite"
    res = run(*(a.format(tmp=tmp_path) for a in args), "--db", str(db), input=f"{PW}\n")
    one_line_error(res, "数据库不存在", str(db))
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # not even the directory


@pytest.mark.parametrize(
    "args", [("db", "current"), ("db", "backup", "{tmp}/b.sqlite"), ("audit", "verify", "--lang", "en")]
)
def test_the_database_commands_too(args, tmp_path: Path) -> None:
    db = tmp_path / "typo" / "x.sqlite"
    res = run(*(a.format(tmp=tmp_path) for a in args), "--db", str(db))
    one_line_error(res, str(db))
    assert list(tmp_path.iterdir()) == []


def _at(url: str, revision: str) -> None:
    store = Store(url, migrate=False)
    cfg = migrations_config()
    with store.engine.begin() as c:
        cfg.attributes["connection"] = c
        command.upgrade(cfg, revision)
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "db.sqlite")
    else:
        with fresh_pg_database() as u:
            yield u


def test_a_database_behind_the_code_is_refused_until_db_upgrade(url: str, tmp_path: Path) -> None:
    _at(url, "0003")
    for args in USERS:
        res = run(*(a.format(tmp=tmp_path) for a in args), "--db", url, input=f"{PW}\n")
        one_line_error(res, "0003", HEAD, "anxin db upgrade")
    res = run("db", "current", "--db", url)
    assert res.exit_code == 1 and "0003" in res.output and HEAD in res.output, res.output
    assert Store(url, migrate=False).revision() == "0003"  # nobody migrated it
    res = run("db", "upgrade", "--db", url)
    assert res.exit_code == 0 and "0003" in res.output and HEAD in res.output, res.output
    res = run("db", "current", "--db", url)
    assert res.exit_code == 0 and "最新" in res.output, res.output
    res = run("audit", "verify", "--db", url)
    assert res.exit_code == 0 and "审计日志完整，共 0 条" in res.output, res.output
    res = run("db", "upgrade", "--db", url, "--lang", "en")
    assert res.exit_code == 0 and "at the newest schema revision" in res.output, res.output


def test_a_database_ahead_of_the_code_is_refused_even_by_upgrade(url: str) -> None:
    _at(url, "head")
    store = Store(url, migrate=False)
    with store.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    for args in (("audit", "verify"), ("user", "list"), ("db", "upgrade"), ("token", "S1")):
        one_line_error(run(*args, "--db", url), "9999", "anxin")
    res = run("db", "current", "--db", url)
    assert res.exit_code == 1 and "9999" in res.output


def test_an_empty_database_has_no_schema(url: str) -> None:
    if "://" not in url:
        Path(url).write_bytes(b"")  # an empty file is an empty SQLite database
    one_line_error(run("user", "list", "--db", url), "尚无表结构", "anxin db upgrade")
    res = run("db", "current", "--db", url)
    assert res.exit_code == 1 and "尚无表结构" in res.output


def test_postgresql_missing_or_unreachable_is_one_line() -> None:
    base = PG_URL.rsplit("/", 1)[0]
    one_line_error(run("audit", "verify", "--db", f"{base}/anxin_no_such_db"), "anxin_no_such_db", "does not exist")
    one_line_error(run("audit", "verify", "--db", "postgresql://anxin:pw@127.0.0.1:1/x"), "127.0.0.1:1")
    one_line_error(run("db", "upgrade", "--db", f"{base}/anxin_no_such_db"), "anxin_no_such_db")


def test_a_file_that_is_no_database_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "notes.sqlite"
    f.write_text("not a database\n")
    one_line_error(run("audit", "verify", "--db", str(f)), str(f))
    assert f.read_text() == "not a database\n"


def test_read_commands_cannot_write(url: str) -> None:
    Store(url).close()
    if "://" not in url:
        before = hashlib.sha256(Path(url).read_bytes()).digest()
    assert run("audit", "verify", "--db", url).exit_code == 0
    assert run("user", "list", "--db", url).exit_code == 0
    assert run("db", "current", "--db", url).exit_code == 0
    if "://" not in url:
        assert hashlib.sha256(Path(url).read_bytes()).digest() == before
        assert [p.name for p in Path(url).parent.iterdir()] == [Path(url).name]  # no -wal, -shm left behind
        assert run("db", "backup", "--db", url, url + ".bak").exit_code == 0
        assert sorted(p.name for p in Path(url).parent.iterdir()) == [Path(url).name, Path(url).name + ".bak"]
    store = open_store(url, "read")
    try:
        with pytest.raises(Exception, match="(?i)read.?only"), store.engine.begin() as c:
            c.execute(text("INSERT INTO station_tokens VALUES ('S1', :d, 1)"), {"d": b"x" * 32})
    finally:
        store.close()
    store = open_store(url, "write")  # the same, writable
    try:
        store.token_set("S1", "tok")
        assert store.token_station("tok") == "S1"
    finally:
        store.close()


def test_only_migrate_creates_or_upgrades(tmp_path: Path) -> None:
    db = tmp_path / "new" / "a.sqlite"
    for access in ("read", "write"):
        with pytest.raises(StoreError):
            open_store(str(db), access)  # type: ignore[arg-type]
        assert not db.parent.exists()
    store = open_store(str(db), "migrate")
    assert store.migrated_from is None and store.revision() == HEAD
    store.close()


def test_db_history_lists_the_revisions_with_their_messages() -> None:
    res = run("db", "history")
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    for rev, words in (
        ("0001", "ledger"),
        ("0002", "audit log"),
        ("0003", "Sales per station"),
        ("0004", "Supervision"),
        ("0005", "Public channels and login"),
    ):
        assert rev in flat and words in flat, (rev, res.output)
    assert f"{HEAD} (最新)" in flat
    assert flat.index("0004") < flat.index("0001")  # newest first


def test_the_migrations_equal_the_schema(store: Store) -> None:
    """Alembic's autogenerate comparison of a database upgraded to head with schema.py."""
    with store.engine.connect() as c:
        ctx = MigrationContext.configure(c, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []
    assert store.revision() == HEAD
