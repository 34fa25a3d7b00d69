"""Statistical layer of the engine: the tank witness (meter errors, tank loss, predominance).

The models import lightly; the estimators (NumPy/SciPy) load on first use.
"""

from typing import Any

from anxin.engine.stats.models import MeterEstimate, TankData, TankEstimate, WitnessSettings

__all__ = [
    "MeterEstimate",
    "TankData",
    "TankEstimate",
    "WitnessSettings",
    "diagnose",
    "estimate_tank",
    "meter_status",
    "station_bias",
]


def __getattr__(name: str) -> Any:
    if name in ("diagnose", "estimate_tank", "meter_status", "station_bias"):
        from anxin.engine.stats import witness

        return getattr(witness, name)
    raise AttributeError(name)
