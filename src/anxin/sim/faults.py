"""Scenario injection (故障注入) for one station, and the truth of what was injected.

Three moments in a station's plan:

1. ``setup_timelines`` — before any sale exists: the nozzle-level scenarios and the
   honest events (verifications with or without a K adjustment, power cuts) put
   their events, K changes and out-of-service windows on the nozzles' timelines;
2. ``select_sale_faults`` — once the dispensings exist: sale-level faults are put
   on dispensings of clean nozzles, spread out, never two on one record, never in
   the last 4 hours (the checker's decisions need the watermark to pass them);
3. ``build_truth`` — once sales are settled: one ``Fault`` per injected fault with
   the alarm keys it must (``expect``) and may (``allow``) cause.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

from anxin.sim import firmware
from anxin.sim.model import DAY, MIN, Disp, H, NozzlePlan, S, local_date, ms, near_price_change
from anxin.sim.scenarios import BY_NAME, FIRMWARE_SCENARIOS, PUMP_SEQ_ONLY, SALE_SCENARIOS
from anxin.sim.supply import verification_record
from anxin.sim.truth import AlarmKey, Fault

if TYPE_CHECKING:
    from anxin.sim.station import StationPlan


# ---------------------------------------------------------------------------- timelines
def _pick_time(rng: random.Random, lo: int, hi: int, hours: tuple[float, float] | None, day0: int) -> int | None:
    """A time in [lo, hi], inside the local ``hours`` of some day when given."""
    if hi <= lo:
        return None
    if hours is None:
        return ms(rng.uniform(lo, hi))
    spans = []
    d = (lo - day0) // DAY
    while day0 + d * DAY < hi:
        a = max(lo, day0 + d * DAY + int(hours[0] * H))
        b = min(hi, day0 + d * DAY + int(hours[1] * H))
        if b > a:
            spans.append((a, b))
        d += 1
    if not spans:
        return None
    a, b = rng.choice(spans)
    return ms(rng.uniform(a, b))


def _visit(
    plan: StationPlan, nz: NozzlePlan, rng: random.Random, t: int, *, new_k: int | None, vtype: str, passing: bool
) -> int:
    """An inspector's visit from ``t``: optional authorised K adjustment (seal_open,
    k_factor_change, seal_close), the test runs, and the verification record. The
    nozzle is out of service meanwhile. Returns the verification's ts."""
    dur = ms(rng.uniform(60, 90) * MIN)
    nz.block(t, t + dur)
    k_test = nz.k_at(t)
    if new_k is not None and new_k != k_test:
        nz.event(t + 3 * MIN, "seal_open")
        nz.event(t + 8 * MIN, "k_factor_change", {"old": k_test, "new": new_k})
        nz.set_k(t + 8 * MIN, new_k)
        nz.event(t + dur - 8 * MIN, "seal_close")
        k_test = new_k
    ts = t + dur - 5 * MIN
    error = nz.p_phys * (1 + nz.params.get("legacy_p", 0.0)) / k_test - 1
    spec = nz.spec
    assert spec is not None
    rec = verification_record(rng, plan.st, nz.nozzle_id, nz.product, spec.max_flow, ts, k_test, error, vtype, passing)
    nz.verifications.append((ts, rec))
    plan.verifications.append((ts, rec))
    return ts


