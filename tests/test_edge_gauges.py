"""The edge agent's tank gauge poller against the simulated TLS console (issue 16 item 3):
readings that fall with sales and rise with deliveries, a delivery report read again
and again queued once, the console's units, the serial line (a pty), the security
code, and a hostile console — each failure a logged error naming what is wrong, the
poller carrying on, nothing already queued lost."""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path

import pytest

from anxin.contract.times import LOCAL_TZ
from anxin.edge.gauges import GaugeConfigError
from anxin.edge.gauges.config import GaugeSettings, load, parse
from anxin.edge.gauges.poller import GaugePoller
from anxin.edge.gauges.simulator import SimTank, TlsSimulator
from anxin.edge.outbox import Outbox

T0 = datetime(2026, 3, 2, 8, 0)
TANKS = {"1": "S1-T1", "2": "S1-T2"}


@pytest.fixture
def sim():
    s = TlsSimulator([SimTank(1, 20_000.0), SimTank(2, 12_000.0, product="2")], start=T0)
    s.start()
    yield s
    s.stop()


def settings_for(address: str, **gauge) -> GaugeSettings:
    g = {"address": address, "units": "metric", "tanks": TANKS, "timeout_s": 0.5, **gauge}
    return parse({"station_id": "S1", "gauge": [g]}, "test.toml")


def tcp(sim: TlsSimulator) -> str:
    assert sim.server is not None
    host, port = sim.server.server_address[:2]
    return f"tcp://{host}:{port}"


def make_poller(tmp_path: Path, sim: TlsSimulator, settings: GaugeSettings) -> GaugePoller:
    clock = lambda: sim.now.replace(tzinfo=LOCAL_TZ).timestamp()  # noqa: E731 — the agent's clock agrees with the console's
    return GaugePoller(Outbox(tmp_path / "outbox.sqlite"), settings, clock=clock)


def queued(p: GaugePoller) -> list[dict]:
    return [json.loads(r.body) for r in p.outbox.peek(10_000)]


def errors(caplog) -> list[str]:
    return [r.__dict__.get("error", "") for r in caplog.records if r.levelno >= logging.ERROR]


def test_levels_fall_with_sales_and_rise_with_a_delivery_read_once(tmp_path, sim):
    p = make_poller(tmp_path, sim, settings_for(tcp(sim)))
    assert p.poll() == 2
    assert p.poll() == 0  # the same console minute: nothing new
    sim.advance(10)
    assert p.poll() == 2
    sim.deliver(1, 8_000.0, minutes=20)
    assert p.poll() == 3  # two readings and the delivery
    sim.advance(5)
    assert p.poll() == 2  # the delivery report still lists it: not queued again
    recs = queued(p)
    t1 = [r["level_um"] for r in recs if r["kind"] == "tank_reading" and r["tank_id"] == "S1-T1"]
    assert t1[0] > t1[1] < t1[2] > t1[3]  # sales, sales, the delivery, sales
    (d,) = [r for r in recs if r["kind"] == "delivery"]
    assert d == {
        "kind": "delivery",
        "station_id": "S1",
        "tank_id": "S1-T1",
        "start": "2026-03-02T08:10:00.000+08:00",
        "end": "2026-03-02T08:30:00.000+08:00",
        "volume_ml": 8_000_000 - 5_000 * 20,  # the gross increase: sales went on while unloading
    }
    first = recs[0]
    assert first == {
        "kind": "tank_reading",
        "station_id": "S1",
        "tank_id": "S1-T1",
        "ts": "2026-03-02T08:00:00.000+08:00",
        "level_um": 1_666_667,  # 20 000 L on the chart (1 m → 10 m³, 2 m → 25 m³)
        "water_um": 3_000,
        "temp_mc": 18_000,
    }
    assert [r.line for r in p.outbox.peek(100)] == list(range(1, 10))
    p.close()


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ("bad_checksum", "bad checksum"),
        ("truncated", "unfinished answer"),
        ("junk", "no '&&'"),
        ("silent", "timeout after 0.5 s waiting for i20100 (no answer: check the address"),
        ("nan", "not a number"),
        ("absurd", "height 1000000000.0 mm outside"),
        ("refuse", "9999"),
        ("wrong_echo", "timeout"),
    ],
)
def test_a_hostile_console_costs_a_named_error_and_nothing_already_read(tmp_path, sim, caplog, fault, named):
    p = make_poller(tmp_path, sim, settings_for(tcp(sim)))
    assert p.poll() == 2
    sim.fault = fault
    sim.advance(1)
    with caplog.at_level(logging.WARNING, logger="anxin.edge.gauges"):
        assert p.poll() == 0
    assert any(named in e for e in errors(caplog)), errors(caplog)
    assert p.errors >= 1
    assert len(queued(p)) == 2  # what was read before stays queued
    sim.fault = None
    sim.advance(1)
    assert p.poll() == 2  # and the console, fixed, is read again on the next poll
    p.close()


