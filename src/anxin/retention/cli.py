"""``anxin purge [--dry-run] [--as-of T]``: what is past its retention period goes, what
an open case or complaint holds stays (:func:`anxin.retention.service.purge`); the
periods are the configuration's ``[retention]``. A dry run counts and changes nothing
(``--as-of``: as if it were then — only with ``--dry-run``); a purge is audited."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import lang, t
from anxin.i18n.po import table

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    @app.command("purge", help=h("purge"))
    def purge_cmd(
        dry_run: Annotated[bool, typer.Option("--dry-run", help=h("purge.dry_run"))] = False,
        as_of: Annotated[str | None, typer.Option("--as-of", help=h("purge.as_of"))] = None,
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.contract.times import TimestampError, parse_ts
        from anxin.retention.service import RetentionError, purge
        from anxin.serve.config import load_config

        now = time.time_ns() // 1000
        if as_of is not None:
            if not dry_run:
                fail(t("purge_as_of_needs_dry_run"))
            try:
                now = parse_ts(as_of)
            except TimestampError as exc:
                fail(f"--as-of: {exc.text()}")
        try:
            retention = load_config(Path(config) if config else None, db=db).retention
        except ValueError as exc:
            fail(str(exc))
        store = open_db(config, db, "write", fail)
        try:
            report = purge(store, retention, now_us=now, dry_run=dry_run, actor="cli", reason="anxin purge")
        except RetentionError as exc:
            fail(
                t("purge_below_floor").format(
                    periods="; ".join(f"{n} {d} < {f}" for n, d, f in exc.problems),
                )
            )
        finally:
            store.close()
        names = table("retention_class")
        i = 0 if lang() == "zh" else 1
        out = Table(title=t("purge_dry_run_title") if dry_run else t("purge_title"))
        out.add_column(t("purge_class"))
        out.add_column(t("purge_due") if dry_run else t("purge_done"), justify="right")
        out.add_column(t("purge_held"), justify="right")
        for name, n in report.purged.items():
            held = report.held.get(name)
            out.add_row(names[name][i] if name in names else name, f"{n:,}", "" if held is None else f"{held:,}")
        console.print(out)
        console.print(
            t("purge_holds").format(cases=len(report.open_cases), complaints=len(report.open_complaints)),
            highlight=False,
            soft_wrap=True,
        )
