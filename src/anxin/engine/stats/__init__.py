"""Statistical layer of the engine: the tank witness (meter errors, tank loss, predominance)."""

from anxin.engine.stats.witness import (
    MeterEstimate,
    TankData,
    TankEstimate,
    WitnessSettings,
    estimate_tank,
    meter_status,
    station_bias,
)

__all__ = [
    "MeterEstimate",
    "TankData",
    "TankEstimate",
    "WitnessSettings",
    "estimate_tank",
    "meter_status",
    "station_bias",
]