def test_line_noise_before_a_good_answer_is_read_through(tmp_path, sim, caplog):
    p = make_poller(tmp_path, sim, settings_for(tcp(sim)))
    sim.fault = "garbage"
    with caplog.at_level(logging.WARNING, logger="anxin.edge.gauges"):
        assert p.poll() == 2
    assert "gauge sent bytes outside a frame" in caplog.text
    assert p.errors == 0
    p.close()


def test_a_console_in_us_units_gives_the_same_records(tmp_path):
    def first_reading(units: str, where: Path) -> dict:
        s = TlsSimulator([SimTank(1, 20_000.0)], start=T0, units=units)
        s.start()
        try:
            where.mkdir()
            p = make_poller(where, s, settings_for(tcp(s), units=units, tanks={"1": "S1-T1"}))
            s.deliver(1, 6_000.0, minutes=30)
            p.poll()
            p.close()
            return {r["kind"]: r for r in queued(p)}
        finally:
            s.stop()

    metric, us = first_reading("metric", tmp_path / "m"), first_reading("us", tmp_path / "u")
    for field in ("level_um", "water_um", "temp_mc"):
        assert abs(metric["tank_reading"][field] - us["tank_reading"][field]) <= 2, field  # float32 in inches
    assert abs(metric["delivery"]["volume_ml"] - us["delivery"]["volume_ml"]) <= 2


def test_a_tank_the_configuration_does_not_map_is_not_sent(tmp_path, sim, caplog):
    p = make_poller(tmp_path, sim, settings_for(tcp(sim), tanks={"1": "S1-T1"}))
    with caplog.at_level(logging.WARNING, logger="anxin.edge.gauges"):
        assert p.poll() == 1
        sim.advance(1)
        assert p.poll() == 1
    warned = [r for r in caplog.records if "not in the configuration" in r.getMessage()]
    assert len(warned) == 1 and warned[0].__dict__["tank"] == 2
    p.close()


def test_the_console_clock_far_from_the_agents_is_warned(tmp_path, sim, caplog):
    p = make_poller(tmp_path, sim, settings_for(tcp(sim)))
    p.clock = lambda: sim.now.replace(tzinfo=LOCAL_TZ).timestamp() - 600  # the console runs 10 min ahead
    with caplog.at_level(logging.WARNING, logger="anxin.edge.gauges"):
        p.poll()
    (warning,) = [r for r in caplog.records if "clock differs" in r.getMessage()]
    assert warning.__dict__["skew_s"] == 600
    p.close()


def test_a_security_code(tmp_path, caplog):
    s = TlsSimulator([SimTank(1, 20_000.0)], start=T0, security_code="AB12CD")
    s.start()
    try:
        good = make_poller(tmp_path / "a", s, settings_for(tcp(s), security_code="AB12CD", tanks={"1": "S1-T1"}))
        assert good.poll() == 1
        bad = make_poller(tmp_path / "b", s, settings_for(tcp(s), tanks={"1": "S1-T1"}, timeout_s=0.2))
        with caplog.at_level(logging.ERROR, logger="anxin.edge.gauges"):
            assert bad.poll() == 0
        assert any("no answer" in e for e in errors(caplog))
        good.close()
        bad.close()
    finally:
        s.stop()


def test_a_serial_line(tmp_path, sim):
    """The console on RS-232, here a pty: the agent opens the device file and sets it with termios."""
    master, slave = os.openpty()
    stop = threading.Event()
    th = sim.serve_fd(master, stop)
    try:
        p = make_poller(tmp_path, sim, settings_for(f"serial:{os.ttyname(slave)}", timeout_s=2))
        assert p.poll() == 2
        sim.deliver(2, 5_000.0)
        assert p.poll() == 3
        p.close()
    finally:
        stop.set()
        th.join(5)
        os.close(slave)
        os.close(master)


