"""Complaints written: submitted with their attachments and links, (re-)linked, handled
to closure and triaged — each change one transaction with one audit entry. The words,
checks and link reasons are :mod:`anxin.supervision.complaints`'."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, or_, select, update

from anxin.auth.roles import User, can
from anxin.contract.registry import Registry
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.database import now_us as wall_now_us
from anxin.store.results import inserted_id
from anxin.store.transactions import write_transaction
from anxin.supervision._common import DEFAULT_SETTINGS, PUBLIC, SYSTEM, SupervisionError, SupervisionSettings, need_text
from anxin.supervision.complaints import (
    _STEPS,
    CHANNEL_EN,
    CHANNEL_ZH,
    CHANNELS,
    OUTCOME_EN,
    OUTCOME_ZH,
    OUTCOMES,
    STATUS_EN,
    STATUS_ZH,
    Attachment,
    _check_attachments,
    _link_center,
    _names,
    _sale,
    _status_words,
    _why_alarm,
    _why_metering,
    _why_order,
    _why_paired,
    _why_sale,
)
from anxin.supervision.complaints.queries import _links
from anxin.supervision.lifecycle import ComplaintAction, TransitionError, complaint_next
from anxin.supervision.service import audit

_C = T.complaints.c
_K = T.complaint_links.c
_LG = T.ledger.c
_AL = T.alarms.c


# ---------------------------------------------------------------------------- submit
def submit(
    store: Store,
    registry: Registry,
    *,
    station_id: str,
    nozzle_id: str | None = None,
    text: str,
    contact: str | None = None,
    order_ref: str | None = None,
    event_ts_us: int | None = None,
    channel: str,
    attachments: Sequence[Attachment | tuple[str, str, bytes] | dict[str, Any]] = (),
    now_us: int,
    settings: SupervisionSettings = DEFAULT_SETTINGS,
) -> int:
    """Record a complaint (status ``received``, deadline now + 15 days), link it to the
    records that bear on it, and return its id. Raises SupervisionError naming the
    offending input (``field``); nothing is written then."""
    s = settings
    if not isinstance(station_id, str) or station_id not in registry.station_by_id:
        raise SupervisionError("unknown_station", field="station_id", station_id=station_id)
    if nozzle_id is not None:
        nozzle = registry.nozzle_by_id.get(nozzle_id) if isinstance(nozzle_id, str) else None
        if nozzle is None:
            raise SupervisionError("unknown_nozzle", field="nozzle_id", nozzle_id=nozzle_id)
        if nozzle.station_id != station_id:
            raise SupervisionError(
                "nozzle_not_at_station", field="nozzle_id", nozzle_id=nozzle_id, station_id=station_id
            )
    body = need_text(text, "text", max_chars=s.text_max_chars)
    contact_v = None if contact is None or not str(contact).strip() else need_text(contact, "contact", max_chars=200)
    order_v = (
        None if order_ref is None or not str(order_ref).strip() else need_text(order_ref, "order_ref", max_chars=128)
    )
    if channel not in CHANNELS:
        raise SupervisionError("bad_channel", field="channel", channels=_names(CHANNELS, CHANNEL_ZH, CHANNEL_EN))
    if event_ts_us is not None:
        if type(event_ts_us) is not int or event_ts_us <= 0:
            raise SupervisionError("bad_event_time", field="event_ts_us")
        if event_ts_us > now_us + s.future_slack_us:
            raise SupervisionError("event_in_future", field="event_ts_us")
    files = _check_attachments(attachments, s)
    with write_transaction(store) as conn:
        res = conn.execute(
            T.complaints.insert().values(
                received_us=now_us,
                station_id=station_id,
                nozzle_id=nozzle_id,
                text=body,
                contact=contact_v,
                status="received",
                channel=channel,
                order_ref=order_v,
                event_ts_us=event_ts_us,
                deadline_us=now_us + s.complaint_deadline_us,
            )
        )
        cid = inserted_id(res)
        meta = []
        for f in files:
            digest = hashlib.sha256(f.data).digest()
            conn.execute(
                T.attachments.insert().values(
                    owner=f"complaint:{cid}",
                    name=f.name,
                    mime=f.mime,
                    size=len(f.data),
                    sha256=digest,
                    data=f.data,
                    created_us=now_us,
                )
            )
            meta.append({"name": f.name, "mime": f.mime, "size": len(f.data), "sha256": digest.hex()})
        links = _link(conn, cid, s)
        audit(
            conn,
            actor=PUBLIC,
            action="complaint.submit",
            subject=f"complaint:{cid}",
            reason="",
            data={
                "station_id": station_id,
                "nozzle_id": nozzle_id,
                "channel": channel,
                "order_ref": order_v,
                "event_ts_us": event_ts_us,
                "deadline_us": now_us + s.complaint_deadline_us,
                "attachments": meta,
                "links": [[k, r] for k, r, _ in links],
            },
            now_us=now_us,
        )
    return cid


# ---------------------------------------------------------------------------- linking
def link(
    store: Store, complaint_id: int, *, now_us: int | None = None, settings: SupervisionSettings = DEFAULT_SETTINGS
) -> list[dict[str, Any]]:
    """(Re-)link the complaint to its records (e.g. after late data arrived); adds only
    links it did not have, audited as "system" when it added any. Returns all its links."""
    with write_transaction(store) as conn:
        _lock(conn, complaint_id)
        added = _link(conn, complaint_id, settings)
        if added:
            audit(
                conn,
                actor=SYSTEM,
                action="complaint.link",
                subject=f"complaint:{complaint_id}",
                reason="",
                data={"added": [[k, r] for k, r, _ in added]},
                now_us=now_us if now_us is not None else wall_now_us(),
            )
    return _links(store, complaint_id)


def _link(conn: Connection, cid: int, s: SupervisionSettings) -> list[tuple[str, str, str]]:
    """Find and write the complaint's links; returns those added."""
    c = conn.execute(select(T.complaints).where(_C.id == cid)).one()
    station, nozzle = c.station_id, c.nozzle_id
    found: dict[tuple[str, str], str] = {}
    sales: list[dict[str, Any]] = []

    if c.order_ref:
        key = f"{station}/{c.order_ref}"
        for r in conn.execute(
            select(_LG.natural_key, _LG.event_time_us, _LG.body)
            .where(
                _LG.station_id == station,  # the (station, time) index bounds the scan
                _LG.event_time_us.between(
                    int(c.received_us) - s.order_lookback_us, int(c.received_us) + s.future_slack_us
                ),
                _LG.kind == "settlement",
                _LG.natural_key == key,
            )
            .order_by(_LG.id)
        ):
            body = msgspec.json.decode(r.body)
            sales.append({"key": r.natural_key, "t": int(r.event_time_us), **_sale(body)})
            found[("settlement", r.natural_key)] = _why_order(c.order_ref)
    center, basis = _link_center(c.event_ts_us, sales, c.received_us)
    if nozzle is None and sales and sales[0]["nozzle_id"]:
        nozzle = sales[0]["nozzle_id"]  # the order tells the nozzle
    lo, hi = center - s.link_window_us, center + s.link_window_us

    if not c.order_ref or not sales:  # no order number, or it matched nothing: the sales in the window
        near = []
        for r in conn.execute(
            select(_LG.natural_key, _LG.event_time_us, _LG.body).where(
                _LG.station_id == station, _LG.event_time_us.between(lo, hi), _LG.kind == "settlement"
            )
        ):
            body = msgspec.json.decode(r.body)
            if nozzle is not None and body.get("nozzle_id") != nozzle:
                continue
            near.append({"key": r.natural_key, "t": int(r.event_time_us), **_sale(body)})
        near.sort(key=lambda x: (abs(x["t"] - center), x["key"]))
        for x in near[: s.link_max_per_kind]:
            sales.append(x)
            found.setdefault(("settlement", x["key"]), _why_sale(basis, x["t"] - center))

    for x in sales:  # the metering record each linked sale was paired with
        if x["nozzle_id"] and x["pump_seq"] is not None:
            found.setdefault(("metering", f"{x['nozzle_id']}/{x['pump_seq']}"), _why_paired(x["key"]))

    if nozzle is not None:
        near_meterings: list[tuple[int, str, int, bool]] = []
        for m in conn.execute(
            select(_LG.natural_key, _LG.event_time_us, _LG.quarantined, _LG.body).where(
                _LG.station_id == station, _LG.event_time_us.between(lo, hi), _LG.kind == "metering"
            )
        ):
            if not m.natural_key.startswith(f"{nozzle}/"):
                continue
            if msgspec.json.decode(m.body).get("nozzle_id") != nozzle:
                continue
            near_meterings.append(
                (abs(int(m.event_time_us) - center), m.natural_key, int(m.event_time_us), m.quarantined)
            )
        near_meterings.sort()
        for _, key, t, quarantined in near_meterings[: s.link_max_per_kind]:
            found.setdefault(("metering", key), _why_metering(basis, t - center, quarantined))

    q = select(_AL.alarm_id, _AL.rule, _AL.ts_us, _AL.nozzle_id).where(
        _AL.station_id == station, _AL.ts_us.between(lo, hi)
    )
    if nozzle is not None:
        q = q.where(or_(_AL.nozzle_id == nozzle, _AL.nozzle_id.is_(None)))
    alarms = sorted(conn.execute(q).all(), key=lambda a: (abs(int(a.ts_us) - center), a.alarm_id))
    for a in alarms[: s.link_max_per_kind]:
        same_nozzle = a.nozzle_id is not None and a.nozzle_id == nozzle
        found.setdefault(("alarm", a.alarm_id), _why_alarm(same_nozzle, basis, int(a.ts_us) - center, a.rule))

    have = {(r.kind, r.ref) for r in conn.execute(select(_K.kind, _K.ref).where(_K.complaint_id == cid))}
    added = [(k, ref, why) for (k, ref), why in found.items() if (k, ref) not in have]
    if added:
        conn.execute(
            T.complaint_links.insert(), [{"complaint_id": cid, "kind": k, "ref": r, "why": w} for k, r, w in added]
        )
    return added


