"""One station over the simulated period (加油站): demand, dispensings, metering, sales,
tanks, and every record with its arrival time, bucketed by local day.

Physics of a dispensing: the customer's target is an *indicated* volume; the
module counts pulses until it shows that much, ``volume_ml = round(pulses·10⁶/K)``
(the contract's formula, exact for honest records); the fuel that really left
the tank is ``pulses·10⁶/P`` with ``P = K_registry·(1 + E)`` the pulser's physical
constant, so the meter's error is ``E = P/K − 1`` (JJG 443 sign) and changes when
K is re-set. Sales are derived from the metering exactly as the contract says.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from anxin.sim import faults as F
from anxin.sim.model import (
    DAY,
    MIN,
    Disp,
    Ev,
    H,
    NozzlePlan,
    S,
    day_of,
    fmt,
    ms,
    posted_price,
    rhu,
)
from anxin.sim.signing import derive_int
from anxin.sim.specs import DAILY_SALES_PER_NOZZLE, PRODUCT_DEMAND, CityConfig, StationSpec
from anxin.sim.supply import plan_deliveries, readings_lines
from anxin.sim.tank import volumes_ml
from anxin.sim.truth import Fault, MeterTruth, TankTruth, TankWorldTruth

HOUR_WEIGHTS = (
    0.30,
    0.18,
    0.12,
    0.10,
    0.14,
    0.35,
    0.75,
    1.45,
    1.75,
    1.35,
    1.10,
    1.05,
    1.00,
    0.95,
    0.95,
    1.05,
    1.30,
    1.70,
    1.85,
    1.45,
    1.05,
    0.80,
    0.60,
    0.42,
)
CUM_WEIGHTS = tuple(sum(HOUR_WEIGHTS[: i + 1]) for i in range(24))
PAYMENTS = ("wechat", "alipay", "unionpay", "cash", "fuel_card")
PAYMENT_WEIGHTS = (45, 25, 8, 4, 18)
RESEND_MAX_US = 30 * MIN

# Emission: (event_us, arrival_us, file kind, op, obj, extra)
Emission = tuple[int, int, str, str, Any, Any]


class StationPlan:
    def __init__(self, st: StationSpec, cfg: CityConfig) -> None:
        self.st = st
        self.cfg = cfg
        self.nozzles = [NozzlePlan(n, cfg.seed) for n in st.nozzles]
        self.ghost: NozzlePlan | None = None
        self.verifications: list[tuple[int, dict]] = []
        self.deliveries: list[tuple[str, int, int, float]] = []
        self.readings: list[tuple[str, int, bytes]] = []
        self.buckets: dict[int, list[Emission]] = {}
        self.faults: list[Fault] = []
        self.meters: list[MeterTruth] = []
        self.tanks: list[TankTruth] = []
        self.tank_worlds: list[TankWorldTruth] = []  # only in a world other than the default
        self.malformed_planned = False
        self.resends = 0

    @staticmethod
    def fmt(t: int) -> str:
        return fmt(t)

    def emit(self, t: int, arrival: int, kind: str, op: str, obj: Any, extra: Any = None) -> None:
        d = min(max(day_of(self.cfg, t), 0), self.cfg.days - 1)
        self.buckets.setdefault(d, []).append((t, arrival, kind, op, obj, extra))

    # ------------------------------------------------------------------ ghosts
    def add_ghost_dispensings(self, rng: random.Random, n: int) -> None:
        """Dispensings of an unregistered nozzle (a hidden dispenser), with sales."""
        st, cfg = self.st, self.cfg
        if self.ghost is None:
            n_disp = len({nz.spec.dispenser_id for nz in self.nozzles if nz.spec})
            gid = f"{st.station_id}-D{n_disp + 1}-N1"
            self.ghost = NozzlePlan(
                None, cfg.seed, nozzle_id=gid, station_id=st.station_id, key_id=f"{gid}-k1", k=100_000
            )
        g = self.ghost
        lo, hi = cfg.t0_us + 30 * MIN, cfg.t_end_us - 4 * H - 15 * MIN
        starts = sorted(ms(rng.uniform(lo, hi)) for _ in range(n))
        prev_end = -(2**62)
        for s in starts:
            s = max(s, prev_end + 5 * MIN)
            target = rng.uniform(20_000, 50_000)
            flow = rng.uniform(30_000, 40_000)
            d = _make_disp(g, s, target, flow, g.k0)
            if d.end + 61 * S > hi + 15 * MIN:
                break
            d.fault = "unknown_device"
            d.busy = True
            d.idx = len(g.disps)
            g.disps.append(d)
            prev_end = d.end


def _make_disp(nz: NozzlePlan, s: int, target_ml: float, flow: float, k: int) -> Disp:
    pulses = max(1, round(target_ml * k / 1e6))
    legacy_p = nz.params.get("legacy_p")
    true_ml = pulses * 1e6 / nz.p_phys
    if legacy_p:  # the board counts pulses that never were
        pulses = round(pulses * (1 + legacy_p))
    vol = round(pulses * 1e6 / k)
    dur = max(1000, ms(vol / flow * MIN))
    return Disp(nz, s, s + dur, k, pulses, vol, true_ml, flow)


def _draw_volume(rng: random.Random, product: str, price: int) -> tuple[float, float]:
    """(indicated target mL, flow mL/min) of one customer."""
    u = rng.random()

    def lognormal_l(median_log: float, sigma: float, lo: float, hi: float) -> float:
        return min(hi, max(lo, rng.lognormvariate(median_log, sigma))) * 1000

    if product == "0":
        if u < 0.35:  # trucks (median 110 L)
            return lognormal_l(4.70, 0.45, 40.0, 300.0), rng.uniform(38_000, 55_000)
        if u < 0.55:  # cans, small machines
            return rng.uniform(5.0, 25.0) * 1000, rng.uniform(25_000, 40_000)
        return lognormal_l(3.74, 0.25, 15.0, 80.0), rng.uniform(30_000, 45_000)  # cars, vans
    if u < 0.12:  # scooters, motorbikes
        return rng.uniform(5.0, 10.0) * 1000, rng.uniform(25_000, 35_000)
    if u < 0.20:  # jerry cans, small cars topping up
        return rng.uniform(5.0, 20.0) * 1000, rng.uniform(25_000, 40_000)
    if u < 0.32:  # "加200块": the dispenser stops at a preset amount
        amount = rng.choice((10_000, 15_000, 20_000, 20_000, 30_000))
        return amount * 1000 / price, rng.uniform(30_000, 45_000)
    return lognormal_l(3.58, 0.22, 18.0, 60.0), rng.uniform(30_000, 45_000)  # cars (median 36 L)


def _generate(plan: StationPlan, nz: NozzlePlan, rng: random.Random) -> None:
    """Customers arrive by the daily curve; one nozzle serves them one after another."""
    st, cfg = plan.st, plan.cfg
    mean = DAILY_SALES_PER_NOZZLE * st.demand * PRODUCT_DEMAND[nz.product]
    t_stop = cfg.t_end_us - 62 * S
    prev_end = cfg.t0_us - 10 * MIN
    und = nz.params if nz.scenario == "undeclared_k" else None
    und_left = und["n"] if und else 0
    out = nz.disps
    for day in range(cfg.days):
        day0 = cfg.t0_us + day * DAY
        n = max(0, round(rng.gauss(mean, mean**0.5)))
        hours = rng.choices(range(24), cum_weights=CUM_WEIGHTS, k=n)
        for a in sorted(day0 + h * H + int(rng.random() * H) for h in hours):
            target, flow = _draw_volume(rng, nz.product, posted_price(st, nz.product, a))
            s = ms(max(a, prev_end + 30 * S + min(10 * MIN, rng.expovariate(1 / (45 * S)))))
            while True:
                k = nz.k_at(s)
                use_rig = und is not None and und_left > 0 and s > und["after"]
                d = _make_disp(nz, s, target, flow, und["k_rig"] if use_rig and und is not None else k)
                hit = next((w for w in nz.windows if w[0] - 30 * S < d.end + 30 * S and s - 30 * S < w[1]), None)
                if hit is None:
                    break
                s = ms(hit[1] + 30 * S + rng.uniform(0, 120) * S)
            if d.end >= t_stop:
                return
            if use_rig:
                und_left -= 1
                d.fault = "undeclared_k"
                d.busy = True
            d.idx = len(out)
            out.append(d)
            prev_end = d.end


def _chain(nz: NozzlePlan, rng: random.Random) -> None:
    """seq and totalizers: one counter for metering and events, one running total."""
    items: list[Disp | Ev] = [*nz.disps, *nz.events]
    items.sort(key=lambda it: it.start if isinstance(it, Disp) else it.ts)
    nz.items = items
    nz.seq0 = seq = rng.randint(1, 5_000_000)
    nz.tot_start = total = rng.randint(10_000_000, 5_000_000_000)
    for it in items:
        it.seq = seq
        seq += 1
        if isinstance(it, Disp):
            if it.fault == "totalizer_jump" and it.fx:
                total = max(0, total + it.fx["jump"])
            it.tot0 = total
            total += it.vol


def _settle(plan: StationPlan, rng: random.Random) -> None:
    st, cfg = plan.st, plan.cfg
    sales: list[Disp] = []
    inject_end = cfg.t_end_us - 4 * H
    for nz in [*plan.nozzles, *([plan.ghost] if plan.ghost else [])]:
        disps = nz.disps
        rig = nz.params if nz.scenario == "rigged_inflate" else None
        for i, d in enumerate(disps):
            gap = (disps[i + 1].start - d.end) if i + 1 < len(disps) else 61 * S
            d.sale_ts = ms(d.end + rng.uniform(2 * S, min(60 * S, gap - S)))
            d.price = posted_price(st, nz.product, d.start)
            d.sale_vol = 10 * rhu(d.vol, 10)
            if rig is not None and d.fault is None and d.sale_ts < inject_end:
                hour = ((d.start - cfg.t0_us) % DAY) // H
                lo, hi = rig["hours"]
                active = (
                    rig["variant"] == "always"
                    or (rig["variant"] == "hours" and lo <= hour < hi)
                    or (rig["variant"] == "large" and d.vol > 40_000)
                )
                inflated = 10 * rhu(round(d.vol * (1 + rig["p"])), 10)
                if active and abs(inflated - d.vol) > 10:
                    d.sale_vol = inflated
                    d.fault = "rigged_inflate"
                    d.busy = True
                    d.fx = {"p": round(rig["p"], 5), "variant": rig["variant"]}
            if d.fault == "price_fraud" and d.fx:
                d.price += d.fx["delta"]
            d.amount = rhu(d.sale_vol * d.price, 1000)
            if d.fault == "amount_fraud" and d.fx:
                d.amount = max(0, d.amount + d.fx["delta"])
            d.payment = rng.choices(PAYMENTS, weights=PAYMENT_WEIGHTS)[0]
            paid = d.amount
            u = rng.random()
            if d.payment == "fuel_card" or u < 0.25:
                paid -= rhu(d.sale_vol * st.member_discount_fen, 1000)
            elif u < 0.29:
                coupon = rng.choice((500, 1000, 2000))
                if d.amount > 2 * coupon:
                    paid -= coupon
            d.paid = max(0, min(paid, d.amount))
            if not d.mute_s:
                sales.append(d)
    sales.sort(key=lambda d: (d.sale_ts, d.nz.nozzle_id))
    counters: dict[int, int] = {}
    for d in sales:
        day = day_of(cfg, d.sale_ts)
        counters[day] = n = counters.get(day, 0) + 1
        date = fmt(d.sale_ts)[:10].replace("-", "")
        d.order_id = f"{st.station_id[1:]}{date}{n:05d}"


def _tanks(plan: StationPlan, rng: random.Random) -> None:
    st, cfg = plan.st, plan.cfg
    for t in st.tanks:
        tid = t.spec.tank_id
        draws = [
            (d.start, d.end, d.true_ml) for nz in plan.nozzles if nz.spec and nz.spec.tank_id == tid for d in nz.disps
        ]
        draws.sort()
        deliveries = plan_deliveries(rng, t, draws, cfg)
        nprng = np.random.default_rng(derive_int(cfg.seed, tid, "gauge"))
        lines = readings_lines(st, t, draws, deliveries, cfg, nprng)
        for ts, line in lines:
            plan.readings.append((tid, ts, line))
        # The delivery note's volume comes from the depot's loading meter: right to about
        # 1‰ (independently per compartment), not exactly what went into the tank; in some
        # worlds the depot's meter is biased as well.
        note = np.random.default_rng(derive_int(cfg.seed, tid, "delivery-note"))
        w = cfg.world
        note_sd = w.note_sd_permille / 1000.0
        depot, bias = depot_of(cfg, st.station_id)
        for s, e, v in deliveries:
            rel = note.normal(0.0, note_sd)
            if bias:
                rel = bias + rel
            plan.deliveries.append((tid, s, e, float(round(v * (1.0 + rel)))))
        if not w.is_default:
            levels = np.asarray([lv for lv, _ in t.chart], dtype=np.float64)
            true = volumes_ml(t.spec, levels)
            plan.tank_worlds.append(
                TankWorldTruth(
                    tank_id=tid,
                    station_id=st.station_id,
                    world=w.name,
                    head_depth_mm=t.spec.head_depth_mm,
                    tilt_deg=t.spec.tilt_deg,
                    gauge_position=t.spec.gauge_position,
                    depot=depot,
                    depot_bias_permille=round(bias * 1000.0, 6),
                    evaporation_ml_per_h=w.evaporation_ml_per_h,
                    water_ingress_mm_per_day=w.water_ingress_mm_per_day,
                    readings_planned=-(-(cfg.t_end_us - cfg.t0_us) // w.interval_us),
                    readings_sent=len(lines),
                    chart_error=[(int(lv), round(float(tv) - vol, 3)) for (lv, vol), tv in zip(t.chart, true.tolist())],
                )
            )
        plan.tanks.append(
            TankTruth(
                tank_id=tid,
                station_id=st.station_id,
                product=t.spec.product,
                scenario=t.scenario,
                leak_ml_per_h=t.leak_ml_per_h,
                capacity_ml=t.spec.capacity_ml,
                diameter_mm=t.spec.diameter_mm,
                length_mm=t.spec.length_mm,
                expansion_ppm_per_c=t.spec.expansion_ppm_per_c,
                initial_volume20_ml=round(t.initial_fill * t.spec.capacity_ml, 3),
                ground_temp_c=st.ground_temp_c,
                water_um=t.water_um,
                deliveries=len(deliveries),
                delivered_ml=int(sum(v for _, _, v in deliveries)),
                declared_ml=int(sum(v for t_, _, _, v in plan.deliveries if t_ == tid)),
                drawn_true_ml=round(sum(v for _, _, v in draws), 3),
            )
        )


def depot_of(cfg: CityConfig, station_id: str) -> tuple[str, float]:
    """The depot a station's deliveries come from and its meter's bias (fraction): one
    depot per station, or the world's ``depots`` shared by the city."""
    w = cfg.world
    if w.depots > 0:
        k = derive_int(cfg.seed, station_id, "depot-pick") % w.depots
        name, key = f"depot-{k + 1}", derive_int(cfg.seed, "depot", k)
    else:
        name, key = f"depot-{station_id}", derive_int(cfg.seed, station_id, "depot")
    if w.depot_bias_sd_permille <= 0:
        return name, 0.0
    return name, float(np.random.default_rng(key).normal(0.0, w.depot_bias_sd_permille / 1000.0))


