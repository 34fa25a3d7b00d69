"""Laying out a simulated city (城市布局): each station's place, operator, name,
dispensers, nozzles, tanks (their true geometry and registered chart, from the world's
physics) and prices, then which nozzles, tanks and stations carry which scenario. Every
draw comes from an RNG derived from the seed and the thing drawn, so the same arguments
lay out the same city."""

from __future__ import annotations

import datetime as dt
import random

import msgspec
import numpy as np

from anxin.contract.times import US_PER_DAY
from anxin.sim.firmware import dispenser_model
from anxin.sim.scenarios import FIRMWARE_SCENARIOS, PUMP_SEQ_ONLY, SALE_SCENARIOS, ScenarioSet
from anxin.sim.signing import derive_int, device_signer
from anxin.sim.specs import (
    DAILY_SALES_PER_NOZZLE,
    PRODUCT_DEMAND,
    PRODUCTS,
    CityConfig,
    NozzleSpec,
    StationSpec,
    TankInfo,
    local_midnight_us,
)
from anxin.sim.tank import design_tank, registry_chart
from anxin.sim.world import World

MEAN_VOLUME_L = {"92": 32.0, "95": 32.0, "0": 55.0}
BASE_PRICE = {"92": 768, "95": 821, "0": 760}

# district: (lat, lon, lat spread, lon spread, weight, places)
DISTRICTS: dict[str, tuple[float, float, float, float, int, tuple[str, ...]]] = {
    "上城区": (
        30.275,
        120.19,
        0.035,
        0.045,
        8,
        ("清泰门", "望江门", "凯旋路", "秋涛路", "钱江新城", "近江", "复兴", "四季青", "九堡", "笕桥", "丁兰", "彭埠"),
    ),
    "拱墅区": (
        30.320,
        120.15,
        0.030,
        0.030,
        8,
        ("莫干山路", "湖墅南路", "大关", "半山", "石桥", "祥符", "康桥", "和睦", "上塘", "东新路", "朝晖", "米市巷"),
    ),
    "西湖区": (
        30.250,
        120.09,
        0.060,
        0.050,
        9,
        ("文三路", "天目山路", "古墩路", "转塘", "留下", "三墩", "蒋村", "西溪", "之江", "双浦", "灵隐", "北山"),
    ),
    "滨江区": (
        30.200,
        120.20,
        0.020,
        0.040,
        6,
        ("江南大道", "滨盛路", "长河", "浦沿", "西兴", "缤纷", "闻涛路", "东信大道"),
    ),
    "萧山区": (
        30.170,
        120.30,
        0.080,
        0.120,
        20,
        (
            "市心路",
            "金城路",
            "瓜沥",
            "衙前",
            "新塘",
            "所前",
            "临浦",
            "戴村",
            "闻堰",
            "宁围",
            "城厢",
            "北干",
            "靖江",
            "党湾",
            "益农",
        ),
    ),
    "余杭区": (
        30.350,
        119.95,
        0.080,
        0.080,
        12,
        ("五常", "闲林", "仓前", "良渚", "瓶窑", "径山", "黄湖", "中泰", "余杭塘路", "仁和", "鸬鸟"),
    ),
    "临平区": (30.430, 120.28, 0.050, 0.060, 10, ("临平大道", "乔司", "星桥", "东湖", "塘栖", "崇贤", "运河", "南苑")),
    "钱塘区": (30.300, 120.45, 0.040, 0.080, 9, ("下沙", "白杨", "义蓬", "河庄", "新湾", "临江", "前进")),
    "富阳区": (
        30.050,
        119.95,
        0.080,
        0.120,
        10,
        ("富春", "东洲", "银湖", "新登", "场口", "大源", "春江", "万市", "洞桥", "常安"),
    ),
    "临安区": (
        30.230,
        119.70,
        0.060,
        0.150,
        8,
        ("锦城", "青山湖", "玲珑", "於潜", "昌化", "太湖源", "高虹", "天目山", "河桥"),
    ),
}
OPERATORS: dict[str, tuple[int, int, str]] = {  # name: (weight, price offset fen, brand in names)
    "中国石化": (38, 0, "中国石化"),
    "中国石油": (22, 0, "中国石油"),
    "中海油": (6, -5, "中海油"),
    "壳牌": (8, 12, "壳牌"),
    "中化石油": (5, -3, "中化"),
    "浙石油": (6, -2, "浙石油"),
    "民营": (15, -12, ""),
}
NAME_SUFFIXES = ("", "东", "西", "南", "北", "第二", "第三", "第四")
K_MODELS = (100_000, 104_000, 108_000, 112_000, 118_000)  # pulser models, pulses per m³


