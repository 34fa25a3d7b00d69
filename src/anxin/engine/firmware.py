"""Firmware and self-lock (固件与自锁, contract v1.1 §F): pure rules on module events.

``UNAPPROVED_FIRMWARE``: a ``firmware_update`` (authorised or not) whose
``{"version", "sha256"}`` is not a build the register approves for the nozzle's
``dispenser_model``; critical when the hash is listed as a known cheat program.
No accusation without a register to compare against: a nozzle with no model, or a
model the register lists nothing for, gets no finding — except a hash listed as a
known cheat program (of any model), which is a register of its own. Data that does
not name an approved build (a version or hash missing, or not text) is not an
approved build: the module's word is all the platform has, and a module that will not
say what it runs must not pass for one that runs what was approved.

``SELF_LOCK_CLEARED``: an ``unlock`` with no verification of the nozzle within the
authorisation window (decided like a seal breach: when the window has passed).
Dispensings between a ``self_lock`` and its ``unlock`` are ``UNVERIFIED_USE``
(:meth:`anxin.engine.nozzle.NozzleState.lock_reason`).
"""

from __future__ import annotations

import re
from typing import Any

from anxin.contract.alarm import Alarm
from anxin.contract.records import Event
from anxin.contract.registry import Firmware, Registry
from anxin.contract.times import format_ts
from anxin.engine.outputs import make_alarm, record_evidence
from anxin.engine.settings import EngineSettings

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
MAX_SHOWN = 64  # characters of a module's own text quoted in a message


def _shown(value: Any) -> str:
    """A value the module sent, quoted in a message: text as is (cut), anything else as JSON-ish."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _listed(f: Firmware) -> dict[str, str]:
    return {"dispenser_model": f.dispenser_model, "version": f.version, "sha256": f.sha256, "status": f.status}


def firmware_finding(reg: Registry, model: str | None, data: Any) -> tuple[str, Firmware | None] | None:
    """Why an update with ``data`` is not an approved build for ``model``: (finding,
    the register's entry it matched), or None (approved, or nothing to compare with).
    Findings: ``known_cheat``, ``no_version``, ``no_sha256``, ``revoked``,
    ``hash_mismatch`` (not the approved build of that version, or the hash of another
    version), ``not_listed``."""
    d = data if isinstance(data, dict) else {}
    version, sha = d.get("version"), d.get("sha256")
    sha = sha.lower() if isinstance(sha, str) and _SHA256.fullmatch(sha) else None
    if sha is not None and (cheat := reg.firmware_cheat.get(sha)) is not None:
        return "known_cheat", cheat
    builds = reg.firmware_models.get(model) if model is not None else None
    if not builds:
        return None  # no register for this nozzle: no accusation
    if not isinstance(version, str) or not version:
        return "no_version", None
    if sha is None:
        return "no_sha256", reg.firmware_version.get((model, version))  # type: ignore[arg-type]
    by_hash = builds.get(sha)
    if by_hash is not None:
        if by_hash.status == "revoked":
            return "revoked", by_hash
        return None if by_hash.version == version else ("hash_mismatch", by_hash)  # approved: that version's?
    listed = reg.firmware_version.get((model, version))  # type: ignore[arg-type]
    if listed is None:
        return "not_listed", None
    return ("revoked", listed) if listed.status == "revoked" else ("hash_mismatch", listed)


_WHY = {
    "known_cheat": "hash is a known cheat program",
    "no_version": "the update names no version",
    "no_sha256": "the update gives no sha256 of the software",
    "revoked": "version revoked for model {model}",
    "hash_mismatch": "sha256 is not the approved build of that version for model {model}",
    "not_listed": "version not approved for model {model}",
}


def unapproved_firmware(reg: Registry, rec: Event, model: str | None, t: int) -> Alarm | None:
    """UNAPPROVED_FIRMWARE for a ``firmware_update`` event, or None."""
    got = firmware_finding(reg, model, rec.data)
    if got is None:
        return None
    finding, entry = got
    d = rec.data if isinstance(rec.data, dict) else {}
    version, sha = d.get("version"), d.get("sha256")
    why = _WHY[finding].format(model=model)
    return make_alarm(
        "UNAPPROVED_FIRMWARE",
        key=(rec.nozzle_id, rec.seq),
        station_id=rec.station_id,
        nozzle_id=rec.nozzle_id,
        seq=rec.seq,
        ts_us=t,
        message=f"firmware update to version {_shown(version)} (sha256 {_shown(sha)}): {why}",
        evidence={
            "event": record_evidence(rec),
            "finding": finding,
            "dispenser_model": model,
            "version": version if isinstance(version, str) else None,
            "sha256": sha if isinstance(sha, str) else None,
            "listed": _listed(entry) if entry is not None else None,
        },
        severity="critical" if finding == "known_cheat" else None,
    )


def self_lock_cleared(rec: Event, t: int, lock: tuple[int, int, Any] | None, s: EngineSettings) -> Alarm:
    """SELF_LOCK_CLEARED: ``rec`` is an ``unlock`` with no verification within the window;
    ``lock``: the ``self_lock`` it clears (time, seq, reason), if one came before."""
    hours = s.authorisation_window_us / 3_600_000_000
    ev: dict[str, Any] = {"event": record_evidence(rec), "window_h": hours}
    since = ""
    if lock is not None:
        ev["self_lock"] = {"seq": lock[1], "ts": format_ts(lock[0]), "reason": lock[2]}
        since = f" (locked since seq {lock[1]}, {format_ts(lock[0])})"
    return make_alarm(
        "SELF_LOCK_CLEARED",
        key=(rec.nozzle_id, rec.seq),
        station_id=rec.station_id,
        nozzle_id=rec.nozzle_id,
        seq=rec.seq,
        ts_us=t,
        message=f"self-lock cleared{since} with no verification within ±{hours:g} h",
        evidence=ev,
    )


def lock_reason_of(data: Any) -> Any:
    """A self-lock's ``reason`` as evidence: text (cut) or None."""
    reason = data.get("reason") if isinstance(data, dict) else None
    return _shown(reason) if isinstance(reason, str) else None


__all__ = ["firmware_finding", "lock_reason_of", "self_lock_cleared", "unapproved_firmware"]
