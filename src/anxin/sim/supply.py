"""Tanks, deliveries (卸油) and verifications (强制检定) of a simulated station."""

from __future__ import annotations

import bisect
import random
from datetime import UTC, datetime

import msgspec
import numpy as np

from anxin.contract.records import Verification
from anxin.contract.times import format_ts
from anxin.sim.model import DAY, MIN, H, ms
from anxin.sim.specs import PRODUCTS, CityConfig, StationSpec, TankInfo
from anxin.sim.tank import gauge_series, reading_records
from anxin.verification.jjg443 import beta_for_product, evaluate_verification

COMPARTMENTS_ML = (15_000_000, 12_000_000, 10_000_000, 8_000_000, 5_000_000)
ORGS = ("杭州市计量检定测试院", "浙江省计量科学研究院", "杭州市质量技术监督检测院")
READING_INTERVAL_US = 5 * MIN  # the default world's (cfg.world.interval_us)
DELIVERY_NOTE_SD = 0.001  # relative SD of a delivery note's declared volume (the default world's)


def plan_deliveries(
    rng: random.Random, tank: TankInfo, draws: list[tuple[int, int, float]], cfg: CityConfig
) -> list[tuple[int, int, float]]:
    """Deliveries in the small hours when the tank would fall below ~30 % by the next
    night (plus an afternoon top-up for a tank that would run very low). In a world with
    ``delivery_on_reading`` each compartment starts exactly on a gauge reading."""
    cap = tank.spec.capacity_ml
    ends = sorted(e for _, e, _ in draws)
    vols = [v for _, v in sorted((e, v) for _, e, v in draws)]
    cum = [0.0]
    for v in vols:
        cum.append(cum[-1] + v)

    def drawn(t: int) -> float:
        return cum[bisect.bisect_right(ends, t)]

    level0 = tank.initial_fill * cap
    delivered = 0.0
    out: list[tuple[int, int, float]] = []
    on_reading = cfg.world.delivery_on_reading
    step = cfg.world.interval_us
    for d in range(cfg.days):
        day0 = cfg.t0_us + d * DAY
        for hour, spread, threshold, night in ((1.5, 2.0, 0.30, True), (13.5, 1.5, 0.18, False)):
            t = ms(day0 + hour * H + rng.uniform(0, spread) * H)
            if t >= cfg.t_end_us - 2 * H:
                continue
            now = level0 + delivered - drawn(t)
            nxt = day0 + DAY + 2 * H
            projected = now - (drawn(nxt) - drawn(t))
            if not (projected < threshold * cap or (night and now < 0.45 * cap)):
                continue
            room = 0.92 * cap - now
            cursor = t
            for _ in range(3):
                fits = [c for c in COMPARTMENTS_ML if c <= room]
                if not fits:
                    break
                vol = round(fits[0] * rng.uniform(0.996, 1.0))
                dur = ms(vol / rng.uniform(400_000, 700_000) * MIN)
                if on_reading:
                    cursor = cfg.t0_us + -(-(cursor - cfg.t0_us) // step) * step
                out.append((cursor, cursor + dur, float(vol)))
                delivered += vol
                room -= vol
                cursor = ms(cursor + dur + rng.uniform(3, 10) * MIN)
    return out


def readings_lines(
    st: StationSpec,
    tank: TankInfo,
    draws: list[tuple[int, int, float]],
    deliveries: list[tuple[int, int, float]],
    cfg: CityConfig,
    nprng: np.random.Generator,
) -> list[tuple[int, bytes]]:
    """(ts_us, line) of every gauge reading of the period."""
    w = cfg.world
    g = gauge_series(
        tank.spec,
        start_us=cfg.t0_us,
        end_us=cfg.t_end_us,
        initial_volume20_ml=tank.initial_fill * tank.spec.capacity_ml,
        draws=draws,
        deliveries=deliveries,
        rng=nprng,
        ground_temp_c=st.ground_temp_c,
        leak_ml_per_h=tank.leak_ml_per_h,
        water_um=tank.water_um,
        world=w,
        **w.reading_kwargs(),
    )
    enc = msgspec.json.encode  # exact-size bytes (no spare buffer per object)
    recs = reading_records(tank.spec, g, format_ts)
    return [(ts, enc(r)) for ts, r in zip(g.t_us.tolist(), recs)]


_ver_decoder = msgspec.json.Decoder(Verification)


def verification_record(
    rng: random.Random,
    st: StationSpec,
    nozzle_id: str,
    product: str,
    max_flow: int,
    ts: int,
    k: int,
    error: float,
    vtype: str,
    passing: bool,
) -> dict:
    """A verification with raw runs whose JJG 443 result is ``error`` (± noise):
    within ±1.5‰ and passing when ``passing``, failing otherwise."""
    beta = beta_for_product(PRODUCTS.get(product))
    big = (max_flow * 9 // 10) // 1000 * 1000
    flows = (big, 10_000)
    year = datetime.fromtimestamp(ts / 1e6, tz=UTC).year
    rec: dict = {}
    for _ in range(100):
        runs = []
        for flow in flows:
            offset = rng.gauss(0.0, 0.0002)
            for _ in range(3):
                vs = 20_000 + rng.randint(-12, 12)
                tb = rng.randint(14_000, 19_000)
                tj = tb + rng.randint(-400, 400)
                vb = vs * (1 + beta * (tj - tb) / 1000 + 50e-6 * (tb - 20_000) / 1000)
                e = error + offset + rng.gauss(0.0, 0.00012)
                runs.append(
                    {
                        "flow_ml_per_min": flow,
                        "standard_ml": vs,
                        "indicated_ml": round(vb * (1 + e)),
                        "standard_temp_mc": tb,
                        "dispenser_temp_mc": tj,
                    }
                )
        rec = {
            "kind": "verification",
            "station_id": st.station_id,
            "nozzle_id": nozzle_id,
            "ts": format_ts(ts),
            "type": vtype,
            "org": rng.choice(ORGS),
            "certificate_no": f"HZJD-{year}-{rng.randint(0, 99999):05d}",
            "k_pulses_per_m3": k,
            "valid_until": format_ts(ts + 182 * DAY if passing else ts),
            "runs": runs,
        }
        result = evaluate_verification(_ver_decoder.decode(msgspec.json.encode(rec)), beta_y_per_c=beta)
        worst = max(abs(p.error) for p in result.flow_points)
        if passing and result.passed and worst <= 0.0015:
            return rec
        if not passing and not result.passed:
            return rec
    raise RuntimeError("could not draw verification runs with the requested verdict")
