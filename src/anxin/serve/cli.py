"""Command-line entry points of the live service: ``anxin serve`` and ``anxin token``
(registered on the main Typer app; the database commands are ``anxin.store.cli``'s).

Nothing of the ``server`` extra is imported before a command runs."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console


class Role(StrEnum):
    """What an ``anxin serve`` process is: the whole service (``all``), or in the
    scale-out a receiver (stations' uploads verified and published to the stream) or the
    read side (``console``: the console, API, alarm stream and webhooks, no engine)."""

    all = "all"
    receiver = "receiver"
    console = "console"


# (kept importable from here: other modules of the command line use them)
__all__ = ["ConfigOpt", "DbOpt", "register"]


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    @app.command(help=h("serve"), epilog=h("serve.epilog"))
    def serve(
        db: DbOpt = None,
        host: Annotated[str | None, typer.Option(help=h("serve.host"))] = None,
        port: Annotated[int | None, typer.Option(help=h("serve.port"))] = None,
        config: ConfigOpt = None,
        registry: Annotated[
            Path | None,
            typer.Option(help=h("serve.registry")),
        ] = None,
        admin_token: Annotated[
            str | None,
            typer.Option(
                envvar="ANXIN_ADMIN_TOKEN",
                show_envvar=True,
                help=h("serve.admin_token"),
            ),
        ] = None,
        role: Annotated[Role, typer.Option("--role", help=h("serve.role"))] = Role.all,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.contract.registry import RegistryError
        from anxin.store.database import StoreError
        from anxin.store.urls import display_url

        try:
            import uvicorn

            from anxin.serve.runtime import build, build_receiver

            if role is Role.receiver:
                cfg, app_ = build_receiver(config, db=db, host=host, port=port)
            else:
                cfg, service, app_ = build(
                    config,
                    db=db,
                    host=host,
                    port=port,
                    registry=registry,
                    admin_token=admin_token,
                    read_side=role is Role.console,
                )
                if service.registry is None:
                    console.print(f"[yellow]{t('no_registry')}[/]")
        except (ValueError, OSError, StoreError, RegistryError) as exc:
            fail(str(exc))
        if cfg.otel:  # (without the [otel] extra: the CLI names it, as for any extra)
            from anxin.observe.tracing import enable_otlp

            enable_otlp()
        console.print(
            f"[bold green]{t('serving')}[/] http://{cfg.host}:{cfg.port}  ({display_url(cfg.db)})", highlight=False
        )
        logging.getLogger("anxin").info("serving", extra={"host": cfg.host, "port": cfg.port})
        from anxin.logs import uvicorn_log_config

        uvicorn.run(
            app_,
            host=cfg.host,
            port=cfg.port,
            log_config=uvicorn_log_config(),  # uvicorn's and the access log in anxin's JSON lines, at its level
            log_level=None,
            access_log=True,
            timeout_graceful_shutdown=10,
            proxy_headers=bool(cfg.forwarded_allow_ips.strip()),  # no proxy named: the connection's address
            forwarded_allow_ips=cfg.forwarded_allow_ips.strip() or None,
        )

    @app.command(help=h("token"))
    def token(
        station_id: Annotated[str | None, typer.Argument(help=h("token.station_id"))] = None,
        institute: Annotated[
            str | None,
            typer.Option(
                "--institute",
                help=h("token.institute"),
            ),
        ] = None,
        name: Annotated[
            str | None,
            typer.Option(help=h("token.name")),
        ] = None,
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.contract.registry import parse_registry
        from anxin.serve.tokens import issue_institute_token, issue_station_token

        if (station_id is None) == (institute is None):
            fail(t("token_station_or_institute"))
        store = open_db(config, db, "write", fail)
        try:
            latest = store.registry_latest()
            if latest is None:
                fail(t("no_registry"))
            reg = parse_registry(latest[1])
            if institute is not None:
                listed = reg.institute_by_id.get(institute)
                if reg.institutes and listed is None:  # the registry names the institutes that may sign
                    fail(t("token_unknown_institute").format(institute=institute))
                label = name or (listed.name if listed is not None else institute)
                value = issue_institute_token(store, institute, label, actor="cli")
                who = f"{t('token_issued_institute')}: {institute} ({label})"
            else:
                assert station_id is not None
                if station_id not in reg.station_by_id:
                    fail(t("token_unknown_station").format(station=station_id))
                value = issue_station_token(store, station_id, actor="cli")
                who = f"{t('token_issued')}: {station_id}"
        finally:
            store.close()
        console.print(who, highlight=False)
        print(value)
