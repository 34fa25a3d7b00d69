"""What complaints and inspections share: their settings, the error type and the check of
a text input; the write transaction, the audit adapter and the row helpers are
re-exported here from where they are (:mod:`anxin.supervision.service`,
:mod:`anxin.supervision.queries`)."""

from __future__ import annotations

import msgspec

from anxin.contract.times import US_PER_DAY, US_PER_H
from anxin.store.transactions import write_transaction
from anxin.supervision.errors import Refusal, Words, field_words
from anxin.supervision.queries import history, in_list
from anxin.supervision.service import audit

__all__ = [
    "DEFAULT_SETTINGS",
    "PUBLIC",
    "SYSTEM",
    "SupervisionError",
    "SupervisionSettings",
    "audit",
    "history",
    "in_list",
    "write_transaction",
]

PUBLIC = "public"  # the actor of what the public submits (complaints, 你点我检 requests)
SYSTEM = "system"


class SupervisionSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Deadlines and limits of complaint handling and inspections (times in µs)."""

    complaint_deadline_us: int = 15 * US_PER_DAY  # 投诉办结时限
    rectification_deadline_us: int = 10 * US_PER_DAY  # 整改期限
    link_window_us: int = 2 * US_PER_H  # ± around the complaint's time for linking records
    order_lookback_us: int = 90 * US_PER_DAY  # an order number is looked up this far before the complaint
    link_max_per_kind: int = 20  # the nearest ones are linked, no more than this per kind
    text_max_chars: int = 2000
    attachment_max_bytes: int = 5 * 1024 * 1024
    attachments_max: int = 5
    attachments_total_max_bytes: int = 10 * 1024 * 1024  # all the files of one complaint
    # What an attachment may be, judged by its content (its first bytes), never by the name
    # or the type the sender declared: photos (JPEG, PNG) and PDF receipts.
    attachment_types: tuple[str, ...] = ("image/jpeg", "image/png", "application/pdf")
    future_slack_us: int = 10 * 60 * 1_000_000  # an event time at most this far past "now" (clock skew)


DEFAULT_SETTINGS = SupervisionSettings()


class SupervisionError(Refusal):
    """A refused input or step of a complaint or an inspection. ``code`` names it (stable,
    for pages and tests); ``field`` names the offending input when there is one; the
    words are :data:`anxin.supervision.errors.ERRORS`' — ``text("zh")`` / ``text("en")``,
    ``message`` the Chinese, ``str()`` "code: Chinese"."""


def need_text(value: str | None, field: str, *, max_chars: int, min_chars: int = 1, what: Words | None = None) -> str:
    """``value`` stripped, checked for length and NUL (PostgreSQL refuses NUL in text).
    ``what`` is the input's name in words (default: the catalog's for ``field``)."""
    what = what or field_words(field)
    if not isinstance(value, str):
        raise SupervisionError("missing", field=field, what=what)
    v = value.strip()
    if len(v) < min_chars:
        raise SupervisionError("empty", field=field, what=what)
    if len(v) > max_chars:
        raise SupervisionError("too_long", field=field, what=what, max_chars=max_chars)
    if "\x00" in v:
        raise SupervisionError("bad_char", field=field, what=what)
    return v
