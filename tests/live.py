"""Helpers for tests of the live service: a simulated city's lines in the order the
batch check feeds them, grouped into uploads per station."""

from __future__ import annotations

import heapq
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import orjson

from anxin.check.pipeline import REJECT_T
from anxin.check.reader import data_files
from anxin.contract.parse import Parsed, parse_line


def arrival_lines(data_dir: Path) -> list[tuple[str | None, bytes]]:
    """(station_id or None, line) of every non-blank line, merged by event time as
    ``anxin check`` merges its sources."""
    per_file = []
    for fi, path in enumerate(data_files(data_dir)):
        items = []
        for n, raw in enumerate(path.read_bytes().split(b"\n"), 1):
            if not raw.strip():
                continue
            p = parse_line(raw)
            items.append((p.t if isinstance(p, Parsed) else REJECT_T, fi, n, raw))
        per_file.append(items)
    out = []
    for _t, _fi, _n, raw in heapq.merge(*per_file):
        try:
            sid = orjson.loads(raw).get("station_id")
        except (orjson.JSONDecodeError, AttributeError):
            sid = None
        out.append((sid if isinstance(sid, str) else None, raw))
    return out


def uploads(lines: list[tuple[str | None, bytes]], default_station: str, size: int = 500) -> list[tuple[str, list[bytes]]]:
    """Per station, its lines in order, cut into uploads of ``size``; lines of no known
    station go with ``default_station`` (they are rejected either way)."""
    per: dict[str, list[bytes]] = defaultdict(list)
    for sid, raw in lines:
        per[sid or default_station].append(raw)
    out = []
    for sid, rows in per.items():
        out.extend((sid, rows[i : i + size]) for i in range(0, len(rows), size))
    return out


ADMIN = "admin-token-for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``anxin serve`` as a child process."""

    def __init__(self, db: str, registry: Path, log: Path) -> None:
        self.db, self.registry, self.log = db, registry, log
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        cmd = [sys.executable, "-m", "anxin.cli", "--log", "info", "serve", "--db", self.db, "--port", str(self.port),
               "--registry", str(self.registry), "--admin-token", ADMIN]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log.open("ab"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"anxin serve exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("anxin serve did not become ready")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
