"""The ``anxin`` command line (Typer + Rich).

The batch side — ``check``, ``simulate``, ``evaluate``, ``schema`` — is defined here; the
live service's commands (``serve``, ``token``, ``db``, ``ledger``, ``report``, ``user``,
``audit``, ``bundle``, ``map``), the station agent (``edge``) and the tank witness's explanation
(``witness explain``) live beside their code and are imported only when they run
(:class:`AnxinGroup`): ``anxin --help``, ``anxin check`` and
``anxin edge`` need nothing of the ``server`` extra, and a command that does says so in
one line when it is not installed.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

import anxin
from anxin.cli_common import LangOpt, LogLevel, missing_extra
from anxin.cli_help import fold_long_words, h, tidy_help
from anxin.i18n import lang, process_lang, rule_name, set_lang, t

console = Console()
err = Console(stderr=True)

# command → the module whose ``register(app, console, fail)`` defines it
LAZY_COMMANDS = {
    "serve": "anxin.serve.cli",
    "token": "anxin.serve.cli",
    "db": "anxin.store.cli",
    "ledger": "anxin.store.cli",
    "report": "anxin.reports.cli",
    "edge": "anxin.edge.cli",
    "user": "anxin.auth.cli",
    "audit": "anxin.auth.cli",
    "bundle": "anxin.supervision.cli",
    "witness": "anxin.check.explain",
    "map": "anxin.geo.cli",
    "export": "anxin.exports.cli",
    "worker": "anxin.cluster.cli",
    "cluster": "anxin.cluster.cli",
    "receipt": "anxin.receipt.cli",
    "purge": "anxin.retention.cli",
    "certify": "anxin.certify.cli",
}
HIDDEN_COMMANDS = {"db-upgrade": "anxin.store.cli"}  # the old spelling of ``anxin db upgrade``
_LISTING = "anxin.listing"  # ctx.meta flag: only names and help are wanted, import nothing


def _fail(message: str) -> NoReturn:
    """End the command: exit 2 with a one-line reason on stderr."""
    err.print(f"[bold red]{t('error')}:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


class AnxinGroup(TyperGroup):
    """The root command: its own commands, and the lazily imported ones; every command's
    help tidied (:func:`tidy_help`); an extra that is not installed is a one-line error."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._loaded: dict[str, dict[str, Any]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None:
            module = LAZY_COMMANDS.get(cmd_name) or HIDDEN_COMMANDS.get(cmd_name)
            if module is None:
                return None
            if ctx.meta.get(_LISTING) and cmd_name in LAZY_COMMANDS:
                cmd = TyperCommand(cmd_name, help=h(cmd_name))
            else:
                cmd = self._load(module).get(cmd_name)
        if cmd is not None:
            tidy_help(cmd)
            fold_long_words()
        return cmd

    def _load(self, module: str) -> dict[str, Any]:
        if module not in self._loaded:
            sub = typer.Typer()
            sub.callback()(lambda: None)  # (a group, even with one command)
            importlib.import_module(module).register(sub, console, _fail)
            self._loaded[module] = dict(typer.main.get_command(sub).commands)  # type: ignore[attr-defined]
        return self._loaded[module]

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """The process's language first (:func:`anxin.i18n.process_lang`): the help is
        worded before ``--lang`` applies as an option."""
        argv = kwargs.get("args", args[0] if args else None)
        language = process_lang(sys.argv[1:] if argv is None else list(argv))
        if language != lang():
            set_lang(language)
        return super().main(*args, **kwargs)

    def get_params(self, ctx: Any) -> Any:
        tidy_help(self)  # (here, not in __init__: Typer adds the completion options after it)
        return super().get_params(ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        fold_long_words()
        ctx.meta[_LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta.pop(_LISTING, None)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        ctx.meta[_LISTING] = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            ctx.meta.pop(_LISTING, None)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        known = self.commands
        self.commands = {**known, **dict.fromkeys(LAZY_COMMANDS)}  # type: ignore[dict-item]  # (suggestions)
        try:
            return super().resolve_command(ctx, args)
        finally:
            self.commands = known

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ImportError as exc:
            reason = missing_extra(exc)
            if reason is None:
                raise
            _fail(reason)


app = typer.Typer(
    cls=AnxinGroup,
    add_completion=True,
    no_args_is_help=True,
    help=h("anxin"),
)


def _version(value: bool) -> None:
    if value:
        console.print(f"anxin {anxin.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    _lang: LangOpt = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            "--log",
            envvar="ANXIN_LOG",
            case_sensitive=False,
            metavar="LEVEL",
            help=h("anxin.log_level"),
        ),
    ] = None,
    _version_: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help=h("anxin.version")),
    ] = False,
) -> None:
    from anxin import logs

    logs.setup(log_level.value if log_level is not None else None)


