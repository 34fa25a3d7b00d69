"""Command-line entry points of the live service: ``anxin serve``, ``anxin token``,
``anxin db-upgrade`` (registered on the main Typer app)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from anxin.i18n import t
from anxin.store.database import StoreError

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLite path or postgresql://… (env ANXIN_DB)")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML configuration file")]


def register(app: typer.Typer, console, fail) -> None:
    @app.command()
    def serve(
        db: DbOpt = None,
        host: Annotated[str | None, typer.Option(help="listen address (default 127.0.0.1)")] = None,
        port: Annotated[int | None, typer.Option(help="listen port (default 8080)")] = None,
        config: ConfigOpt = None,
        registry: Annotated[Path | None, typer.Option(help="registry.json to load if the database has none")] = None,
        admin_token: Annotated[str | None, typer.Option(help="admin API token (env ANXIN_ADMIN_TOKEN)")] = None,
    ) -> None:
        """实时服务：接收上传、实时比对、报警推送。The live service (HTTP API, SSE, metrics)."""
        import uvicorn

        from anxin.serve.runtime import build

        try:
            cfg, service, app_ = build(config, db=db, host=host, port=port, registry=registry, admin_token=admin_token)
        except (ValueError, OSError, StoreError) as exc:
            fail(str(exc))
            return
        if service.registry is None:
            console.print(f"[yellow]{t('no_registry')}[/]")
        console.print(f"[bold green]{t('serving')}[/] http://{cfg.host}:{cfg.port}  ({cfg.db})")
        logging.getLogger("anxin").info("serving", extra={"host": cfg.host, "port": cfg.port})
        uvicorn.run(
            app_, host=cfg.host, port=cfg.port, log_level="warning", access_log=False, timeout_graceful_shutdown=10
        )

    @app.command()
    def token(
        station_id: Annotated[str, typer.Argument(help="station to issue an API token for")],
        db: DbOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """签发加油站接口令牌。Issue (or replace) a station's API token."""
        from anxin.serve.runtime import open_store
        from anxin.store.database import Store  # noqa: F401

        try:
            store: Store = open_store(config, db)
        except (ValueError, OSError, StoreError) as exc:
            fail(str(exc))
            return
        latest = store.registry_latest()
        if latest is None:
            fail(t("no_registry"))
            return
        from anxin.contract.registry import parse_registry

        if station_id not in parse_registry(latest[1]).station_by_id:
            fail(f"station {station_id!r} is not registered")
            return
        import secrets

        value = secrets.token_urlsafe(32)
        store.token_set(station_id, value)
        console.print(f"{t('token_issued')}: {station_id}")
        print(value)

    @app.command("db-upgrade")
    def db_upgrade(db: DbOpt = None, config: ConfigOpt = None) -> None:
        """升级数据库结构（Alembic）。Bring the database schema to the newest migration."""
        from anxin.serve.runtime import open_store

        try:
            open_store(config, db)
        except (ValueError, OSError, StoreError) as exc:
            fail(str(exc))
            return
        console.print(t("db_upgraded"))