# ---------------------------------------------------------------------------- handling
def assign(store: Store, complaint_id: int, *, assignee: str, actor: str, reason: str = "", now_us: int) -> str:
    """Assign (or re-assign) the complaint to a handler; returns the new status."""
    who = need_text(assignee, "assignee", max_chars=64)
    return _step(
        store,
        complaint_id,
        "assign",
        actor=actor,
        reason=reason,
        now_us=now_us,
        values={"assignee": who},
        data={"assignee": who},
    )


def investigate(store: Store, complaint_id: int, *, note: str, actor: str, now_us: int) -> str:
    """Record an investigation note (the first one starts the investigation)."""
    n = need_text(note, "note", max_chars=4000)
    return _step(
        store,
        complaint_id,
        "investigate",
        actor=actor,
        reason=n,
        now_us=now_us,
        values={},
        data={},
    )


def reply(store: Store, complaint_id: int, *, text: str, actor: str, now_us: int) -> str:
    """Reply to the complainant (a later reply replaces the shown one; all are in the audit log)."""
    r = need_text(text, "reply", max_chars=4000)
    return _step(
        store,
        complaint_id,
        "reply",
        actor=actor,
        reason="",
        now_us=now_us,
        values={"reply": r},
        data={"reply": r},
    )


def close(store: Store, complaint_id: int, *, outcome: str, reason: str, actor: str, now_us: int) -> str:
    """Close a replied complaint with its outcome and the reason."""
    if outcome not in OUTCOMES:
        raise SupervisionError("bad_outcome", field="outcome", outcomes=_names(OUTCOMES, OUTCOME_ZH, OUTCOME_EN))
    why = need_text(reason, "reason", max_chars=4000)
    return _step(
        store,
        complaint_id,
        "close",
        actor=actor,
        reason=why,
        now_us=now_us,
        values={"outcome": outcome, "closed_us": now_us},
        data={"outcome": outcome},
    )


