import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from services import fresh_pg_database  # noqa: E402

pytest_plugins = ["accounting", "pytester"]  # every collected test runs (tests/accounting.py)

from anxin.store.database import Store  # noqa: E402


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


CHROMIUM = os.environ.get("ANXIN_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing (CI installs Debian's chromium)", pytrace=False)
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
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
        yield b
        b.close()
