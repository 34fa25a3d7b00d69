"""Command-line entry points of the live service: ``anxin serve`` and ``anxin token``
(registered on the main Typer app; the database commands are ``anxin.store.cli``'s).

Nothing of the ``server`` extra is imported before a command runs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anxin.cli_common import HELP, ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console

# (kept importable from here: other modules of the command line use them)
__all__ = ["ConfigOpt", "DbOpt", "register"]


SERVE_EPILOG = (
    "配置 Configuration: --config FILE.toml ← ANXIN_<KEY> 环境变量 (secrets also ANXIN_<KEY>_FILE: "
    "admin_token, read_token, db, mqtt_url, metrics_token) ← 选项 options. "
    "Keys: db, host, port, admin_token, read_token, registry, mqtt_url, public_base_url, "
    "forwarded_allow_ips (信任其 X-Forwarded-For/-Proto 的反向代理 the reverse proxies trusted for "
    "X-Forwarded-For/-Proto; 默认不信任任何代理 default none), cookie_secure, metrics_token, "
    "max_body_bytes, max_lines, rate_per_station, "
    "burst_per_station, checkpoint_every, webhook_max_attempts, webhook_allow_private, console, reports_every_s, "
    "clock_every_s (平台时钟：数据中断与沉默站点的判定 the platform's clock ticks: DATA_OUTAGE, silent stations; 60)."
)


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    @app.command(help=HELP["serve"], epilog=SERVE_EPILOG)
    def serve(
        db: DbOpt = None,
        host: Annotated[
            str | None, typer.Option(help="监听地址（默认 127.0.0.1）。Listen address (default 127.0.0.1).")
        ] = None,
        port: Annotated[int | None, typer.Option(help="监听端口（默认 8080）。Listen port (default 8080).")] = None,
        config: ConfigOpt = None,
        registry: Annotated[
            Path | None,
            typer.Option(
                help="数据库中尚无登记信息时导入的 registry.json。registry.json to load if the database has none."
            ),
        ] = None,
        admin_token: Annotated[
            str | None,
            typer.Option(
                envvar="ANXIN_ADMIN_TOKEN",
                show_envvar=True,
                help="管理接口令牌；请用环境变量 ANXIN_ADMIN_TOKEN 或 ANXIN_ADMIN_TOKEN_FILE（文件内容即令牌）。"
                "Admin API token: prefer ANXIN_ADMIN_TOKEN or ANXIN_ADMIN_TOKEN_FILE (a file holding it).",
            ),
        ] = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.store.database import StoreError
        from anxin.store.urls import display_url

        try:
            import uvicorn

            from anxin.serve.runtime import build

            cfg, service, app_ = build(config, db=db, host=host, port=port, registry=registry, admin_token=admin_token)
        except (ValueError, OSError, StoreError) as exc:
            fail(str(exc))
        if service.registry is None:
            console.print(f"[yellow]{t('no_registry')}[/]")
        console.print(
            f"[bold green]{t('serving')}[/] http://{cfg.host}:{cfg.port}  ({display_url(cfg.db)})", highlight=False
        )
        logging.getLogger("anxin").info("serving", extra={"host": cfg.host, "port": cfg.port})
        uvicorn.run(
            app_,
            host=cfg.host,
            port=cfg.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
            proxy_headers=bool(cfg.forwarded_allow_ips.strip()),  # no proxy named: the connection's address
            forwarded_allow_ips=cfg.forwarded_allow_ips.strip() or None,
        )

    @app.command(help=HELP["token"])
    def token(
        station_id: Annotated[
            str | None, typer.Argument(help="加油站编号。The station to issue an API token for.")
        ] = None,
        institute: Annotated[
            str | None,
            typer.Option(
                "--institute",
                help="改为签发计量检定机构的令牌（只能上传检定记录）。"
                "Issue a verification institute's token instead (it may send verification records only).",
            ),
        ] = None,
        name: Annotated[
            str | None,
            typer.Option(help="检定机构名称（登记信息未列出时）。The institute's name (if the registry has none)."),
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
