"""Backup and restore of the store, and the ledger exported as files.

* SQLite: :func:`backup_sqlite` copies the database with SQLite's online backup API — one
  consistent snapshot even while ``anxin serve`` writes — into a new single file (no
  ``-wal``), checked; :func:`restore_sqlite` puts such a copy in a new place.
* PostgreSQL: ``pg_dump -Fc`` and ``pg_restore`` (:func:`backup_postgresql`,
  :func:`restore_postgresql`), run when they are on ``PATH``; the password, if the URL has
  one, is passed in ``PGPASSWORD``, never on their command line.
* :func:`export_ledger`: the ledger as received — every stored line, grouped by station
  into ``*.jsonl`` files in the order the engine was fed — with the registry as
  ``registry.json`` and a ``SHA256SUMS``: a directory ``anxin check`` reads, from which
  the alarms can be derived again without any database.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from anxin.i18n import t
from anxin.store.database import Store
from anxin.store.urls import display_url, sqlite_path


class BackupError(Exception):
    """A backup, restore or export that cannot be done; the message is one line."""


# ------------------------------------------------------------------ SQLite
def _ro(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. (Not ``mode=ro``: that leaves the -wal and -shm of a
    WAL database behind, owned by whoever ran the command — root, for a backup by cron.)"""
    conn = sqlite3.connect(path, timeout=10)
    conn.execute("PRAGMA query_only=ON")
    return conn


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _copy_sqlite(src: Path, out: Path) -> str | None:
    """Online backup of ``src`` into the new file ``out`` (written beside it, renamed
    when complete and checked); returns the copy's schema revision."""
    if out.exists():
        raise BackupError(t("backup_exists").format(path=out))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        source = _ro(src)
        try:
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)  # all pages in one step: one read transaction, one snapshot
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                (verdict,) = target.execute("PRAGMA quick_check").fetchone()
                if verdict != "ok":
                    raise BackupError(t("backup_corrupt").format(path=src, reason=verdict))
                revision = _revision(target)
            finally:
                target.close()
        finally:
            source.close()
        os.replace(tmp, out)
    except sqlite3.DatabaseError as exc:
        raise BackupError(t("backup_failed").format(path=src, reason=exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return revision


def backup_sqlite(db: Path, out: Path) -> str | None:
    """Back ``db`` up into the new file ``out``; returns the schema revision backed up."""
    if not db.is_file():
        raise BackupError(t("db_missing").format(db=db))
    return _copy_sqlite(db, out)


def restore_sqlite(backup: Path, db: Path) -> str | None:
    """Put the backup ``backup`` in place as the new database ``db`` (which must not exist:
    a database to be replaced is moved away first, with its ``-wal`` and ``-shm``)."""
    if not backup.is_file():
        raise BackupError(t("restore_missing").format(path=backup))
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{db}{suffix}").exists():
            raise BackupError(t("restore_exists").format(path=f"{db}{suffix}"))
    try:
        conn = _ro(backup)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a database at all
            revision = _revision(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(t("backup_failed").format(path=backup, reason=exc)) from exc
    if revision is None:
        raise BackupError(t("restore_not_anxin").format(path=backup))
    return _copy_sqlite(backup, db)


# ------------------------------------------------------------------ PostgreSQL
def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """(the URL for libpq without its password, the environment with PGPASSWORD)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _run(tool: str, args: list[str], url: str) -> None:
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(t("pg_tool_missing").format(tool=tool))
    plain, env = _libpq(url)
    proc = subprocess.run([exe, *args, f"--dbname={plain}"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        raise BackupError(t("tool_failed").format(tool=tool, reason=lines[-1] if lines else proc.returncode))


def backup_postgresql(url: str, out: Path) -> None:
    """``pg_dump -Fc`` of the database at ``url`` into the new file ``out``."""
    if out.exists():
        raise BackupError(t("backup_exists").format(path=out))
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    try:
        _run("pg_dump", ["--format=custom", f"--file={part}"], url)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)


def restore_postgresql(backup: Path, url: str) -> None:
    """``pg_restore`` of a ``pg_dump -Fc`` file into the existing, empty database at ``url``."""
    if not backup.is_file():
        raise BackupError(t("restore_missing").format(path=backup))
    from sqlalchemy import inspect

    from anxin.store.access import open_store
    from anxin.store.database import StoreError
    from anxin.store.urls import display_url

    try:
        store = open_store(url, "write", check_schema=False)
    except StoreError as exc:
        raise BackupError(str(exc)) from exc
    try:
        with store.engine.connect() as c:
            tables = inspect(c).get_table_names()
    finally:
        store.close()
    if tables:
        raise BackupError(t("restore_not_empty").format(db=display_url(url)))
    _run("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", str(backup)], url)


def backup(url: str, out: Path) -> str:
    """Back the database at ``url`` up into the new file ``out``; what was done, in words."""
    path = sqlite_path(url)
    if path is not None:
        return t("backup_revision").format(revision=backup_sqlite(path, out) or "—")
    if url.startswith(("postgresql", "postgres")):
        backup_postgresql(url, out)
        return "pg_dump -Fc"
    raise BackupError(t("backup_unsupported").format(db=display_url(url)))


def restore(backup_file: Path, url: str) -> str | None:
    """Restore a backup as the new database at ``url``: the schema revision it has (None
    when the backup does not say: PostgreSQL's is read after ``anxin db upgrade``)."""
    path = sqlite_path(url)
    if path is not None:
        return restore_sqlite(backup_file, path)
    if url.startswith(("postgresql", "postgres")):
        restore_postgresql(backup_file, url)
        return None
    raise BackupError(t("backup_unsupported").format(db=display_url(url)))


# ------------------------------------------------------------------ the ledger as files
@dataclass(frozen=True, slots=True)
class LedgerExport:
    rows: int
    files: int
    registry_version: int


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_name(station_id: str) -> str:
    """The export file of a station's lines. (Two ids may share a file: ``anxin check``
    keeps each file's order and merges files by event time, so that changes nothing.)"""
    name = _UNSAFE.sub("_", station_id)[:100].lstrip(".") or "_"
    return f"{name}.jsonl"


def export_ledger(store: Store, out_dir: Path, *, open_files: int = 64) -> LedgerExport:
    """Write the ledger (up to its newest row when the export starts) and the newest
    registry into the new or empty directory ``out_dir``."""
    latest = store.registry_latest()
    if latest is None:
        raise BackupError(t("no_registry_export"))
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BackupError(t("export_not_empty").format(path=out_dir))
    upto = store.ledger_max_id()
    out_dir.mkdir(parents=True, exist_ok=True)
    version, document = latest
    (out_dir / "registry.json").write_bytes(document)
    handles: OrderedDict[str, IO[bytes]] = OrderedDict()
    names: set[str] = set()
    rows = 0
    try:
        for _id, station_id, body in store.ledger_lines(upto=upto):
            name = file_name(station_id)
            f = handles.pop(name, None)
            if f is None:
                if len(handles) >= open_files:
                    handles.popitem(last=False)[1].close()
                f = (out_dir / name).open("ab")
                names.add(name)
            handles[name] = f
            f.write(body.rstrip(b"\r\n") + b"\n")
            rows += 1
    finally:
        for f in handles.values():
            f.close()
    sums = []
    for name in sorted({"registry.json", *names}):
        h = hashlib.sha256()
        with (out_dir / name).open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        sums.append(f"{h.hexdigest()}  {name}\n")
    (out_dir / "SHA256SUMS").write_text("".join(sums), encoding="utf-8")
    return LedgerExport(rows=rows, files=len(names), registry_version=version)
