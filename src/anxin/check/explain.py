"""``anxin witness explain TANK``: what the tank witness's estimate of one tank rests on,
printed for a person (through the message catalog, in the user's language) or as JSON.

The tank's data is built as the engine builds it: the station's records — from a data
directory as ``anxin check`` reads it (``registry.json`` and ``*.jsonl``, signatures
verified), or from a store's ledger (``--db``) — are fed to an engine that collects the
tank witness's history, and ``TankLogs.tank_data`` gives the window; then
``anxin.engine.stats.diagnose`` takes it apart (segments, deliveries used and dropped,
the anchors' pull, residual structure, the chart correction, notes)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.contract.registry import Registry
from anxin.contract.times import US_PER_DAY, format_ts
from anxin.engine.stats.models import TankData, TankDiagnostics
from anxin.i18n import t, witness_text

CORRECTION_ROWS = 24  # the chart correction printed at this many levels at most (--json: all)


class _StationOnly(msgspec.Struct):
    station_id: str = ""


_station = msgspec.json.Decoder(_StationOnly)


def _station_items(index: int, path: Path, station_id: str, ring: Any) -> Iterator[tuple]:
    """The station's records of one source, verified, as (t, file, line, Parsed, verdict):
    other stations' lines are skipped before their signatures are checked."""
    from anxin.check.pipeline import parse_verified
    from anxin.check.reader import read_lines
    from anxin.contract.parse import Parsed

    with path.open("rb") as f:
        for n, raw in read_lines(f):
            if not isinstance(raw, bytes) or not raw.strip():
                continue
            try:
                if _station.decode(raw).station_id != station_id:
                    continue
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                continue  # a line that cannot be read is nobody's record
            p, verdict = parse_verified(raw, ring)
            if isinstance(p, Parsed):
                yield (p.t, index, n, p, verdict)


def _engine(reg: Registry, settings: Any) -> Any:
    from anxin.engine import Engine, EngineSettings

    # No scheduled looks (only the history is wanted) and nothing of it forgotten.
    s = msgspec.structs.replace(
        settings or EngineSettings(), witness_enabled=True, witness_every_us=0, witness_window_us=1 << 60
    )
    return Engine(reg, s)


def engine_from_dir(data_dir: Path, reg: Registry, station_id: str, settings: Any = None) -> Any:
    """An engine fed the station's records of a data directory, merged by event time as
    ``anxin check`` merges them."""
    from anxin.check.reader import data_files
    from anxin.crypto.keys import KeyRing

    ring = KeyRing.from_registry(reg)
    eng = _engine(reg, settings)
    sources = [_station_items(i, p, station_id, ring) for i, p in enumerate(data_files(data_dir))]
    for _t, _i, _n, p, verdict in heapq.merge(*sources):
        eng.feed(p, verdict)
    return eng


def engine_from_store(store: Any, reg: Registry, station_id: str, settings: Any = None) -> Any:
    """An engine fed the station's ledger rows in the order the live service fed them."""
    from anxin.contract.parse import Parsed, parse_line
    from anxin.crypto.keys import KeyVerdict
    from anxin.store.witness import station_ledger

    eng = _engine(reg, settings)
    for body, verdict in station_ledger(store, station_id):
        p = parse_line(body)
        if isinstance(p, Parsed):
            eng.feed(p, None if verdict is None else KeyVerdict(verdict))
    return eng


def window(eng: Any, tank_id: str, *, until: int | None, days: float) -> tuple[int, int] | None:
    """[since, until) of the explanation: ``days`` before ``until`` (default: just after
    the tank's last reading); None when the tank has no readings at all."""
    first, last, count = eng.tanklogs.span(tank_id)
    if count == 0:
        return None
    end = last + 1 if until is None else until
    return end - int(days * US_PER_DAY), end


def tank_data(eng: Any, tank_id: str, since: int, until: int) -> TankData:
    return eng.tanklogs.tank_data(tank_id, since, until)


# ------------------------------------------------------------------ rendering
def _when(us: int) -> str:
    return format_ts(us)[:16].replace("T", " ")


def _ci(ci: tuple[float, float] | None, fmt: str = "+.2f") -> str:
    return "—" if ci is None else f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def _mm(um: float) -> str:
    return f"{um / 1000:,.0f}"


