"""``anxin worker`` and ``anxin cluster status`` (registered on the main Typer app; the
receivers are ``anxin serve --role receiver``). Nothing of the ``server`` extra is
imported before a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console

    from anxin.store.database import Store


def cluster_store(cfg_path: Path | None, db: str | None, fail: Fail) -> Store:
    """The cluster's one PostgreSQL (the scale-out runs on nothing else)."""
    store = open_db(cfg_path, db, "write", fail)
    if store.dialect != "postgresql":
        store.close()
        fail(t("cluster_needs_postgresql"))
    return store


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    @app.command(help=h("worker"))
    def worker(
        db: DbOpt = None,
        config: ConfigOpt = None,
        name: Annotated[str | None, typer.Option("--name", help=h("worker.name"))] = None,
        metrics: Annotated[str | None, typer.Option("--metrics", help=h("worker.metrics"))] = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.cluster.worker import run_worker
        from anxin.serve.config import load_config

        try:
            cfg = load_config(config, db=db)
        except ValueError as exc:
            fail(str(exc))
        store = cluster_store(config, db, fail)
        console.print(f"[bold green]{t('worker_running')}[/] {cfg.nats_url.split('@')[-1]}", highlight=False)
        try:
            run_worker(cfg, store, name=name, metrics=metrics)
        finally:
            store.close()

    cluster = typer.Typer(no_args_is_help=True, help=h("cluster"))
    app.add_typer(cluster, name="cluster")

    @cluster.command("status", help=h("cluster.status"))
    def status(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        import asyncio

        from anxin.cluster.status import cluster_status
        from anxin.serve.config import load_config

        try:
            cfg = load_config(config, db=db)
        except ValueError as exc:
            fail(str(exc))
        store = cluster_store(config, db, fail)
        try:
            st = asyncio.run(cluster_status(cfg, store))
        except Exception as exc:
            fail(t("cluster_unreachable").format(reason=f"{type(exc).__name__}: {exc}"))
        finally:
            store.close()
        console.print(
            t("cluster_summary").format(
                stream=st.stream, partitions=st.partitions, messages=st.messages, workers=len(st.workers)
            ),
            highlight=False,
        )
        table = Table(
            t("cluster_col_part"),
            t("cluster_col_owner"),
            t("cluster_col_position"),
            t("cluster_col_pending"),
            t("cluster_col_ack_pending"),
        )
        for row in st.rows:
            table.add_row(
                str(row.part),
                row.owner or "—",
                str(row.position),
                "—" if row.pending is None else str(row.pending),
                "—" if row.ack_pending is None else str(row.ack_pending),
            )
        console.print(table)