def _progress(label: str, *, bytes_: bool = False) -> Progress:
    columns = [TextColumn(f"[bold]{label}"), BarColumn()]
    columns += [DownloadColumn()] if bytes_ else [TextColumn("{task.completed}/{task.total}")]
    return Progress(*columns, TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal)


@app.command(help=h("check"))
def check(
    data_dir: Annotated[Path, typer.Argument(help=h("check.data_dir"))],
    out: Annotated[Path, typer.Option("--out", help=h("check.out"))],
    workers: Annotated[
        int | None,
        typer.Option(help=h("check.workers")),
    ] = None,
    witness: Annotated[
        bool,
        typer.Option(
            "--witness/--no-witness",
            help=h("check.witness"),
        ),
    ] = True,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help=h("check.as_of"),
        ),
    ] = None,
    privacy: Annotated[str, typer.Option("--privacy", help=h("check.privacy"))] = "tokenise",
    _lang: LangOpt = None,
) -> None:
    from anxin.check.run import CheckError, run_check
    from anxin.contract.times import TimestampError, parse_ts
    from anxin.engine import EngineSettings

    try:
        as_of_us = parse_ts(as_of) if as_of is not None else None
    except TimestampError as exc:
        _fail(f"--as-of: {exc.text()}")  # (str(exc) is the contract's English, for stations)
    from anxin.privacy.policy import MODES, Privacy

    if privacy not in MODES:
        _fail(t("privacy_mode_bad").format(value=privacy, modes=" | ".join(MODES)))

    with _progress(t("checking"), bytes_=True) as progress:
        task = progress.add_task("check", total=None)
        try:
            summary = run_check(
                data_dir,
                out,
                workers=workers,
                settings=EngineSettings(witness_enabled=witness),
                as_of_us=as_of_us,
                privacy=Privacy(mode=privacy),  # type: ignore[arg-type]
                on_total=lambda n: progress.update(task, total=n),
                on_bytes=lambda n: progress.advance(task, n),
            )
        except CheckError as exc:
            _fail(str(exc))
    table = Table(title=t("summary"), show_header=True)
    table.add_column(t("kind"))
    table.add_column(t("count"), justify="right")
    for kind, n in summary.records.items():
        table.add_row(kind, f"{n:,}")
    table.add_row(t("rejects"), f"{summary.rejects:,}")
    table.add_row(t("quarantined"), f"{summary.quarantined:,}")
    if summary.clock_ahead:
        table.add_row(t("clock_ahead"), f"{summary.clock_ahead:,}")
    table.add_row(t("as_of"), summary.as_of)
    table.add_row(t("resends"), f"{summary.resends:,}")
    if summary.readings_too_frequent:
        table.add_row(t("readings_too_frequent"), f"{summary.readings_too_frequent:,}")
    table.add_row(t("verifications"), f"{summary.verifications:,} ({summary.verifications_failed})")
    table.add_row(t("pending"), f"{sum(summary.pending.values()):,}")
    table.add_row(t("meters"), " ".join(f"{k} {v:,}" for k, v in summary.meters.items()) or t("none"))
    table.add_section()
    for rule, n in summary.alarms_by_rule.items():
        table.add_row(rule_name(rule), f"[bold red]{n:,}")
    table.add_row(f"[bold]{t('alarms')}", f"[bold]{summary.alarms:,}")
    table.add_row(t("wall"), f"{summary.wall_time_s:.1f} s")
    console.print(table)
    console.print(f"{t('output')}: {out}")


@app.command(help=h("simulate"))
def simulate(
    out_dir: Annotated[Path, typer.Argument(help=h("simulate.out_dir"))],
    stations: Annotated[int, typer.Option(min=1, help=h("simulate.stations"))] = 30,
    days: Annotated[int, typer.Option(min=1, help=h("simulate.days"))] = 7,
    seed: Annotated[int, typer.Option(help=h("simulate.seed"))] = 1,
    scenarios: Annotated[
        str,
        typer.Option(help=h("simulate.scenarios")),
    ] = "all",
    workers: Annotated[int, typer.Option(min=1, help=h("simulate.workers"))] = 2,
    world: Annotated[
        str,
        typer.Option(
            help=h("simulate.world"),
        ),
    ] = "default",
    evaluate_dir: Annotated[
        Path | None,
        typer.Option(
            "--evaluate",
            help=h("simulate.evaluate_dir"),
        ),
    ] = None,
    _lang: LangOpt = None,
) -> None:
    if evaluate_dir is not None:
        _evaluate(out_dir, evaluate_dir)
        return
    from anxin.sim import ScenarioSet, truth_dir_for
    from anxin.sim import simulate as run_simulation
    from anxin.sim.world import World

    try:
        chosen = ScenarioSet.parse(scenarios)
        physics = World.load(world)
    except ValueError as exc:
        _fail(str(exc))
    with _progress(t("simulating")) as progress:
        task = progress.add_task("sim", total=None)
        summary = run_simulation(
            out_dir,
            stations=stations,
            days=days,
            seed=seed,
            scenarios=chosen,
            workers=workers,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            world=physics,
        )
    console.print(_simulation_table(summary))
    console.print(f"[bold green]{t('sim_done')}[/]: {out_dir}", highlight=False)
    console.print(f"{t('truth')}: {truth_dir_for(out_dir)}", highlight=False)
    if not physics.is_default:
        console.print(f"{t('sim_world')}: {physics.name} — {physics.description}", highlight=False)