def setup_timelines(plan: StationPlan, rng: random.Random) -> None:
    cfg = plan.cfg
    t0, t_end = cfg.t0_us, cfg.t_end_us
    inject_end = t_end - 4 * H
    work = (9.0, 15.0)
    for nz in plan.nozzles:
        sc = nz.scenario
        p = nz.params
        if sc == "rigged_inflate":
            p["variant"] = rng.choice(("always", "hours", "large"))
            p["p"] = rng.uniform(0.01, 0.05)
            p["hours"] = rng.choice(((7, 11), (10, 14), (17, 21)))
        elif sc == "legacy_rigged":
            p["legacy_p"] = rng.uniform(0.02, 0.05)
        elif sc in ("k_change_unauthorised", "seal_unauthorised"):
            hours = (0.5, 5.0) if sc == "k_change_unauthorised" else None
            t = _pick_time(rng, t0 + H, t_end - 6 * H, hours, t0) or t0 + H
            nz.block(t - 2 * MIN, t + 10 * MIN)
            if sc == "k_change_unauthorised":
                ev = nz.event(t, "seal_open", fault=sc)
                k_low = round(nz.k_at(t) * (1 - rng.uniform(0.01, 0.03)))
                kc = nz.event(t + 3 * MIN, "k_factor_change", {"old": nz.k_at(t), "new": k_low}, fault=sc)
                nz.set_k(t + 3 * MIN, k_low)
                nz.event(t + 8 * MIN, "seal_close", fault=sc)
                p["events"] = [ev, kc]
            else:
                kind = rng.choices(("seal_open", "tamper", "firmware_update"), (6, 2, 2))[0]
                data = {"version": "2.4.1"} if kind == "firmware_update" else None
                p["events"] = [nz.event(t, kind, data, fault=sc)]
                if kind == "seal_open":
                    nz.event(t + 5 * MIN, "seal_close", fault=sc)
            until = None
            tr = _pick_time(rng, t + 20 * H, min(t + 34 * H, inject_end - 2 * H), work, t0)
            if tr is not None:
                new_k = round(nz.p_phys) if sc == "k_change_unauthorised" else None
                until = _visit(plan, nz, rng, tr, new_k=new_k, vtype="after_repair", passing=True)
            nz.unverified.append((t, until, sc))
        elif sc == "k_change_authorised":
            t = _pick_time(rng, t0 + H, inject_end - 2 * H, work, t0) or t0 + H
            new_k = round(nz.p_phys)
            if new_k == nz.k0:
                new_k += rng.choice((-3, 3))
            p["ver_ts"] = _visit(plan, nz, rng, t, new_k=new_k, vtype="periodic", passing=True)
        elif sc == "undeclared_k":
            t = _pick_time(rng, t0 + H, inject_end - 3 * H, None, t0) or t0 + H
            p["after"] = t
            p["n"] = rng.randint(2, 4)
            p["k_rig"] = round(nz.k0 * (1 - rng.uniform(0.01, 0.03)))
        elif sc == "expired_verification":
            assert nz.spec is not None
            nz.unverified.append((nz.spec.verified_until_us, None, sc))
        elif sc == "failed_verification":
            t = _pick_time(rng, t0 + H, t_end - 6 * H, work, t0) or t0 + H
            ts = _visit(plan, nz, rng, t, new_k=None, vtype="periodic", passing=False)
            nz.unverified.append((ts, None, sc))
            p["ver_ts"] = ts
        elif sc in FIRMWARE_SCENARIOS:  # contract v1.1 §F
            firmware.setup(plan, nz, rng, _visit, _pick_time)
    # Honest periodic verifications, some with a K adjustment.
    chance = min(0.6, cfg.days / 120)
    for nz in plan.nozzles:
        if nz.clean and rng.random() < chance:
            when = _pick_time(rng, t0 + H, inject_end - 2 * H, work, t0)
            if when is not None and nz.free(when, when + 90 * MIN):
                new_k = round(nz.p_phys) if rng.random() < 0.4 else None
                _visit(plan, nz, rng, when, new_k=new_k, vtype="periodic", passing=True)
    # Station-wide power cuts: every nozzle logs power_loss / power_on.
    for d in range(cfg.days):
        if rng.random() >= 0.08:
            continue
        t = ms(rng.uniform(t0 + d * DAY + 30 * MIN, min(t0 + (d + 1) * DAY, t_end - 5 * H)))
        dur = ms(rng.uniform(1, 8) * MIN)
        if t >= t_end - 5 * H or not all(nz.free(t, t + dur) for nz in plan.nozzles):
            continue
        for nz in plan.nozzles:
            nz.block(t - S, t + dur + S)
            nz.event(t, "power_loss")
            nz.event(t + dur, "power_on")


