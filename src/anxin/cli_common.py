"""What the command line's modules share: the ``--lang``, ``--db`` and ``--config``
options, the help of the commands ``anxin --help`` lists without importing them, the
extras a command may need, and opening the store with a one-line failure.

This module imports nothing but Typer and :mod:`anxin.i18n`: ``anxin --help``, ``anxin
check`` and ``anxin edge`` must run on the minimal install (no ``server`` extra)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from anxin.i18n import set_lang, t

if TYPE_CHECKING:
    from anxin.store.access import Access
    from anxin.store.database import Store


class Lang(StrEnum):
    zh = "zh"
    en = "en"


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


def apply_lang(value: Lang | None) -> Lang | None:
    """The one implementation of ``--lang``, global (``anxin --lang en demo``) or on a
    command (``anxin demo --lang en``): the language of everything printed after it."""
    if value is not None:
        set_lang(value.value)
    return value


LangOpt = Annotated[
    Lang | None,
    typer.Option(
        "--lang",
        callback=apply_lang,
        expose_value=False,
        is_eager=True,
        help="界面语言（默认中文；或环境变量 ANXIN_LANG）。Language of the output (default zh; env ANXIN_LANG).",
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="数据库：SQLite 文件路径或 postgresql://…（环境变量 ANXIN_DB）。"
        "Database: a SQLite path or postgresql://… (env ANXIN_DB).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML 配置文件（键见 anxin serve --help）。TOML configuration file (keys: anxin serve --help)."
    ),
]

# The help of the commands that live in modules imported only when the command runs
# (their packages import the server extra): ``anxin --help`` lists them from here, and
# the commands themselves use the same text.
HELP = {
    "serve": "实时服务：接收上传、实时比对、报警推送、监管控制台。The live service (HTTP API, SSE, console).",
    "token": "签发加油站或检定机构的接口令牌（只显示一次，旧令牌立即失效）。"
    "Issue (or replace) a station's or a verification institute's API token (the old one stops at once).",
    "db": "数据库：升级、版本、备份与恢复。The database: upgrade, revision, backup and restore.",
    "ledger": "原始记录台账：导出为可离线复核的文件。The ledger of records, exported as files.",
    "report": "统计报表：检定、检查、投诉、案件、报警、交易。Period figures (and the oversight reconciliation).",
    "edge": "站端上传代理：读取本站数据并可靠上传到平台。The station-side store-and-forward agent.",
    "user": "用户管理。Console accounts (users and roles).",
    "audit": "审计日志。The hash-chained audit log.",
    "bundle": "证据包。Case evidence bundles.",
    "witness": "油罐见证：逐罐诊断计量误差估计（anxin witness explain）。The tank witness, one tank explained.",
    "map": "区县边界：载入与查看一网感知地图的区界（GeoJSON）。The overview map's district boundaries (GeoJSON).",
}

# Top-level modules of the optional extras (pyproject.toml), by the extra that has them.
EXTRA_OF_MODULE = {
    **dict.fromkeys(
        (
            "fastapi",
            "starlette",
            "uvicorn",
            "sqlalchemy",
            "alembic",
            "psycopg",
            "prometheus_client",
            "jinja2",
            "multipart",
            "python_multipart",
            "argon2",
            "reportlab",
            "segno",
            "openpyxl",
        ),
        "server",
    ),
    "tongsuopy": "sm2",
}


def missing_extra(exc: ImportError) -> str | None:
    """The one-line reason for an import that failed because an extra is not installed
    (None when the missing module is not one of the extras')."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return t("needs_extra").format(module=top, extra=extra)


Fail = Callable[[str], NoReturn]


def open_db(config: Path | None, db: str | None, access: Access, fail: Fail, *, check_schema: bool = True) -> Store:
    """The configured database opened for ``access`` (see :func:`anxin.store.access.open_store`),
    or the command ends with exit 2 and a one-line reason."""
    from anxin.serve.runtime import open_store
    from anxin.store.database import StoreError

    try:
        return open_store(config, db, access=access, check_schema=check_schema)
    except (ValueError, OSError, StoreError) as exc:
        fail(str(exc))
