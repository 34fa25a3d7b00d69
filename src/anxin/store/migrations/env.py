"""Alembic environment: run with the connection the store passes in (``Store.migrate``,
``anxin db upgrade``), or, from the ``alembic`` command line, with ``-x url=…`` (or
``ANXIN_DB``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from anxin.store.schema import metadata

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


conn = config.attributes.get("connection")
if conn is not None:
    _run(conn)
else:
    import os

    from anxin.store.urls import normalise_url

    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("ANXIN_DB")
    )
    if not url:
        raise SystemExit("alembic: give the database with -x url=… (or ANXIN_DB); `anxin db upgrade` needs neither")
    with create_engine(normalise_url(url)).begin() as c:
        _run(c)