class _RawStation(msgspec.Struct, kw_only=True):
    spec: dict
    nozzles: list[dict]
    tanks: list[dict]
    forced: list[str] = []


def layout_station(
    seed: int,
    i: int,
    legacy_pos: bool,
    cfg: CityConfig,
    deltas: dict[str, int],
    used: set[str],
    group_size: int,
) -> _RawStation:
    sid = f"S{i + 1:04d}"
    rng = random.Random(derive_int(seed, sid, "layout"))
    nrng = np.random.default_rng(derive_int(seed, sid, "tanks"))
    dists = list(DISTRICTS)
    district = rng.choices(dists, weights=[DISTRICTS[d][4] for d in dists])[0]
    lat0, lon0, dlat, dlon, _, places = DISTRICTS[district]
    ops = list(OPERATORS)
    operator = rng.choices(ops, weights=[OPERATORS[o][0] for o in ops])[0]
    brand = OPERATORS[operator][2]
    name = ""
    for attempt in range(200):
        place = rng.choice(places)
        suffix = NAME_SUFFIXES[min(attempt // 4, len(NAME_SUFFIXES) - 1)]
        name = f"{brand}{place}{suffix}加油站" + (f"（{attempt}）" if attempt >= 40 else "")
        if name not in used:
            break
    used.add(name)
    demand = min(1.6, max(0.6, rng.lognormvariate(0.0, 0.25)))
    diesel = rng.random() < 0.7
    n_disp = rng.choices((2, 3, 4), weights=(30, 45, 25))[0]
    per_disp = [rng.choices((2, 3, 4), weights=(25, 45, 30))[0] for _ in range(n_disp)]
    n_noz = sum(per_disp)
    products = ["92", "95"] + (["0"] if diesel else [])
    mix = {"92": 0.5, "95": 0.25, "0": 0.25} if diesel else {"92": 0.65, "95": 0.35}
    # Nozzle products: every product at least once, the rest by the mix.
    noz_products = list(products) + rng.choices(list(mix), weights=list(mix.values()), k=n_noz - len(products))
    rng.shuffle(noz_products)
    tank_products = list(products)
    extra_tank = (diesel and n_noz > 10) or (not diesel and n_noz > 8)
    if extra_tank:
        tank_products.append("92")
    tanks: list[dict] = []
    load: dict[str, float] = {}
    for j, product in enumerate(tank_products):
        tanks.append({"tank_id": f"{sid}-T{j + 1}", "product": product, "nozzles": 0})
    nozzles: list[dict] = []
    k_idx = 0
    for d, count in enumerate(per_disp):
        model = rng.choice(K_MODELS)
        for n in range(count):
            product = noz_products[k_idx]
            k_idx += 1
            choices = [t for t in tanks if t["product"] == product]
            tank = min(choices, key=lambda t: t["nozzles"])
            tank["nozzles"] += 1
            nid = f"{sid}-D{d + 1}-N{n + 1}"
            daily_l = DAILY_SALES_PER_NOZZLE * demand * PRODUCT_DEMAND[product] * MEAN_VOLUME_L[product]
            load[tank["tank_id"]] = load.get(tank["tank_id"], 0.0) + daily_l
            err = max(-0.0014, min(0.0014, rng.gauss(0.0, 0.0006)))
            nozzles.append(
                {
                    "nozzle_id": nid,
                    "station_id": sid,
                    "dispenser_id": f"{sid}-D{d + 1}",
                    "tank_id": tank["tank_id"],
                    "product": product,
                    "anti_cheat": rng.random() >= 0.15,
                    "key_alg": "sm2" if rng.random() < 0.10 else "ed25519",
                    "key_id": f"{nid}-k1",
                    "k": round(model * (1 + rng.uniform(-0.004, 0.004))),
                    "error0": err,
                    "max_flow": 60_000 if product == "0" else 50_000,
                    "verified_until_us": local_midnight_us(dt.date.fromisoformat(cfg.start))
                    + rng.randint(60, 170) * US_PER_DAY,
                    "scenario": None,
                }
            )
    min_until = cfg.t_end_us + 30 * US_PER_DAY  # t_end is a local midnight
    for noz in nozzles:
        noz["verified_until_us"] = max(noz["verified_until_us"], min_until)
    for t in tanks:
        daily_m3 = load.get(t["tank_id"], 0.0) / 1000
        cap_m3 = min(60.0, max(20.0, 5.0 * round(2.2 * daily_m3 / 5.0 + 0.5)))
        w = cfg.world
        if w.is_default:
            tank_spec = design_tank(t["tank_id"], sid, t["product"], cap_m3 * 1000, PRODUCTS[t["product"]], nrng)
            chart = registry_chart(tank_spec, nrng)
        else:
            tank_spec = design_tank(
                t["tank_id"], sid, t["product"], cap_m3 * 1000, PRODUCTS[t["product"]], nrng, **tank_shape(w)
            )
            chart = registry_chart(
                tank_spec,
                nrng,
                **chart_errors(w),
                aux_rng=np.random.default_rng(derive_int(seed, t["tank_id"], "chart")),
            )
        t["spec"] = tank_spec
        t["chart"] = chart
        t["leak"] = 0.0
        t["water_um"] = float(rng.randint(2000, 15000)) if rng.random() < 0.3 else 0.0
        t["initial_fill"] = rng.uniform(0.55, 0.85)
        t["scenario"] = None
    op_off = OPERATORS[operator][1]
    posted_from = cfg.t0_us - rng.randint(3, 25) * US_PER_DAY
    prices: dict[str, list[tuple[int, int]]] = {}
    for p in products:
        fen = BASE_PRICE[p] + op_off + rng.randint(-4, 4)
        rows = [(posted_from, fen)]
        if cfg.price_change_us is not None:
            rows.append((cfg.price_change_us, fen + deltas[p]))
        prices[p] = rows
    spec = {
        "station_id": sid,
        "index": i,
        "group": i // group_size,
        "name": name,
        "operator": operator,
        "district": district,
        "lat": round(lat0 + rng.uniform(-dlat, dlat), 5),
        "lon": round(lon0 + rng.uniform(-dlon, dlon), 5),
        "legacy_pos": legacy_pos,
        "demand": demand,
        "member_discount_fen": rng.choice((20, 25, 30, 40, 50)),
        "ground_temp_c": round(rng.uniform(14.5, 18.5), 2),
        "prices": prices,
    }
    return _RawStation(spec=spec, nozzles=nozzles, tanks=tanks)


def tank_shape(w: World) -> dict:
    """design_tank's keyword arguments for a world's true tank geometry."""
    head = {"flat": 0.0, "dished": w.head_depth, "hemispherical": 1.0}[w.end_caps]
    return {"head_depth": head, "tilt_deg": w.tilt_deg, "gauge_position": w.gauge_position}


def chart_errors(w: World) -> dict:
    """registry_chart's keyword arguments for a world's registered-chart errors."""
    lo, hi = w.strapping_capacity_permille
    return {
        "points": w.chart_points,
        "error_sd": w.chart_shape_rms_permille / 1000.0,
        "scale": w.chart_scale_permille / 1000.0,
        "point_sd": w.strapping_point_permille / 1000.0,
        "capacity_range": (lo / 1000.0, hi / 1000.0),
        "heads": w.chart_heads,
    }


def _count(rate: float, population: int) -> int:
    return 0 if rate <= 0 else max(1, round(rate * population))


def assign_scenarios(raw: list[_RawStation], sc: ScenarioSet, seed: int, cfg: CityConfig) -> None:
    """Which nozzles, tanks and stations carry which scenario (at least one each when on)."""
    rng = random.Random(derive_int(seed, "scenarios"))
    all_noz = [n for r in raw for n in r.nozzles]
    n_total = len(all_noz)
    order = list(range(n_total))
    rng.shuffle(order)
    taken: set[int] = set()

    def pick(pred, count: int, name: str) -> list[dict]:
        chosen: list[dict] = []
        for idx in order:
            if len(chosen) >= count:
                break
            n = all_noz[idx]
            if idx not in taken and pred(n):
                taken.add(idx)
                n["scenario"] = name
                chosen.append(n)
        return chosen

    # Keep at least two nozzles of every station clean (sale-level faults, clones need them).
    per_station_cap: dict[str, int] = {r.spec["station_id"]: len(r.nozzles) - 2 for r in raw}
    used: dict[str, int] = {}

    def room(n: dict) -> bool:
        return used.get(n["station_id"], 0) < per_station_cap[n["station_id"]]

    def take(pred, count: int, name: str) -> list[dict]:
        got = pick(lambda n: room(n) and pred(n), count, name)
        for n in got:
            used[n["station_id"]] = used.get(n["station_id"], 0) + 1
        return got

    if sc.legacy_rigged > 0:
        want = _count(sc.legacy_rigged, n_total)
        got = take(lambda n: not n["anti_cheat"], want, "legacy_rigged")
        if not got:  # a city without a legacy dispenser: retrofit one
            got = take(lambda n: True, 1, "legacy_rigged")
            for n in got:
                n["anti_cheat"] = False
    for name in (
        "rigged_inflate",
        "meter_drift",
        "k_change_unauthorised",
        "k_change_authorised",
        "undeclared_k",
        "seal_unauthorised",
        "expired_verification",
        "failed_verification",
    ):
        rate = sc.rate(name)
        if rate <= 0:
            continue
        pred = (lambda n: n["anti_cheat"]) if name == "rigged_inflate" else (lambda n: True)
        take(pred, _count(rate, n_total), name)
    for n in all_noz:
        srng = random.Random(derive_int(seed, n["nozzle_id"], "nozzle-scenario"))
        if n["scenario"] == "meter_drift":
            n["error0"] = srng.choice((-1, 1)) * srng.uniform(0.0035, 0.008)
        elif n["scenario"] == "failed_verification":
            n["error0"] = srng.choice((-1, 1)) * srng.uniform(0.004, 0.008)
        elif n["scenario"] == "expired_verification":
            if srng.random() < 0.3:  # already overdue when the period starts
                until = cfg.t0_us - srng.randint(1, 20) * US_PER_DAY
            else:  # falls due during the period, at least 6 h before its end
                lo, hi = cfg.t0_us + US_PER_DAY // 24, cfg.t_end_us - US_PER_DAY // 4
                until = srng.randint(lo // 60_000_000, hi // 60_000_000) * 60_000_000
            n["verified_until_us"] = until
    # Tanks that leak: prefer tanks whose nozzles carry no scenario.
    if sc.tank_leak > 0:
        tanks = [t for r in raw for t in r.tanks]
        busy = {n["tank_id"] for n in all_noz if n["scenario"]}
        idx = list(range(len(tanks)))
        rng.shuffle(idx)
        idx.sort(key=lambda i: tanks[i]["tank_id"] in busy)
        for i in idx[: _count(sc.tank_leak, len(tanks))]:
            tanks[i]["leak"] = 760.0
            tanks[i]["scenario"] = "tank_leak"
    # Stations that must show each sale-level scenario at least once.
    for k, name in enumerate(SALE_SCENARIOS):
        if sc.rate(name) <= 0:
            continue
        eligible = [r for r in raw if not (name in PUMP_SEQ_ONLY and r.spec["legacy_pos"])]
        eligible = eligible or raw
        target = eligible[(k * 7 + rng.randrange(len(eligible))) % len(eligible)]
        target.forced.append(name)
    # Firmware and self-lock (contract v1.1 §F): last, so that a city without them is
    # drawn exactly as before; dispenser models from an RNG of their own.
    if sc.firmware:
        for name in FIRMWARE_SCENARIOS:
            if sc.rate(name) > 0:
                take(lambda n: True, _count(sc.rate(name), n_total), name)
        for n in all_noz:
            n["dispenser_model"] = dispenser_model(seed, n["dispenser_id"])


def finish_station(seed: int, r: _RawStation) -> StationSpec:
    nozzles = []
    for n in r.nozzles:
        signer = device_signer(seed, n["key_id"], n["key_alg"])
        nozzles.append(NozzleSpec(public_key=signer.public_key_text, **n))
    tanks = [
        TankInfo(
            spec=t["spec"],
            chart=t["chart"],
            leak_ml_per_h=t["leak"],
            water_um=t["water_um"],
            initial_fill=t["initial_fill"],
            scenario=t["scenario"],
        )
        for t in r.tanks
    ]
    return StationSpec(nozzles=nozzles, tanks=tanks, forced=list(r.forced), **r.spec)
