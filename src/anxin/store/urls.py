"""Database addresses: a SQLite path or a PostgreSQL URL, normalised for SQLAlchemy and
shown without their password."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for an in-memory database or another dialect)."""
    url = normalise_url(url)
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return None if path in ("", ":memory:") else Path(path)


def display_url(url: str) -> str:
    """The database as it may be shown or logged: a path as given, a URL without its password."""
    if "://" not in url:
        return url
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    try:
        u = make_url(url)
        return u.set(drivername=u.get_backend_name()).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: show only its scheme
        return url.split("://", 1)[0] + "://…"


def normalise_url(url: str) -> str:
    """``postgresql://…`` → the psycopg 3 driver; a plain path → SQLite."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return sqlite_url(Path(url))
    return url


def one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error: its text is enough
    text = str(orig if orig is not None else exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("(Background")]
    return "; ".join(lines) or type(exc).__name__
