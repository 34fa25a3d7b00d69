"""Command-line accounts and audit log: ``anxin user add|list|passwd`` and
``anxin audit verify`` (registered on the main Typer app).

A password is never a command-line argument (it would be in the shell history and in
``ps``): it is read from the first line of standard input when that is not a terminal
(``printf '%s\\n' "$PW" | anxin user add …``), else prompted for twice, hidden.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import lang, t

if TYPE_CHECKING:
    from rich.console import Console

SYSTEM = "system"  # the audit actor of what is done on the command line


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    user_app = typer.Typer(no_args_is_help=True, help=h("user"))
    audit_app = typer.Typer(no_args_is_help=True, help=h("audit"))
    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")

    def read_password() -> str:
        if sys.stdin is None or not sys.stdin.isatty():
            line = sys.stdin.readline() if sys.stdin is not None else ""
            password = line.rstrip("\r\n")
            if not password:
                fail(t("password_stdin_empty"))
            return password
        return typer.prompt(t("password_prompt"), hide_input=True, confirmation_prompt=t("password_again"))

    @user_app.command("add", help=h("user.add"))
    def user_add(
        username: Annotated[
            str,
            typer.Argument(help=h("user.add.username")),
        ],
        role: Annotated[
            str,
            typer.Option(
                "--role",
                help=h("user.add.role"),
            ),
        ],
        name: Annotated[str, typer.Option("--name", help=h("user.add.name"))],
        station: Annotated[
            list[str] | None,
            typer.Option("--station", help=h("user.add.station")),
        ] = None,
        district: Annotated[str | None, typer.Option("--district", help=h("user.add.district"))] = None,
        reason: Annotated[str, typer.Option("--reason", help=h("option.reason"))] = "anxin user add",
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.auth import AuthError, create_user
        from anxin.auth.roles import ROLE_NAMES_EN, ROLE_NAMES_ZH
        from anxin.store.database import now_us

        store = open_db(config, db, "write", fail)
        try:
            user = create_user(
                store,
                username=username,
                display_name=name,
                role=role,
                password=read_password(),
                stations=station or (),
                district=district,
                actor=SYSTEM,
                reason=reason,
                now_us=now_us(),
            )
        except AuthError as exc:
            fail(str(exc))
            return
        finally:
            store.close()
        shown = (ROLE_NAMES_ZH if lang() == "zh" else ROLE_NAMES_EN)[user.role]
        console.print(f"[green]{t('user_added')}[/]: {user.username} · {user.display_name} · {shown}", highlight=False)

    @user_app.command("list", help=h("user.list"))
    def user_list(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        from anxin.auth import list_users
        from anxin.auth.roles import ROLE_NAMES_EN, ROLE_NAMES_ZH
        from anxin.contract.times import format_ts
        from anxin.store.database import now_us

        store = open_db(config, db, "read", fail)
        try:
            users = list_users(store)
        finally:
            store.close()
        now = now_us()
        table = Table(title=t("users_title"))
        for key in (
            "user_col_username",
            "user_col_name",
            "user_col_role",
            "user_col_stations",
            "user_col_district",
            "user_col_state",
        ):
            table.add_column(t(key))
        for u in users:
            state = t("user_active") if u["active"] else f"[red]{t('user_inactive')}[/]"
            if u["active"] and u["throttled_until_us"] > now:
                state = f"[yellow]{t('user_throttled_until')} {format_ts(u['throttled_until_us'])[:19]}[/]"
            names = ROLE_NAMES_ZH if lang() == "zh" else ROLE_NAMES_EN
            role = f"{names.get(u['role'], u['role'])} ({u['role']})"  # the code too: what --role takes
            table.add_row(
                u["username"],
                u["display_name"],
                role,
                " ".join(u["stations"] or []) or "—",
                u["district"] or "—",
                state,
            )
        if not users:
            table.add_row(t("none"), "", "", "", "", "")
        console.print(table)

    @user_app.command("passwd", help=h("user.passwd"))
    def user_passwd(
        username: Annotated[str, typer.Argument(help=h("user.passwd.username"))],
        reason: Annotated[str, typer.Option("--reason", help=h("option.reason"))] = "anxin user passwd",
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.auth import AuthError, set_password
        from anxin.store.database import now_us

        store = open_db(config, db, "write", fail)
        try:
            set_password(
                store, username=username, password=read_password(), actor=SYSTEM, reason=reason, now_us=now_us()
            )
        except AuthError as exc:
            fail(str(exc))
            return
        finally:
            store.close()
        console.print(f"[green]{t('user_password_set')}[/]: {username}", highlight=False)

    @audit_app.command("verify", help=h("audit.verify"))
    def audit_verify(
        anchor: Annotated[
            str | None,
            typer.Option(
                "--anchor",
                help=h("audit.verify.anchor"),
            ),
        ] = None,
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.audit import head, verify

        pin = None
        if anchor is not None:
            seq, _, digest = anchor.partition(":")
            try:
                pin = (int(seq), bytes.fromhex(digest))
            except ValueError:
                pin = None
            if pin is None or len(pin[1]) != 32:
                fail(t("audit_bad_anchor"))
        store = open_db(config, db, "read", fail)
        try:
            report = verify(store, anchor=pin)
            newest = head(store)
        finally:
            store.close()
        if not report.ok:
            console.print(
                f"[bold red]{t('audit_broken').format(seq=report.first_bad_seq, n=report.entries)}[/]", highlight=False
            )
            console.print(report.problem, highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        console.print(f"[bold green]{t('audit_intact').format(n=report.entries)}[/]", highlight=False)
        if newest is not None:
            console.print(f"{t('audit_head')}: {newest[0]}:{newest[1].hex()}", highlight=False, soft_wrap=True)