# ---------------------------------------------------------------------------- sale faults
def _eligible(plan: StationPlan, d: Disp, name: str) -> bool:
    cfg = plan.cfg
    nz = d.nz
    disps = nz.disps
    i = d.idx
    if d.busy or d.start < cfg.t0_us + 20 * MIN or d.end + 61 * S > cfg.t_end_us - 4 * H:
        return False
    if near_price_change(plan.st, d.start) or near_price_change(plan.st, d.end + 60 * S):
        return False
    if any(disps[j].busy for j in range(max(0, i - 2), min(len(disps), i + 3))):
        return False
    if name == "deleted_metering" and i > len(disps) - 3:
        return False  # a later record must arrive for the gap to show
    # A gap or a jump needs an earlier record too: the platform cannot miss a first seq.
    return not (name in ("deleted_metering", "totalizer_jump") and i < 1)


def select_sale_faults(plan: StationPlan, rng: random.Random, nprng: np.random.Generator) -> None:
    st, cfg = plan.st, plan.cfg
    sc = cfg.scenarios
    clean = [nz for nz in plan.nozzles if nz.clean]
    total = sum(len(nz.disps) for nz in plan.nozzles)
    for name in SALE_SCENARIOS:
        rate = sc.rate(name)
        if rate <= 0 or (name in PUMP_SEQ_ONLY and st.legacy_pos):
            continue
        n = int(nprng.poisson(rate * total))
        if name in st.forced:
            n = max(n, 1)
        if n == 0:
            continue
        if name == "unknown_device":
            plan.add_ghost_dispensings(rng, n)
            continue
        pool = [nz for nz in clean if nz.disps]
        if not pool:
            continue
        done = 0
        for _ in range(60 * n):
            if done >= n:
                break
            nz = rng.choice(pool)
            d = rng.choice(nz.disps)
            if not _eligible(plan, d, name):
                continue
            _apply(plan, d, name, rng)
            done += 1


def _apply(plan: StationPlan, d: Disp, name: str, rng: random.Random) -> None:
    d.fault = name
    d.busy = True
    fx: dict = {}
    if name == "amount_fraud":
        fx["delta"] = rng.choice((1, 1, 1, -1)) * rng.randint(2, 300)
    elif name == "price_fraud":
        fx["delta"] = rng.randint(10, 60)
    elif name == "deleted_metering":
        d.mute_m = True
    elif name == "off_book":
        d.mute_s = True
    elif name == "forged":
        fx["vol"] = max(1000, round(d.vol * (1 - rng.uniform(0.02, 0.10))))
    elif name == "cloned":
        others = [nz for nz in plan.nozzles if nz is not d.nz]
        fx["as"] = rng.choice(others)
    elif name == "duplicate_seq":
        fx["dt"] = rng.randint(2, 20) * S
        fx["factor"] = 1 - rng.uniform(0.02, 0.08)
    elif name == "totalizer_jump":
        fx["jump"] = rng.choice((1, -1)) * rng.randint(1_000, 500_000)
    elif name == "inconsistent":
        while True:
            dp = rng.choice((1, -1)) * rng.randint(1, 4)
            if abs((d.pulses + dp) * 1e6 / d.k - d.vol) >= 5 and d.pulses + dp > 0:
                break
        fx["dp"] = dp
    elif name == "implausible_flow":
        spec = d.nz.spec
        assert spec is not None
        u = rng.random()
        if u < 0.6:
            fast = spec.max_flow * rng.uniform(1.2, 2.0)
            d.rec_end = d.start + max(1000, ms(d.vol / fast * MIN))
        elif u < 0.8:
            d.rec_end = d.start
        else:
            d.rec_end = d.start - rng.randint(1, 60) * S
        fx["variant"] = "fast" if u < 0.6 else ("zero" if u < 0.8 else "reversed")
    d.fx = fx


# ---------------------------------------------------------------------------- truth
def _key(rule: str, station_id: str, **kw) -> AlarmKey:
    return AlarmKey(rule=rule, station_id=station_id, **kw)