def triage(store: Store, complaint_id: int, *, plausible: bool, actor: str, reason: str = "", now_us: int) -> None:
    """Record the regulator's triage: the complaint is plausible (it then counts in the
    risk score) or not (spam, off-topic, a duplicate: it never counts)."""
    if type(plausible) is not bool:
        raise SupervisionError("bad_triage", field="plausible")
    who = need_text(actor, "actor", max_chars=64)
    with write_transaction(store) as conn:
        row = _lock(conn, complaint_id)
        conn.execute(update(T.complaints).where(_C.id == complaint_id).values(plausible=plausible))
        audit(
            conn,
            actor=who,
            action="complaint.triage",
            subject=f"complaint:{complaint_id}",
            reason=reason.strip(),
            data={"plausible": plausible, "before": row.plausible},
            now_us=now_us,
        )


def _step(
    store: Store,
    cid: int,
    step: ComplaintAction,
    *,
    actor: str,
    reason: str,
    now_us: int,
    values: dict[str, Any],
    data: dict[str, Any],
) -> str:
    who = need_text(actor, "actor", max_chars=64)
    with write_transaction(store) as conn:
        row = _lock(conn, cid)
        before = row.status
        try:
            after = complaint_next(before, step)
        except TransitionError as e:
            raise SupervisionError(
                "forbidden_step.complaint",
                complaint_id=cid,
                status=_status_words(before),
                step=_STEPS[step],
                allowed=_names(e.allowed_from, STATUS_ZH, STATUS_EN, zh_sep="、"),
            ) from None
        res = conn.execute(update(T.complaints).where(_C.id == cid, _C.status == before).values(status=after, **values))
        if res.rowcount != 1:
            raise SupervisionError("concurrent_change.complaint", complaint_id=cid)
        audit(
            conn,
            actor=who,
            action=f"complaint.{step}",
            subject=f"complaint:{cid}",
            reason=reason.strip(),
            data={"before": before, "after": after, **data},
            now_us=now_us,
        )
    return after


