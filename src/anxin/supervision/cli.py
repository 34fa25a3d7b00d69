"""Command line of supervision: ``anxin bundle verify FILE.zip`` (registered on the main
Typer app) — verifies a case's evidence bundle offline, without any database — and
``anxin bundle key``, the platform's public signing key to publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    bundle_app = typer.Typer(no_args_is_help=True, help=h("bundle"))
    app.add_typer(bundle_app, name="bundle")

    @bundle_app.command("verify", help=h("bundle.verify"))
    def verify(
        file: Annotated[Path, typer.Argument(help=h("bundle.verify.file"))],
        trust_key: Annotated[
            list[str] | None,
            typer.Option(
                "--trust-key",
                help=h("bundle.verify.trust_key"),
            ),
        ] = None,
        db: Annotated[
            str | None,
            typer.Option(
                "--db",
                help=h("bundle.verify.db"),
            ),
        ] = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.supervision.bundle import verify_bundle
        from anxin.supervision.signing import published_keys, trusted_from

        try:
            data = file.read_bytes()
        except OSError as exc:
            fail(t("cannot_read").format(path=file, reason=exc.strerror))
        try:
            trusted = trusted_from(list(trust_key or []))
        except OSError as exc:
            fail(t("cannot_read").format(path=exc.filename, reason=exc.strerror))
        if db is not None or config is not None:
            store = open_db(config, db, "read", fail)
            try:
                trusted |= {f"{k['alg']}:{k['public_key']}" for k in published_keys(store)}
            finally:
                store.close()
        report = verify_bundle(data, trusted_keys=trusted or None)
        ok_files = t("bundle_files_ok") if report.files_ok else t("bundle_files_altered")
        console.print(f"{t('bundle_files')}: {ok_files}", highlight=False)
        if report.signed_by is None:
            signer = t("bundle_signer_bad")
        elif report.signer_trusted is None:
            signer = t("bundle_signer_unchecked").format(key=report.signed_by)
        elif report.signer_trusted:
            signer = t("bundle_signer_trusted").format(key=report.signed_by)
        else:
            signer = t("bundle_signer_untrusted").format(key=report.signed_by)
        console.print(f"{t('bundle_signer')}: {escape(signer)}", highlight=False)
        if report.timestamp is not None:
            console.print(f"{t('bundle_timestamp')}: {report.timestamp}", highlight=False)
        console.print(
            t("bundle_records").format(checked=report.signatures_checked, bad=report.signatures_bad), highlight=False
        )
        for note in report.notes:  # keys and parameters, worded in the process's language (--lang)
            console.print(f"  [dim]{escape(note.text())}[/]", highlight=False)
        for problem in report.problems:
            console.print(f"  [red]✗[/] {escape(problem.text())}", highlight=False)
        if report.ok and report.signer_trusted:
            console.print(f"[bold green]{t('bundle_verified')}[/]")
        elif report.ok:  # intact and signed, but by a key nobody vouched for here
            console.print(f"[bold yellow]{t('bundle_no_trusted_key')}[/]")
            raise typer.Exit(1)
        else:
            console.print(f"[bold red]{t('bundle_not_verified')}[/]")
            raise typer.Exit(1)

    @bundle_app.command("key", help=h("bundle.key"))
    def key(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        from anxin.serve.config import load_config
        from anxin.supervision.signing import KeyFormatError, configured_key, published_keys

        try:
            cfg = load_config(config, db=db)
        except ValueError as exc:
            fail(str(exc))
        store = open_db(config, db, "write", fail)
        try:
            current = configured_key(store, cfg)  # made now if the platform has none yet
            keys = published_keys(store)
        except KeyFormatError as exc:
            fail(exc.text())
        finally:
            store.close()
        print(json.dumps({"current": current.key_id, "keys": keys}, ensure_ascii=False, indent=2))
