import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

try:
    from _pytest.nodeid import NodeId  # pytest ≥ 9
except ImportError:  # pytest 8 (requirements/lowest.txt)
    NodeId = None  # type: ignore[assignment,misc]

sys.path.insert(0, str(Path(__file__).parent))
# The CLI speaks the machine's locale when ANXIN_LANG is unset (an en_US machine gets
# English): the tests' expectations must not depend on where they run.
os.environ.setdefault("ANXIN_LANG", "zh")
# Shared fixture modules that test modules also import from: rewritten before that import,
# so their asserts explain themselves (and pytest does not warn it could not rewrite them).
pytest.register_assert_rewrite("demo_city", "exports_city", "receipt_pages")

from hypothesis import HealthCheck, settings  # noqa: E402
from services import drain, fresh_pg_database, launch_chromium, need_chromium  # noqa: E402

# Speed is measured by bench/, never asserted by a test: hypothesis's default deadline
# (200 ms an example) and its too-slow health check are timing assertions, and on a loaded
# 2-core CI machine they fail tests whose property holds. A failing example's blob is
# printed, so the failure can be replayed with @reproduce_failure.
settings.register_profile("anxin", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile("anxin")

pytest_plugins = ["accounting", "pytester"]  # every collected test runs (tests/accounting.py)

from anxin.store.database import Store  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--dist loadgroup`` on pytest ≥ 9: pytest-xdist (3.8) sends a test marked
    ``xdist_group("g")`` to the worker of its group by a node id ending in ``@g``, which it
    makes by setting the item's ``_nodeid`` — but pytest 9 derives ``nodeid`` from ``_id``,
    so the suffix never showed and every group was ignored (the modules sharing a demo city,
    a wheel build or a NATS cluster built it in each worker, and tests guarding a shared
    service ran beside each other). The suffix is put where pytest 9 reads it; pytest 8
    (requirements/lowest.txt) keeps xdist's own."""
    if NodeId is None or not getattr(config.option, "loadgroup", False):
        return  # (pytest < 9: xdist's hook does it)
    for item in items:
        if not isinstance(getattr(item, "_id", None), NodeId):
            continue
        groups = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        )
        if groups and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The PostgreSQL databases the tests made are dropped in the background
    (tests/services.py): wait for the last before the process ends."""
    for failed in drain():
        session.config.get_terminal_writer().line(f"could not drop the test database {failed}", yellow=True)


@pytest.fixture(autouse=True)
def _process_language(monkeypatch):
    """``--lang`` writes the process's language (ANXIN_LANG) for the workers it starts:
    a test that runs a command in English must not leave the next test's in English."""
    monkeypatch.setenv("ANXIN_LANG", os.environ.get("ANXIN_LANG", "zh"))


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory) -> Path:
    """An empty SQLite store at the newest migration, made once per test process: the
    ``store`` fixture's start (running the migrations takes a second; a copy, milliseconds)."""
    path = tmp_path_factory.mktemp("migrated") / "db.sqlite"
    Store(str(path)).close()
    return path


@pytest.fixture(scope="session")
def _migrated_pg() -> Iterator[str]:
    """The same on PostgreSQL: a database at the newest migration, the template that
    ``store`` copies (``CREATE DATABASE … TEMPLATE``), dropped at the end of the session."""
    with fresh_pg_database() as url:
        Store(url).close()  # (disposed: nobody stays connected to a template)
        yield url


@pytest.fixture
def migrated_sqlite(_migrated_sqlite: Path, tmp_path: Path) -> Path:
    """``tmp_path/db.sqlite``, a new empty SQLite store at the newest migration (a copy of
    the one migrated once per test process), for a fixture that opens its own Store."""
    path = tmp_path / "db.sqlite"
    with closing(sqlite3.connect(_migrated_sqlite)) as src, closing(sqlite3.connect(path)) as dst:
        src.backup(dst)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The store on SQLite and on a fresh real PostgreSQL database (tests/services.py), each
    new and empty, at the newest migration: a copy of one migrated once per test process
    (the schema is all the migrations make; Store() still checks it is at the head)."""
    if request.param == "sqlite":
        s = Store(str(request.getfixturevalue("migrated_sqlite")))
        yield s
        s.close()
    else:
        with fresh_pg_database(template=request.getfixturevalue("_migrated_pg")) as url:
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
