"""The ``anxin`` command line (Typer + Rich): check, simulate, evaluate, demo, schema, and the live
service's serve, token, db-upgrade."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from anxin.i18n import lang, rule_name, set_lang, t

app = typer.Typer(add_completion=False, no_args_is_help=True, help="安心加油 · anxin — 加油机计量远程监测")
console = Console()
err = Console(stderr=True)


@app.callback()
def _main(
    lang: Annotated[str | None, typer.Option("--lang", help="zh (默认) | en")] = None,
    log_level: Annotated[
        str | None, typer.Option("--log", help="JSON log level on stderr (default: warning; env ANXIN_LOG)")
    ] = None,
) -> None:
    from anxin import logs

    set_lang(lang)
    logs.setup(log_level)


def _fail(message: str) -> None:
    err.print(f"[bold red]{t('error')}:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _progress(label: str, *, bytes_: bool = False) -> Progress:
    columns = [TextColumn(f"[bold]{label}"), BarColumn()]
    columns += [DownloadColumn()] if bytes_ else [TextColumn("{task.completed}/{task.total}")]
    return Progress(*columns, TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal)


@app.command()
def check(
    data_dir: Annotated[Path, typer.Argument(help="registry.json + *.jsonl")],
    out: Annotated[Path, typer.Option("--out", help="output directory")],
    workers: Annotated[
        int | None,
        typer.Option(help="processes; the engine is sharded by station (default: all cores; 0 = one process)"),
    ] = None,
    witness: Annotated[
        bool,
        typer.Option(
            "--witness/--no-witness",
            help="tank witness: meter estimates (meters.jsonl), METER_DRIFT, TANK_LOSS, STATION_BIAS",
        ),
    ] = True,
) -> None:
    """比对：逐条配对计量与结算记录，输出报警（contract §6）。"""
    from anxin.check.run import CheckError, run_check
    from anxin.engine import EngineSettings

    with _progress(t("checking"), bytes_=True) as progress:
        task = progress.add_task("check", total=None)
        try:
            summary = run_check(
                data_dir,
                out,
                workers=workers,
                settings=EngineSettings(witness_enabled=witness),
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
    table.add_row(t("resends"), f"{summary.resends:,}")
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


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="data directory to create")],
    stations: Annotated[int, typer.Option(min=1, help="number of stations")] = 30,
    days: Annotated[int, typer.Option(min=1, help="days of data")] = 7,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same bytes)")] = 1,
    scenarios: Annotated[str, typer.Option(help="all | honest | comma-separated scenario names")] = "all",
    workers: Annotated[int, typer.Option(min=1, help="processes")] = 2,
    evaluate_dir: Annotated[
        Path | None, typer.Option("--evaluate", help="instead of simulating: score CHECK_DIR against OUT_DIR's truth")
    ] = None,
) -> None:
    """模拟城市：生成契约 v1 数据与真值。Simulate a city (or, with --evaluate, score a check)."""
    from anxin.sim import ScenarioSet, evaluate, render_evaluation, truth_dir_for
    from anxin.sim import simulate as run_simulation

    if evaluate_dir is not None:
        render_evaluation(evaluate(out_dir, evaluate_dir), console, lang=lang())
        return
    try:
        chosen = ScenarioSet.parse(scenarios)
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
        )
    console.print(f"[bold green]{t('sim_done')}[/]: {out_dir}")
    console.print(summary)
    console.print(f"{t('truth')}: {truth_dir_for(out_dir)}")


@app.command()
def evaluate(
    data_dir: Annotated[Path, typer.Argument(help="simulated data directory (truth beside it)")],
    check_dir: Annotated[Path, typer.Argument(help="output of anxin check")],
) -> None:
    """评估：按真值计算各规则检出率与误报。Score a check against the simulator's truth."""
    from anxin.sim import evaluate as run_evaluation
    from anxin.sim import render_evaluation

    report = run_evaluation(data_dir, check_dir)
    render_evaluation(report, console, lang=lang())
    if not report.all_record_level_detected or report.false_alarms:
        raise typer.Exit(1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="where the demo keeps its data")] = Path("demo-data"),
    stations: Annotated[int, typer.Option(min=1)] = 12,
    days: Annotated[int, typer.Option(min=1)] = 2,
    seed: Annotated[int, typer.Option()] = 7,
    speed: Annotated[
        float, typer.Option(min=0, help="simulated seconds per real second (0: as fast as possible)")
    ] = 2880.0,
    serve: Annotated[
        bool | None,
        typer.Option("--serve/--no-serve", help="serve the console while replaying (default: in a terminal)"),
    ] = None,
    port: Annotated[int, typer.Option(help="the console's port")] = 8080,
) -> None:
    """演示：模拟小城市实时比对，报警实时显示，数据存入 SQLite，监管控制台同步运行。The live demo."""
    from anxin.demo.live import run_demo

    serve = console.is_terminal if serve is None else serve
    result = run_demo(
        out=out, stations=stations, days=days, seed=seed, speed=speed, console=console, serve=serve, port=port
    )
    if not result.batch_equals_live:
        raise typer.Exit(1)


@app.command()
def schema(
    out: Annotated[Path, typer.Option("--out", help="directory")] = Path("docs/schema"),
) -> None:
    """导出数据契约 JSON Schema。Export the contract's JSON Schema, one file per kind."""
    from anxin.contract.schema import export

    for path in export(out):
        console.print(str(path))


from anxin.auth import cli as _auth_cli  # noqa: E402  (its commands: user add|list|passwd, audit verify)
from anxin.edge import cli as _edge_cli  # noqa: E402  (its command: edge)
from anxin.reports import cli as _reports_cli  # noqa: E402  (its command: report)
from anxin.serve import cli as _serve_cli  # noqa: E402  (its commands: serve, token, db-upgrade)
from anxin.supervision import cli as _supervision_cli  # noqa: E402  (its command: bundle verify)

_serve_cli.register(app, console, _fail)
_edge_cli.register(app, console, _fail)
_auth_cli.register(app, console, _fail)
_reports_cli.register(app, console, _fail)
_supervision_cli.register(app, console, _fail)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