@pytest.mark.parametrize(
    ("doc", "key", "named"),
    [
        ({"gauge": []}, "missing", "station_id"),
        ({"station_id": "S1"}, "no_gauges", ""),
        ({"station_id": "S1", "gauge": [{"address": "tcp://h:1", "tanks": {"1": "T"}}]}, "missing", "gauge[0].units"),
        (
            {"station_id": "S1", "gauge": [{"address": "tcp://h:1", "units": "litres", "tanks": {"1": "T"}}]},
            "invalid",
            "gauge[0].units",
        ),
        ({"station_id": "S1", "gauge": [{"address": "udp://h:1", "units": "us", "tanks": {"1": "T"}}]}, "invalid", ""),
        ({"station_id": "S1", "gauge": [{"address": "tcp://h:1", "units": "us", "tanks": {"0": "T"}}]}, "invalid", ""),
        (
            {
                "station_id": "S1",
                "gauge": [{"address": "tcp://h:1", "units": "us", "tanks": {"1": "T", "2": "T"}}],
            },
            "tank_twice",
            "",
        ),
        ({"station_id": "S1", "utc_offset": "8", "gauge": [{}]}, "invalid", "utc_offset"),
        (
            {"station_id": "S1", "gauge": [{"address": "tcp://h:1", "units": "us", "tanks": {"1": "T"}, "baud": 7}]},
            "invalid",
            "gauge[0].baud",
        ),
    ],
)
def test_a_wrong_configuration_is_named(doc, key, named):
    with pytest.raises(GaugeConfigError) as exc:
        parse(doc, "gauges.toml")
    assert exc.value.key == key
    assert named in exc.value.text("en") and "gauges.toml" in exc.value.text("zh")


def test_the_configuration_file(tmp_path):
    path = tmp_path / "gauges.toml"
    path.write_text(
        'station_id = "S0001"\nutc_offset = "+07:00"\ninterval_s = 30\n\n[[gauge]]\nname = "tls"\n'
        'address = "serial:/dev/ttyUSB0"\nunits = "us"\nparity = "none"\ndata_bits = 8\n'
        'tanks = { 1 = "S0001-T1", 3 = "S0001-T3" }\n',
        encoding="utf-8",
    )
    s = load(path)
    (g,) = s.gauges
    assert (s.station_id, s.interval_s, str(s.tz)) == ("S0001", 30.0, "UTC+07:00")
    assert (g.name, g.tanks, g.units.volume, g.serial.parity, g.serial.data_bits) == (
        "tls",
        {1: "S0001-T1", 3: "S0001-T3"},
        "us_gal",
        "none",
        8,
    )
    path.write_text("station_id = ", encoding="utf-8")
    with pytest.raises(GaugeConfigError) as exc:
        load(path)
    assert exc.value.key == "syntax"


def test_edge_status_shows_each_gauges_last_read_and_last_error(tmp_path, sim, monkeypatch):
    from typer.testing import CliRunner

    from anxin import cli
    from anxin.cli import app

    # The CLI's console may have fixed its width when anxin.cli was first imported in this
    # process (COLUMNS then), and a dumb terminal is 80 wide whatever COLUMNS says: a size of
    # its own here, wide enough that no cell is folded mid-phrase.
    monkeypatch.setattr(cli.console, "_width", 250)
    monkeypatch.setattr(cli.console, "_height", 50)

    p = make_poller(tmp_path, sim, settings_for(tcp(sim)))
    p.poll()
    sim.fault = "bad_checksum"
    sim.advance(1)
    p.poll()
    p.close()
    st = p.outbox.status()
    g = st["gauges"]["gauge1"]
    assert g["last_ok_us"] and g["last_error_us"] and "bad checksum" in g["last_error"]
    p.outbox.close()
    wide = {"COLUMNS": "250"}
    res = CliRunner().invoke(
        app, ["--lang", "en", "edge", "status", "--outbox", str(tmp_path / "outbox.sqlite")], env=wide
    )
    assert res.exit_code == 0, res.output
    assert "Tank gauges" in res.output and "gauge1" in res.output and "bad checksum" in res.output
    res = CliRunner().invoke(
        app, ["--lang", "zh", "edge", "status", "--outbox", str(tmp_path / "outbox.sqlite")], env=wide
    )
    assert "液位仪" in res.output and "最近一次读取成功" in res.output


