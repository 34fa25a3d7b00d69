"""``anxin report``: the figures of a period as a table (Chinese first), optionally with
the oversight reconciliation, and as XLSX / PDF files (registered on the main app)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import lang
from anxin.i18n.po import table

if TYPE_CHECKING:
    from rich.console import Console

TEXT: dict[str, tuple[str, str]] = table("report_cli")


def _t(key: str) -> str:
    zh, en = TEXT[key]
    return en if lang() == "en" else zh


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    @app.command(help=h("report"))
    def report(
        period: Annotated[
            str,
            typer.Option(
                "--period",
                help=h("report.period"),
            ),
        ],
        district: Annotated[str | None, typer.Option("--district", help=h("report.district"))] = None,
        db: DbOpt = None,
        config: ConfigOpt = None,
        xlsx: Annotated[Path | None, typer.Option("--xlsx", help=h("report.xlsx"))] = None,
        pdf: Annotated[Path | None, typer.Option("--pdf", help=h("report.pdf"))] = None,
        oversight: Annotated[
            bool,
            typer.Option(
                "--oversight",
                help=h("report.oversight"),
            ),
        ] = False,
        _lang: LangOpt = None,
    ) -> None:
        from rich.table import Table

        from anxin.contract.registry import parse_registry
        from anxin.reports.export import to_pdf, to_xlsx
        from anxin.reports.figures import PeriodError, parse_period, period_figures
        from anxin.reports.oversight import CATEGORIES, category_label, reconcile
        from anxin.store.database import now_us

        try:
            start, end = parse_period(period)
        except PeriodError as exc:
            fail(str(exc))
        store = open_db(config, db, "read", fail)
        try:
            latest = store.registry_latest()
            if latest is None:
                fail(_t("no_registry"))
                return
            registry = parse_registry(latest[1])
            if district is not None and district not in {s.district for s in registry.stations}:
                fail(f"{_t('no_district')}: {district}")
                return
            now = now_us()
            figures = period_figures(store, registry, start=start, end=end, district=district, now_us=now)
            gaps = None
            if oversight:
                ids = None if district is None else [s.station_id for s in registry.stations if s.district == district]
                gaps = reconcile(store, registry, now_us=now, station_ids=ids)
        finally:
            store.close()
        table = Table(title=f"{_t('title')} {start} ~ {end}")
        table.add_column(_t("item"))
        table.add_column(_t("value"), justify="right")
        for label, value in figures.rows(lang()):
            table.add_row(label, value)
        console.print(table)
        if gaps is not None:
            over = Table(title=_t("oversight"))
            over.add_column(_t("category"))
            over.add_column(_t("count"), justify="right")
            for k in CATEGORIES:
                over.add_row(category_label(k, lang()), str(gaps.counts[k]))
            console.print(over)
        for path, make in ((xlsx, to_xlsx), (pdf, to_pdf)):
            if path is not None:
                path.write_bytes(make(figures, gaps, lang=lang(), registry=registry))
                console.print(f"{_t('written')}: {path}")
