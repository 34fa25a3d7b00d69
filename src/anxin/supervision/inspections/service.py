"""Inspections written: planned (one by one, or for a 你点我检 request) and visited —
each change one transaction with one audit entry. The words, checklist, test fill and
checks are :mod:`anxin.supervision.inspections`'."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from anxin.contract.registry import Registry
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id
from anxin.store.transactions import write_transaction
from anxin.supervision._common import DEFAULT_SETTINGS, PUBLIC, SupervisionError, SupervisionSettings, need_text
from anxin.supervision.errors import Words
from anxin.supervision.inspections import (
    STATUS_EN,
    STATUS_ZH,
    TEST_FILL_WITHIN_MPE,
    _checked,
    _checklist,
    _fill_item,
    _finding,
    _planned,
    compute_test_fill,
)
from anxin.supervision.lifecycle import CITIZEN_REQUEST, RECTIFICATION, TransitionError, inspection_next
from anxin.supervision.service import audit

_I = T.inspections.c
_R = T.rectifications.c
_Q = T.citizen_requests.c


# ---------------------------------------------------------------------------- scheduling
def schedule(
    store: Store,
    *,
    station_id: str,
    inspector: str,
    scheduled_us: int,
    kind: str,
    nozzle_id: str | None = None,
    plan_id: int | None = None,
    follow_up_of: int | None = None,
    actor: str,
    now_us: int,
) -> int:
    """Plan an inspection; returns its id. A follow-up names the inspection it follows up
    (done, at the same station); no other kind may."""
    with write_transaction(store) as conn:
        iid = _insert(
            conn,
            station_id=station_id,
            inspector=inspector,
            scheduled_us=scheduled_us,
            kind=kind,
            nozzle_id=nozzle_id,
            plan_id=plan_id,
            follow_up_of=follow_up_of,
            now_us=now_us,
        )
        audit(
            conn,
            actor=need_text(actor, "actor", max_chars=64),
            action="inspection.schedule",
            subject=f"inspection:{iid}",
            reason="",
            data={
                "kind": kind,
                "station_id": station_id,
                "nozzle_id": nozzle_id,
                "inspector": inspector.strip(),
                "scheduled_us": scheduled_us,
                "plan_id": plan_id,
                "follow_up_of": follow_up_of,
            },
            now_us=now_us,
        )
    return iid


def _insert(
    conn: Connection,
    *,
    station_id: str,
    inspector: str,
    scheduled_us: int,
    kind: str,
    nozzle_id: str | None,
    plan_id: int | None,
    follow_up_of: int | None,
    now_us: int,
) -> int:
    station, who = _planned(kind, station_id, inspector, scheduled_us)
    if kind == "follow_up":
        if follow_up_of is None:
            raise SupervisionError("follow_up_needs_origin", field="follow_up_of")
        origin = conn.execute(select(_I.station_id, _I.status).where(_I.id == follow_up_of)).first()
        if origin is None:
            raise SupervisionError("unknown_inspection", field="follow_up_of", inspection_id=follow_up_of)
        if origin.station_id != station:
            raise SupervisionError("follow_up_other_station", field="follow_up_of")
        if origin.status != "done":
            raise SupervisionError("follow_up_of_undone", field="follow_up_of")
    elif follow_up_of is not None:
        raise SupervisionError("not_a_follow_up", field="follow_up_of")
    res = conn.execute(
        T.inspections.insert().values(
            plan_id=plan_id,
            kind=kind,
            station_id=station,
            nozzle_id=nozzle_id,
            inspector=who,
            scheduled_us=scheduled_us,
            status="planned",
            checklist={},
            follow_up_of=follow_up_of,
            created_us=now_us,
        )
    )
    return inserted_id(res)


def citizen_request(
    store: Store, registry: Registry, *, nozzle_id: str, contact: str | None = None, now_us: int
) -> int:
    """你点我检: a citizen asks for a nozzle to be checked; returns the request's id."""
    nozzle = registry.nozzle_by_id.get(nozzle_id) if isinstance(nozzle_id, str) else None
    if nozzle is None:
        raise SupervisionError("unknown_nozzle", field="nozzle_id", nozzle_id=nozzle_id)
    contact_v = None if contact is None or not str(contact).strip() else need_text(contact, "contact", max_chars=200)
    with write_transaction(store) as conn:
        res = conn.execute(
            T.citizen_requests.insert().values(
                station_id=nozzle.station_id,
                nozzle_id=nozzle_id,
                requested_us=now_us,
                contact=contact_v,
                status="requested",
            )
        )
        rid = inserted_id(res)
        audit(
            conn,
            actor=PUBLIC,
            action="citizen_request.create",
            subject=f"citizen_request:{rid}",
            reason="",
            data={"station_id": nozzle.station_id, "nozzle_id": nozzle_id},
            now_us=now_us,
        )
    return rid


