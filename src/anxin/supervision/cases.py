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
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec
from sqlalchemy import Connection, select, text
from sqlalchemy import update as sql_update

from anxin.audit.chain import append as audit_append
from anxin.i18n.po import table
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id
from anxin.store.transactions import write_transaction
from anxin.supervision.errors import Refusal, Words
from anxin.supervision.lifecycle import CASE_STATUSES, TransitionError, case_next

STATUSES = CASE_STATUSES  # the lifecycle's, under this module's old name
STATUS_NAMES_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("case_status").items()}
SOURCE_KINDS = {
    "alarm": Words("报警", "alarm"),
    "complaint": Words("投诉", "complaint"),
    "inspection": Words("检查", "inspection"),
}
# What a case's refusals name (a required input, a list that is malformed), in words.
INPUTS = {
    "actor": Words("操作人", "actor"),
    "summary": Words("案情摘要", "summary"),
    "party name": Words("当事人名称", "party name"),
    "party role": Words("当事人身份", "party role"),
    "violation code": Words("违反的法律条款", "violation code"),
    "violation text": Words("违法事实", "violation text"),
    "decision": Words("处罚决定", "decision"),
    "reason": Words("结案理由", "reason"),
    "parties": Words("当事人", "parties"),
    "violations": Words("违法事实", "violations"),
    "penalty_fen": Words("罚款金额（分）", "penalty_fen"),
    "boards_confiscated": Words("没收主板数量", "boards_confiscated"),
}
_SOURCE = re.compile(r"^(alarm|complaint|inspection):([A-Za-z0-9_.\-]{1,128})$")
_C = T.cases.c


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


def _case(row: Any) -> Case:
    return Case(
        id=int(row.id),
        station_id=row.station_id,
        source=row.source,
        status=row.status,
        opened_us=int(row.opened_us),
        opened_by=row.opened_by,
        summary=row.summary,
        parties=msgspec.convert(row.parties or [], list[Party]),
        violations=msgspec.convert(row.violations or [], list[Violation]),
        penalty_fen=row.penalty_fen,
        boards_confiscated=row.boards_confiscated,
        decision=row.decision,
        closed_us=row.closed_us,
    )


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


def _source_station(conn: Connection, kind: str, ref: str) -> str | None:
    """The station the source belongs to, or None when the source does not exist."""
    if kind == "alarm":
        return conn.execute(select(T.alarms.c.station_id).where(T.alarms.c.alarm_id == ref)).scalar_one_or_none()
    if not ref.isdigit():
        return None
    table = T.complaints if kind == "complaint" else T.inspections
    return conn.execute(select(table.c.station_id).where(table.c.id == int(ref))).scalar_one_or_none()


def open_case(store: Store, *, station_id: str, source: str, summary: str, actor: str, now_us: int) -> int:
    """Open a case for ``source`` (``alarm:<id>``, ``complaint:<id>`` or ``inspection:<id>``)
    and return its id; the existing case's id when one was already opened for it."""
    actor = _need(actor, "actor")
    summary = _need(summary, "summary")
    m = _SOURCE.match(source or "")
    if m is None:
        raise CaseError("case_bad_source", field="source", source=source)
    with write_transaction(store) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(source)})
        existing = conn.execute(
            select(_C.id, _C.station_id).where(_C.source == source).order_by(_C.id).limit(1)
        ).first()
        if existing is not None:
            if existing.station_id != station_id:
                raise CaseError(
                    "case_source_elsewhere",
                    field="source",
                    source=_source(source),
                    owner=existing.station_id,
                    station_id=station_id,
                )
            return int(existing.id)
        owner = _source_station(conn, m.group(1), m.group(2))
        if owner is None:
            raise CaseError("case_no_source", field="source", kind=SOURCE_KINDS[m.group(1)], ref=m.group(2))
        if owner != station_id:
            raise CaseError(
                "case_source_elsewhere", field="source", source=_source(source), owner=owner, station_id=station_id
            )
        case_id = insert_case(conn, station_id=station_id, source=source, summary=summary, actor=actor, now_us=now_us)
        audit_opened(conn, case_id, station_id=station_id, source=source, summary=summary, actor=actor, now_us=now_us)
    return case_id


def insert_case(conn: Connection, *, station_id: str, source: str, summary: str, actor: str, now_us: int) -> int:
    """立案 in the caller's transaction: the case row, status ``open`` — the one way a case
    starts, whether from a complaint, an inspection or a confirmed alarm (whose triage
    checks its own source). Its ``case.open`` entry follows with :func:`audit_opened`
    (a confirmed alarm writes its own entry between the two)."""
    return inserted_id(
        conn.execute(
            T.cases.insert().values(
                station_id=station_id,
                source=source,
                status="open",
                opened_us=now_us,
                opened_by=actor,
                summary=summary,
                parties=[],
                violations=[],
            )
        )
    )


def audit_opened(
    conn: Connection, case_id: int, *, station_id: str, source: str, summary: str, actor: str, now_us: int
) -> None:
    """The ``case.open`` entry of the case's history (its first)."""
    audit_append(
        conn,
        actor=actor,
        action="case.open",
        subject=f"case:{case_id}",
        reason=summary,
        data={"source": source, "station_id": station_id, "status": "open"},
        now_us=now_us,
    )


def _locked(conn: Connection, case_id: int) -> Any:
    row = conn.execute(select(T.cases).where(_C.id == case_id).with_for_update()).first()
    if row is None:
        raise UnknownCase("case_unknown", case_id=case_id)
    return row


