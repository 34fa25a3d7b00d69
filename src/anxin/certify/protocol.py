"""The evaluation protocols (评估方案): what is simulated, with which seeds, and how long.

A protocol is data, fixed in the code and written into the report, so a figure can be
reproduced: the same protocol and code give the same JSON byte for byte. ``quick`` is
for the tests (well under a minute on two cores); ``full`` is the one published
(minutes). Two families of trials:

* **cities** — whole simulated cities (``anxin.sim``) through ``anxin check``: every
  fault kind the simulator injects, at raised rates so that each kind is injected often
  enough to be counted, at its default rates, and honest cities for the false alarms;
* **tanks** — single-tank scenes of every world of ``anxin.sim.world`` (the robustness
  bench's, ``anxin.sim.robustness``): honest nozzles N(0, 1‰), a ±7…10‰ nozzle in every
  other tank, a leak of 0.76 L/h (7 days) or 0.38 L/h (30 days) in three of eight.
"""

from __future__ import annotations

import msgspec

from anxin.sim.scenarios import SCENARIOS, ScenarioSet
from anxin.sim.world import WORLDS

# Raised rates: every kind of sale fault × 5, whole-nozzle faults at 3 % of the nozzles
# and leaks at 5 % of the tanks — enough instances per city to count, few enough that
# two faults seldom meet on one nozzle (the simulator keeps them apart).
SALE_FACTOR = 5.0
NOZZLE_RATE = 0.03
TANK_RATE = 0.05


def raised() -> str:
    """The scenario list of the fault-rich cities (``anxin simulate --scenarios``)."""
    parts = []
    for s in SCENARIOS:
        if s.unit == "sales":
            rate = s.default_rate * SALE_FACTOR
        elif s.unit == "nozzles":
            rate = NOZZLE_RATE
        elif s.unit == "tanks":
            rate = TANK_RATE
        else:
            rate = s.default_rate
        parts.append(f"{s.name}={rate:g}")
    return ",".join(parts)


class CityTrial(msgspec.Struct, kw_only=True, frozen=True):
    family: str  # "raised" | "default" | "honest"
    seed: int
    stations: int
    days: int
    scenarios: str  # as ``ScenarioSet.parse`` reads it

    def scenario_set(self) -> ScenarioSet:
        return ScenarioSet.parse(self.scenarios)


class TankTrial(msgspec.Struct, kw_only=True, frozen=True):
    world: str
    seed: int
    days: int
    index: int  # the scene's index among the world's ``tanks`` (make_scenes(only=…))
    tanks: int
    looks: bool  # the engine's daily looks (METER_DRIFT as it raises it)


class Protocol(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    cities: tuple[CityTrial, ...]
    tanks: tuple[TankTrial, ...]


def _cities(family: str, seeds: range, stations: int, days: int, scenarios: str) -> list[CityTrial]:
    return [CityTrial(family=family, seed=s, stations=stations, days=days, scenarios=scenarios) for s in seeds]


def _tanks(worlds: list[str], seeds: range, days: int, indices: range, looks: bool) -> list[TankTrial]:
    return [
        TankTrial(world=w, seed=s, days=days, index=i, tanks=8, looks=looks)
        for w in worlds
        for s in seeds
        for i in indices
    ]


def quick() -> Protocol:
    return Protocol(
        name="quick",
        cities=tuple(
            _cities("raised", range(1, 2), 6, 3, raised()) + _cities("honest", range(101, 102), 3, 3, "honest")
        ),
        # 30 days: one leaking tank (index 0) and one tight one
        tanks=tuple(
            _tanks(["default"], range(1, 2), 7, range(8), True) + _tanks(["default"], range(1, 2), 30, range(2), False)
        ),
    )


def full() -> Protocol:
    worlds = list(WORLDS)
    return Protocol(
        name="full",
        cities=tuple(
            _cities("raised", range(1, 7), 8, 3, raised())
            + _cities("default", range(51, 53), 8, 3, "all")
            + _cities("honest", range(101, 103), 6, 7, "honest")
        ),
        tanks=tuple(_tanks(worlds, range(1, 3), 7, range(8), True) + _tanks(worlds, range(1, 2), 30, range(8), False)),
    )


PROTOCOLS = {"quick": quick, "full": full}
