"""What the console reads of complaints: one with its links, attachments and history, an
attachment's bytes, listings (overdue ones), counts by status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, select

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision import parts
from anxin.supervision._common import SupervisionError
from anxin.supervision.complaints import (
    STATUS_EN,
    STATUS_ZH,
    STATUSES,
    Attachment,
    _is_overdue,
    _names,
    link_reason,
)
from anxin.supervision.queries import history, in_list

_C = T.complaints.c
_K = T.complaint_links.c
_A = T.attachments.c

_FIELDS = (
    "id",
    "received_us",
    "station_id",
    "nozzle_id",
    "text",
    "status",
    "channel",
    "order_ref",
    "event_ts_us",
    "assignee",
    "deadline_us",
    "reply",
    "outcome",
    "closed_us",
    "plausible",
)


def _row(r: Any, now_us: int | None = None) -> dict[str, Any]:
    # The complainant's contact is personal data kept apart: never in a listing or a
    # complaint's page, only through service.reveal_contact (role-checked, audited).
    d = {f: getattr(r, f) for f in _FIELDS}
    d["has_contact"] = getattr(r, "contact", None) is not None
    d["id"] = int(d["id"])
    if now_us is not None:
        d["overdue"] = _is_overdue(d, now_us)
    return d


def _links(store: Store, cid: int) -> list[dict[str, Any]]:
    """The complaint's links: ``why`` in Chinese (the official language, as before),
    ``why_key``/``why_params`` its parts for a reader's language (None for a link stored
    before as a sentence: ``why`` is that sentence)."""
    with store.engine.connect() as c:
        rows = c.execute(select(_K.kind, _K.ref, _K.why).where(_K.complaint_id == cid).order_by(_K.kind, _K.ref))
        out = []
        for r in rows:
            key, params = parts.load(r.why) or (None, None)
            out.append({"kind": r.kind, "ref": r.ref, "why": link_reason(r.why), "why_key": key, "why_params": params})
        return out


def get(store: Store, complaint_id: int, *, now_us: int | None = None) -> dict[str, Any] | None:
    """The complaint with its links, attachment metadata (not the bytes) and handling
    history (audit entries); None if there is none with that id."""
    with store.engine.connect() as c:
        r = c.execute(select(T.complaints).where(_C.id == complaint_id)).first()
        if r is None:
            return None
        files = c.execute(
            select(_A.id, _A.name, _A.mime, _A.size, _A.sha256, _A.created_us)
            .where(_A.owner == f"complaint:{complaint_id}")
            .order_by(_A.id)
        ).all()
    d = _row(r, now_us)
    d["links"] = _links(store, complaint_id)
    d["attachments"] = [
        {
            "id": int(f.id),
            "name": f.name,
            "mime": f.mime,
            "size": int(f.size),
            "sha256": bytes(f.sha256).hex(),
            "created_us": int(f.created_us),
        }
        for f in files
    ]
    d["history"] = history(store, f"complaint:{complaint_id}")
    return d


def attachment(store: Store, complaint_id: int, attachment_id: int) -> Attachment | None:
    """One attachment's bytes (only through its complaint)."""
    with store.engine.connect() as c:
        f = c.execute(
            select(_A.name, _A.mime, _A.data).where(_A.id == attachment_id, _A.owner == f"complaint:{complaint_id}")
        ).first()
    return None if f is None else Attachment(f.name, f.mime, bytes(f.data))


def listing(
    store: Store,
    *,
    status: str | None = None,
    station_ids: Iterable[str] | None = None,
    overdue_at_us: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Complaints, newest first; ``overdue_at_us``: only those not closed whose deadline
    passed before that time (each then carries ``overdue``)."""
    if status is not None and status not in STATUSES:
        raise SupervisionError("bad_status", field="status", statuses=_names(STATUSES, STATUS_ZH, STATUS_EN))
    conds = []
    if status is not None:
        conds.append(_C.status == status)
    if (cond := in_list(_C.station_id, station_ids)) is not None:
        conds.append(cond)
    if overdue_at_us is not None:
        conds += [_C.status != "closed", _C.deadline_us < overdue_at_us]
    q = select(T.complaints).order_by(_C.received_us.desc(), _C.id.desc()).limit(max(1, min(int(limit), 10_000)))
    if conds:
        q = q.where(and_(*conds))
    with store.engine.connect() as c:
        return [_row(r, overdue_at_us) for r in c.execute(q)]


def overdue(
    store: Store, *, now_us: int, station_ids: Iterable[str] | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Complaints not closed whose deadline has passed at ``now_us``, the oldest deadline first."""
    rows = listing(store, station_ids=station_ids, overdue_at_us=now_us, limit=limit)
    return sorted(rows, key=lambda d: (d["deadline_us"], d["id"]))


def counts(store: Store, *, station_ids: Iterable[str] | None = None) -> dict[str, int]:
    """How many complaints per status."""
    q = select(_C.status, func.count()).group_by(_C.status)
    if (cond := in_list(_C.station_id, station_ids)) is not None:
        q = q.where(cond)
    with store.engine.connect() as c:
        found = {s: int(n) for s, n in c.execute(q)}
    return {s: found.get(s, 0) for s in STATUSES}
