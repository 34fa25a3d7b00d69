import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from services import fresh_pg_database  # noqa: E402

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
