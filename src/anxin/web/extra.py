"""More console pages: a verification entered by hand (检定录入), the audit log with
its chain check (审计日志), and a nozzle's events (seals, K factor) from the ledger."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from anxin.audit import entries, record, verify
from anxin.auth import flush_failures
from anxin.auth.roles import ROLES
from anxin.auth.users import active_staff
from anxin.contract.times import LOCAL_OFFSET_US, format_ts
from anxin.ingest.principals import Principal
from anxin.web import queries as Q
from anxin.web.deps import CanAudit, CanEditVerifications, CsrfForm, Registry, Service, Store
from anxin.web.session import BadParam, Viewer, bad_request, now_us, query_int, render
from anxin.web.texts import words

RUNS = 6  # two flow rates × three runs, as JJG 443 asks
TZ = dt.timezone(dt.timedelta(microseconds=LOCAL_OFFSET_US))


def nozzle_events(store, station_id: str, nozzle_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The nozzle's module events (seal opened/closed, K factor changes, firmware…),
    newest first, read from the ledger through its (station, time) index."""
    rows = Q.station_event_lines(store, station_id)
    out = []
    for body, quarantined in rows:
        rec = msgspec.json.decode(body)
        if rec.get("nozzle_id") == nozzle_id:
            out.append(
                {
                    "ts": rec.get("ts", ""),
                    "event": rec.get("event", ""),
                    "data": rec.get("data"),
                    "seq": rec.get("seq"),
                    "quarantined": bool(quarantined),
                }
            )
            if len(out) >= limit:
                break
    return out


router = APIRouter(include_in_schema=False)


@router.get("/console/register/new")
async def entry_form(request: Request, v: CanEditVerifications, registry: Registry):
    return render(
        request,
        v,
        "verification_form.html",
        page="register",
        nozzles=_nozzles(v, registry),
        runs=RUNS,
        form={},
        errors=[],
    )


@router.post("/console/register/new")
async def entry_post(
    request: Request, v: CanEditVerifications, form: CsrfForm, service: Service, store: Store, registry: Registry
):
    rec, errors = _record(form, registry, v.lang)
    if not errors:
        who = Principal.console(v.signed_in.username)  # the sender on record (contract v1.1 §C)
        res = await run_in_threadpool(
            functools.partial(
                service.ingest,
                rec["station_id"],
                [msgspec.json.encode(rec)],
                source=who.source("form"),
                principal=who,
            )
        )
        line = res.results[0] if res.results else None
        if line is not None and line.status in ("accepted", "duplicate"):
            await run_in_threadpool(
                lambda: record(
                    store,
                    actor=v.signed_in.username,
                    action="verification.enter",
                    subject=f"nozzle:{rec['nozzle_id']}",
                    reason="entered by hand",
                    data={"certificate_no": rec["certificate_no"], "ts": rec["ts"]},
                    now_us=service.clock(),
                )
            )
            return RedirectResponse(f"/console/nozzles/{rec['nozzle_id']}", status_code=303)
        errors = [(line.reason or line.status) if line is not None else "?"]
    return render(
        request,
        v,
        "verification_form.html",
        422,
        page="register",
        nozzles=_nozzles(v, registry),
        runs=RUNS,
        form=dict(form),
        errors=errors,
    )


def _nozzles(v: Viewer, reg: Any) -> list[Any]:
    return [n for n in reg.nozzles if v.sees(n.station_id)]


@router.get("/console/audit")
async def audit_page(request: Request, v: CanAudit, store: Store):
    try:
        before = query_int(request, "before", lo=1)
    except BadParam as exc:
        return bad_request(request, v, exc.field, exc.value)
    await run_in_threadpool(lambda: flush_failures(store, now_us=now_us()))  # the failed-login windows ended
    rows = await run_in_threadpool(lambda: entries(store, limit=100, before_seq=before))
    report = await run_in_threadpool(verify, store)
    people = await run_in_threadpool(active_staff, store, ROLES)
    names = {p["username"]: p["display_name"] for p in people} | {"system": words(v.lang)["system_actor"]}
    return render(request, v, "audit.html", page="audit", rows=rows, report=report, fmt=format_ts, names=names)


def _record(form: Any, reg: Any, lang: str) -> tuple[dict[str, Any], list[str]]:
    """The contract's verification record from the form (``reg``: the service's registry,
    an empty one before it has one), or the problems named."""
    w = words(lang)
    errors: list[str] = []
    n = reg.nozzle_by_id.get(str(form.get("nozzle_id", "")))
    if n is None:
        return {}, [w["nozzle"] + "?"]

    def when(name: str) -> str | None:
        try:
            t = dt.datetime.fromisoformat(str(form.get(name, "")))
        except ValueError:
            errors.append(f"{name}: {form.get(name, '')!r}")
            return None
        return format_ts(int((t if t.tzinfo else t.replace(tzinfo=TZ)).timestamp() * 1e6))

    def integer(name: str, i: int | None = None) -> int | None:
        key = f"{name}_{i}" if i is not None else name
        text = str(form.get(key, "")).strip()
        try:
            return int(text)
        except ValueError:
            errors.append(f"{key}: {text!r}")
            return None

    runs = []
    for i in range(RUNS):
        if not str(form.get(f"standard_ml_{i}", "")).strip():
            continue
        runs.append(
            {
                k: integer(k, i)
                for k in ("flow_ml_per_min", "standard_ml", "indicated_ml", "standard_temp_mc", "dispenser_temp_mc")
            }
        )
    if not runs:
        errors.append(w["runs_needed"])
    rec = {
        "kind": "verification",
        "station_id": n.station_id,
        "nozzle_id": n.nozzle_id,
        "ts": when("ts"),
        "type": str(form.get("type", "periodic")),
        "org": str(form.get("org", "")).strip(),
        "certificate_no": str(form.get("certificate_no", "")).strip(),
        "k_pulses_per_m3": integer("k_pulses_per_m3"),
        "valid_until": when("valid_until"),
        "runs": runs,
    }
    for key in ("org", "certificate_no"):
        if not rec[key]:
            errors.append(f"{key}: —")
    return rec, errors
