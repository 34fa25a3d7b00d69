"""``anxin export tax|commerce`` (the period's file, audited as the command line's) and
``anxin export token|tokens|revoke`` (the agencies' read tokens), registered on the
main app. The command line holds the database: its scope is the whole city, narrowed
by ``--district`` and ``--station``."""

from __future__ import annotations

import getpass
import secrets
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import lang
from anxin.i18n.po import table

if TYPE_CHECKING:
    from rich.console import Console

SYSTEM = "system"  # the audit actor of the command line (as anxin.auth.cli's)


class Format(StrEnum):
    xlsx = "xlsx"
    json = "json"


class Kind(StrEnum):
    tax = "tax"
    commerce = "commerce"


def _t(key: str) -> str:
    zh, en = table("export_cli")[key]
    return en if lang() == "en" else zh


FromOpt = Annotated[str, typer.Option("--from", help=h("export.from"))]
ToOpt = Annotated[str, typer.Option("--to", help=h("export.to"))]
FormatOpt = Annotated[Format, typer.Option("--format", help=h("export.format"))]
OutOpt = Annotated[Path | None, typer.Option("--out", help=h("export.out"))]
DistrictOpt = Annotated[str | None, typer.Option("--district", help=h("export.district"))]
StationOpt = Annotated[list[str] | None, typer.Option("--station", help=h("export.station"))]
ReasonOpt = Annotated[str, typer.Option("--reason", help=h("option.reason"))]


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # (no login name: a container's numeric user)
        return "?"


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    export_app = typer.Typer(no_args_is_help=True, help=h("export"))
    app.add_typer(export_app, name="export")

    def run(kind: str, start: str, end: str, fmt: Format, out: Path | None, **kw: object) -> None:
        from anxin.contract.registry import parse_registry
        from anxin.exports.service import ExportRefused, Scope, export, parse_day
        from anxin.store.database import now_us

        try:
            a, b = parse_day(start, "--from"), parse_day(end, "--to")
        except ExportRefused as exc:
            fail(exc.text(lang()))
        store = open_db(kw.pop("config"), kw.pop("db"), "write", fail)  # type: ignore[arg-type]
        try:
            latest = store.registry_latest()
            if latest is None:
                fail(_t("no_registry"))
            registry = parse_registry(latest[1])
            reason = str(kw.pop("reason") or "")
            try:
                got = export(
                    store,
                    registry,
                    kind=kind,
                    fmt=fmt.value,
                    start=a,
                    end=b,
                    scope=Scope(actor=SYSTEM),
                    district=kw.get("district"),  # type: ignore[arg-type]
                    stations=kw.get("station") or (),  # type: ignore[arg-type]
                    lang=lang(),
                    via="cli",
                    reason=reason or f"{_t('by_os_user')} {_os_user()}",
                    now_us=now_us(),
                )
            except ExportRefused as exc:
                fail(exc.text(lang()))
        finally:
            store.close()
        if out is not None and str(out) == "-":
            sys.stdout.buffer.write(got.data)
            sys.stdout.buffer.flush()
            console.file = sys.stderr
        else:
            path = out or Path(got.filename)
            path.write_bytes(got.data)
            console.print(f"{_t('written')}: {path}", highlight=False)
        console.print(f"{_t('stations')}: {len(got.stations)} · SHA-256 {got.sha256}", highlight=False)
        console.print(f"{_t('audited')}: #{got.audit_seq}", highlight=False)

    @export_app.command("tax", help=h("export.tax"))
    def tax(
        start: FromOpt,
        end: ToOpt,
        fmt: FormatOpt = Format.xlsx,
        out: OutOpt = None,
        district: DistrictOpt = None,
        station: StationOpt = None,
        reason: ReasonOpt = "",
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        run("tax", start, end, fmt, out, district=district, station=station, reason=reason, db=db, config=config)

    @export_app.command("commerce", help=h("export.commerce"))
    def commerce(
        start: FromOpt,
        end: ToOpt,
        fmt: FormatOpt = Format.xlsx,
        out: OutOpt = None,
        district: DistrictOpt = None,
        station: StationOpt = None,
        reason: ReasonOpt = "",
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        run("commerce", start, end, fmt, out, district=district, station=station, reason=reason, db=db, config=config)

    @export_app.command("token", help=h("export.token"))
    def token(
        agency: Annotated[str, typer.Option("--agency", help=h("export.token.agency"))],
        kind: Annotated[list[Kind], typer.Option("--kind", help=h("export.token.kind"))],
        reason: Annotated[str, typer.Option("--reason", help=h("option.reason"))],
        district: DistrictOpt = None,
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.contract.registry import parse_registry
        from anxin.exports.queries import save_token
        from anxin.store.database import now_us

        name = agency.strip()
        if not 0 < len(name) <= 200 or not reason.strip():
            fail(_t("token_needs"))
        store = open_db(config, db, "write", fail)
        try:
            latest = store.registry_latest()
            known = set() if latest is None else {s.district for s in parse_registry(latest[1]).stations}
            if district is not None and district not in known:
                fail(f"{_t('no_district')}: {district}")
            value = secrets.token_urlsafe(32)
            tid = save_token(
                store,
                agency=name,
                kinds=sorted({k.value for k in kind}),
                district=district,
                token=value,
                actor=SYSTEM,
                reason=reason.strip(),
                now_us=now_us(),
            )
        finally:
            store.close()
        console.print(f"{_t('token_issued')} #{tid}: {name}", highlight=False)
        console.print(f"{_t('token_once')}:", highlight=False)
        print(value)

    @export_app.command("tokens", help=h("export.tokens"))
    def tokens(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        from rich.table import Table

        from anxin.contract.times import format_ts
        from anxin.exports.queries import list_tokens

        store = open_db(config, db, "read", fail)
        try:
            rows = list_tokens(store)
        finally:
            store.close()
        out = Table(title=_t("tokens_title"))
        for key in ("col_id", "col_agency", "col_kinds", "col_district", "col_issued", "col_revoked"):
            out.add_column(_t(key))
        for r in rows:
            out.add_row(
                str(r.id),
                r.agency,
                ", ".join(r.kinds),
                r.district or _t("all_districts"),
                format_ts(r.created_us)[:16].replace("T", " "),
                "" if r.revoked_us is None else format_ts(r.revoked_us)[:16].replace("T", " "),
            )
        console.print(out)

    @export_app.command("revoke", help=h("export.revoke"))
    def revoke(
        token_id: Annotated[int, typer.Argument(min=1, help=h("export.revoke.id"))],
        reason: Annotated[str, typer.Option("--reason", help=h("option.reason"))],
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.exports.queries import revoke_token
        from anxin.store.database import now_us

        store = open_db(config, db, "write", fail)
        try:
            done = revoke_token(store, token_id=token_id, actor=SYSTEM, reason=reason.strip() or "—", now_us=now_us())
        finally:
            store.close()
        if not done:
            fail(f"{_t('no_token')}: {token_id}")
        console.print(f"{_t('revoked')}: #{token_id}", highlight=False)
