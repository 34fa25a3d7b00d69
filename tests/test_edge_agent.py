"""``anxin edge``, the station-side store-and-forward agent, against the real live
service (``anxin serve`` in a subprocess, its own SQLite database): every line
arrives exactly once through outages, restarts and kill -9 of either side."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from services import MQTT_URL, missing, reachable, wait_for

from anxin.edge.agent import Agent, EdgeSettings
from anxin.edge.outbox import COUNTERS, Outbox, OutboxError
from anxin.edge.sources import MqttUrl
from anxin.edge.uploader import UploadSettings
from anxin.sim import ScenarioSet, simulate
from anxin.store.database import Store

ADMIN = "admin-secret-token-123"
STATION = "S0001"


# ---------------------------------------------------------------- helpers
def poll(cond: Callable[[], object], timeout: float = 20.0, what: str = "condition", every: float = 0.02):
    return wait_for(cond, timeout, what, every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Platform:
    """``anxin serve`` as a subprocess on a fixed port and database (restartable)."""

    def __init__(self, tmp: Path, registry: Path, env: dict[str, str] | None = None) -> None:
        self.db, self.registry, self.env = tmp / "platform.sqlite", registry, env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "platform.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Platform:
        cmd = [
            sys.executable,
            "-m",
            "anxin.cli",
            "serve",
            "--db",
            str(self.db),
            "--port",
            str(self.port),
            "--registry",
            str(self.registry),
            "--admin-token",
            ADMIN,
        ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        poll(self.ready, 30, "the platform to be ready")
        return self

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"anxin serve exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        try:
            return httpx2.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx2.TransportError:
            return False

    def token(self, station: str = STATION) -> str:
        r = httpx2.post(f"{self.url}/v1/stations/{station}/token", headers={"Authorization": f"Bearer {ADMIN}"})
        r.raise_for_status()
        return r.json()["token"]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def ledger(self) -> int:
        store = Store(str(self.db), migrate=False)
        try:
            return sum(v for k, v in store.counts().items() if k.startswith("ledger_"))
        finally:
            store.close()

    def server_rejects(self) -> list[str]:
        with contextlib.closing(sqlite3.connect(self.db)) as c:
            return [r for (r,) in c.execute("SELECT reason FROM rejects ORDER BY id")]


@pytest.fixture
def platforms(tmp_path: Path, city: Path) -> Iterator[Callable[..., Platform]]:
    made: list[Platform] = []

    def make(env: dict[str, str] | None = None) -> Platform:
        d = tmp_path / f"platform{len(made)}"
        d.mkdir()
        p = Platform(d, city / "registry.json", env)
        made.append(p)
        return p

    yield make
    for p in made:
        p.kill()


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city") / "data"
    simulate(out, stations=1, days=1, seed=11, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    return out


def copy_sources(city: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in city.glob("*.jsonl"):
        shutil.copy(f, dest / f.name)
    return dest


def lines_of(d: Path) -> list[bytes]:
    return [ln.rstrip(b"\r") for f in sorted(d.glob("*.jsonl")) for ln in f.read_bytes().split(b"\n") if ln.strip()]


def distinct(d: Path) -> int:
    return len(set(lines_of(d)))


def status(outbox: Path) -> dict:
    box = Outbox(outbox, create=False)
    try:
        return box.status()
    finally:
        box.close()


def counters(outbox: Path) -> dict[str, int]:
    """The agent's counters, all zero while it has not created its outbox yet (for polls)."""
    try:
        return status(outbox)["counters"]
    except OutboxError:
        return dict.fromkeys(COUNTERS, 0)


def settings(outbox: Path, server: str, token: str, sources: list[str], *, batch: int = 500, **kw) -> EdgeSettings:
    up = UploadSettings(
        server=server,
        token=token,
        batch=batch,
        interval_s=0.05,
        timeout_s=10,
        backoff_base_s=0.05,
        backoff_max_s=0.3,
        once_attempts=3,
    )
    return EdgeSettings(outbox=outbox, upload=up, sources=sources, poll_s=0.05, **kw)


