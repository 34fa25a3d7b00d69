"""Cases (案件): from a confirmed alarm, a substantiated complaint or an inspection's
findings to a decision (处罚决定) and closure.

Statuses (one way, never back; the graph is :mod:`anxin.supervision.lifecycle`'s)::

    open ──update──▶ investigating ──penalize──▶ decided ──close──▶ closed
      └───────────────penalize──────────────────▶ decided

* ``open``: opened (by :func:`open_case`, or by confirming an alarm in the workflow).
* ``investigating``: parties (当事人) or violations (违法事实) recorded by :func:`update`;
  :func:`update` may be repeated while open or investigating.
* ``decided``: the decision (处罚决定) recorded by :func:`penalize` — the penalty in fen
  (0 allowed: 不予处罚 with its reasons in the decision text) and the number of main
  boards (主板) confiscated.
* ``closed``: :func:`close`, with a reason; only a decided case closes.

Every change is one transaction with one hash-chained audit entry (subject ``case:<id>``);
nothing is written when a change is refused. Opening is idempotent per source: a
second open for the same source returns the case already there (on PostgreSQL an
advisory lock on the source serialises concurrent opens; on SQLite the write lock does).

The case, its words and checks are here; the changes are written by :mod:`.service`,
read by :mod:`.queries` — both re-exported here, so ``cases.open_case`` is what it was.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

from anxin.i18n.po import table
from anxin.supervision.errors import Refusal, Words, words_table
from anxin.supervision.lifecycle import CASE_STATUSES

STATUSES = CASE_STATUSES  # the lifecycle's, under this module's old name
STATUS_NAMES_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("case_status").items()}
# A case's sources (alarm, complaint, inspection) in words (the catalog's refusal_words).
SOURCE_KINDS: dict[str, Words] = words_table("case_source")
# What a case's refusals name (a required input, a list that is malformed), in words.
INPUTS: dict[str, Words] = words_table("case_input")
_SOURCE = re.compile(r"^(alarm|complaint|inspection):([A-Za-z0-9_.\-]{1,128})$")


class Party(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    role: str  # e.g. 经营者 operator, 法定代表人 legal representative, 加油员 attendant
    id_no: str = ""  # 统一社会信用代码 / 身份证号


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    code: str  # the provision, e.g. 《计量法》第二十六条
    text: str


class Case(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    station_id: str
    source: str
    status: str
    opened_us: int
    opened_by: str
    summary: str
    parties: list[Party] = []
    violations: list[Violation] = []
    penalty_fen: int | None = None
    boards_confiscated: int | None = None
    decision: str | None = None
    closed_us: int | None = None


class CaseError(Refusal):
    """The change is not allowed (unknown case, wrong status, bad input); nothing was written.
    ``code`` names it (``case_…``, stable), ``text("zh")`` / ``text("en")`` words it
    (:data:`anxin.supervision.errors.ERRORS`), ``message`` is the Chinese, ``str()``
    "code: Chinese"."""


class UnknownCase(CaseError, LookupError):
    pass


def as_dict(case: Case) -> dict[str, Any]:
    return msgspec.to_builtins(case)


def _lock_key(source: str) -> int:
    return int.from_bytes(hashlib.blake2b(b"case\0" + source.encode(), digest_size=8).digest(), "big", signed=True)


def _status(status: str) -> Words:
    return Words(STATUS_NAMES_ZH.get(status, status), status)


def _source(source: str) -> Words:
    """``complaint:12`` as 投诉 #12 in Chinese (as it is in English)."""
    kind, _, ref = source.partition(":")
    return Words(f"{SOURCE_KINDS[kind].zh} #{ref}" if kind in SOURCE_KINDS else source, source)


def _need(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        field = what if " " not in what else "parties" if what.startswith("party") else "violations"
        raise CaseError("case_required_field", field=field, what=INPUTS[what])
    return value.strip()


def _convert(items: Any, into: Any, what: str) -> Any:
    try:
        return msgspec.convert(items, into)
    except msgspec.ValidationError as exc:
        raise CaseError("case_malformed", field=what, what=INPUTS[what], detail=str(exc)) from None


# The statements (they use the case and its checks above: imported last).
from anxin.supervision.cases.queries import by_source, get, listing  # noqa: E402
from anxin.supervision.cases.service import (  # noqa: E402
    audit_opened,
    close,
    insert_case,
    open_case,
    penalize,
    update,
)

__all__ = [
    "INPUTS",
    "SOURCE_KINDS",
    "STATUSES",
    "STATUS_NAMES_ZH",
    "Case",
    "CaseError",
    "Party",
    "UnknownCase",
    "Violation",
    "as_dict",
    "audit_opened",
    "by_source",
    "close",
    "get",
    "insert_case",
    "listing",
    "open_case",
    "penalize",
    "update",
]
