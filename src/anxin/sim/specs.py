"""What a simulated city is made of (城市规格): its stations, nozzles and tanks as laid
out once by ``anxin.sim.layout``, and the configuration every day's plan derives from."""

from __future__ import annotations

import datetime as dt

import msgspec

from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY
from anxin.sim.scenarios import ScenarioSet
from anxin.sim.tank import TankSpec
from anxin.sim.world import World

GROUP_SIZE = 50
PRODUCTS = {"92": 1200, "95": 1200, "0": 900}  # expansion ppm/°C
DAILY_SALES_PER_NOZZLE = 110.0
PRODUCT_DEMAND = {"92": 1.12, "95": 0.82, "0": 0.95}


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
