"""Event time: RFC 3339 timestamps to integer microseconds since the Unix epoch and back.

The engine works on integers (exact, fast to compare); output is RFC 3339 in the
configured local offset (UTC+08:00 by default).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from anxin.keyed import KeyedError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
US_PER_H = 60 * US_PER_MIN
US_PER_DAY = 24 * US_PER_H

LOCAL_TZ = timezone(timedelta(hours=8))
LOCAL_OFFSET_US = 8 * US_PER_H

# Plausible event times: anything outside is an impossible timestamp, not a record.
MIN_US = (datetime(2000, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US
MAX_US = (datetime(2100, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US


class TimestampError(KeyedError, ValueError):
    """A timestamp that is not one. ``str(exc)`` is the contract's English (the reason a
    station reads when its line is rejected: it does not change with the platform's
    language); ``exc.text(lang)`` words it for an operator (``--as-of``, ``--until``)."""

    context = "time_error"
    str_lang = "en"


def to_us(dt: datetime) -> int:
    """Aware datetime → µs since epoch; naive or implausible datetimes are errors."""
    if dt.tzinfo is None:
        raise TimestampError("no_offset")
    us = (dt - EPOCH) // ONE_US
    if not MIN_US <= us < MAX_US:
        raise TimestampError("out_of_range", when=dt.isoformat())
    return us


def parse_ts(text: str) -> int:
    """RFC 3339 string → µs since epoch."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TimestampError("not_rfc3339", text=text) from exc
    return to_us(dt)


def format_ts(us: int, tz: timezone = LOCAL_TZ) -> str:
    """µs since epoch → RFC 3339 with milliseconds in the given offset."""
    dt = (EPOCH + timedelta(microseconds=us)).astimezone(tz)
    return dt.isoformat(timespec="milliseconds")


def local_day(us: int, offset_us: int = LOCAL_OFFSET_US) -> int:
    """Calendar day number (days since epoch) in local time."""
    return (us + offset_us) // US_PER_DAY
