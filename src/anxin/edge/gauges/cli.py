"""``anxin edge gauge-read`` (ask the configured gauges once, print the records) and
``anxin edge gauge-sim`` (a simulated TLS console on TCP, for vendors and installers)."""

from __future__ import annotations

import tempfile
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anxin.cli_common import Fail, LangOpt
from anxin.cli_help import h
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console


class ConsoleUnits(StrEnum):
    metric = "metric"
    us = "us"
    imperial = "imperial"


def register(edge: typer.Typer, console: Console, fail: Fail) -> None:
    @edge.command("gauge-read", help=h("edge.gauge_read"))
    def gauge_read(
        config: Annotated[Path, typer.Argument(help=h("edge.gauge_read.config"))],
        _lang: LangOpt = None,
    ) -> None:
        from anxin.edge.gauges import GaugeConfigError
        from anxin.edge.gauges.config import load
        from anxin.edge.gauges.poller import GaugePoller
        from anxin.edge.outbox import Outbox

        try:
            settings = load(config)
        except GaugeConfigError as exc:
            fail(exc.text())
            return
        with tempfile.TemporaryDirectory(prefix="anxin-gauge-read-") as tmp:
            box = Outbox(Path(tmp) / "outbox.sqlite")
            poller = GaugePoller(box, settings)
            try:
                poller.poll()
                rows = box.peek(1_000_000)
            finally:
                poller.close()
                box.close()
        for row in rows:
            print(row.body.decode())
        from rich.console import Console

        summary = t("gauge_read_done").format(records=len(rows), errors=poller.errors)
        Console(stderr=True).print(summary, style="dim")  # stdout stays JSON lines
        if poller.errors:
            raise typer.Exit(1)

    @edge.command("gauge-sim", help=h("edge.gauge_sim"))
    def gauge_sim(
        host: Annotated[str, typer.Option("--host", help=h("edge.gauge_sim.host"))] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help=h("edge.gauge_sim.port"))] = 10001,
        tanks: Annotated[int, typer.Option("--tanks", min=1, max=12, help=h("edge.gauge_sim.tanks"))] = 2,
        units: Annotated[ConsoleUnits, typer.Option("--units", help=h("edge.gauge_sim.units"))] = ConsoleUnits.metric,
        speed: Annotated[float, typer.Option("--speed", min=0.0, max=3600.0, help=h("edge.gauge_sim.speed"))] = 1.0,
        security_code: Annotated[str, typer.Option("--security-code", help=h("edge.gauge_sim.security_code"))] = "",
        _lang: LangOpt = None,
    ) -> None:
        from anxin.edge.cli import _stop_on_signals
        from anxin.edge.gauges.simulator import SimTank, TlsSimulator

        if security_code and len(security_code) != 6:
            fail(t("gauge_sim_bad_code"))
        sim = TlsSimulator(
            [SimTank(n, volume_l=24_000.0 - 4_000.0 * (n % 4), sales_l_per_min=4.0 + n) for n in range(1, tanks + 1)],
            units=units.value,
            security_code=security_code,
        )
        try:
            bound = sim.start(host, port)
        except OSError as exc:
            fail(t("gauge_sim_cannot_listen").format(address=f"{host}:{port}", reason=exc.strerror or exc))
            return
        console.print(
            t("gauge_sim_listening").format(address=f"tcp://{bound[0]}:{bound[1]}", tanks=tanks, units=units.value)
        )
        stop = threading.Event()
        with _stop_on_signals(stop):
            while not stop.wait(1.0):
                sim.advance(speed / 60.0)
                for tank in sim.tanks.values():  # a tanker comes when a tank runs low
                    if tank.volume_l < 0.25 * tank.capacity_l:
                        sim.deliver(tank.number, 0.6 * tank.capacity_l, 30, elapse=False)
        sim.stop()
        console.print(t("gauge_sim_stopped").format(commands=sim.commands))
