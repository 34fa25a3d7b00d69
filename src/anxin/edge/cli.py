"""``anxin edge run`` and ``anxin edge status`` (registered on the main Typer app); the
tank gauge commands are in :mod:`anxin.edge.gauges.cli`."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anxin.cli_common import Fail, LangOpt
from anxin.cli_help import h
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console

OutboxOpt = Annotated[
    Path,
    typer.Option("--outbox", help=h("edge.outbox")),
]


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    edge = typer.Typer(no_args_is_help=True, help=h("edge"))
    app.add_typer(edge, name="edge")

    @edge.command("run", help=h("edge.run"))
    def run(
        server: Annotated[
            str,
            typer.Option(
                "--server",
                envvar="ANXIN_EDGE_SERVER",
                help=h("edge.run.server"),
            ),
        ],
        outbox: OutboxOpt,
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                envvar="ANXIN_EDGE_TOKEN",
                show_envvar=True,
                help=h("edge.run.token"),
            ),
        ] = None,
        source: Annotated[
            list[str] | None,
            typer.Option(
                "--source",
                help=h("edge.run.source"),
            ),
        ] = None,
        mqtt: Annotated[
            str | None,
            typer.Option(
                "--mqtt",
                help=h("edge.run.mqtt"),
            ),
        ] = None,
        gauges: Annotated[
            Path | None,
            typer.Option("--gauges", help=h("edge.run.gauges")),
        ] = None,
        batch: Annotated[int, typer.Option("--batch", min=1, max=20_000, help=h("edge.run.batch"))] = 500,
        interval_ms: Annotated[
            int,
            typer.Option(
                "--interval-ms",
                min=0,
                help=h("edge.run.interval_ms"),
            ),
        ] = 1000,
        poll_ms: Annotated[int, typer.Option("--poll-ms", min=10, help=h("edge.run.poll_ms"))] = 200,
        backoff_max: Annotated[
            float,
            typer.Option("--backoff-max", min=0.1, help=h("edge.run.backoff_max")),
        ] = 60.0,
        timeout: Annotated[float, typer.Option("--timeout", min=0.5, help=h("edge.run.timeout"))] = 30.0,
        once: Annotated[
            bool,
            typer.Option(
                "--once",
                help=h("edge.run.once"),
            ),
        ] = False,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.edge.agent import Agent, EdgeSettings
        from anxin.edge.gauges import GaugeConfigError
        from anxin.edge.gauges.config import load as load_gauges
        from anxin.edge.outbox import OutboxError
        from anxin.edge.sources import MqttUrl
        from anxin.edge.uploader import UploadSettings

        if not token:
            from anxin.serve.config import secret_from_env

            try:
                token = secret_from_env("ANXIN_EDGE_TOKEN")
            except ValueError as exc:
                fail(str(exc))
        if not token:
            fail(t("edge_no_token"))
        if not source and not mqtt and not gauges and not once:  # --once alone: send what is queued (import-pos)
            fail(t("edge_no_source"))
        if not server.startswith(("http://", "https://")):
            fail(t("edge_bad_server").format(server=server))
        try:
            gauge_settings = load_gauges(gauges) if gauges else None
        except GaugeConfigError as exc:
            fail(exc.text())
            return
        try:
            if mqtt:
                MqttUrl.parse(mqtt)
            upload = UploadSettings(
                server=server,
                token=token or "",
                batch=batch,
                interval_s=interval_ms / 1000,
                timeout_s=timeout,
                backoff_max_s=backoff_max,
            )
            agent = Agent(
                EdgeSettings(
                    outbox=outbox,
                    upload=upload,
                    sources=list(source or []),
                    mqtt=mqtt,
                    gauges=gauge_settings,
                    poll_s=poll_ms / 1000,
                )
            )
        except (ValueError, OutboxError) as exc:
            fail(str(exc))
            return
        with _stop_on_signals(agent.stop):
            if once:
                empty = agent.run_once()
            else:
                console.print(f"[bold green]{t('edge_running')}[/] → {server}  ({outbox})")
                agent.run()
        if once:
            if not empty:
                console.print(f"[yellow]{t('edge_left')}[/]")
                raise typer.Exit(1)
            console.print(f"[green]{t('edge_all_sent')}[/]")
        else:
            console.print(t("edge_stopped"))

    from anxin.edge.gauges.cli import register as register_gauges

    register_gauges(edge, console, fail)

    from anxin.edge.poscli import add_commands

    add_commands(edge, console, fail)  # import-pos

    @edge.command("status", help=h("edge.status"))
    def status(
        outbox: OutboxOpt,
        as_json: Annotated[bool, typer.Option("--json", help=h("edge.status.as_json"))] = False,
        recent: Annotated[int, typer.Option("--recent", min=0, help=h("edge.status.recent"))] = 5,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.edge.outbox import Outbox, OutboxError

        try:
            box = Outbox(outbox, create=False)
            st = box.status(recent=recent)
            box.close()
        except OutboxError as exc:
            fail(str(exc))
            return
        if as_json:
            print(json.dumps(st, indent=2, ensure_ascii=False))
            return
        render_status(console, st, outbox)


def render_status(console, st: dict, path: Path) -> None:
    from rich.table import Table

    now = time.time()
    c = st["counters"]
    table = Table(title=f"{t('edge_status')} · {path}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    backlog_style = "bold yellow" if st["backlog"] else "green"
    table.add_row(t("edge_backlog"), f"[{backlog_style}]{st['backlog']:,}")
    oldest = st["oldest_read_us"]
    table.add_row(t("edge_oldest"), _age(now - oldest / 1e6) if oldest else "—")
    last = st["last_upload_us"]
    table.add_row(t("edge_last_upload"), _when(last / 1e6, now) if last else t("edge_never"))
    table.add_section()
    table.add_row(t("edge_read"), f"{c['read']:,}")
    table.add_row(t("edge_confirmed"), f"{c['confirmed']:,}")
    table.add_row(t("edge_accepted"), f"{c['accepted']:,}")
    table.add_row(t("edge_duplicate"), f"{c['duplicate']:,}")
    table.add_row(t("edge_rejected"), f"[red]{c['rejected']:,}" if c["rejected"] else "0")
    table.add_row(t("edge_quarantined"), f"[red]{c['quarantined']:,}" if c["quarantined"] else "0")
    table.add_row(t("edge_too_large"), f"[red]{c['too_large']:,}" if c["too_large"] else "0")
    table.add_row(t("edge_uploads"), f"{c['uploads']:,}")
    if st["last_error"]:
        table.add_section()
        when = _when(st["last_error_us"] / 1e6, now) if st["last_error_us"] else ""
        table.add_row(t("edge_last_error"), f"[red]{st['last_error']}[/]\n{when}")
    console.print(table)
    if st["sources"]:
        src = Table(title=t("edge_sources"))
        for col, just in (
            ("edge_source", "left"),
            ("edge_pos", "right"),
            ("edge_lines", "right"),
            ("edge_updated", "left"),
        ):
            src.add_column(t(col), justify=just)  # type: ignore[arg-type]
        for s in st["sources"]:
            src.add_row(
                s["path"], f"{s['pos']:,}", f"{s['lines']:,}", f"{_age(now - s['updated_us'] / 1e6)} {t('edge_ago')}"
            )
        console.print(src)
    if st.get("gauges"):
        gauges = Table(title=t("edge_gauges"))
        for col in ("edge_gauge", "edge_gauge_last_ok", "edge_last_error"):
            gauges.add_column(t(col), overflow="fold")
        for name, g in st["gauges"].items():
            ok = _when(g["last_ok_us"] / 1e6, now) if g["last_ok_us"] else t("edge_never")
            error = f"[red]{g['last_error']}[/]\n{_when(g['last_error_us'] / 1e6, now)}" if g["last_error_us"] else "—"
            gauges.add_row(name, ok, error)
        console.print(gauges)
    if st["recent_rejected"]:
        rej = Table(title=t("edge_recent_rejected"))
        rej.add_column(t("edge_where"))
        rej.add_column(t("kind"))
        rej.add_column(t("edge_reason"), overflow="fold")
        for r in st["recent_rejected"]:
            rej.add_row(f"{r['source']}:{r['line']}", t(f"edge_{r['status']}"), r["reason"])
        console.print(rej)


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _when(ts: float, now: float) -> str:
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))} ({_age(now - ts)} {t('edge_ago')})"


class _stop_on_signals:
    """SIGTERM/SIGINT set ``stop`` (a graceful stop); a second one interrupts at once."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        import logging

        logging.getLogger("anxin.edge").warning("stopping", extra={"signal": signal.Signals(signum).name})
        self.stop.set()

    def __enter__(self) -> _stop_on_signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