def schedule_citizen(
    store: Store, request_id: int, *, inspector: str, scheduled_us: int, actor: str, now_us: int
) -> int:
    """Plan the inspection of a 你点我检 request (kind citizen, on its nozzle); returns the
    inspection's id. The request becomes ``scheduled``, and ``done`` with the visit."""
    with write_transaction(store) as conn:
        req = conn.execute(select(T.citizen_requests).where(_Q.id == request_id).with_for_update()).first()
        if req is None:
            raise SupervisionError("unknown_request", field="request_id", request_id=request_id)
        try:
            after = CITIZEN_REQUEST.next(req.status, "schedule")
        except TransitionError:
            raise SupervisionError("request_already_scheduled", request_id=request_id) from None
        iid = _insert(
            conn,
            station_id=req.station_id,
            inspector=inspector,
            scheduled_us=scheduled_us,
            kind="citizen",
            nozzle_id=req.nozzle_id,
            plan_id=None,
            follow_up_of=None,
            now_us=now_us,
        )
        res = conn.execute(
            update(T.citizen_requests)
            .where(_Q.id == request_id, _Q.status == req.status)
            .values(status=after, inspection_id=iid)
        )
        if res.rowcount != 1:
            raise SupervisionError("concurrent_change.request", request_id=request_id)
        audit(
            conn,
            actor=need_text(actor, "actor", max_chars=64),
            action="inspection.schedule",
            subject=f"inspection:{iid}",
            reason="",
            data={
                "kind": "citizen",
                "station_id": req.station_id,
                "nozzle_id": req.nozzle_id,
                "inspector": inspector.strip(),
                "scheduled_us": scheduled_us,
                "citizen_request": request_id,
            },
            now_us=now_us,
        )
    return iid


