"""A Hangzhou-like city of fuel stations (城市): its registry and its daily streams.

``City.build`` lays out the city — stations, tanks, dispensers, nozzles, keys,
prices — and decides which nozzles, tanks and stations carry which scenario.
That is cheap and done once. What happens each day (sales, readings, faults) is
planned per station on demand (``anxin.sim.station``), so the batch writer can
spread stations over processes and the live demo can ask for one day at a time.
Everything derives from the seed: the same arguments give the same city.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import msgspec
import numpy as np

from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY, format_ts
from anxin.sim.firmware import dispenser_model, firmware_register
from anxin.sim.scenarios import FIRMWARE_SCENARIOS, PUMP_SEQ_ONLY, SALE_SCENARIOS, ScenarioSet
from anxin.sim.signing import derive_int, device_signer
from anxin.sim.tank import TankSpec, design_tank, registry_chart
from anxin.sim.world import World

GROUP_SIZE = 50
PRODUCTS = {"92": 1200, "95": 1200, "0": 900}  # expansion ppm/°C
DAILY_SALES_PER_NOZZLE = 110.0
PRODUCT_DEMAND = {"92": 1.12, "95": 0.82, "0": 0.95}
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


class NozzleSpec(msgspec.Struct, frozen=True, kw_only=True):
    nozzle_id: str
    station_id: str
    dispenser_id: str
    tank_id: str
    product: str
    anti_cheat: bool
    key_alg: str
    key_id: str
    public_key: str
    k: int  # registry K (pulses per m³)
    error0: float  # true meter error at the registry K (fraction, JJG 443 sign)
    max_flow: int
    verified_until_us: int
    scenario: str | None = None
    dispenser_model: str | None = None  # contract v1.1 §F: only in a city with firmware scenarios


class TankInfo(msgspec.Struct, frozen=True, kw_only=True):
    spec: TankSpec
    chart: list[tuple[int, int]]
    leak_ml_per_h: float
    water_um: float
    initial_fill: float
    scenario: str | None = None


class StationSpec(msgspec.Struct, frozen=True, kw_only=True):
    station_id: str
    index: int
    group: int
    name: str
    operator: str
    district: str
    lat: float
    lon: float
    legacy_pos: bool
    demand: float
    member_discount_fen: int
    ground_temp_c: float
    nozzles: list[NozzleSpec]
    tanks: list[TankInfo]
    prices: dict[str, list[tuple[int, int]]]  # product → [(from_us, fen)]
    forced: list[str] = []  # sale scenarios this station must show at least once


class CityConfig(msgspec.Struct, frozen=True, kw_only=True):
    seed: int
    start: str  # ISO date of the first local day
    days: int
    t0_us: int
    t_end_us: int
    scenarios: ScenarioSet
    price_change_us: int | None
    world: World = msgspec.field(default_factory=World)  # the tank physics (anxin.sim.world)


def local_midnight_us(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * US_PER_DAY - LOCAL_OFFSET_US


def group_name(group: int) -> str:
    return f"g{group + 1:03d}"


class City:
    """A city's layout plus, lazily, each station's plan for the simulated days."""

    def __init__(self, config: CityConfig, stations: list[StationSpec], group_size: int = GROUP_SIZE) -> None:
        self.config = config
        self.stations = stations
        self.group_size = group_size
        self._plans: dict[int, object] = {}
        self._day_cache: dict[int, list] = {}

    # ------------------------------------------------------------------ layout
    @classmethod
    def build(
        cls,
        *,
        stations: int,
        seed: int,
        start: dt.date = dt.date(2026, 3, 1),
        scenarios: ScenarioSet | None = None,
        days: int = 7,
        group_size: int = GROUP_SIZE,
        world: World | None = None,
    ) -> City:
        """Lay out a city. ``days`` is the planning horizon (the tank model and the
        scenarios are planned over the whole horizon, so it must be known up front).
        ``world``: the tank physics (default: the default world, the simulator of before)."""
        if stations < 1 or days < 1 or not 1 <= group_size <= GROUP_SIZE:
            raise ValueError("stations and days must be ≥ 1 and group_size in [1, 50]")
        sc = scenarios if scenarios is not None else ScenarioSet.honest()
        t0 = local_midnight_us(start)
        t_end = t0 + days * US_PER_DAY
        change = t0 + 2 * US_PER_DAY if days >= 3 else None
        config = CityConfig(
            seed=seed,
            start=start.isoformat(),
            days=days,
            t0_us=t0,
            t_end_us=t_end,
            scenarios=sc,
            price_change_us=change,
            world=world if world is not None else World(),
        )
        crng = random.Random(derive_int(seed, "city"))
        sign = crng.choice((-1, 1))
        d92 = sign * crng.randint(12, 28)
        deltas = {"92": d92, "95": d92 + sign * crng.randint(0, 3), "0": round(d92 * 0.9)}
        legacy_pos = [random.Random(derive_int(seed, i, "pos")).random() < sc.legacy_pos for i in range(stations)]
        if sc.legacy_pos > 0 and not any(legacy_pos) and stations > 1:
            legacy_pos[crng.randrange(1, stations)] = True
        used_names: set[str] = set()
        raw = [_layout_station(seed, i, legacy_pos[i], config, deltas, used_names, group_size) for i in range(stations)]
        _assign_scenarios(raw, sc, seed, config)
        built = [_finish_station(seed, r) for r in raw]
        return cls(config, built, group_size)

    @property
    def groups(self) -> int:
        return (len(self.stations) + self.group_size - 1) // self.group_size

    def group_stations(self, group: int) -> list[StationSpec]:
        return self.stations[group * self.group_size : (group + 1) * self.group_size]

    def registry_json(self) -> bytes:
        """registry.json: one JSON object, one entry per line (compact yet diffable)."""
        reg = self.registry_dict()
        parts = []
        for name, rows in reg.items():
            body = ",\n".join("  " + msgspec.json.encode(r).decode() for r in rows)
            parts.append(f'"{name}": [\n{body}\n]')
        return ("{\n" + ",\n".join(parts) + "\n}\n").encode()

    def registry_dict(self) -> dict:
        """The registry (contract section 2) as a JSON-ready dict."""
        out: dict[str, list] = {"stations": [], "tanks": [], "products": [], "nozzles": [], "prices": []}
        out["products"] = [{"product": p, "expansion_ppm_per_c": e} for p, e in PRODUCTS.items()]
        for st in self.stations:
            out["stations"].append(
                {
                    "station_id": st.station_id,
                    "name": st.name,
                    "operator": st.operator,
                    "district": st.district,
                    "lat": st.lat,
                    "lon": st.lon,
                }
            )
            for t in st.tanks:
                out["tanks"].append(
                    {
                        "tank_id": t.spec.tank_id,
                        "station_id": st.station_id,
                        "product": t.spec.product,
                        "capacity_ml": t.spec.capacity_ml,
                        "chart": [list(p) for p in t.chart],
                    }
                )
            for n in st.nozzles:
                out["nozzles"].append(
                    {
                        "nozzle_id": n.nozzle_id,
                        "station_id": n.station_id,
                        "dispenser_id": n.dispenser_id,
                        "tank_id": n.tank_id,
                        "product": n.product,
                        "anti_cheat": n.anti_cheat,
                        "key_alg": n.key_alg,
                        "key_id": n.key_id,
                        "public_key": n.public_key,
                        "k_pulses_per_m3": n.k,
                        "max_flow_ml_per_min": n.max_flow,
                        "verified_until": format_ts(n.verified_until_us),
                        "last_verification_passed": True,
                    }
                    | ({"dispenser_model": n.dispenser_model} if n.dispenser_model else {})
                )
            for product, rows in st.prices.items():
                for from_us, fen in rows:
                    out["prices"].append(
                        {
                            "station_id": st.station_id,
                            "product": product,
                            "from": format_ts(from_us),
                            "unit_price_fen": fen,
                        }
                    )
        if self.config.scenarios.firmware:  # the institute's register (contract v1.1 §F)
            out["firmware"] = firmware_register()
        return out

    # ------------------------------------------------------------------ live stream
    def plan(self, index: int):
        """The plan of station ``index`` (cached)."""
        from anxin.sim.station import plan_station

        p = self._plans.get(index)
        if p is None:
            p = self._plans[index] = plan_station(self.stations[index], self.config)
        return p

    def _rendered_day(self, day: int) -> list:
        from anxin.sim.render import render_group_day

        cached = self._day_cache.get(day)
        if cached is None:
            items: list = []
            for g in range(self.groups):
                plans = [self.plan(st.index) for st in self.group_stations(g)]
                items.extend(render_group_day(plans, g, day, self.config))
            items.sort(key=lambda it: it[:4])
            if len(self._day_cache) >= 2:
                self._day_cache.pop(min(self._day_cache))
            cached = self._day_cache[day] = items
        return cached

    def day_stream(self, day_index: int) -> Iterator[tuple[int, str, bytes]]:
        """(arrival_us, source_name, line) of what ARRIVES on local day ``day_index``
        (the last day also yields what arrives after the period), by arrival time."""
        if not 0 <= day_index < self.config.days:
            raise ValueError(f"day_index must be in [0, {self.config.days})")
        lo = self.config.t0_us + day_index * US_PER_DAY
        hi = lo + US_PER_DAY if day_index < self.config.days - 1 else None
        parts = []
        if day_index > 0:
            parts.append([it for it in self._rendered_day(day_index - 1) if it[0] >= lo])
        parts.append([it for it in self._rendered_day(day_index) if hi is None or it[0] < hi])
        merged = sorted((it for part in parts for it in part), key=lambda it: it[:4])
        for it in merged:
            yield it[0], it[4], it[5]


# ---------------------------------------------------------------------- layout helpers
class _RawStation(msgspec.Struct, kw_only=True):
    spec: dict
    nozzles: list[dict]
    tanks: list[dict]
    forced: list[str] = []


def _layout_station(
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


def _assign_scenarios(raw: list[_RawStation], sc: ScenarioSet, seed: int, cfg: CityConfig) -> None:
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


def _finish_station(seed: int, r: _RawStation) -> StationSpec:
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
