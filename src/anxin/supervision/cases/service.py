"""Cases written: opened (idempotent per source), updated, decided and closed — each
change one transaction with one hash-chained audit entry; nothing is written when a
change is refused. The case and its checks are :mod:`anxin.supervision.cases`'."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Connection, select, text
from sqlalchemy import update as sql_update

from anxin.audit import append as audit_append
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id
from anxin.store.transactions import write_transaction
from anxin.supervision.cases import (
    _SOURCE,
    INPUTS,
    SOURCE_KINDS,
    Case,
    CaseError,
    Party,
    UnknownCase,
    Violation,
    _convert,
    _lock_key,
    _need,
    _source,
    _status,
)
from anxin.supervision.cases.queries import get
from anxin.supervision.lifecycle import TransitionError, case_next

_C = T.cases.c


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
