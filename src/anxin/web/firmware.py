"""The firmware register page (计量软件登记, contract v1.1 §F): the institute's entries per
dispenser model with the nozzles running each, every nozzle's running version, and
where a revoked or cheat build still runs; the form by which who enters the institute's
records (``verification.edit``) enters a build — a registry version, audited."""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from anxin.contract.registry import RegistryError
from anxin.i18n.po import table
from anxin.register.firmware import FirmwareEntry, enter_firmware, register_view, running_firmware, status_of
from anxin.web.deps import CanEditVerifications, CanView, CsrfForm, Registry, Service
from anxin.web.session import Viewer, render
from anxin.web.texts import words

router = APIRouter(include_in_schema=False)
STATUSES = ("approved", "revoked", "known_cheat")


def status_word(status: str, lang: str) -> str:
    entry = table("firmware_status").get(status)
    return status if entry is None else entry[0 if lang == "zh" else 1]


async def _page(request: Request, v: Viewer, service: Any, registry: Any, report: dict | None = None, status=200):
    scope = v.stations
    running = await run_in_threadpool(running_firmware, service.store)
    if scope is not None:  # an operator: its own nozzles only
        running = {nid: r for nid, r in running.items() if nid in registry.nozzle_by_id}
    view = register_view(registry, running)
    if scope is not None:
        view["nozzles"] = [x for x in view["nozzles"] if x["nozzle"].station_id in scope]
        view["bad"] = [x for x in view["bad"] if x["nozzle"].station_id in scope]
        own = {x["nozzle"].nozzle_id for x in view["nozzles"]}
        for e in view["entries"]:
            e["nozzles"] = [n for n in e["nozzles"] if n in own]
    return render(
        request,
        v,
        "firmware.html",
        status,
        page="firmware",
        view=view,
        can_edit=v.can("verification.edit"),
        statuses=STATUSES,
        fw_status=lambda s: status_word(s, v.lang),
        report=report,
    )


@router.get("/console/firmware")
async def firmware_page(request: Request, v: CanView, service: Service, registry: Registry):
    return await _page(request, v, service, registry)


@router.post("/console/firmware")
async def firmware_enter(
    request: Request, v: CanEditVerifications, form: CsrfForm, service: Service, registry: Registry
):
    w = words(v.lang)
    fields = {k: str(form.get(k) or "").strip() for k in ("dispenser_model", "version", "sha256", "status", "reason")}
    problem = None
    if not all(fields.values()):
        problem = w["firmware_incomplete"]
    elif fields["status"] not in STATUSES:
        problem = fields["status"]
    if problem is None:
        try:
            entry = msgspec.convert(
                {k: fields[k] for k in ("dispenser_model", "version", "sha256", "status")}, FirmwareEntry
            )
            await run_in_threadpool(
                functools.partial(
                    enter_firmware,
                    service,
                    entry=entry,
                    actor=v.signed_in.username,
                    reason=fields["reason"],
                )
            )
        except RegistryError as exc:
            problem = exc.text(v.lang)
    if problem is not None:
        text = w["firmware_refused"].format(problem=problem)
        return await _page(request, v, service, service.registry, {"error": True, "text": text}, 422)
    text = w["firmware_saved"].format(
        model=fields["dispenser_model"], version=fields["version"], status=status_word(fields["status"], v.lang)
    )
    return await _page(request, v, service, service.registry, {"error": False, "text": text})


def firmware_text(store: Any, registry: Any, nozzle: Any, lang: str) -> str:
    """The version a nozzle runs and the register's word on it, for its console and
    public pages: ``2.4.1 · 已批准``, or ``未上报`` when its module never reported one."""
    running = running_firmware(store, station_id=nozzle.station_id).get(nozzle.nozzle_id)
    status = status_of(registry, nozzle.nozzle_id, running)
    if running is None:
        return status_word(status, lang)
    return f"{running.version or '—'} · {status_word(status, lang)}"
