"""Inspections (检查): scheduling, 你点我检 requests, the visit with its checklist and test
fill, rectification orders (整改) and the queries the console needs.

Kinds: ``routine`` (日常), ``unannounced`` (四不两直), ``citizen`` (你点我检: the
citizen's nozzle), ``follow_up`` (复查, of an earlier inspection). Statuses: ``planned``
→ ``done`` (the graph is :mod:`anxin.supervision.lifecycle`'s). A visit records every
checklist item; the test fill's error is computed exactly as a verification's (JJG 443,
:func:`anxin.verification.evaluate_verification`, the product's expansion coefficient
from the registry) and sets ``test_fill_within_mpe`` (±3‰). Every failed item becomes a
rectification order with a deadline (now + 10 days). Only a follow-up visit whose items
are all ok closes the open rectifications of the inspection it follows up. Every change
is one transaction with one audit entry.

Unannounced stays unannounced (四不两直): the station's side — an operator's console
(``station_view=True``) and the station's public page — sees an ``unannounced`` or
``citizen`` inspection only once its visit is recorded (``visited_us``), and a 你点我检
request only once it is done; before, the queries here do not return them (``get``
answers None, as for an inspection that does not exist). Regulators and inspectors see
everything. The rule is in these queries, not in the pages that show them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from anxin.contract.records import Verification, VerificationRun
from anxin.contract.registry import Registry
from anxin.i18n.po import table
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id
from anxin.supervision._common import (
    DEFAULT_SETTINGS,
    PUBLIC,
    SupervisionError,
    SupervisionSettings,
    audit,
    in_list,
    need_text,
    write_transaction,
)
from anxin.supervision.errors import Words, joined
from anxin.supervision.lifecycle import INSPECTION_STATUSES, TransitionError, inspection_next
from anxin.verification import DEFAULT_LIMITS, beta_for_product, evaluate_verification

KINDS = ("routine", "unannounced", "citizen", "follow_up")
HIDDEN_UNTIL_VISITED = ("unannounced", "citizen")  # never announced to the station before the visit
KIND_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("inspection_kind").items()}
STATUSES = INSPECTION_STATUSES  # the lifecycle's, under this module's old name
STATUS_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("inspection_status").items()}
# The same in English (a refusal names them in the reader's language).
KIND_EN: dict[str, str] = {k: en for k, (_, en) in table("inspection_kind").items()}
STATUS_EN: dict[str, str] = {k: en for k, (_, en) in table("inspection_status").items()}

SEALS_INTACT = "seals_intact"
MODULE_REGISTERED = "module_registered"
CERTIFICATE_VALID = "certificate_valid"
CREDIT_COMMITMENT_POSTED = "credit_commitment_posted"
TEST_FILL_WITHIN_MPE = "test_fill_within_mpe"
CHECKLIST: dict[str, str] = {k: zh for k, (zh, _) in table("checklist").items()}
CHECKLIST_EN: dict[str, str] = {k: en for k, (_, en) in table("checklist").items()}
MANUAL_ITEMS = (SEALS_INTACT, MODULE_REGISTERED, CERTIFICATE_VALID, CREDIT_COMMITMENT_POSTED)
# A test fill run's quantities, as a refusal names them (JJG 443: V_B, V_J, t_B, t_J).
RUN_QUANTITIES: dict[str, Words] = {
    "standard_ml": Words("标准量器示值（mL）", "standard volume (mL)"),
    "indicated_ml": Words("加油机示值（mL）", "indicated volume (mL)"),
    "standard_temp_mc": Words("标准量器内油温（m°C）", "temperature in the standard measure (m°C)"),
    "dispenser_temp_mc": Words("加油机内油温（m°C）", "temperature in the dispenser (m°C)"),
    "flow_ml_per_min": Words("流量（mL/min）", "flow (mL/min)"),
}

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
    if kind not in KINDS:
        raise SupervisionError("bad_kind", field="kind", kinds=joined(Words(KIND_ZH[k], KIND_EN[k]) for k in KINDS))
    station = need_text(station_id, "station_id", max_chars=128)
    who = need_text(inspector, "inspector", max_chars=64)
    if type(scheduled_us) is not int or scheduled_us <= 0:
        raise SupervisionError("bad_time", field="scheduled_us")
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
        if req.status != "requested":
            raise SupervisionError("request_already_scheduled", request_id=request_id)
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
            .where(_Q.id == request_id, _Q.status == "requested")
            .values(status="scheduled", inspection_id=iid)
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
def compute_test_fill(
    registry: Registry, nozzle_id: str, runs: Sequence[Mapping[str, Any]], *, ts_us: int
) -> dict[str, Any]:
    """The test fill's error, computed as a verification's (JJG 443): each run's standard
    volume corrected to the dispenser's conditions with the nozzle's product expansion,
    E = (V_J − V_B)/V_B, the mean per flow point (a run without ``flow_ml_per_min`` is
    taken at the nozzle's maximum flow). ``error`` is the flow-point error of largest
    magnitude; ``within_mpe`` whether every flow point is within ±3‰."""
    nozzle = registry.nozzle_by_id.get(nozzle_id)
    if nozzle is None:
        raise SupervisionError("unknown_nozzle", field="nozzle_id", nozzle_id=nozzle_id)
    if not runs:
        raise SupervisionError("no_runs", field="test_fill_runs")
    if len(runs) > 100:
        raise SupervisionError("too_many_runs", field="test_fill_runs")
    vr = []
    for i, r in enumerate(runs):
        field = f"test_fill_runs[{i}]"
        if not isinstance(r, Mapping):
            raise SupervisionError("bad_run.shape", field=field)
        vals = {}
        for k, quantity in RUN_QUANTITIES.items():
            v = r.get(k, nozzle.max_flow_ml_per_min if k == "flow_ml_per_min" else None)
            if type(v) not in (int, float) or not math.isfinite(v):
                raise SupervisionError("bad_run.not_finite", field=f"{field}.{k}", quantity=quantity)
            vals[k] = v
        if vals["standard_ml"] <= 0 or vals["indicated_ml"] <= 0 or vals["flow_ml_per_min"] <= 0:
            raise SupervisionError("bad_run.not_positive", field=field)
        vr.append(VerificationRun(**vals))
    product = registry.product_by_id.get(nozzle.product)
    beta = beta_for_product(product.expansion_ppm_per_c if product is not None else None)
    ts = datetime.fromtimestamp(ts_us / 1_000_000, tz=UTC)
    v = Verification(
        station_id=nozzle.station_id,
        nozzle_id=nozzle_id,
        ts=ts,
        type="periodic",
        org="inspection",
        certificate_no="",
        k_pulses_per_m3=nozzle.k_pulses_per_m3,
        valid_until=ts,
        runs=vr,
    )
    res = evaluate_verification(v, beta_y_per_c=beta)
    if not res.flow_points or len(res.runs) != len(vr):
        raise SupervisionError("bad_run.not_computable", field="test_fill_runs", reasons=_fill_reasons(res.reasons))
    worst = max(res.flow_points, key=lambda p: abs(p.error))
    return {
        "runs": [dict(r) for r in runs],
        "beta_y_per_c": beta,
        "run_errors_permille": [x.error_permille for x in res.runs],
        "flow_points": [
            {"flow_ml_per_min": p.flow_ml_per_min, "runs": p.runs, "error": p.error, "error_permille": p.error_permille}
            for p in res.flow_points
        ],
        "error": worst.error,
        "error_permille": worst.error_permille,
        "mpe_permille": DEFAULT_LIMITS.mpe * 1000,
        "within_mpe": all(p.passes_mpe for p in res.flow_points),
    }


_RUN_REASON = re.compile(r"run (\d+): ")


def _fill_reasons(reasons: Sequence[str]) -> Words:
    """Why a test fill cannot be computed: the verification's reasons (English), and in
    Chinese the runs it had to leave out (its reasons number them "run <n>: …")."""
    runs = [m.group(1) for m in map(_RUN_REASON.match, reasons) if m is not None]
    zh = f"第 {'、'.join(runs)} 次测试加油数据无效" if runs else "没有有效的测试加油数据"
    return Words(zh, "; ".join(reasons) or "no valid runs")


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
            given = items.get(TEST_FILL_WITHIN_MPE)
            note = f"误差 {fill['error_permille']:+.3f}‰（限 ±{fill['mpe_permille']:g}‰）"
            if given is not None and given["note"]:
                note += f"；{given['note']}"
            items[TEST_FILL_WITHIN_MPE] = {"ok": bool(fill["within_mpe"]), "note": note}
        items.setdefault(TEST_FILL_WITHIN_MPE, {"ok": None, "note": "未做测试加油"})
        checked = {k: items[k] for k in CHECKLIST}  # in the checklist's order
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
                finding = f"{CHECKLIST[item]}：不合格" + (f"（{v['note']}）" if v["note"] else "")
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
                    .values(status="closed", closed_by=inspection_id, closed_us=now_us)
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
                conn.execute(update(T.citizen_requests).where(_Q.id.in_(done_requests)).values(status="done"))
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


def _checklist(checklist: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if not isinstance(checklist, Mapping):
        raise SupervisionError("bad_checklist", field="checklist")
    out: dict[str, dict[str, Any]] = {}
    for item, value in checklist.items():
        if item not in CHECKLIST:
            raise SupervisionError("unknown_item", field=f"checklist.{item}", item=item)
        if isinstance(value, Mapping):
            ok, note = value.get("ok"), value.get("note", "")
        else:
            try:
                ok, note = value
            except (TypeError, ValueError):
                raise SupervisionError("bad_item.shape", field=f"checklist.{item}") from None
        if type(ok) is not bool:
            raise SupervisionError("bad_item.no_verdict", field=f"checklist.{item}")
        what = Words(f"检查项「{CHECKLIST[item]}」的说明", f"note on “{CHECKLIST_EN[item]}”")
        note_v = (
            ""
            if note is None or not str(note).strip()
            else need_text(note, f"checklist.{item}", max_chars=1000, what=what)
        )
        out[item] = {"ok": ok, "note": note_v}
    missing = [k for k in MANUAL_ITEMS if k not in out]
    if missing:
        raise SupervisionError(
            "missing_item",
            field=f"checklist.{missing[0]}",
            items=joined((Words(CHECKLIST[k], CHECKLIST_EN[k]) for k in missing), zh_sep="、", en_sep="; "),
        )
    return out


# ---------------------------------------------------------------------------- queries
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
    d = dict(r._mapping)
    d["id"] = int(d["id"])
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
    (``station_view``) only those done: a request names the nozzle to be checked."""
    q = select(T.citizen_requests).order_by(_Q.requested_us.desc(), _Q.id.desc()).limit(max(1, min(int(limit), 10_000)))
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
