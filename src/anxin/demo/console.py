"""The demo serves the live service's console while it replays, so a visitor can
watch alarms arrive and triage them (``anxin demo --serve``)."""

from __future__ import annotations

import threading
import time

import uvicorn

from anxin.auth import create_user, get_user
from anxin.ingest.service import IngestService
from anxin.logs import uvicorn_log_config
from anxin.serve.app import create_app
from anxin.serve.config import ServeConfig

# Demo accounts (the demo's database only; printed for the visitor).
DEMO_USERS = (
    ("regulator", "张科长", "regulator", ()),
    ("inspector", "李检查员", "inspector", ()),
    ("operator", "王站长", "operator", ("S0001",)),
)
DEMO_PASSWORD = "anxin-demo-2026"


def demo_users(service: IngestService) -> list[tuple[str, str, str]]:
    """Create the demo accounts once; (username, role, password) for the console's printout."""
    now = time.time_ns() // 1000
    for name, display, role, stations in DEMO_USERS:
        if get_user(service.store, name) is None:
            create_user(
                service.store,
                username=name,
                display_name=display,
                role=role,
                password=DEMO_PASSWORD,
                stations=stations,
                actor="anxin demo",
                reason="demo accounts",
                now_us=now,
            )
    return [(name, role, DEMO_PASSWORD) for name, _, role, _ in DEMO_USERS]


class ConsoleServer:
    """uvicorn in a background thread, around the demo's ingest service."""

    def __init__(self, service: IngestService, *, host: str = "127.0.0.1", port: int = 8080) -> None:
        # Plain HTTP on this machine: the cookies cannot be Secure here, and no proxy is in front.
        app = create_app(ServeConfig(db=service.store.url, host=host, port=port, cookie_secure=False), service)
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_config=uvicorn_log_config(),  # anxin's JSON lines, at its level (the requests not logged)
                log_level=None,
                access_log=False,
                proxy_headers=False,
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="anxin-demo-console", daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self, timeout: float = 10.0) -> bool:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        return bool(self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
