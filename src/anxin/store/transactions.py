"""Transactions that will write (the workflow, supervision and the counters share it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from anxin.store.database import Store


@contextmanager
def write_transaction(store: Store) -> Iterator[Connection]:
    """One transaction that will write.

    SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock first, so the reads that
    follow are of the state the writes replace (pysqlite otherwise runs the reads outside
    any transaction and begins only at the first write). PostgreSQL: the callers lock
    the rows they read (``FOR UPDATE``) instead.
    """
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            raw = conn.connection.driver_connection
            if not getattr(raw, "in_transaction", True):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
