"""Small helpers on SQLAlchemy results."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Numeric
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


def inserted_id(res: CursorResult[Any]) -> int:
    """The integer primary key of the row a single-row ``INSERT`` made.

    SQLAlchemy types ``inserted_primary_key`` as optional: it is None only for an
    ``INSERT`` that yielded no key row, which the autoincrement ids of our tables
    always do (an executemany or a non-``INSERT`` raises before that)."""
    pk = res.inserted_primary_key
    if pk is None:
        raise ValueError("the INSERT returned no primary key")
    return int(pk[0])


class int_sum(FunctionElement[Any]):
    """The sum of an integer column, 0 when there are no rows, that cannot overflow:
    SQLite's ``SUM`` raises past 2⁶³ (a hostile station's saturated daily rows, summed
    over a year, get there), so on SQLite it is ``total()`` (floating point, exact to
    2⁵³); PostgreSQL's ``sum(bigint)`` is already a numeric."""

    inherit_cache = True
    type = Numeric()


@compiles(int_sum)
def _int_sum_default(element: int_sum, compiler: Any, **kw: Any) -> str:
    return f"coalesce(sum({compiler.process(element.clauses, **kw)}), 0)"


@compiles(int_sum, "sqlite")
def _int_sum_sqlite(element: int_sum, compiler: Any, **kw: Any) -> str:
    return f"total({compiler.process(element.clauses, **kw)})"
