"""Command line of supervision: ``anxin bundle verify FILE.zip`` (registered on the main
Typer app) — verifies a case's evidence bundle offline, without any database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from anxin.cli_common import HELP, Fail, LangOpt
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    bundle_app = typer.Typer(no_args_is_help=True, help=HELP["bundle"])
    app.add_typer(bundle_app, name="bundle")

    @bundle_app.command("verify")
    def verify(
        file: Annotated[Path, typer.Argument(help="证据包（ZIP）。The evidence bundle (ZIP).")],
        _lang: LangOpt = None,
    ) -> None:
        """离线核验证据包：文件哈希、记录签名、审计条目。Verify an evidence bundle offline."""
        from anxin.supervision.bundle import verify_bundle

        try:
            data = file.read_bytes()
        except OSError as exc:
            fail(t("cannot_read").format(path=file, reason=exc.strerror))
        report = verify_bundle(data)
        console.print(f"文件哈希 files: {'一致 ok' if report.files_ok else '不一致 ALTERED'}", highlight=False)
        console.print(
            f"签名 signatures: 已验 checked {report.signatures_checked}, 无效 bad {report.signatures_bad}",
            highlight=False,
        )
        for note in report.notes:
            console.print(f"  [dim]{escape(note)}[/]", highlight=False)
        for problem in report.problems:
            console.print(f"  [red]✗[/] {escape(problem)}", highlight=False)
        if report.ok:
            console.print("[bold green]证据包核验通过 bundle verified[/]")
        else:
            console.print("[bold red]证据包核验未通过 bundle NOT verified[/]")
            raise typer.Exit(1)