@contextlib.contextmanager
def running(s: EdgeSettings) -> Iterator[Agent]:
    """The agent's continuous loop in a thread; stopped gracefully on exit."""
    agent = Agent(s)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the agent did not stop"


def edge_cli(*args: str, token: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**(os.environ if env is None else env), "ANXIN_LANG": "zh", "COLUMNS": "200"}
    if token is not None:
        env["ANXIN_EDGE_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "anxin.cli", *args], capture_output=True, env=env, timeout=60)


def edge_popen(*args: str, token: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "ANXIN_EDGE_TOKEN": token}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "anxin.cli", "--log", "info", "edge", "run", *args],
            stdout=subprocess.DEVNULL,
            stderr=out,
            env=env,
        )


def json_logs(text: str) -> list[dict]:
    return [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]


# ---------------------------------------------------------------- (a) a normal run
def test_normal_run_uploads_every_line_exactly_once(tmp_path: Path, city: Path, platforms) -> None:
    platform = platforms().start()
    token = platform.token()
    src = copy_sources(city, tmp_path / "pos")
    outbox = tmp_path / "edge" / "outbox.sqlite"
    args = [
        "edge",
        "run",
        "--server",
        platform.url,
        "--outbox",
        str(outbox),
        "--source",
        str(src / "*.jsonl"),
        "--once",
    ]
    r = edge_cli("--log", "info", *args, token=token)
    assert r.returncode == 0, r.stderr.decode()
    n = distinct(src)
    assert platform.ledger() == n
    st = status(outbox)
    assert st["backlog"] == 0 and st["oldest_read_us"] is None
    assert st["counters"]["read"] == n and st["counters"]["accepted"] == n and st["counters"]["duplicate"] == 0
    assert st["counters"]["uploads"] == -(-n // 500) and st["last_upload_us"]
    logs = [e for e in json_logs(r.stderr.decode()) if e["logger"] == "anxin.edge"]
    uploads = [e for e in logs if e["event"] == "uploaded"]
    assert sum(e["lines"] for e in uploads) == n and uploads[-1]["backlog"] == 0
    assert [e["backlog"] for e in uploads] == sorted((e["backlog"] for e in uploads), reverse=True)
    metrics = httpx2.get(f"{platform.url}/metrics").text
    assert f'anxin_edge_outbox_backlog{{station="{STATION}"}} 0.0' in metrics
    # a second run finds nothing new: no upload at all
    r = edge_cli(*args, token=token)
    assert r.returncode == 0 and status(outbox)["counters"]["uploads"] == st["counters"]["uploads"]
    assert platform.ledger() == n


# ---------------------------------------------------------------- (b) platform outages
def test_platform_down_then_killed_mid_run_loses_nothing(tmp_path: Path, city: Path, platforms, caplog) -> None:
    caplog.set_level("INFO", logger="anxin.edge")
    platform = platforms().start()
    token = platform.token()
    platform.stop()  # the platform is down when the agent starts
    all_lines = {f.name: f.read_bytes().splitlines(keepends=True) for f in city.glob("*.jsonl")}
    src = tmp_path / "pos"
    src.mkdir()
    for name, lines in all_lines.items():  # the first half now, the rest during the second outage
        (src / name).write_bytes(b"".join(lines[: len(lines) // 2]))
    first = distinct(src)
    outbox = tmp_path / "outbox.sqlite"
    with running(settings(outbox, platform.url, token, [str(src / "*.jsonl")], batch=100)):
        poll(lambda: status(outbox)["counters"]["read"] == first, what="the agent to read while the platform is down")
        poll(lambda: status(outbox)["last_error"], what="a failed upload")
        st = status(outbox)
        assert st["backlog"] == first and st["counters"]["uploads"] == 0 and st["oldest_read_us"]
        # the outbox notes the error before the uploader logs it: wait for the line, not assert it at once
        poll(
            lambda: any(r.getMessage() == "upload failed: will retry" for r in list(caplog.records)),
            what="the failed upload's log line",
        )
        platform.start()
        poll(lambda: status(outbox)["counters"]["confirmed"] >= 100, what="some uploads")
        platform.kill()  # SIGKILL in the middle of the run
        for name, lines in all_lines.items():
            with open(src / name, "ab") as f:
                f.write(b"".join(lines[len(lines) // 2 :]))
        total = distinct(src)
        poll(lambda: status(outbox)["counters"]["read"] == total, what="the agent to read during the outage")
        platform.start()  # the same database
        poll(lambda: status(outbox)["backlog"] == 0, 30, what="the backlog to drain")
    assert platform.ledger() == total
    c = status(outbox)["counters"]
    assert c["read"] == total and c["accepted"] + c["duplicate"] == total and c["rejected"] == 0
    assert any(r.getMessage() == "upload recovered" for r in caplog.records)
    assert f'anxin_edge_outbox_backlog{{station="{STATION}"}} 0.0' in httpx2.get(f"{platform.url}/metrics").text


# ---------------------------------------------------------------- (c) the agent killed
def test_agent_killed_mid_upload_then_once_loses_and_doubles_nothing(tmp_path: Path, city: Path, platforms) -> None:
    platform = platforms().start()
    token = platform.token()
    src = copy_sources(city, tmp_path / "pos")
    n = distinct(src)
    outbox = tmp_path / "outbox.sqlite"
    common = [
        "--server",
        platform.url,
        "--outbox",
        str(outbox),
        "--source",
        str(src / "*.jsonl"),
        "--backoff-max",
        "0.2",
    ]
    agent = edge_popen(*common, "--batch", "20", "--interval-ms", "0", token=token, log=tmp_path / "edge.log")
    try:
        poll(lambda: counters(outbox)["confirmed"] >= 300, what="some uploads")
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
    before = status(outbox)["counters"]
    assert before["confirmed"] < n, "the agent finished before it was killed: make its batches smaller"
    r = edge_cli("edge", "run", *common, "--once", token=token)
    assert r.returncode == 0, r.stderr.decode()
    assert platform.ledger() == n  # nothing lost, nothing doubled
    st = status(outbox)
    c = st["counters"]
    assert st["backlog"] == 0 and c["read"] == n and c["accepted"] + c["duplicate"] == n


def test_lost_acknowledgement_is_uploaded_again_as_duplicates(tmp_path: Path, city: Path, platforms) -> None:
    """The platform committed, the agent never recorded it (its outbox as before the
    upload): the same lines go again and come back as 409 duplicates."""
    platform = platforms()
    src = copy_sources(city, tmp_path / "pos")
    n = distinct(src)
    outbox = tmp_path / "outbox.sqlite"
    down = Agent(settings(outbox, platform.url, "no-platform-yet", [str(src / "*.jsonl")]))
    assert down.run_once() is False  # unreachable: everything read and kept
    assert status(outbox)["backlog"] == n
    with (
        contextlib.closing(sqlite3.connect(outbox)) as a,
        contextlib.closing(sqlite3.connect(tmp_path / "copy.sqlite")) as b,
    ):
        a.backup(b)
    platform.start()
    token = platform.token()
    assert Agent(settings(outbox, platform.url, token, [str(src / "*.jsonl")])).run_once() is True
    assert platform.ledger() == n
    shutil.copy(tmp_path / "copy.sqlite", outbox)  # as if killed after the server's commit
    for suffix in ("-wal", "-shm"):
        Path(f"{outbox}{suffix}").unlink(missing_ok=True)
    assert Agent(settings(outbox, platform.url, token, [str(src / "*.jsonl")])).run_once() is True
    c = status(outbox)["counters"]
    assert c["duplicate"] == n and c["accepted"] == 0 and status(outbox)["backlog"] == 0
    assert platform.ledger() == n


# ---------------------------------------------------------------- (d) growing files
def test_file_growth_partial_line_new_file_and_restart(tmp_path: Path, city: Path, platforms, caplog) -> None:
    platform = platforms().start()
    token = platform.token()
    lines = (city / "g001.settlement.jsonl").read_bytes().splitlines(keepends=True)
    tanks = (city / "g001.tank_reading.jsonl").read_bytes().splitlines(keepends=True)
    src = tmp_path / "pos"
    src.mkdir()
    pos = src / "pos.jsonl"
    outbox = tmp_path / "outbox.sqlite"
    s = settings(outbox, platform.url, token, [str(src / "*.jsonl")], batch=50)
    with running(s):
        pos.write_bytes(b"".join(lines[:100]) + lines[100][:37])  # a partial last line
        poll(lambda: status(outbox)["counters"]["confirmed"] == 100, what="100 lines")
        st = status(outbox)
        assert st["counters"]["read"] == 100
        assert st["sources"][0]["pos"] == len(b"".join(lines[:100])) and st["sources"][0]["lines"] == 100
        with open(pos, "ab") as f:  # the line completes, more follow
            f.write(lines[100][37:] + b"".join(lines[101:150]))
        poll(lambda: status(outbox)["counters"]["confirmed"] == 150, what="the completed line and 49 more")
        (src / "atg.jsonl").write_bytes(b"".join(tanks[:80]))  # a new file appears
        poll(lambda: status(outbox)["counters"]["confirmed"] == 230, what="the new file")
    with open(pos, "ab") as f:  # written while the agent is stopped
        f.write(b"".join(lines[150:200]) + b"\r\n\n")
    with running(s):  # resumes at the recorded offsets
        poll(lambda: status(outbox)["counters"]["confirmed"] == 280, what="the lines written while stopped")
        replaced = src / "atg.new"  # a replaced file (new inode) is read from its start
        replaced.write_bytes(b"".join(tanks[:90]))
        os.replace(replaced, src / "atg.jsonl")
        poll(lambda: status(outbox)["counters"]["confirmed"] == 370, what="the replaced file")
    c = status(outbox)["counters"]
    assert c["accepted"] == 290 and c["duplicate"] == 80  # only the replaced file's old lines went twice
    assert platform.ledger() == 290 == distinct(src)
    with open(src / "atg.jsonl", "wb") as f:  # rewritten in place (same inode), longer than before
        f.write(b"".join(tanks[100:300]))
    with running(s):
        poll(lambda: status(outbox)["counters"]["confirmed"] == 570, what="the rewritten file")
    assert status(outbox)["counters"]["accepted"] == 490 and platform.ledger() == 490
    assert any(r.getMessage().startswith("file replaced (its first bytes changed)") for r in caplog.records)


# ---------------------------------------------------------------- (e) refused lines
def test_rejected_and_quarantined_lines_are_kept_with_the_platforms_reason(
    tmp_path: Path, city: Path, platforms
) -> None:
    platform = platforms().start()
    token = platform.token()
    src = tmp_path / "pos"
    src.mkdir()
    good = (city / "g001.settlement.jsonl").read_bytes().splitlines()[:30]
    metering = json.loads((city / "g001.metering.jsonl").read_bytes().splitlines()[0])
    metering["volume_ml"] += 1000  # no longer what the module signed
    other = json.loads(good[0])
    other["station_id"], other["order_id"] = "S9999", "X1"
    bad = [
        b"this is not json",
        json.dumps(other).encode(),
        json.dumps(metering).encode(),
        b'{"kind":"tank_reading","pad":"' + b"x" * 70_000 + b'"}',
    ]
    (src / "pos.jsonl").write_bytes(b"\n".join(good[:10] + bad + good[10:]) + b"\n")
    outbox = tmp_path / "outbox.sqlite"
    assert Agent(settings(outbox, platform.url, token, [str(src / "*.jsonl")])).run_once() is True
    box = Outbox(outbox, create=False)
    rejected = box.rejected()
    box.close()
    assert [(r["line"], r["status"]) for r in rejected] == [
        (11, "rejected"),
        (12, "rejected"),
        (13, "quarantined"),
        (14, "rejected"),
    ]
    assert [r["body"] for r in rejected] == bad
    local = [r["reason"] for r in rejected if r["status"] == "rejected"]
    assert local == platform.server_rejects()  # the platform's own words
    assert "not valid JSON" in local[0] and "S9999" in local[1] and "70" in local[2]
    assert "signature" in rejected[2]["reason"] and rejected[2]["kind"] == "metering" and rejected[2]["key"]
    c = status(outbox)["counters"]
    assert (c["accepted"], c["rejected"], c["quarantined"], c["confirmed"]) == (30, 3, 1, 34)
    assert platform.ledger() == 31  # the quarantined record is kept as evidence


def test_refusals_keep_the_data_and_413_splits(tmp_path: Path, city: Path, platforms, caplog) -> None:
    caplog.set_level("INFO", logger="anxin.edge")
    platform = platforms({"ANXIN_MAX_BODY_BYTES": "150000"}).start()
    src = copy_sources(city, tmp_path / "pos")
    with open(src / "big.jsonl", "wb") as f:  # one line the platform can never take in a body
        f.write(b'{"kind":"tank_reading","pad":"' + b"y" * 160_000 + b'"}\n')
    n = distinct(src) - 1
    outbox = tmp_path / "outbox.sqlite"
    wrong = Agent(settings(outbox, platform.url, "not-a-token", [str(src / "*.jsonl")]))
    assert wrong.run_once() is False  # 401: nothing dropped, a clear error
    st = status(outbox)
    assert st["backlog"] == n + 1 and "401" in st["last_error"] and platform.ledger() == 0
    refused = [r for r in caplog.records if r.getMessage() == "upload refused: the data is kept"]
    assert refused and refused[0].status == 401 and refused[0].levelname == "ERROR"
    assert Agent(settings(outbox, platform.url, platform.token(), [str(src / "*.jsonl")])).run_once() is True
    assert platform.ledger() == n
    box = Outbox(outbox, create=False)
    (aside,) = box.rejected()
    box.close()
    assert aside["status"] == "too_large" and "413" in aside["reason"] and len(aside["body"]) > 160_000
    c = status(outbox)["counters"]
    assert c["accepted"] == n and c["duplicate"] == 0 and c["too_large"] == 1
    assert "upload too large: halving the batch" in [r.getMessage() for r in caplog.records]


def test_rate_limited_uploads_honour_retry_after(tmp_path: Path, city: Path, platforms, caplog) -> None:
    caplog.set_level("INFO", logger="anxin.edge")
    # one upload a second: the next upload is refused even when a loaded machine takes
    # a few hundred milliseconds over one (at 10/s it sometimes was not: no 429 at all)
    platform = platforms({"ANXIN_RATE_PER_STATION": "1", "ANXIN_BURST_PER_STATION": "1"}).start()
    src = tmp_path / "pos"
    src.mkdir()
    (src / "pos.jsonl").write_bytes(b"".join((city / "g001.settlement.jsonl").read_bytes().splitlines(True)[:60]))
    outbox = tmp_path / "outbox.sqlite"
    s = settings(outbox, platform.url, platform.token(), [str(src / "*.jsonl")], batch=20)
    started = time.monotonic()
    assert Agent(s).run_once() is True
    waits = [r for r in caplog.records if r.getMessage() == "upload failed: will retry" and r.status == 429]
    assert waits and all(r.retry_in_s >= 1 for r in waits)  # Retry-After: 1, not the 0.3 s backoff cap
    assert time.monotonic() - started >= len(waits)
    assert platform.ledger() == 60 and status(outbox)["counters"]["uploads"] == 3


# ---------------------------------------------------------------- (f) SIGTERM and status
def test_sigterm_stops_gracefully_and_status_reports_the_backlog(tmp_path: Path, city: Path) -> None:
    src = copy_sources(city, tmp_path / "pos")
    n = distinct(src)
    outbox = tmp_path / "outbox.sqlite"
    log = tmp_path / "edge.log"
    dead = f"http://127.0.0.1:{free_port()}"
    agent = edge_popen(
        "--server",
        dead,
        "--outbox",
        str(outbox),
        "--source",
        str(src / "*.jsonl"),
        "--backoff-max",
        "0.2",
        token="t",
        log=log,
    )
    try:
        poll(
            lambda: counters(outbox)["read"] == n and status(outbox)["last_error"],
            what="the agent to read everything and fail to upload",
        )
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(15) == 0
    finally:
        agent.kill()
    events = [e["event"] for e in json_logs(log.read_text())]
    assert "stopping" in events and events[-1] == "edge agent stopped"

    r = edge_cli("edge", "status", "--outbox", str(outbox))
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    assert "待上传记录" in out and f"{n:,}" in out and "最早待传记录已等待" in out and "从未" in out
    assert "最近错误" in out and "ConnectError" in out and "g001.metering.jsonl" in out
    r = edge_cli("--lang", "en", "edge", "status", "--outbox", str(outbox))
    assert "Lines waiting (backlog)" in r.stdout.decode() and "never" in r.stdout.decode()
    r = edge_cli("edge", "status", "--outbox", str(outbox), "--json")
    data = json.loads(r.stdout)
    assert data["backlog"] == n and data["counters"]["uploads"] == 0 and data["oldest_read_us"] > 0
    r = edge_cli("edge", "status", "--outbox", str(tmp_path / "nope.sqlite"))
    assert r.returncode == 2 and "nope.sqlite" in r.stderr.decode()
    r = edge_cli(
        "edge",
        "run",
        "--server",
        dead,
        "--outbox",
        str(outbox),
        "--source",
        "x",
        env={k: v for k, v in os.environ.items() if k != "ANXIN_EDGE_TOKEN"},
    )
    assert r.returncode == 2 and "ANXIN_EDGE_TOKEN" in r.stderr.decode()


# ---------------------------------------------------------------- MQTT source
def test_mqtt_payloads_are_uploaded(tmp_path: Path, city: Path, platforms) -> None:
    import paho.mqtt.client as mqtt

    if not reachable(MQTT_URL, 1883):
        missing(f"the MQTT broker at {MQTT_URL}")
    u = MqttUrl.parse(MQTT_URL.rstrip("/") + "/x")
    platform = platforms().start()
    topic = f"anxin-test/{uuid.uuid4().hex[:8]}/records"
    lines = (city / "g001.settlement.jsonl").read_bytes().splitlines()[:60]
    outbox = tmp_path / "outbox.sqlite"
    s = settings(outbox, platform.url, platform.token(), [], mqtt=f"mqtt://{u.host}:{u.port}/{topic}")
    with running(s) as agent:
        assert agent.mqtt is not None and agent.mqtt.subscribed.wait(10)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect(u.host, u.port)
        pub.loop_start()
        for k in range(0, 60, 20):  # three messages of 20 NDJSON lines
            pub.publish(topic, b"\n".join(lines[k : k + 20]) + b"\n", qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        poll(lambda: status(outbox)["counters"]["confirmed"] == 60, what="the MQTT lines")
        client_id = agent.mqtt.client_id
    assert platform.ledger() == 60
    assert status(outbox)["counters"]["accepted"] == 60
    cleanup = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    cleanup.connect(u.host, u.port)  # forget the agent's persistent session on the broker
    cleanup.disconnect()