def _change(
    conn: Connection,
    row: Any,
    values: dict[str, Any],
    *,
    action: str,
    actor: str,
    reason: str,
    data: dict[str, Any],
    now_us: int,
) -> None:
    res = conn.execute(sql_update(T.cases).where(_C.id == row.id, _C.status == row.status).values(**values))
    if res.rowcount != 1:
        raise CaseError("case_changed", case_id=row.id)
    data = {"before": row.status, "after": values.get("status", row.status), **data}
    audit_append(conn, actor=actor, action=action, subject=f"case:{row.id}", reason=reason, data=data, now_us=now_us)


def _convert(items: Any, into: Any, what: str) -> Any:
    try:
        return msgspec.convert(items, into)
    except msgspec.ValidationError as exc:
        raise CaseError("case_malformed", field=what, what=INPUTS[what], detail=str(exc)) from None


def update(
    store: Store,
    case_id: int,
    *,
    parties: list[dict[str, Any]] | None = None,
    violations: list[dict[str, Any]] | None = None,
    actor: str,
    reason: str = "",
    now_us: int,
) -> Case:
    """Record the parties and/or the violations (each replaces the list before); an open
    case becomes ``investigating``."""
    actor = _need(actor, "actor")
    if parties is None and violations is None:
        raise CaseError("case_nothing_to_update")
    values: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if parties is not None:
        ps = _convert(parties, list[Party], "parties")
        for p in ps:
            _need(p.name, "party name")
            _need(p.role, "party role")
        values["parties"] = data["parties"] = msgspec.to_builtins(ps)
    if violations is not None:
        vs = _convert(violations, list[Violation], "violations")
        for v in vs:
            _need(v.code, "violation code")
            _need(v.text, "violation text")
        values["violations"] = data["violations"] = msgspec.to_builtins(vs)
    with write_transaction(store) as conn:
        row = _locked(conn, case_id)
        try:
            values["status"] = case_next(row.status, "update")
        except TransitionError:
            raise CaseError("case_fixed_after_decision", case_id=case_id, status=_status(row.status)) from None
        _change(conn, row, values, action="case.update", actor=actor, reason=reason.strip(), data=data, now_us=now_us)
    return get(store, case_id)


def penalize(
    store: Store,
    case_id: int,
    *,
    penalty_fen: int,
    boards_confiscated: int = 0,
    decision: str,
    actor: str,
    reason: str = "",
    now_us: int,
) -> Case:
    """Record the decision (处罚决定): the case becomes ``decided``."""
    actor = _need(actor, "actor")
    decision = _need(decision, "decision")
    if type(penalty_fen) is not int or penalty_fen < 0:
        raise CaseError("case_bad_penalty", field="penalty_fen", what=INPUTS["penalty_fen"])
    if type(boards_confiscated) is not int or boards_confiscated < 0:
        raise CaseError("case_bad_penalty", field="boards_confiscated", what=INPUTS["boards_confiscated"])
    with write_transaction(store) as conn:
        row = _locked(conn, case_id)
        try:
            after = case_next(row.status, "penalize")
        except TransitionError:
            raise CaseError("case_already_decided", case_id=case_id, status=_status(row.status)) from None
        values = {
            "penalty_fen": penalty_fen,
            "boards_confiscated": boards_confiscated,
            "decision": decision,
            "status": after,
        }
        _change(
            conn,
            row,
            values,
            action="case.penalize",
            actor=actor,
            reason=reason.strip(),
            data={"penalty_fen": penalty_fen, "boards_confiscated": boards_confiscated, "decision": decision},
            now_us=now_us,
        )
    return get(store, case_id)


def close(store: Store, case_id: int, *, reason: str, actor: str, now_us: int) -> Case:
    """Close a decided case (结案)."""
    actor = _need(actor, "actor")
    reason = _need(reason, "reason")
    with write_transaction(store) as conn:
        row = _locked(conn, case_id)
        try:
            after = case_next(row.status, "close") if row.decision else None
        except TransitionError:
            after = None
        if after is None:  # not decided, or decided without the decision text
            raise CaseError("case_not_decided", case_id=case_id, status=_status(row.status))
        _change(
            conn,
            row,
            {"status": after, "closed_us": now_us},
            action="case.close",
            actor=actor,
            reason=reason,
            data={},
            now_us=now_us,
        )
    return get(store, case_id)


def get(store: Store, case_id: int) -> Case:
    with store.engine.connect() as c:
        row = c.execute(select(T.cases).where(_C.id == case_id)).first()
    if row is None:
        raise UnknownCase("case_unknown", case_id=case_id)
    return _case(row)


def by_source(store: Store, source: str) -> Case | None:
    with store.engine.connect() as c:
        row = c.execute(select(T.cases).where(_C.source == source).order_by(_C.id).limit(1)).first()
    return _case(row) if row is not None else None


def listing(
    store: Store, station_ids: list[str] | None = None, status: str | None = None, limit: int = 500
) -> list[Case]:
    """Newest first; ``station_ids`` limits to those stations (an operator's), ``status`` to one status."""
    q = select(T.cases).order_by(_C.id.desc()).limit(max(1, min(limit, 5000)))
    if station_ids is not None:
        if not station_ids:
            return []
        q = q.where(_C.station_id.in_(list(station_ids)))
    if status is not None:
        q = q.where(_C.status == status)
    with store.engine.connect() as c:
        return [_case(r) for r in c.execute(q).all()]