def _meters(plan: StationPlan) -> None:
    for nz in plan.nozzles:
        assert nz.spec is not None
        lp = nz.params.get("legacy_p", 0.0)
        metered = sum(d.vol for d in nz.disps)
        true = sum(d.true_ml for d in nz.disps)
        segs = [
            {"from": fmt(max(f, plan.cfg.t0_us)), "error_permille": round(((1 + lp) * nz.p_phys / k - 1) * 1000, 4)}
            for f, k in zip(nz.k_from, nz.k_val)
        ]
        plan.meters.append(
            MeterTruth(
                nozzle_id=nz.nozzle_id,
                station_id=nz.station_id,
                tank_id=nz.spec.tank_id,
                product=nz.product,
                anti_cheat=nz.spec.anti_cheat,
                scenario=nz.scenario,
                error_permille=round((metered / true - 1) * 1000, 4) if true else 0.0,
                base_error_permille=round(((1 + lp) * (1 + nz.error0) - 1) * 1000, 4),
                segments=segs,
                dispensings=len(nz.disps),
                metered_ml=metered,
                true_ml=round(true, 3),
            )
        )


def _emissions(plan: StationPlan, rng: random.Random) -> None:
    """Every record with its arrival: each station source uploads in batches (module
    records every 10–30 s, POS every 30–90 s, gauge every 60–110 s), so a source's
    records of one station arrive in event-time order, 0–120 s late."""
    cfg = plan.cfg
    lat = rng.randint(200, 3000) * 1000

    def uploader(lo: int, hi: int):
        period = rng.randint(lo, hi) * S
        phase = rng.randrange(period)
        return lambda t: ((t - phase + period - 1) // period) * period + phase + lat

    up_mod, up_pos, up_atg = uploader(10, 30), uploader(30, 90), uploader(60, 110)
    resend_rate = cfg.scenarios.resends
    emit = plan.emit

    def resend(t: int, arr: int, kind: str, em_op: str, obj: Any, extra: Any = None) -> None:
        if resend_rate > 0 and rng.random() < resend_rate:
            when = ms(rng.uniform(arr, t + RESEND_MAX_US))
            target = kind if rng.random() < 0.5 else "resend"
            emit(t, when, target, "R", (t, arr, kind, em_op, obj, extra))
            plan.resends += 1

    def late(t_new: int, arr: int) -> int:
        return ms(min(arr + rng.uniform(60, 1200) * S, t_new + 29 * MIN))

    for nz in [*plan.nozzles, *([plan.ghost] if plan.ghost else [])]:
        for it in nz.items:
            if isinstance(it, Ev):
                arr = up_mod(it.ts)
                emit(it.ts, arr, "event", "E", it)
                if it.fault is None:
                    resend(it.ts, arr, "event", "E", it)
                continue
            d = it
            t_m = d.rec_end
            arr = up_mod(t_m)
            if not d.mute_m:
                emit(t_m, arr, "metering", "M", d)
                if not d.busy:
                    resend(t_m, arr, "metering", "M", d)
            if d.fault in ("forged", "cloned"):
                emit(t_m, late(t_m, arr), "metering", d.fault[0].upper(), d)
            elif d.fault == "duplicate_seq" and d.fx:
                t_dup = t_m + d.fx["dt"]
                emit(t_dup, late(t_dup, arr), "metering", "U", d)
            if not d.mute_s:
                arr_s = up_pos(d.sale_ts)
                emit(d.sale_ts, arr_s, "settlement", "S", d)
                if not d.busy:
                    resend(d.sale_ts, arr_s, "settlement", "S", d)
    for _tid, ts, line in plan.readings:
        arr = up_atg(ts)
        emit(ts, arr, "tank_reading", "T", line)
        resend(ts, arr, "tank_reading", "T", line)
    for tid, s, e, v in plan.deliveries:
        emit(e, ms(e + rng.uniform(60, 1200) * S), "delivery", "D", (tid, s, e, v))
    for ts, rec in sorted(plan.verifications, key=lambda x: x[0]):
        emit(ts, ms(ts + rng.uniform(60, 1800) * S), "verification", "V", rec)
    for bucket in plan.buckets.values():
        bucket.sort(key=lambda em: (em[1], em[0]))


def plan_station(st: StationSpec, cfg: CityConfig) -> StationPlan:
    """Plan a station's whole period; records are rendered later, day by day."""
    rng = random.Random(derive_int(cfg.seed, st.station_id, "plan"))
    nprng = np.random.default_rng(derive_int(cfg.seed, st.station_id, "counts"))
    plan = StationPlan(st, cfg)
    F.setup_timelines(plan, rng)
    for nz in plan.nozzles:
        _generate(plan, nz, rng)
    F.select_sale_faults(plan, rng, nprng)
    for nz in plan.nozzles:
        _chain(nz, rng)
    if plan.ghost is not None:
        _chain(plan.ghost, rng)
    _settle(plan, rng)
    _tanks(plan, rng)
    _meters(plan)
    plan.faults = F.build_truth(plan)
    _emissions(plan, rng)
    if cfg.scenarios.resends > 0 and st.index == 0 and plan.resends == 0:
        _force_resend(plan, rng)
    return plan


def _force_resend(plan: StationPlan, rng: random.Random) -> None:
    for bucket in plan.buckets.values():
        for t, arr, kind, op, obj, extra in bucket:
            if op == "S" and not obj.busy:
                plan.emit(t, ms(rng.uniform(arr, t + RESEND_MAX_US)), kind, "R", (t, arr, kind, op, obj, extra))
                plan.resends += 1
                return