# ---------------------------------------------------------------------------- the visit
def record_visit(
    store: Store,
    registry: Registry,
    inspection_id: int,
    *,
    checklist: Mapping[str, tuple[bool, str]],
    test_fill_runs: Sequence[Mapping[str, Any]] | None,
    findings: str | None,
    actor: str,
    now_us: int,
    nozzle_id: str | None = None,
    settings: SupervisionSettings = DEFAULT_SETTINGS,
) -> dict[str, Any]:
    """Record the visit of a planned inspection (→ ``done``).

    ``checklist`` gives (ok, note) for every item; ``test_fill_within_mpe`` is set from
    the test fill when runs are given (on the inspection's nozzle, else ``nozzle_id``),
    else taken from the checklist, else recorded as not tested (ok None, which is neither
    a failure nor a pass). Every failed item opens a rectification with a deadline; a
    follow-up whose five items are all ok closes the open ones of the inspection it
    follows up. Returns {"status", "rectifications": [ids opened], "closed": [ids closed],
    "test_fill": … or None}.
    """
    who = need_text(actor, "actor", max_chars=64)
    items = _checklist(checklist)
    findings_v = None if findings is None or not findings.strip() else need_text(findings, "findings", max_chars=20_000)
    with write_transaction(store) as conn:
        ins = conn.execute(select(T.inspections).where(_I.id == inspection_id).with_for_update()).first()
        if ins is None:
            raise SupervisionError("unknown_inspection", field="inspection_id", inspection_id=inspection_id)
        try:
            after = inspection_next(ins.status, "visit")
        except TransitionError:
            raise SupervisionError(
                "forbidden_step.inspection",
                inspection_id=inspection_id,
                status=Words(STATUS_ZH.get(ins.status, ins.status), STATUS_EN.get(ins.status, ins.status)),
            ) from None
        fill = None
        typed = {k: v["note"] for k, v in items.items()}  # the notes as typed (a finding's own)
        if test_fill_runs is not None:
            nozzle = ins.nozzle_id or nozzle_id
            if nozzle is None:
                raise SupervisionError("test_fill_needs_nozzle", field="nozzle_id")
            n = registry.nozzle_by_id.get(nozzle)
            if n is None or n.station_id != ins.station_id:
                raise SupervisionError(
                    "unknown_nozzle.not_at_station", field="nozzle_id", nozzle_id=nozzle, station_id=ins.station_id
                )
            fill = compute_test_fill(registry, nozzle, test_fill_runs, ts_us=now_us)
            fill["nozzle_id"] = nozzle
            items[TEST_FILL_WITHIN_MPE] = _fill_item(fill, items.get(TEST_FILL_WITHIN_MPE))
        checked = _checked(items)
        res = conn.execute(
            update(T.inspections)
            .where(_I.id == inspection_id, _I.status == ins.status)
            .values(status=after, visited_us=now_us, checklist=checked, test_fill=fill, findings=findings_v)
        )
        if res.rowcount != 1:
            raise SupervisionError("concurrent_change.inspection", inspection_id=inspection_id)
        opened = []
        for item, v in checked.items():
            if v["ok"] is False:
                finding = _finding(item, typed.get(item, ""), fill if item == TEST_FILL_WITHIN_MPE else None)
                r = conn.execute(
                    T.rectifications.insert().values(
                        inspection_id=inspection_id,
                        station_id=ins.station_id,
                        finding=finding,
                        deadline_us=now_us + settings.rectification_deadline_us,
                        status="open",
                    )
                )
                opened.append(inserted_id(r))
        closed: list[int] = []
        if ins.kind == "follow_up" and ins.follow_up_of is not None and all(v["ok"] is True for v in checked.values()):
            closed = [
                int(x)
                for x in conn.execute(
                    select(_R.id).where(_R.inspection_id == ins.follow_up_of, _R.status == "open").order_by(_R.id)
                ).scalars()
            ]
            if closed:
                conn.execute(
                    update(T.rectifications)
                    .where(_R.id.in_(closed), _R.status == "open")
                    .values(status=RECTIFICATION.next("open", "follow_up"), closed_by=inspection_id, closed_us=now_us)
                )
        done_requests: list[int] = []
        if ins.kind == "citizen":
            done_requests = [
                int(x)
                for x in conn.execute(
                    select(_Q.id).where(_Q.inspection_id == inspection_id, _Q.status == "scheduled")
                ).scalars()
            ]
            if done_requests:
                done = CITIZEN_REQUEST.next("scheduled", "visit")
                conn.execute(update(T.citizen_requests).where(_Q.id.in_(done_requests)).values(status=done))
        audit(
            conn,
            actor=who,
            action="inspection.visit",
            subject=f"inspection:{inspection_id}",
            reason=findings_v or "",
            data={
                "checklist": {k: v["ok"] for k, v in checked.items()},
                "test_fill_error_permille": None if fill is None else f"{fill['error_permille']:.3f}",
                "rectifications_opened": opened,
                "rectifications_closed": closed,
                "citizen_requests_done": done_requests,
            },
            now_us=now_us,
        )
    return {"status": after, "rectifications": opened, "closed": closed, "test_fill": fill}