def _lock(conn: Connection, cid: int) -> Any:
    row = conn.execute(select(T.complaints).where(_C.id == cid).with_for_update()).first()
    if row is None:
        raise SupervisionError("unknown_complaint", field="complaint_id", complaint_id=cid)
    return row


# ---------------------------------------------------------------------------- the complainant's contact
def may_see_contact(viewer: User | None, complaint: dict[str, Any]) -> bool:
    """A complainant's contact is for who answers them: a regulator (``complaint.contact``),
    or the inspector the complaint is assigned to — nobody else (PIPL §6: the least
    needed)."""
    if viewer is None:
        return False
    return can(viewer, "complaint.contact") or (
        can(viewer, "complaint.view") and complaint.get("assignee") == viewer.username
    )


def reveal_contact(store: Store, complaint_id: int, *, viewer: User, now_us: int) -> str | None:
    """The complainant's contact (None: none was given), for ``viewer`` if it may see it
    (:func:`may_see_contact`); every view an audit entry (``complaint.contact_view``).
    Raises SupervisionError ``contact_not_permitted`` otherwise (nothing is read)."""
    co = T.complaints.c
    with write_transaction(store) as conn:
        row = conn.execute(select(co.assignee, co.contact).where(co.id == complaint_id)).first()
        if row is None or not may_see_contact(viewer, {"assignee": row.assignee}):
            raise SupervisionError("contact_not_permitted", field="contact")
        audit(
            conn,
            actor=viewer.username,
            action="complaint.contact_view",
            subject=f"complaint:{complaint_id}",
            reason="",
            data={"given": row.contact is not None},
            now_us=now_us,
        )
    return row.contact


def record_attachment_view(store: Store, complaint_id: int, attachment_id: int, *, viewer: User, now_us: int) -> None:
    """A complainant's file (a photo, a receipt: personal data too) was downloaded."""
    with write_transaction(store) as conn:
        audit(
            conn,
            actor=viewer.username,
            action="complaint.attachment_view",
            subject=f"complaint:{complaint_id}",
            reason="",
            data={"attachment": attachment_id},
            now_us=now_us,
        )
