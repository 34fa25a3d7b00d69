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

from anxin.contract.times import US_PER_DAY, format_ts
from anxin.sim.firmware import firmware_register
from anxin.sim.layout import assign_scenarios, finish_station, layout_station
from anxin.sim.scenarios import ScenarioSet
from anxin.sim.signing import derive_int
from anxin.sim.specs import GROUP_SIZE, PRODUCTS, CityConfig, StationSpec, local_midnight_us
from anxin.sim.world import World


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
        raw = [layout_station(seed, i, legacy_pos[i], config, deltas, used_names, group_size) for i in range(stations)]
        assign_scenarios(raw, sc, seed, config)
        built = [finish_station(seed, r) for r in raw]
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
