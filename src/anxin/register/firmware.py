"""The firmware register (计量软件登记, contract v1.1 §F): what the verification institute
enters — approved, revoked and known-cheat builds per dispenser model — and what each
nozzle runs, as its module last reported.

An entry is a new, validated version of the whole registry (as every registry change),
audited as ``firmware.change`` under the institute's or the console user's name. The
running version is read from the ledger: a nozzle's latest ``firmware_update`` event
that was not quarantined (a forgery says nothing about what runs).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from anxin.contract.registry import FirmwareStatus, Registry, RegistryError
from anxin.engine.firmware import firmware_finding
from anxin.register.queries import firmware_events
from anxin.store.database import Store

Status = Literal["approved", "revoked", "known_cheat", "unlisted", "no_register", "unreported"]
BAD: frozenset[str] = frozenset({"revoked", "known_cheat"})


class Running(msgspec.Struct, frozen=True, kw_only=True):
    """What a nozzle's module last reported running."""

    nozzle_id: str
    version: str | None
    sha256: str | None
    ts: str
    seq: int | None


class FirmwareEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One entry as the institute sends it (``POST /v1/firmware``, the console's form)."""

    dispenser_model: str
    version: str
    sha256: str
    status: FirmwareStatus


def running_firmware(store: Store, *, station_id: str | None = None) -> dict[str, Running]:
    """Each nozzle's latest reported firmware (by event time, then seq), of one station or all."""
    best: dict[str, tuple[tuple[int, int], Running]] = {}
    for body, t in firmware_events(store, station_id=station_id):
        try:
            rec = msgspec.json.decode(body)
        except msgspec.DecodeError:
            continue
        if not isinstance(rec, dict) or rec.get("event") != "firmware_update":
            continue
        nid, seq = rec.get("nozzle_id"), rec.get("seq")
        raw = rec.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        version, sha = data.get("version"), data.get("sha256")
        run = Running(
            nozzle_id=str(nid),
            version=version if isinstance(version, str) else None,
            sha256=sha if isinstance(sha, str) else None,
            ts=str(rec.get("ts", "")),
            seq=seq if isinstance(seq, int) else None,
        )
        key = (t, seq if isinstance(seq, int) else -1)
        if nid not in best or key > best[str(nid)][0]:
            best[str(nid)] = (key, run)
    return {nid: run for nid, (_, run) in best.items()}


def status_of(registry: Registry, nozzle_id: str, running: Running | None) -> Status:
    """The register's word on what a nozzle runs."""
    if running is None:
        return "unreported"
    reg = registry.nozzle_by_id.get(nozzle_id)
    model = reg.dispenser_model if reg is not None else None
    got = firmware_finding(registry, model, {"version": running.version, "sha256": running.sha256})
    if got is None:
        return "approved" if model is not None and registry.firmware_models.get(model) else "no_register"
    return "known_cheat" if got[0] == "known_cheat" else "revoked" if got[0] == "revoked" else "unlisted"


def register_view(registry: Registry, running: dict[str, Running]) -> dict[str, Any]:
    """The register page's data: each entry with the nozzles running it; every nozzle
    with its running version and status; where a revoked or cheat build still runs."""
    entries = []
    for f in sorted(registry.firmware, key=lambda f: (f.dispenser_model, f.version, f.status)):
        sha = f.sha256.lower()
        on = sorted(
            nid
            for nid, r in running.items()
            if r.sha256 is not None
            and r.sha256.lower() == sha
            and (f.status == "known_cheat" or _model(registry, nid) == f.dispenser_model)
        )
        entries.append({"entry": f, "nozzles": on})
    nozzles = []
    for n in sorted(registry.nozzles, key=lambda n: n.nozzle_id):
        r = running.get(n.nozzle_id)
        nozzles.append({"nozzle": n, "running": r, "status": status_of(registry, n.nozzle_id, r)})
    return {"entries": entries, "nozzles": nozzles, "bad": [x for x in nozzles if x["status"] in BAD]}


def _model(registry: Registry, nozzle_id: str) -> str | None:
    reg = registry.nozzle_by_id.get(nozzle_id)
    return reg.dispenser_model if reg is not None else None


def with_entry(document: dict[str, Any], entry: FirmwareEntry) -> dict[str, Any]:
    """The registry document with ``entry`` in place of the one for the same build
    (model and hash) — and, for a build that may run, of that model's version."""
    sha = entry.sha256.lower()

    def same(e: Any) -> bool:
        if not isinstance(e, dict) or e.get("dispenser_model") != entry.dispenser_model:
            return False
        if str(e.get("sha256", "")).lower() == sha:
            return True
        runnable = entry.status != "known_cheat" and e.get("status") != "known_cheat"
        return runnable and e.get("version") == entry.version

    kept = [e for e in document.get("firmware") or [] if not same(e)]
    return {**document, "firmware": [*kept, msgspec.to_builtins(entry)]}


def enter_firmware(service: Any, *, entry: FirmwareEntry, actor: str, reason: str) -> int:
    """Enter ``entry`` into the register: a new registry version, audited as
    ``firmware.change`` by ``actor``. Raises RegistryError (nothing changes) when the
    register would contradict itself, or there is no registry yet."""
    doc = service.registry_document()
    if doc is None:
        raise RegistryError("in_source", source="registry", problem="no registry yet")
    new = with_entry(msgspec.json.decode(doc), entry)
    return int(
        service.set_registry(
            msgspec.json.encode(new),
            author=actor,
            reason=reason,
            actor=actor,
            action="firmware.change",
            detail={"firmware": msgspec.to_builtins(entry)},
        )
    )


__all__ = [
    "BAD",
    "FirmwareEntry",
    "Running",
    "enter_firmware",
    "register_view",
    "running_firmware",
    "status_of",
    "with_entry",
]
