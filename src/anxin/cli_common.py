"""What the command line's modules share: the ``--lang``, ``--db`` and ``--config``
options (their help, as every command's, in the catalogs' ``cli`` table:
:mod:`anxin.cli_help`), the extras a command may need, and opening the store with a
one-line failure.

This module imports nothing but Typer and :mod:`anxin.i18n`: ``anxin --help``, ``anxin
check`` and ``anxin edge`` must run on the minimal install (no ``server`` extra)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from anxin.cli_help import h
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
    command (``anxin demo --lang en``): the language of everything printed after it (the
    help, shown before any option applies, is read from the command line by
    :func:`anxin.i18n.process_lang` the same way)."""
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
        help=h("option.lang"),
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=h("option.db"),
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help=h("option.config")),
]

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
    "opentelemetry": "otel",
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
