"""Small helpers on SQLAlchemy results."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult


def inserted_id(res: CursorResult[Any]) -> int:
    """The integer primary key of the row a single-row ``INSERT`` made.

    SQLAlchemy types ``inserted_primary_key`` as optional: it is None only for an
    ``INSERT`` that yielded no key row, which the autoincrement ids of our tables
    always do (an executemany or a non-``INSERT`` raises before that)."""
    pk = res.inserted_primary_key
    if pk is None:
        raise ValueError("the INSERT returned no primary key")
    return int(pk[0])
