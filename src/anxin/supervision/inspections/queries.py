"""What the console and the public pages read of inspections — with the rule of
unannounced inspections (四不两直, :mod:`anxin.supervision.inspections`): the station's
side (``station_view``) does not see them before the visit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, or_, select

from anxin.contract.registry import Registry
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision import parts
from anxin.supervision._common import SupervisionError
from anxin.supervision.errors import Words, joined
from anxin.supervision.inspections import HIDDEN_UNTIL_VISITED, STATUS_EN, STATUS_ZH, STATUSES, finding_text
from anxin.supervision.queries import in_list

_I = T.inspections.c
_R = T.rectifications.c
_Q = T.citizen_requests.c


def _row(r: Any) -> dict[str, Any]:
    d = dict(r._mapping)
    d["id"] = int(d["id"])
    return d


def _announced() -> Any:
    """What the station's side may see of the inspections: everything but an unannounced
    or citizen-chosen inspection whose visit is not recorded yet."""
    return or_(_I.kind.not_in(HIDDEN_UNTIL_VISITED), _I.visited_us.is_not(None))


def get(
    store: Store, inspection_id: int, *, now_us: int | None = None, station_view: bool = False
) -> dict[str, Any] | None:
    """The inspection with its rectifications (those it opened) and, for a citizen
    inspection, its request; None if there is none with that id — or, for the station's
    side (``station_view``), none it may see yet."""
    q = select(T.inspections).where(_I.id == inspection_id)
    if station_view:
        q = q.where(_announced())
    with store.engine.connect() as c:
        r = c.execute(q).first()
        if r is None:
            return None
        rect = c.execute(select(T.rectifications).where(_R.inspection_id == inspection_id).order_by(_R.id)).all()
        req = c.execute(select(T.citizen_requests).where(_Q.inspection_id == inspection_id)).first()
    d = _row(r)
    d["rectifications"] = [_rect(x, now_us) for x in rect]
    d["citizen_request"] = None if req is None else dict(req._mapping)
    return d


def listing(
    store: Store,
    *,
    station_ids: Iterable[str] | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    station_view: bool = False,
) -> list[dict[str, Any]]:
    """Inspections, the latest scheduled first; for the station's side (``station_view``)
    without the unannounced and citizen-chosen ones not visited yet."""
    if status is not None and status not in STATUSES:
        raise SupervisionError(
            "bad_status", field="status", statuses=joined(Words(STATUS_ZH[s], STATUS_EN[s]) for s in STATUSES)
        )
    conds = []
    if (cond := in_list(_I.station_id, station_ids)) is not None:
        conds.append(cond)
    if status is not None:
        conds.append(_I.status == status)
    if kind is not None:
        conds.append(_I.kind == kind)
    if station_view:
        conds.append(_announced())
    q = select(T.inspections).order_by(_I.scheduled_us.desc(), _I.id.desc()).limit(max(1, min(int(limit), 10_000)))
    if conds:
        q = q.where(and_(*conds))
    with store.engine.connect() as c:
        return [_row(r) for r in c.execute(q)]


def _rect(r: Any, now_us: int | None) -> dict[str, Any]:
    """A rectification order: ``finding`` in Chinese (the official language, as before),
    ``finding_key``/``finding_params`` its parts for a reader's language (None for one
    stored before as a sentence: ``finding`` is that sentence)."""
    d = dict(r._mapping)
    d["id"] = int(d["id"])
    d["finding_key"], d["finding_params"] = parts.load(r.finding) or (None, None)
    d["finding"] = finding_text(r.finding)
    d["overdue"] = now_us is not None and d["status"] == "open" and d["deadline_us"] < now_us
    return d


def open_rectifications(
    store: Store, *, now_us: int | None = None, station_ids: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Open rectification orders, the earliest deadline first; ``overdue`` when the
    deadline passed before ``now_us`` (never, without it)."""
    q = select(T.rectifications).where(_R.status == "open").order_by(_R.deadline_us, _R.id)
    if (cond := in_list(_R.station_id, station_ids)) is not None:
        q = q.where(cond)
    with store.engine.connect() as c:
        return [_rect(r, now_us) for r in c.execute(q)]


def citizen_requests(
    store: Store,
    *,
    status: str | None = None,
    limit: int = 100,
    station_ids: Iterable[str] | None = None,
    station_view: bool = False,
) -> list[dict[str, Any]]:
    """你点我检 requests, newest first (of ``station_ids``, or all); for the station's side
    (``station_view``) only those done: a request names the nozzle to be checked. The
    requester's contact is personal data: never listed (docs/privacy.md)."""
    cols = [c for c in T.citizen_requests.c if c.name != "contact"]
    q = select(*cols).order_by(_Q.requested_us.desc(), _Q.id.desc()).limit(max(1, min(int(limit), 10_000)))
    if status is not None:
        q = q.where(_Q.status == status)
    if (cond := in_list(_Q.station_id, station_ids)) is not None:
        q = q.where(cond)
    if station_view:
        q = q.where(_Q.status == "done")
    with store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(q)]


def stations_without_inspection(store: Store, registry: Registry, *, since_us: int) -> list[str]:
    """The registry's stations with no inspection visited (done) at or after ``since_us``."""
    with store.engine.connect() as c:
        seen = set(
            c.execute(select(_I.station_id).where(_I.status == "done", _I.visited_us >= since_us).distinct()).scalars()
        )
    return sorted(s.station_id for s in registry.stations if s.station_id not in seen)
