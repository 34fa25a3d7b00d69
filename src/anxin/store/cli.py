"""``anxin db upgrade|current|history|backup|restore`` and ``anxin ledger export``
(registered on the main Typer app). Only ``db upgrade`` changes a schema; nothing of the
``server`` extra is imported before a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    db_app = typer.Typer(no_args_is_help=True, help=h("db"))
    ledger_app = typer.Typer(no_args_is_help=True, help=h("ledger"))
    app.add_typer(db_app, name="db")
    app.add_typer(ledger_app, name="ledger")

    def upgrade(config: Path | None, db: str | None) -> None:
        from anxin.store.urls import display_url

        store = open_db(config, db, "migrate", fail)
        try:
            before, now = store.migrated_from, store.revision()
        finally:
            store.close()
        shown = display_url(store.url)
        if before == now:
            console.print(t("db_already_head").format(db=shown, head=now), highlight=False, soft_wrap=True)
        else:
            console.print(
                f"[green]{t('db_upgraded').format(db=shown, before=before or t('db_empty'), head=now)}[/]",
                highlight=False,
                soft_wrap=True,
            )

    @db_app.command("upgrade", help=h("db.upgrade"))
    def db_upgrade(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        upgrade(config, db)

    @app.command("db-upgrade", hidden=True, help=h("db-upgrade"))
    def db_upgrade_old(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        upgrade(config, db)

    @db_app.command("current", help=h("db.current"))
    def db_current(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        from anxin.store.database import migrations_head
        from anxin.store.urls import display_url

        store = open_db(config, db, "read", fail, check_schema=False)
        try:
            current = store.revision()
        finally:
            store.close()
        head = migrations_head()
        shown = display_url(store.url)
        if current == head:
            console.print(
                f"[green]{t('db_current_head').format(db=shown, current=current)}[/]", highlight=False, soft_wrap=True
            )
            return
        if current is None:
            console.print(
                f"[yellow]{t('db_current_none').format(db=shown, head=head)}[/]", highlight=False, soft_wrap=True
            )
        else:
            console.print(
                f"[yellow]{t('db_current_other').format(db=shown, current=current, head=head)}[/]",
                highlight=False,
                soft_wrap=True,
            )
        raise typer.Exit(1)

    @db_app.command("history", help=h("db.history"))
    def db_history(_lang: LangOpt = None) -> None:
        from alembic.script import ScriptDirectory

        from anxin.store.database import migrations_config

        scripts = ScriptDirectory.from_config(migrations_config())
        head = scripts.get_current_head()
        table = Table(title=t("db_history_title"))
        table.add_column(t("db_col_revision"), no_wrap=True)
        table.add_column(t("db_col_after"), no_wrap=True)
        table.add_column(t("db_col_message"), overflow="fold")
        for s in scripts.walk_revisions():
            mark = f" ({t('db_head')})" if s.revision == head else ""
            down = s.down_revision if isinstance(s.down_revision, str) else ", ".join(s.down_revision or ()) or "—"
            table.add_row(f"[bold]{s.revision}[/]{mark}", down, " ".join((s.doc or "").split()))
        console.print(table)

    @db_app.command("backup", help=h("db.backup"))
    def db_backup(
        out: Annotated[Path, typer.Argument(help=h("db.backup.out"))],
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.serve.config import load_config
        from anxin.store.backup import BackupError, backup
        from anxin.store.urls import display_url

        try:
            url = load_config(config, db=db).db
            note = backup(url, out)
        except (ValueError, BackupError) as exc:
            fail(str(exc))
        console.print(
            f"[green]{t('backup_done').format(db=display_url(url), out=out)}[/] ({note})",
            highlight=False,
            soft_wrap=True,
        )

    @db_app.command("restore", help=h("db.restore"))
    def db_restore(
        backup: Annotated[Path, typer.Argument(help=h("db.restore.backup"))],
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.serve.config import load_config
        from anxin.store.backup import BackupError, restore
        from anxin.store.database import migrations_head
        from anxin.store.urls import display_url

        try:
            url = load_config(config, db=db).db
            revision = restore(backup, url)
        except (ValueError, BackupError) as exc:
            fail(str(exc))
        console.print(
            f"[green]{t('restore_done').format(backup=backup, db=display_url(url))}[/]", highlight=False, soft_wrap=True
        )
        if revision is not None and revision != migrations_head():
            console.print(
                f"[yellow]{t('restore_behind').format(revision=revision)}[/]", highlight=False, soft_wrap=True
            )

    @ledger_app.command("export", help=h("ledger.export"))
    def ledger_export(
        out_dir: Annotated[Path, typer.Argument(help=h("ledger.export.out_dir"))],
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.store.backup import BackupError, export_ledger

        store = open_db(config, db, "read", fail)
        try:
            done = export_ledger(store, out_dir)
        except (BackupError, OSError) as exc:
            fail(str(exc))
        finally:
            store.close()
        console.print(
            f"[green]{t('export_done').format(rows=done.rows, files=done.files, out=out_dir)}[/] "
            f"({t('export_registry').format(version=done.registry_version)})",
            highlight=False,
            soft_wrap=True,
        )
        console.print(t("export_hint").format(out=out_dir), highlight=False, soft_wrap=True)
