"""Firmware and self-lock in a simulated city (contract v1.1 §F): the institute's
register of builds per dispenser model, each dispenser's model, and the nozzle
scenarios — an approved update at a verification (honest), an update to a revoked
version at a verification (``UNAPPROVED_FIRMWARE``), a known cheat program flashed
without one (``UNAPPROVED_FIRMWARE`` critical, ``SEAL_BREACH``, ``UNVERIFIED_USE`` until
the repair), a self-lock unlocked at a verification (honest) and one bypassed and
cleared by the station (``SELF_LOCK_CLEARED``, ``UNVERIFIED_USE`` while locked).

Only a city asked for them has them (``ScenarioSet.parse("all,firmware")``); their
choices come from RNGs of their own, so the rest of such a city is drawn as before."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anxin.contract.times import US_PER_H as H
from anxin.contract.times import US_PER_MIN as MIN
from anxin.sim.truth import AlarmKey

if TYPE_CHECKING:  # (the city imports this module: the plan's types only for the checker)
    from anxin.sim.model import NozzlePlan
    from anxin.sim.station import StationPlan

DISPENSER_MODELS = ("TQ-2200", "JK-5300", "LQ-880")
APPROVED = ("2.4.0", "2.4.1")
REVOKED = "2.3.9"
CHEAT_LABEL = "2.4.1"  # a cheat program says it is the approved version
# A self-lock's reason as a module reports it: its fault code (shown as sent)
LOCK_OUT_OF_TOLERANCE, LOCK_PART_REPLACED = "E21", "E35"


def sha(model: str, version: str, what: str = "build") -> str:
    """A build's SHA-256, stable across runs (the simulator's stand-in for an image)."""
    return hashlib.sha256(f"{model} {version} {what}".encode()).hexdigest()


def dispenser_model(seed: int, dispenser_id: str) -> str:
    return random.Random(f"{seed}/{dispenser_id}/model").choice(DISPENSER_MODELS)


def firmware_register() -> list[dict[str, str]]:
    """The institute's register: two approved builds, one revoked and one known cheat
    program per model."""
    out = []
    for m in DISPENSER_MODELS:
        out += [{"dispenser_model": m, "version": v, "sha256": sha(m, v), "status": "approved"} for v in APPROVED]
        out.append({"dispenser_model": m, "version": REVOKED, "sha256": sha(m, REVOKED), "status": "revoked"})
        cheat = sha(m, CHEAT_LABEL, "cheat")
        out.append({"dispenser_model": m, "version": CHEAT_LABEL, "sha256": cheat, "status": "known_cheat"})
    return out


def _data(nz: NozzlePlan, version: str, what: str = "build") -> dict[str, str]:
    model = nz.spec.dispenser_model if nz.spec is not None and nz.spec.dispenser_model else DISPENSER_MODELS[0]
    return {"version": version, "sha256": sha(model, version, what)}


Visit = Callable[..., int]  # faults._visit
Pick = Callable[[random.Random, int, int, Any, int], int | None]  # faults._pick_time


def setup(plan: StationPlan, nz: NozzlePlan, rng: random.Random, visit: Visit, pick: Pick) -> None:
    """Put the nozzle's §F scenario on its timeline (events, visits, out-of-service
    windows, unverified spans)."""
    cfg, sc, p = plan.cfg, nz.scenario, nz.params
    t0, inject_end, work = cfg.t0_us, cfg.t_end_us - 4 * H, (9.0, 15.0)
    if sc in ("firmware_approved", "firmware_revoked"):
        t = pick(rng, t0 + H, inject_end - 2 * H, work, t0) or t0 + H
        version = APPROVED[1] if sc == "firmware_approved" else REVOKED
        ev = nz.event(t + 10 * MIN, "firmware_update", _data(nz, version), fault=sc)
        p["events"] = [ev]
        p["ver_ts"] = visit(plan, nz, rng, t, new_k=None, vtype="after_repair", passing=True)
    elif sc == "firmware_cheat":
        t = pick(rng, t0 + H, cfg.t_end_us - 6 * H, None, t0) or t0 + H
        nz.block(t - 2 * MIN, t + 10 * MIN)
        p["events"] = [nz.event(t, "firmware_update", _data(nz, CHEAT_LABEL, "cheat"), fault=sc)]
        until = None
        tr = pick(rng, t + 20 * H, min(t + 34 * H, inject_end - 2 * H), work, t0)
        if tr is not None:  # the repair: the approved build flashed back at a verification
            nz.event(tr + 10 * MIN, "firmware_update", _data(nz, APPROVED[1]))
            until = visit(plan, nz, rng, tr, new_k=None, vtype="after_repair", passing=True)
        nz.unverified.append((t, until, sc))
    elif sc == "self_lock_authorised":
        t = pick(rng, t0 + H, inject_end - 4 * H, work, t0) or t0 + H
        lock = nz.event(t, "self_lock", {"reason": LOCK_OUT_OF_TOLERANCE}, fault=sc)
        tv = t + int(rng.uniform(30, 120) * MIN)
        nz.block(t - 2 * MIN, tv)  # locked: it dispenses nothing until the inspector comes
        ts = visit(plan, nz, rng, tv, new_k=None, vtype="after_repair", passing=True)
        p["events"] = [lock, nz.event(ts - 3 * MIN, "unlock", fault=sc)]
    elif sc == "self_lock_unauthorised":
        t = pick(rng, t0 + H, inject_end - 8 * H, None, t0) or t0 + H
        until = t + int(rng.uniform(2, 6) * H)
        nz.block(t - 2 * MIN, t + 5 * MIN)
        nz.block(until - 5 * MIN, until + 5 * MIN)
        lock = nz.event(t, "self_lock", {"reason": LOCK_PART_REPLACED}, fault=sc)
        p["events"] = [lock, nz.event(until, "unlock", fault=sc)]  # the lock bypassed meanwhile
        nz.unverified.append((t, until, sc))


def truth(
    plan: StationPlan,
    nz: NozzlePlan,
    unverified_days: Callable[..., tuple[list[AlarmKey], list[AlarmKey]]],
) -> tuple[list[AlarmKey], list[AlarmKey], dict[str, Any]] | None:
    """What the nozzle's §F scenario must (expect) and may (allow) raise, and its detail."""
    sc, p, sid, nid = nz.scenario, nz.params, nz.station_id, nz.nozzle_id

    def key(rule: str, seq: int) -> AlarmKey:
        return AlarmKey(rule=rule, station_id=sid, nozzle_id=nid, seq=seq)

    if sc == "firmware_approved" or sc == "self_lock_authorised":
        return [], [], {"events": [e.event for e in p["events"]]}
    if sc == "firmware_revoked":
        return [key("UNAPPROVED_FIRMWARE", p["events"][0].seq)], [], {"version": REVOKED}
    if sc in ("firmware_cheat", "self_lock_unauthorised"):
        t_from, until, _ = nz.unverified[0]
        uv, uv_allow = unverified_days(plan, nz, t_from, until)
        if sc == "firmware_cheat":
            ev = p["events"][0]
            expect = [key("UNAPPROVED_FIRMWARE", ev.seq), key("SEAL_BREACH", ev.seq)]  # its primary rule first
        else:
            expect = [key("SELF_LOCK_CLEARED", p["events"][1].seq)]
        return expect + uv, uv_allow, {"restored": until is not None}
    return None


__all__ = ["DISPENSER_MODELS", "dispenser_model", "firmware_register", "setup", "sha", "truth"]
