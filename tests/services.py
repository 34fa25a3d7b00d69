"""Real external services for tests: PostgreSQL (a fresh database per use) and the
MQTT broker. Addresses from the environment, these machine defaults otherwise. A
missing service skips the test locally; in CI (CI=true) it fails it instead."""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("ANXIN_CHROMIUM", "/usr/bin/chromium")
PG_URL = os.environ.get("ANXIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MQTT_URL = os.environ.get("ANXIN_TEST_MQTT", "mqtt://127.0.0.1:1883")
NATS_URL = os.environ.get("ANXIN_TEST_NATS", "nats://127.0.0.1:4222")


def missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is not reachable, and CI needs it", pytrace=False)
    pytest.skip(f"{what} is not reachable")


def reachable(url: str, default_port: int) -> bool:
    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def fresh_pg_database(template: str | None = None) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); yields its URL. ``template``:
    the URL of a database to copy instead (PostgreSQL's ``CREATE DATABASE … TEMPLATE``;
    nobody may be connected to it)."""
    if not reachable(PG_URL, 5432):
        missing(f"PostgreSQL at {PG_URL}")
    import psycopg

    name = f"anxin_t_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{urlparse(template).path.lstrip("/")}"' if template else ""
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"{copy}')
    u = urlparse(PG_URL)
    try:
        yield u._replace(path=f"/{name}").geturl()
    finally:
        _dropper.drop(name)


class _Dropper:
    """The databases the tests are done with, dropped in the background, in order: a DROP
    DATABASE waits for PostgreSQL's checkpoint (0.2–3 s on a loaded machine), which the next
    test need not wait for. :func:`drain` (tests/conftest.py, at the end of the session)
    waits for the last and says which could not be dropped."""

    def __init__(self) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.failed: list[str] = []

    def drop(self, name: str) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="drop-pg-databases", daemon=True)
                self.thread.start()
        self.queue.put(name)

    def _run(self) -> None:
        import psycopg

        while True:
            name = self.queue.get()
            try:
                with psycopg.connect(PG_URL, autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # reported by drain()
                self.failed.append(f"{name}: {exc}")
            finally:
                self.queue.task_done()


_dropper = _Dropper()


def drain() -> list[str]:
    """Wait until every database handed back is dropped; those that could not be, and why."""
    _dropper.queue.join()
    return list(_dropper.failed)


def need_nats() -> str:
    """The machine's NATS server (JetStream on): its URL, or skip locally / fail in CI."""
    if not reachable(NATS_URL, 4222):
        missing(f"NATS at {NATS_URL}")
    return NATS_URL


def drop_cluster(cfg) -> None:
    """Delete a test cluster's stream and lease bucket from the machine's NATS."""
    import asyncio

    from anxin.cluster.stream import Names, connect

    async def drop() -> None:
        names = Names(cfg.cluster)
        try:
            nc = await asyncio.wait_for(connect(cfg, "test-cleanup"), 10)
        except Exception:  # (a cluster left broken by a test: nothing to clean)
            return
        js = nc.jetstream(timeout=5)
        for name in (names.stream, "KV_" + names.leases):
            with contextlib.suppress(Exception):
                await js.delete_stream(name)
        await nc.close()

    asyncio.run(drop())


def wait_for(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition", every: float = 0.02):
    """Poll ``cond`` until it is truthy (its value is returned) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def need_chromium() -> None:
    """Debian's chromium must be there (CI installs it; never a downloaded browser)."""
    if not os.path.exists(CHROMIUM):
        missing(f"{CHROMIUM} (CI installs Debian's chromium)")


class ChineseBrowser:
    """A browser whose pages ask for Chinese (``Accept-Language: zh-CN``), as a Chinese
    regulator's does: the console answers each request in the language it asks for, and
    headless chromium asks for en-US unless told. A test may still ask for another."""

    def __init__(self, browser) -> None:
        self._browser = browser

    def new_context(self, **kw):
        kw.setdefault("locale", "zh-CN")
        return self._browser.new_context(**kw)

    def new_page(self, **kw):
        kw.setdefault("locale", "zh-CN")
        return self._browser.new_page(**kw)

    def __getattr__(self, name: str):
        return getattr(self._browser, name)


def launch_chromium(playwright):
    """Headless Debian chromium, with none of its own calls home (the machine's network is
    closed), its pages asking for Chinese (:class:`ChineseBrowser`)."""
    return ChineseBrowser(
        playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
    )
