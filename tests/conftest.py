import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# The CLI speaks the machine's locale when ANXIN_LANG is unset (an en_US machine gets
# English): the tests' expectations must not depend on where they run.
os.environ.setdefault("ANXIN_LANG", "zh")
# Shared fixture modules that test modules also import from: rewritten before that import,
# so their asserts explain themselves (and pytest does not warn it could not rewrite them).
pytest.register_assert_rewrite("demo_city", "exports_city", "receipt_pages")

from services import fresh_pg_database, launch_chromium, need_chromium  # noqa: E402

pytest_plugins = ["accounting", "pytester"]  # every collected test runs (tests/accounting.py)

from anxin.store.database import Store  # noqa: E402


@pytest.fixture(autouse=True)
def _process_language(monkeypatch):
    """``--lang`` writes the process's language (ANXIN_LANG) for the workers it starts:
    a test that runs a command in English must not leave the next test's in English."""
    monkeypatch.setenv("ANXIN_LANG", os.environ.get("ANXIN_LANG", "zh"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The store on SQLite and on a fresh real PostgreSQL database (tests/services.py)."""
    if request.param == "sqlite":
        s = Store(str(tmp_path / "db.sqlite"))
        yield s
        s.close()
    else:
        with fresh_pg_database() as url:
            s = Store(url)
            yield s
            s.close()


SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright (never a downloaded browser)."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
