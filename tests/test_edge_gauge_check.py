"""Issue 16's acceptance for tank gauges: the edge agent, configured with a Veeder-Root
console (the simulator), polls its i201/i202 answers through a working day of sales and
two deliveries, and what it queued for the platform is accepted by ``anxin check`` —
every line read as a ``tank_reading`` or a ``delivery`` of the registry's tanks, no
reject, each delivery once although the console reported it on every poll."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from factory import City
from typer.testing import CliRunner

from anxin.cli import app
from anxin.contract.times import LOCAL_TZ
from anxin.edge.agent import Agent, EdgeSettings
from anxin.edge.gauges.config import load
from anxin.edge.gauges.simulator import SimTank, TlsSimulator, chart_from_registry
from anxin.edge.uploader import UploadSettings

START = datetime(2026, 3, 2, 6, 0)


def registry() -> dict:
    reg = City().registry_dict()
    (t1,) = [t for t in reg["tanks"] if t["tank_id"] == "S1-T1"]
    reg["tanks"].append({**t1, "tank_id": "S1-T2", "product": "0"})
    reg["products"].append({"product": "0", "expansion_ppm_per_c": 900})
    return reg


def test_the_agent_turns_a_simulated_gauge_into_records_anxin_check_accepts(tmp_path: Path):
    reg = registry()
    chart = chart_from_registry(reg["tanks"][0]["chart"])
    sim = TlsSimulator(
        [SimTank(1, 12_000.0, sales_l_per_min=6.0, chart=chart), SimTank(2, 15_000.0, product="2", chart=chart)],
        start=START,
        units="us",  # the console counts in gallons, inches and °F; the agent is told so
    )
    host, port = sim.start()
    config = tmp_path / "gauges.toml"
    config.write_text(
        f'station_id = "S1"\nutc_offset = "+08:00"\ninterval_s = 60\n\n[[gauge]]\nname = "tls350"\n'
        f'address = "tcp://{host}:{port}"\nunits = "us"\ntimeout_s = 2\n'
        f'tanks = {{ 1 = "S1-T1", 2 = "S1-T2" }}\n',
        encoding="utf-8",
    )
    settings = EdgeSettings(
        outbox=tmp_path / "outbox.sqlite",
        upload=UploadSettings(server="http://127.0.0.1:9", token="unused"),
        gauges=load(config),
    )
    agent = Agent(settings)
    assert agent.gauges is not None
    agent.gauges.clock = lambda: sim.now.replace(tzinfo=LOCAL_TZ).timestamp()
    try:
        polls = 0
        for minute in range(0, 12 * 60, 5):  # 06:00 … 18:00, a poll every 5 min
            if minute == 3 * 60:
                sim.deliver(1, 15_000.0, minutes=25)
            elif minute == 7 * 60:
                sim.deliver(2, 12_000.0, minutes=30)
            else:
                sim.advance(5)
            agent.gauges.poll()
            polls += 1
        lines = [r.body for r in agent.outbox.peek(100_000)]
    finally:
        agent.close()
        sim.stop()

    recs = [json.loads(b) for b in lines]
    readings = [r for r in recs if r["kind"] == "tank_reading"]
    deliveries = [r for r in recs if r["kind"] == "delivery"]
    assert len(readings) == 2 * polls and len(deliveries) == 2
    got = {d["tank_id"]: d["volume_ml"] for d in deliveries}
    want = {"S1-T1": 15_000_000 - 6_000 * 25, "S1-T2": 12_000_000 - 5_000 * 30}  # sales went on while unloading
    assert got.keys() == want.keys() and all(abs(got[k] - want[k]) <= 2 for k in want)  # float32 gallons

    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.json").write_text(json.dumps(reg, ensure_ascii=False), encoding="utf-8")
    (data / "gauge.jsonl").write_bytes(b"".join(b + b"\n" for b in lines))
    out = tmp_path / "out"
    as_of = (START + timedelta(hours=13)).replace(tzinfo=LOCAL_TZ).isoformat()
    res = CliRunner().invoke(app, ["check", str(data), "--out", str(out), "--workers", "0", "--as-of", as_of])
    assert res.exit_code == 0, res.output

    summary = json.loads((out / "summary.json").read_text())
    assert (out / "rejects.jsonl").read_text() == ""
    assert {k: n for k, n in summary["records"].items() if n} == {"tank_reading": len(readings), "delivery": 2}
    assert (summary["rejects"], summary["quarantined"], summary["resends"], summary["readings_too_frequent"]) == (
        0,
        0,
        0,
        0,
    )
    assert summary["alarms"] == 0, summary["alarms_by_rule"]  # a gauge that agrees with the registry's chart


def test_edge_run_uploads_a_gauges_records_to_the_live_service_once(tmp_path: Path):
    """``anxin edge run --gauges … --once`` against ``anxin serve``: the platform takes the
    gauge's records, a re-read of the same delivery report adds nothing."""
    from test_edge_agent import Platform, edge_cli, json_logs

    reg = registry()
    (tmp_path / "registry.json").write_text(json.dumps(reg, ensure_ascii=False), encoding="utf-8")
    platform = Platform(tmp_path, tmp_path / "registry.json").start()
    now = datetime.now(LOCAL_TZ).replace(tzinfo=None, second=0, microsecond=0)
    sim = TlsSimulator([SimTank(1, 12_000.0), SimTank(2, 9_000.0)], start=now - timedelta(hours=2))
    host, port = sim.start()
    config = tmp_path / "gauges.toml"
    config.write_text(
        f'station_id = "S1"\n[[gauge]]\naddress = "tcp://{host}:{port}"\nunits = "metric"\n'
        f'tanks = {{ 1 = "S1-T1", 2 = "S1-T2" }}\n',
        encoding="utf-8",
    )
    outbox = tmp_path / "outbox.sqlite"
    args = ["--log", "info", "edge", "run", "--server", platform.url, "--outbox", str(outbox), "--gauges", str(config)]
    try:
        token = platform.token("S1")
        r = edge_cli(*args, "--once", token=token)
        assert r.returncode == 0, r.stderr.decode()
        sim.deliver(1, 10_000.0, minutes=30)
        for _ in range(2):  # the second run reads the same delivery report again
            r = edge_cli(*args, "--once", token=token)
            assert r.returncode == 0, r.stderr.decode()
        assert platform.ledger() == 2 + 3
        assert platform.server_rejects() == []
        queued = [e for e in json_logs(r.stderr.decode()) if e["event"] == "gauge records queued"]
        assert queued == []  # the third run: nothing new
        r = edge_cli(
            "edge", "run", "--server", platform.url, "--outbox", str(outbox), "--gauges", "nope.toml", token=token
        )
        assert r.returncode == 2 and "无法读取液位仪配置 nope.toml" in r.stderr.decode()
    finally:
        sim.stop()
        platform.kill()