def _unverified_days(
    plan: StationPlan,
    nz: NozzlePlan,
    t_from: int,
    until: int | None,
) -> tuple[list[AlarmKey], list[AlarmKey]]:
    """UNVERIFIED_USE keys: one per local day with a dispensing starting in (t_from, until);
    days whose first such dispensing lies in the last 4 hours are only allowed."""
    inject_end = plan.cfg.t_end_us - 4 * H
    seen: dict[str, int] = {}
    for d in nz.disps:
        if d.start > t_from and (until is None or d.start < until):
            seen.setdefault(local_date(plan.cfg, d.start), d.start)
    expect: list[AlarmKey] = []
    allow: list[AlarmKey] = []
    for day, first in seen.items():
        key = _key("UNVERIFIED_USE", nz.station_id, nozzle_id=nz.nozzle_id, day=day)
        (expect if first < inject_end else allow).append(key)
    return expect, allow


def _all_days_from(plan: StationPlan, nz: NozzlePlan, t: int) -> list[AlarmKey]:
    cfg = plan.cfg
    first = (t - cfg.t0_us) // DAY
    return [
        _key("UNVERIFIED_USE", nz.station_id, nozzle_id=nz.nozzle_id, day=local_date(cfg, cfg.t0_us + d * DAY))
        for d in range(max(0, first), cfg.days)
    ]


def build_truth(plan: StationPlan) -> list[Fault]:
    st = plan.st
    sid = st.station_id
    faults: list[Fault] = []

    def add(
        scenario: str,
        expect: list[AlarmKey],
        allow: list[AlarmKey] | None = None,
        nozzle_id: str | None = None,
        tank_id: str | None = None,
        **detail: object,
    ) -> None:
        faults.append(
            Fault(
                fault_id=f"{sid}-F{len(faults) + 1:04d}",
                scenario=scenario,
                record_level=BY_NAME[scenario].record_level,
                expect=expect,
                allow=allow or [],
                station_id=sid,
                nozzle_id=nozzle_id,
                tank_id=tank_id,
                detail=detail,
            )
        )

    tank_of = {nz.nozzle_id: nz.spec.tank_id for nz in plan.nozzles if nz.spec}
    for nz in plan.nozzles:
        nid, sc, p = nz.nozzle_id, nz.scenario, nz.params
        drift = _key("METER_DRIFT", sid, nozzle_id=nid)
        loss = _key("TANK_LOSS", sid, tank_id=tank_of[nid])
        for d in nz.disps:
            if d.fault:
                faults.extend(_sale_fault(plan, d, len(faults)))
        if sc in ("k_change_unauthorised", "seal_unauthorised"):
            t_from, until, _ = nz.unverified[0]
            uv, uv_allow = _unverified_days(plan, nz, t_from, until)
            expect = [_key("SEAL_BREACH", sid, nozzle_id=nid, seq=p["events"][0].seq)]
            if sc == "k_change_unauthorised":
                expect.append(_key("K_FACTOR_CHANGE", sid, nozzle_id=nid, seq=p["events"][1].seq))
            allow = uv_allow + ([drift] if sc == "k_change_unauthorised" else [])
            if p["events"][0].event == "firmware_update":  # no sha256: in a city with a firmware register,
                # UNAPPROVED_FIRMWARE too (anxin certify found two unexplained in a raised city)
                allow.append(_key("UNAPPROVED_FIRMWARE", sid, nozzle_id=nid, seq=p["events"][0].seq))
            add(sc, expect + uv, allow, nozzle_id=nid, event=p["events"][0].event, restored=until is not None)
        elif sc == "k_change_authorised":
            add(sc, [], [], nozzle_id=nid, verification=plan.fmt(p["ver_ts"]), k_old=nz.k_val[0], k_new=nz.k_val[-1])
        elif sc == "undeclared_k":
            recs = [d for d in nz.disps if d.fault == "undeclared_k"]
            expect = [_key("K_FACTOR_CHANGE", sid, nozzle_id=nid, seq=d.seq) for d in recs]
            t = recs[0].start if recs else p["after"]
            add(sc, expect, _all_days_from(plan, nz, t) + [drift], nozzle_id=nid, k_rig=p["k_rig"], records=len(recs))
        elif sc in ("expired_verification", "failed_verification"):
            t_from, until, _ = nz.unverified[0]
            uv, uv_allow = _unverified_days(plan, nz, t_from, until)
            allow = uv_allow
            if sc == "failed_verification":
                allow = allow + [drift] + ([loss] if nz.error0 < 0 else [])
            add(sc, uv, allow, nozzle_id=nid, since=plan.fmt(t_from))
        elif sc == "legacy_rigged":
            add(sc, [drift], [], nozzle_id=nid, inflate_permille=round(p["legacy_p"] * 1000, 3))
        elif sc == "meter_drift":
            add(sc, [drift], [loss] if nz.error0 < 0 else [], nozzle_id=nid, error_permille=round(nz.error0 * 1000, 3))
        elif sc is not None and (found := firmware.truth(plan, nz, _unverified_days)) is not None:  # v1.1 §F
            expect, allow, detail = found
            add(sc, expect, allow, nozzle_id=nid, **detail)
    if plan.ghost is not None:
        for d in plan.ghost.disps:
            faults.extend(_sale_fault(plan, d, len(faults)))
    for t in st.tanks:
        if t.scenario == "tank_leak":
            allow = [
                _key("METER_DRIFT", sid, nozzle_id=nz.nozzle_id)
                for nz in plan.nozzles
                if nz.spec and nz.spec.tank_id == t.spec.tank_id
            ]
            add(
                "tank_leak",
                [_key("TANK_LOSS", sid, tank_id=t.spec.tank_id)],
                allow,
                tank_id=t.spec.tank_id,
                leak_ml_per_h=t.leak_ml_per_h,
            )
    return faults


