"""``anxin edge import-pos FILE`` — a POS settlement export into the edge agent's
outbox (see :mod:`anxin.edge.posfile`); the agent (``anxin edge run``) uploads it with
the station's token."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anxin.cli_common import Fail, LangOpt
from anxin.cli_help import h
from anxin.edge.cli import OutboxOpt
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console


def add_commands(edge: typer.Typer, console: Console, fail: Fail) -> None:
    @edge.command("import-pos", help=h("edge.import_pos"))
    def import_pos(
        file: Annotated[Path, typer.Argument(help=h("edge.import_pos.file"))],
        outbox: OutboxOpt,
        column_map: Annotated[Path | None, typer.Option("--map", help=h("edge.import_pos.map"))] = None,
        station: Annotated[str | None, typer.Option("--station", help=h("edge.import_pos.station"))] = None,
        check: Annotated[bool, typer.Option("--check", help=h("edge.import_pos.check"))] = False,
        _lang: LangOpt = None,
    ) -> None:
        from rich.markup import escape

        from anxin.edge.outbox import Outbox, OutboxError
        from anxin.edge.posfile import DEFAULT_MAP, load_pos_map, queue, read_pos
        from anxin.keyed import os_reason
        from anxin.tabular import LIMITS, MapError

        cmap = DEFAULT_MAP
        if column_map is not None:
            try:
                cmap = load_pos_map(column_map.read_bytes())
            except OSError as exc:
                fail(t("pos_read_error").format(path=column_map, reason=os_reason(exc).text()))
            except MapError as exc:
                fail(t("pos_map_error").format(path=column_map, reason=exc.text()))
        try:
            with file.open("rb") as fh:
                data = fh.read(LIMITS.bytes + 1)  # beyond: the reader's own bound names it
        except OSError as exc:
            fail(t("pos_read_error").format(path=file, reason=os_reason(exc).text()))
        parsed = read_pos(data, cmap=cmap, station_id=station)
        if parsed.errors:
            console.print(f"[red]{escape(t('pos_rejected').format(count=len(parsed.errors)))}[/]")
            for err in parsed.errors[:10_000]:  # every bad row (a file of nothing but: the first 10 000)
                console.print(f"  {escape(err.text())}", soft_wrap=True)
            raise typer.Exit(1)
        if check:
            console.print(f"[green]{escape(t('pos_checked').format(count=len(parsed.records)))}[/]")
            return
        source = f"pos:{file.resolve()}"
        try:
            box = Outbox(outbox)
            try:
                n = queue(box, parsed, source=source)
            finally:
                box.close()
        except OutboxError as exc:
            fail(str(exc))
            return
        console.print(f"[green]{escape(t('pos_imported').format(count=n, source=source))}[/]", soft_wrap=True)
