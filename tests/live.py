"""Helpers for tests of the live service: a simulated city's lines as stations upload
them (``anxin.sim.replay``), and ``anxin serve`` as a child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from anxin.sim.replay import arrival_lines, uploads

__all__ = ["arrival_lines", "uploads", "Server", "ADMIN", "free_port"]


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
        cmd = [
            sys.executable,
            "-m",
            "anxin.cli",
            "--log",
            "info",
            "serve",
            "--db",
            self.db,
            "--port",
            str(self.port),
            "--registry",
            str(self.registry),
            "--admin-token",
            ADMIN,
        ]
        env = {**os.environ, "ANXIN_COOKIE_SECURE": "false"}  # plain HTTP on loopback (the cookies' Secure flag)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log.open("ab"), env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"anxin serve exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx2.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
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