def _simulation_table(s: Any) -> Table:
    table = Table(title=t("sim_title"), show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row(t("sim_stations"), f"{s.stations:,}")
    table.add_row(t("sim_days"), f"{s.days:,} ({s.start[:10]} …)")
    table.add_row(t("sim_seed"), str(s.seed))
    table.add_row(t("sim_scenarios"), s.scenarios)
    table.add_row(t("sim_nozzles"), f"{s.nozzles:,} (SM2 {s.sm2_nozzles:,} · {t('sim_legacy')} {s.legacy_nozzles:,})")
    table.add_row(t("sim_tanks"), f"{s.tanks:,}")
    table.add_section()
    for kind, n in s.records.items():
        table.add_row(kind, f"{n:,}")
    table.add_row(t("sim_sales"), f"{s.sales:,}")
    table.add_row(t("resends"), f"{s.resends:,}")
    table.add_row(t("sim_malformed"), f"{s.malformed:,}")
    if s.faults:
        table.add_section()
        for name, n in sorted(s.faults.items()):
            table.add_row(f"[red]{name}", f"{n:,}")
        table.add_row(f"[bold]{t('sim_faults')}", f"[bold]{sum(s.faults.values()):,}")
    table.add_section()
    table.add_row(t("sim_files"), f"{s.files:,} ({s.bytes_written / 1e6:,.1f} MB)")
    table.add_row(t("wall"), f"{s.elapsed_s:.1f} s")
    return table


def _evaluate(data_dir: Path, check_dir: Path) -> Any:
    """Score ``check_dir`` against ``data_dir``'s truth, after checking that all three are
    there (exit 2 naming what is missing); renders it and returns the report."""
    from anxin.sim import evaluate as run_evaluation
    from anxin.sim import render_evaluation, truth_dir_for

    truth = truth_dir_for(data_dir)
    for what, path, needed in (
        ("eval_data_dir", data_dir, ("registry.json",)),
        ("eval_check_dir", check_dir, ("alarms.jsonl",)),
        ("eval_truth_dir", truth, ("faults.jsonl",)),
    ):
        if not path.is_dir():
            _fail(t("eval_missing").format(what=t(what), path=path))
        absent = [name for name in needed if not (path / name).is_file()]
        if absent:
            _fail(t("eval_empty").format(what=t(what), path=path, files=", ".join(absent)))
    if not any(data_dir.glob("*.jsonl")):
        _fail(t("eval_empty").format(what=t("eval_data_dir"), path=data_dir, files="*.jsonl"))
    report = run_evaluation(data_dir, check_dir)
    render_evaluation(report, console, lang=lang())
    return report


@app.command(help=h("evaluate"))
def evaluate(
    data_dir: Annotated[
        Path,
        typer.Argument(help=h("evaluate.data_dir")),
    ],
    check_dir: Annotated[Path, typer.Argument(help=h("evaluate.check_dir"))],
    _lang: LangOpt = None,
) -> None:
    report = _evaluate(data_dir, check_dir)
    if not report.all_record_level_detected or report.false_alarms:
        raise typer.Exit(1)


@app.command(help=h("demo"))
def demo(
    out: Annotated[Path, typer.Option(help=h("demo.out"))] = Path("demo-data"),
    stations: Annotated[int, typer.Option(min=1, help=h("demo.stations"))] = 12,
    days: Annotated[int, typer.Option(min=1, help=h("demo.days"))] = 2,
    seed: Annotated[int, typer.Option(help=h("demo.seed"))] = 7,
    speed: Annotated[
        float,
        typer.Option(min=0, help=h("demo.speed")),
    ] = 2880.0,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help=h("demo.serve"),
        ),
    ] = None,
    port: Annotated[int, typer.Option(help=h("demo.port"))] = 8080,
    _lang: LangOpt = None,
) -> None:
    if serve is None:
        serve = console.is_terminal
        if not serve:
            console.print(f"[yellow]{t('demo_not_terminal')}[/]", highlight=False, soft_wrap=True)
    from anxin.demo.live import run_demo

    result = run_demo(
        out=out, stations=stations, days=days, seed=seed, speed=speed, console=console, serve=serve, port=port
    )
    if not result.batch_equals_live:
        raise typer.Exit(1)


@app.command(help=h("schema"))
def schema(
    out: Annotated[Path, typer.Option("--out", help=h("schema.out"))] = Path("docs/schema"),
    _lang: LangOpt = None,
) -> None:
    from anxin.contract.schema import export

    for path in export(out):
        console.print(str(path))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