def test_gauge_read_prints_the_records(tmp_path, sim):
    from typer.testing import CliRunner

    from anxin.cli import app

    config = tmp_path / "gauges.toml"
    config.write_text(
        f'station_id = "S1"\n[[gauge]]\naddress = "{tcp(sim)}"\nunits = "metric"\ntanks = {{ 1 = "S1-T1" }}\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["--lang", "en", "edge", "gauge-read", str(config)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.output.splitlines() if x.startswith('{"kind"')]
    assert [r["tank_id"] for r in lines] == ["S1-T1"] and "1 records read, 0 errors" in res.output
    sim.fault = "refuse"
    res = CliRunner().invoke(app, ["--lang", "zh", "edge", "gauge-read", str(config)])
    assert res.exit_code == 1 and "读到 0 条记录，2 个错误" in res.output
    config.write_text('station_id = "S1"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["--lang", "zh", "edge", "gauge-read", str(config)])
    assert res.exit_code == 2 and "没有 [[gauge]] 表" in res.output


def test_the_poller_runs_on_its_interval_until_stopped(tmp_path, sim):
    import dataclasses

    from services import wait_for

    p = make_poller(tmp_path, sim, dataclasses.replace(settings_for(tcp(sim)), interval_s=0.05))
    th = threading.Thread(target=p.run)
    th.start()
    try:
        wait_for(lambda: len(queued(p)) == 2, what="the first poll's readings")
        sim.advance(1)
        wait_for(lambda: len(queued(p)) == 4, what="the next minute's readings")
    finally:
        p.stop.set()
        th.join(5)
    assert not th.is_alive()
    p.close()


def test_a_serial_address_that_is_not_a_serial_port_is_named(tmp_path, caplog):
    plain = tmp_path / "not-a-tty"
    plain.write_bytes(b"")
    p = GaugePoller(Outbox(tmp_path / "outbox.sqlite"), settings_for(f"serial:{plain}"))
    with caplog.at_level(logging.ERROR, logger="anxin.edge.gauges"):
        assert p.poll() == 0
    assert any("is not a serial port" in e for e in errors(caplog)), errors(caplog)
    p.gauges[0] = (p.gauges[0][0], settings_for("serial:/nonexistent/ttyS9").gauges[0].open())
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="anxin.edge.gauges"):
        assert p.poll() == 0
    assert any("serial:/nonexistent/ttyS9: No such file or directory" in e for e in errors(caplog)), errors(caplog)
    p.close()


def test_the_simulator_runs_from_the_command_line_for_vendors(tmp_path):
    """``anxin edge gauge-sim`` serves on TCP until SIGTERM; a vendor's client (here the
    agent's own ``gauge-read``, whose stdout is JSON lines only) reads it; stopped, it says
    how many commands it answered."""
    import re
    import signal
    import subprocess
    import sys

    from services import wait_for

    out = tmp_path / "sim.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "anxin.cli", "--lang", "en", "edge", "gauge-sim", "--port", "0", "--tanks", "3"],
            stdout=f,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        found = wait_for(
            lambda: re.search(r"listening on (tcp://[\d.]+:\d+) \(3 tanks, units metric", out.read_text()),
            what="the simulator to listen",
        )
        config = tmp_path / "gauges.toml"
        config.write_text(
            f'station_id = "S1"\n[[gauge]]\naddress = "{found.group(1)}"\nunits = "metric"\n'
            'tanks = { 1 = "S1-T1", 2 = "S1-T2", 3 = "S1-T3" }\n',
            encoding="utf-8",
        )
        r = subprocess.run(
            [sys.executable, "-m", "anxin.cli", "--lang", "en", "edge", "gauge-read", str(config)],
            capture_output=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr.decode()
        recs = [json.loads(x) for x in r.stdout.decode().splitlines()]
        assert sorted(x["tank_id"] for x in recs) == ["S1-T1", "S1-T2", "S1-T3"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert "Simulated console stopped (2 commands answered)" in out.read_text()
    finally:
        proc.kill()
