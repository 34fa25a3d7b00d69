"""Complaints (投诉举报): submission from the public, automatic linking to the records
that bear on it, handling to closure, and the queries the console needs.

Statuses: ``received`` → ``assigned`` → ``investigating`` → ``replied`` → ``closed``.
Re-assigning is allowed while assigned or investigating (the status stays), further
investigation notes while investigating, a further reply while replied; ``close`` only
from ``replied`` (a reply to the complainant comes before closure), with an outcome of
substantiated | unsubstantiated | referred | withdrawn and a reason. The graph is
written once, in :mod:`anxin.supervision.lifecycle` (its table).

Triage (研判) is apart from the status: a regulator marks a complaint plausible or not
(spam, off-topic, a duplicate) at any step, and may revise it. Only a complaint triaged
plausible, or closed as substantiated, counts in the risk score of the random draw
(:mod:`anxin.supervision.risk`): the number of submissions alone moves nothing.

Every change is one transaction with one audit entry (subject ``complaint:<id>``); the
investigation notes live in the audit log (``get`` shows the history). Linking finds,
within ±2 h of the complaint's time (the event time given, else the sale's time when the
order number matched one, else the time it was received):

* the sale (``settlement``) by its order number (natural key ``station/order_id``), or
  the sales of that station (that nozzle, if given) in the window, nearest first;
* the metering record paired to a linked sale (``nozzle/pump_seq``) and the metering
  records of the nozzle in the window;
* the alarms of that nozzle (or station-wide ones) in the window, by ``alarms.ts_us``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Connection, and_, func, or_, select, update

from anxin.contract.registry import Registry
from anxin.i18n import RULE_NAMES_ZH
from anxin.i18n.po import table
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.database import now_us as wall_now_us
from anxin.store.results import inserted_id
from anxin.supervision._common import (
    DEFAULT_SETTINGS,
    PUBLIC,
    SYSTEM,
    SupervisionError,
    SupervisionSettings,
    audit,
    history,
    in_list,
    need_text,
    write_transaction,
)
from anxin.supervision.errors import Words, joined
from anxin.supervision.lifecycle import COMPLAINT_STATUSES, ComplaintAction, TransitionError, complaint_next

CHANNELS = ("qr", "web", "api", "phone")
STATUSES = COMPLAINT_STATUSES  # the lifecycle's, under this module's old name
OUTCOMES = ("substantiated", "unsubstantiated", "referred", "withdrawn")
STATUS_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("complaint_status").items()}
OUTCOME_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("complaint_outcome").items()}
CHANNEL_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("complaint_channel").items()}
# The same in English (a refusal names them in the reader's language).
STATUS_EN: dict[str, str] = {k: en for k, (_, en) in table("complaint_status").items()}
OUTCOME_EN: dict[str, str] = {k: en for k, (_, en) in table("complaint_outcome").items()}
CHANNEL_EN: dict[str, str] = {k: en for k, (_, en) in table("complaint_channel").items()}


def _names(codes: Iterable[str], zh: dict[str, str], en: dict[str, str], zh_sep: str = "/") -> Words:
    """The allowed values in words, for a refusal (``已受理/已分派…`` and ``received, assigned…``)."""
    return joined((Words(zh.get(c, c), en.get(c, c)) for c in codes), zh_sep=zh_sep)


_C = T.complaints.c
_K = T.complaint_links.c
_A = T.attachments.c
_LG = T.ledger.c
_AL = T.alarms.c


class Attachment(NamedTuple):
    """One file sent with a complaint (a photo of the receipt, of the display…)."""

    name: str
    mime: str
    data: bytes


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


_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


def sniff(data: bytes) -> str | None:
    """The type of a file by its first bytes (JPEG, PNG or PDF), or None."""
    return next((mime for magic, mime in _MAGIC if data.startswith(magic)), None)


def _check_attachments(items: Iterable[Any], s: SupervisionSettings) -> list[Attachment]:
    """The attachments checked: how many, each one's name, size and type by its content
    (the stored type is the one found, not the one declared), and their total size."""
    out: list[Attachment] = []
    total = 0
    for i, item in enumerate(items):
        field = f"attachments[{i}]"
        if isinstance(item, dict):
            name, mime, data = item.get("name"), item.get("mime"), item.get("data", item.get("bytes"))
        else:
            try:
                name, mime, data = item
            except (TypeError, ValueError):
                raise SupervisionError("bad_attachment.shape", field=field) from None
        if len(out) >= s.attachments_max:
            raise SupervisionError("too_many_attachments", field="attachments", max_count=s.attachments_max)
        name_v = need_text(name, f"{field}.name", max_chars=200)
        if "/" in name_v or "\\" in name_v:
            raise SupervisionError("bad_attachment_name", field=f"{field}.name")
        need_text(mime, f"{field}.mime", max_chars=100)  # declared, but the content decides
        if not isinstance(data, bytes | bytearray | memoryview):
            raise SupervisionError("bad_attachment.bytes", field=f"{field}.data")
        data_b = bytes(data)
        if not data_b:
            raise SupervisionError("empty_attachment", field=f"{field}.data")
        if len(data_b) > s.attachment_max_bytes:
            raise SupervisionError(
                "attachment_too_large", field=f"{field}.data", max_mib=s.attachment_max_bytes // (1024 * 1024)
            )
        found = sniff(data_b)
        if found is None or found not in s.attachment_types:
            raise SupervisionError("bad_attachment_type", field=f"{field}.data")
        total += len(data_b)
        if total > s.attachments_total_max_bytes:
            raise SupervisionError(
                "attachments_too_large", field="attachments", max_mib=s.attachments_total_max_bytes // (1024 * 1024)
            )
        out.append(Attachment(name_v, found, data_b))
    return out


# ---------------------------------------------------------------------------- linking
def link(
    store: Store, complaint_id: int, *, now_us: int | None = None, settings: SupervisionSettings = DEFAULT_SETTINGS
) -> list[dict[str, str]]:
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
            found[("settlement", r.natural_key)] = f"订单号 {c.order_ref} 一致"
    if c.event_ts_us is not None:
        center, basis = int(c.event_ts_us), "发生时间"
    elif sales:
        center, basis = sales[0]["t"], "该订单时间"
    else:
        center, basis = int(c.received_us), "受理时间"
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
            found.setdefault(("settlement", x["key"]), f"{basis}前后 {_fmt_dt(x['t'] - center)} 的销售")

    for x in sales:  # the metering record each linked sale was paired with
        if x["nozzle_id"] and x["pump_seq"] is not None:
            found.setdefault(("metering", f"{x['nozzle_id']}/{x['pump_seq']}"), f"与销售 {x['key']} 配对的计量记录")

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
            why = f"同一油枪{basis}前后 {_fmt_dt(t - center)} 的计量记录" + ("（隔离）" if quarantined else "")
            found.setdefault(("metering", key), why)

    q = select(_AL.alarm_id, _AL.rule, _AL.ts_us, _AL.nozzle_id).where(
        _AL.station_id == station, _AL.ts_us.between(lo, hi)
    )
    if nozzle is not None:
        q = q.where(or_(_AL.nozzle_id == nozzle, _AL.nozzle_id.is_(None)))
    alarms = sorted(conn.execute(q).all(), key=lambda a: (abs(int(a.ts_us) - center), a.alarm_id))
    for a in alarms[: s.link_max_per_kind]:
        where = "同一油枪" if a.nozzle_id is not None and a.nozzle_id == nozzle else "本站"
        found.setdefault(
            ("alarm", a.alarm_id),
            f"{where}{basis}前后 {_fmt_dt(int(a.ts_us) - center)} 的报警「{RULE_NAMES_ZH.get(a.rule, a.rule)}」",
        )

    have = {(r.kind, r.ref) for r in conn.execute(select(_K.kind, _K.ref).where(_K.complaint_id == cid))}
    added = [(k, ref, why[:300]) for (k, ref), why in found.items() if (k, ref) not in have]
    if added:
        conn.execute(
            T.complaint_links.insert(), [{"complaint_id": cid, "kind": k, "ref": r, "why": w} for k, r, w in added]
        )
    return added


def _sale(body: dict[str, Any]) -> dict[str, Any]:
    seq = body.get("pump_seq")
    return {"nozzle_id": body.get("nozzle_id"), "pump_seq": seq if type(seq) is int else None}


def _fmt_dt(dt_us: int) -> str:
    sign = "+" if dt_us >= 0 else "−"
    sec = abs(dt_us) // 1_000_000
    return f"{sign}{sec // 60}分{sec % 60:02d}秒"


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


_STEP_ZH = {"assign": "分派", "investigate": "调查", "reply": "答复", "close": "办结"}
_STEP_EN = {"assign": "assigned", "investigate": "investigated", "reply": "replied to", "close": "closed"}


def _status_words(status: str) -> Words:
    return Words(STATUS_ZH.get(status, status), STATUS_EN.get(status, status))


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
                step=Words(_STEP_ZH[step], _STEP_EN[step]),
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


# ---------------------------------------------------------------------------- queries
_FIELDS = (
    "id",
    "received_us",
    "station_id",
    "nozzle_id",
    "text",
    "contact",
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
    d = {f: getattr(r, f) for f in _FIELDS}
    d["id"] = int(d["id"])
    if now_us is not None:
        d["overdue"] = _is_overdue(d, now_us)
    return d


def _is_overdue(d: dict[str, Any], now_us: int) -> bool:
    return d["status"] != "closed" and d["deadline_us"] is not None and d["deadline_us"] < now_us


def _links(store: Store, cid: int) -> list[dict[str, str]]:
    with store.engine.connect() as c:
        rows = c.execute(select(_K.kind, _K.ref, _K.why).where(_K.complaint_id == cid).order_by(_K.kind, _K.ref))
        return [{"kind": r.kind, "ref": r.ref, "why": r.why} for r in rows]


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
