"""``anxin certify``: run the evaluation protocol and write the report — ``certify.json``
(the figures; what the console's alarm pages link to), ``certify.pdf`` (the same in
words, in the process's language) and ``certify.schema.json`` (the JSON's schema).
Registered on the main Typer app; imported only when it runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anxin.cli_common import Fail, LangOpt
from anxin.cli_help import h

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_OUT = Path("anxin-data/certify")  # beside the service's default database: its default certify_report


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename: the console never reads half a report."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    @app.command("certify", help=h("certify"))
    def certify(
        out: Annotated[Path, typer.Option("--out", help=h("certify.out"))] = DEFAULT_OUT,
        quick: Annotated[bool, typer.Option("--quick", help=h("certify.quick"))] = False,
        workers: Annotated[int, typer.Option("--workers", min=1, max=2, help=h("certify.workers"))] = 2,
        _lang: LangOpt = None,
    ) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from anxin.certify.pdf import render_pdf
        from anxin.certify.protocol import PROTOCOLS
        from anxin.certify.report import encode, schema
        from anxin.certify.run import execute
        from anxin.certify.words import record_level_summary, w
        from anxin.i18n import lang
        from anxin.keyed import os_reason

        language = lang()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"{out}: {os_reason(exc).text(language)}")
        err = Console(stderr=True)
        bar = Progress(
            TextColumn(f"[bold]{w('progress', language)}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        task = bar.add_task("certify", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if not bar.live.is_started:  # started once the workers are forked (run.execute)
                bar.start()

        try:
            report = execute(PROTOCOLS["quick" if quick else "full"](), workers=workers, progress=advance)
        finally:
            bar.stop()
        files = {
            "certify.json": encode(report),
            "certify.pdf": render_pdf(report, language),
            "certify.schema.json": json.dumps(schema(), ensure_ascii=False, indent=1).encode() + b"\n",
        }
        try:
            for name, data in files.items():
                write_atomic(out / name, data)
        except OSError as exc:
            fail(f"{out}: {os_reason(exc).text(language)}")
        k, n, false = record_level_summary(report)
        console.print(w("summary", language, k=k, n=n, false=false), highlight=False)
        console.print(w("worlds_note", language), highlight=False)
        for name in files:
            console.print(w("written", language, path=out / name), highlight=False)
