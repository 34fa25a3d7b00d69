"""``anxin db upgrade|current|history|backup|restore`` and ``anxin ledger export``
(registered on the main Typer app). Only ``db upgrade`` changes a schema; nothing of the
``server`` extra is imported before a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from anxin.cli_common import HELP, ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console

BACKUP_HELP = (
    "备份数据库到新文件 OUT。SQLite：在线备份（服务运行时亦一致），生成单个文件；"
    "PostgreSQL：调用 pg_dump -Fc（需在 PATH 中，否则退出码 2 并提示）。"
    "Back the database up into the new file OUT. SQLite: the online backup API, consistent while "
    "anxin serve runs, one self-contained file. PostgreSQL: runs pg_dump -Fc (exit 2 with the "
    "command to use when pg_dump is not on PATH)."
)
RESTORE_HELP = (
    "从备份恢复到一个新的数据库（--db）。SQLite：目标文件不能已存在；PostgreSQL：用 pg_restore "
    "恢复到已建好的空数据库。恢复后可运行 anxin db upgrade。"
    "Restore a backup as a new database (--db). SQLite: the file must not exist yet; PostgreSQL: "
    "pg_restore into an existing empty database. Then anxin db upgrade if the code is newer."
)
EXPORT_HELP = (
    "把台账按原样导出到新目录（每站一个 *.jsonl，加 registry.json 与 SHA256SUMS），"
    "可用 anxin check 重新比对，不依赖数据库。"
    "Export the ledger as received into a new directory (one *.jsonl per station, registry.json, "
    "SHA256SUMS): anxin check reads it, no database needed."
)


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    db_app = typer.Typer(no_args_is_help=True, help=HELP["db"])
    ledger_app = typer.Typer(no_args_is_help=True, help=HELP["ledger"])
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

    @db_app.command("upgrade")
    def db_upgrade(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        """升级数据库结构到最新（Alembic；库不存在时新建 SQLite）。Bring the schema to the newest migration."""
        upgrade(config, db)

    @app.command("db-upgrade", hidden=True)
    def db_upgrade_old(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        """旧名，同 anxin db upgrade。The old name of anxin db upgrade."""
        upgrade(config, db)

    @db_app.command("current")
    def db_current(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        """数据库结构版本及是否最新（最新返回 0，落后或超前返回 1）。The database's revision (exit 0: newest, 1: not)."""
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

    @db_app.command("history")
    def db_history(_lang: LangOpt = None) -> None:
        """本程序的数据库结构版本（迁移）及说明，最新在前。The schema revisions (migrations), newest first."""
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

    @db_app.command("backup", help=BACKUP_HELP)
    def db_backup(
        out: Annotated[Path, typer.Argument(help="备份文件（不能已存在）。The backup file (must not exist).")],
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

    @db_app.command("restore", help=RESTORE_HELP)
    def db_restore(
        backup: Annotated[Path, typer.Argument(help="由 anxin db backup 生成的备份。A backup of anxin db backup.")],
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

    @ledger_app.command("export", help=EXPORT_HELP)
    def ledger_export(
        out_dir: Annotated[Path, typer.Argument(help="导出目录（新建或为空）。The directory (new or empty).")],
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