def _sale_fault(plan: StationPlan, d: Disp, n: int) -> list[Fault]:
    sid = plan.st.station_id
    nid = d.nz.nozzle_id
    name = d.fault
    assert name is not None
    if name == "undeclared_k":
        return []  # reported once per nozzle
    order = _key("", sid, nozzle_id=nid, order_id=d.order_id)
    rec = _key("", sid, nozzle_id=nid, seq=d.seq)
    rule_of = {
        "rigged_inflate": [("VOLUME_MISMATCH", order)],
        "amount_fraud": [("AMOUNT_MISMATCH", order)],
        "price_fraud": [("PRICE_MISMATCH", order)],
        "deleted_metering": [("SEQUENCE_GAP", rec), ("UNMATCHED_SETTLEMENT", order)],
        "off_book": [("UNMATCHED_METERING", rec)],
        "forged": [("BAD_SIGNATURE", rec)],
        "duplicate_seq": [("DUPLICATE_SEQ", rec)],
        "totalizer_jump": [("TOTALIZER_JUMP", rec)],
        "inconsistent": [("METROLOGY_INCONSISTENT", rec)],
        "implausible_flow": [("FLOW_IMPLAUSIBLE", rec)],
        "unknown_device": [("UNKNOWN_DEVICE", rec), ("UNKNOWN_DEVICE", order)],
    }
    allow: list[AlarmKey] = []
    if name == "cloned":
        other = d.fx["as"] if d.fx else None
        assert other is not None
        clone = _key("", sid, nozzle_id=other.nozzle_id, seq=d.seq)
        pairs = [("UNKNOWN_DEVICE", clone)]
        allow = [_rekey("BAD_SIGNATURE", clone)]
    else:
        pairs = rule_of[name]
    expect = [_rekey(rule, k) for rule, k in pairs]
    detail = {"seq": d.seq, "order_id": d.order_id, "start": plan.fmt(d.start)}
    if d.fx:
        detail.update({k: v for k, v in d.fx.items() if isinstance(v, (int, float, str))})
    if name == "cloned" and d.fx:
        detail["as"] = d.fx["as"].nozzle_id
    return [
        Fault(
            fault_id=f"{sid}-F{n + 1:04d}",
            scenario=name,
            record_level=True,
            expect=expect,
            allow=allow,
            station_id=sid,
            nozzle_id=nid,
            detail=detail,
        )
    ]


def _rekey(rule: str, k: AlarmKey) -> AlarmKey:
    return AlarmKey(
        rule=rule,
        station_id=k.station_id,
        nozzle_id=k.nozzle_id,
        seq=k.seq,
        order_id=k.order_id,
        day=k.day,
        tank_id=k.tank_id,
    )