def render(
    diag: TankDiagnostics, console: Console, language: str, *, since: int | None = None, until: int | None = None
) -> None:
    """``diag`` for a person: every word through the catalog (``language``: zh or en)."""

    def w(key: str) -> str:
        return witness_text(key, language)

    def line(label: str, value: str) -> None:
        console.print(f"[bold]{escape(label)}[/]  {escape(value)}", highlight=False, soft_wrap=True)

    head = t("wx_title").format(tank=diag.tank_id, station=diag.station_id)
    console.rule(f"[bold]{escape(head)}")
    if since is not None and until is not None:
        line(t("wx_window"), f"{_when(since)} – {_when(until)}")
    e = diag.estimate
    if e is None:
        console.print(f"[yellow]{escape(t('wx_no_estimate'))}[/]", highlight=False, soft_wrap=True)
    else:
        table = Table(title=t("wx_meters"), title_justify="left")
        for col, just in (
            ("wx_nozzle", "left"),
            ("wx_k", "right"),
            ("wx_error", "right"),
            ("wx_interval", "right"),
            ("wx_status", "left"),
            ("wx_dispensings", "right"),
        ):
            table.add_column(t(col), justify=just)  # type: ignore[arg-type]
        for m in sorted(e.meters, key=lambda m: (m.nozzle_id, m.segment)):
            status = w(f"status.{m.status}")
            table.add_row(
                m.nozzle_id, str(m.segment), f"{m.error_permille:+.2f}", _ci(m.ci95_permille), status, f"{m.n:,}"
            )
        console.print(table)
        if any(m.status == "insufficient" for m in e.meters):
            console.print(escape(w("status.insufficient.hint")), style="dim", highlight=False, soft_wrap=True)
        pooled = "—" if e.pooled_permille is None else f"{e.pooled_permille:+.2f}‰ {_ci(e.pooled_ci95_permille)}"
        line(t("wx_pooled"), pooled)
        leak = w("leak.suspected") if e.leak_suspected else w("leak.none" if e.leak_conclusive else "leak.inconclusive")
        line(t("wx_loss"), f"{e.loss_l_per_h:+.3f} L/h {_ci(e.loss_ci95_l_per_h, '+.3f')} · {leak}")
        line(t("wx_anchored"), t("wx_yes") if e.scale_anchored else t("wx_no"))
        if e.register_shift_permille is not None:
            line(
                t("wx_register"),
                t("wx_register_of").format(n=e.register_nozzles, shift=f"{e.register_shift_permille:+.2f}"),
            )
        line(t("wx_deliveries_n"), t("wx_deliveries_of").format(n=e.deliveries_declared, bad=e.deliveries_inconsistent))
        line(t("wx_hours"), f"{e.hours:.1f}")
        rejected = sum(e.readings_rejected.values())
        line(t("wx_readings"), t("wx_readings_of").format(used=e.readings_used, rejected=rejected))
        line(t("wx_residual_sd"), f"{e.residual_sd_ml:,.0f} mL")
        if e.method:
            line(t("wx_method"), w(e.method))

    seg = Table(title=t("wx_segments"), title_justify="left")
    for col, just in (
        ("wx_index", "right"),
        ("wx_start", "left"),
        ("wx_end", "left"),
        ("wx_n_readings", "right"),
        ("wx_levels", "right"),
        ("wx_cause", "left"),
    ):
        seg.add_column(t(col), justify=just)  # type: ignore[arg-type]
    for s in diag.segments:
        seg.add_row(
            str(s.index),
            _when(s.start_us),
            _when(s.end_us),
            f"{s.readings:,}",
            f"{_mm(s.level_min_um)}–{_mm(s.level_max_um)}",
            w(f"cause.{s.cause}"),
        )
    console.print(seg if diag.segments else f"{t('wx_segments')}: {t('wx_none')}", highlight=False)

    dl = Table(title=t("wx_deliveries"), title_justify="left")
    for col, just in (
        ("wx_start", "left"),
        ("wx_end", "left"),
        ("wx_declared", "right"),
        ("wx_implied", "right"),
        ("wx_difference", "right"),
        ("wx_used", "left"),
    ):
        dl.add_column(t(col), justify=just)  # type: ignore[arg-type]
    for d in diag.deliveries:
        implied = "—" if d.implied_ml is None else f"{d.implied_ml / 1000:,.1f}"
        diff = "—"
        if d.implied_ml is not None and d.declared_ml:
            diff = f"{(d.implied_ml - d.declared_ml) / d.declared_ml * 1000:+.2f}‰"
        dl.add_row(
            _when(d.start_us), _when(d.end_us), f"{d.declared_ml / 1000:,.1f}", implied, diff, w(f"delivery.{d.reason}")
        )
    console.print(dl if diag.deliveries else f"{t('wx_deliveries')}: {t('wx_none')}", highlight=False)

    pull = diag.anchor_pull_permille
    if pull is None:
        line(t("wx_anchor_pull"), t("wx_none"))
    else:
        se = diag.anchor_pull_se_permille
        line(t("wx_anchor_pull"), f"{pull:+.2f}‰" + ("" if se is None else f" (± {se:.2f}‰)"))

    console.print(f"[bold]{escape(t('wx_residuals'))}[/]", highlight=False)
    by_level = Table(title=t("wx_by_level"), title_justify="left")
    by_level.add_column(t("wx_level_mm"), justify="right")
    by_level.add_column(t("wx_mean_ml"), justify="right")
    by_level.add_column(t("wx_n"), justify="right")
    for level, mean, n in diag.residual_by_level:
        by_level.add_row(_mm(level), f"{mean:+,.0f}", f"{n:,}")
    by_hour = Table(title=t("wx_by_hour"), title_justify="left")
    by_hour.add_column(t("wx_hour"), justify="right")
    by_hour.add_column(t("wx_mean_ml"), justify="right")
    by_hour.add_column(t("wx_n"), justify="right")
    for hour, mean, n in diag.residual_by_hour:
        by_hour.add_row(f"{hour:02d}", f"{mean:+,.0f}", f"{n:,}")
    if diag.residual_by_level:
        console.print(by_level)
    if diag.residual_by_hour:
        console.print(by_hour)
    line(t("wx_lag1"), "—" if diag.residual_lag1 is None else f"{diag.residual_lag1:+.2f}")

    correction = e.chart_correction if e is not None else []
    if correction:
        ct = Table(title=t("wx_correction"), title_justify="left")
        ct.add_column(t("wx_level_mm"), justify="right")
        ct.add_column(t("wx_correction_ml"), justify="right")
        step = -(-len(correction) // CORRECTION_ROWS)  # at most about CORRECTION_ROWS rows, the last always
        shown = list(correction[::step])
        if shown[-1] != correction[-1]:
            shown.append(correction[-1])
        for level, ml in shown:
            ct.add_row(_mm(level), f"{ml:+,.1f}")
        console.print(ct)
        if len(shown) < len(correction):
            console.print(t("wx_correction_some").format(shown=len(shown), n=len(correction)), style="dim")
    else:
        line(t("wx_correction"), t("wx_none"))

    if diag.notes:
        console.print(f"[bold]{escape(t('wx_notes'))}[/]", highlight=False)
        for note in diag.notes:
            console.print(f"  • {escape(w(note))}", highlight=False, soft_wrap=True)


# ------------------------------------------------------------------ the command
def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    witness_app = typer.Typer(no_args_is_help=True, help=h("witness"))
    app.add_typer(witness_app, name="witness")

    @witness_app.command("explain", help=h("witness.explain"))
    def explain(
        tank: Annotated[str, typer.Argument(help=h("witness.explain.tank"))],
        data_dir: Annotated[
            Path | None,
            typer.Argument(help=h("witness.explain.data_dir")),
        ] = None,
        db: DbOpt = None,
        config: ConfigOpt = None,
        until: Annotated[
            str | None,
            typer.Option(
                "--until",
                help=h("witness.explain.until"),
            ),
        ] = None,
        days: Annotated[float, typer.Option("--days", min=0.01, help=h("witness.explain.days"))] = 30.0,
        as_json: Annotated[bool, typer.Option("--json", help=h("witness.explain.as_json"))] = False,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.contract.registry import RegistryError, load_registry, parse_registry
        from anxin.contract.times import TimestampError, parse_ts
        from anxin.engine import EngineSettings
        from anxin.i18n import lang

        try:
            until_us = parse_ts(until) if until is not None else None
        except TimestampError as exc:
            fail(f"--until: {exc.text()}")
        if data_dir is not None and db is not None:
            fail(t("wx_dir_or_db"))
        settings = EngineSettings()
        if data_dir is not None:
            if not data_dir.is_dir():
                fail(t("eval_missing").format(what=t("eval_data_dir"), path=data_dir))
            try:
                reg = load_registry(data_dir / "registry.json")
            except RegistryError as exc:
                fail(str(exc))
            if tank not in reg.tank_by_id:
                fail(t("wx_unknown_tank").format(tank=tank, n=len(reg.tanks)))
            eng = engine_from_dir(data_dir, reg, reg.tank_by_id[tank].station_id, settings)
        else:
            store = open_db(config, db, "read", fail)
            try:
                latest = store.registry_latest()
                if latest is None:
                    fail(t("no_registry"))
                try:
                    reg = parse_registry(latest[1], f"registry version {latest[0]}")
                except RegistryError as exc:
                    fail(str(exc))
                if tank not in reg.tank_by_id:
                    fail(t("wx_unknown_tank").format(tank=tank, n=len(reg.tanks)))
                eng = engine_from_store(store, reg, reg.tank_by_id[tank].station_id, settings)
            finally:
                store.close()
        span = window(eng, tank, until=until_us, days=days)
        if span is None:
            fail(t("wx_no_readings").format(tank=tank))
        since, end = span
        data = tank_data(eng, tank, since, end)
        if not data.reading_t:
            fail(t("wx_no_readings_window").format(tank=tank, since=_when(since), until=_when(end)))
        try:
            from anxin.engine.stats import diagnose
        except ImportError:
            try:  # (the package does not list it among its lazy names yet: its module does)
                from anxin.engine.stats.witness import diagnose
            except ImportError:  # an estimator without its diagnostics
                fail(t("wx_no_diagnose"))
        diag = diagnose(data, settings.witness)
        if as_json:
            typer.echo(msgspec.json.format(msgspec.json.encode(diag), indent=2).decode())
            return
        render(diag, console, lang(), since=since, until=end)
