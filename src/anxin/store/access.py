"""How a command opens the database: the one place that decides whether it may create or
migrate it (``anxin serve``, ``anxin demo``, ``anxin db upgrade``) or must find it as the
code expects, read-only where it only reads."""

from __future__ import annotations

from typing import Literal

from anxin.i18n import t
from anxin.store.database import Store, StoreError
from anxin.store.urls import display_url, one_line, sqlite_path

Access = Literal["read", "write", "migrate"]


def open_store(url: str, access: Access, *, check_schema: bool = True) -> Store:
    """The one place that decides how a command opens the database.

    * ``"migrate"`` (``anxin serve``, ``anxin demo``, ``anxin db upgrade``): a SQLite file
      is created if missing, and the schema brought to the newest migration.
    * ``"write"`` (``anxin token``, ``anxin user add``…): the database must exist and its
      schema be the code's; nothing is created or migrated.
    * ``"read"`` (``anxin audit verify``, ``anxin report``, ``anxin ledger export``…): the
      same, on a read-only connection (SQLite ``query_only``; PostgreSQL read-only transactions).

    ``check_schema=False`` skips the revision check (``anxin db current``, ``anxin db
    backup``: they work on a database of any revision). Raises :class:`StoreError`."""
    shown = display_url(url)
    path = sqlite_path(url)
    if path is not None and access != "migrate" and not path.is_file():
        raise StoreError(t("db_missing").format(db=shown))
    try:
        if path is not None and access == "migrate":
            path.parent.mkdir(parents=True, exist_ok=True)
        store = Store(url, migrate=False, readonly=access == "read")
    except Exception as exc:  # a bad URL, a missing driver
        raise StoreError(t("db_cannot_open").format(db=shown, reason=one_line(exc))) from exc
    try:
        if access == "migrate":
            store.migrated_from = store.check_schema(allow_behind=True)
            try:
                store.migrate()
            except Exception as exc:  # unwritable, locked, a migration that failed
                raise StoreError(t("db_cannot_migrate").format(db=shown, reason=one_line(exc))) from exc
        elif check_schema:
            store.check_schema()
        else:
            store.current_revision()  # reachable, and a database
    except StoreError:
        store.close()
        raise
    return store
