"""Every tolerance and horizon of the engine, in one typed, immutable settings object.

Defaults are those of contract v1 section 5. Times are integer microseconds.
"""

from __future__ import annotations

import msgspec

from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY, US_PER_H, US_PER_MIN
from anxin.engine.stats import WitnessSettings


class EngineSettings(msgspec.Struct, frozen=True, kw_only=True):
    # Pairing and decision horizons (event time).
    horizon_us: int = US_PER_H  # unpaired records and missing seq are decided after this
    legacy_window_us: int = 15 * US_PER_MIN  # pump_seq null: sale within this after metering end
    authorisation_window_us: int = 2 * US_PER_H  # verification within ±this authorises a change
    # Tolerances.
    volume_tolerance_ml: int = 10
    amount_tolerance_fen: int = 1
    metrology_volume_tolerance_ml: int = 1  # pulses/K vs volume
    flow_limit_ratio: float = 1.10  # of max_flow_ml_per_min
    # Memory bounds: how long after the watermark passes a record we still remember it
    # for idempotency, late partners and totalizer chains.
    retention_us: int = 24 * US_PER_H
    # A tank reading closer than this to one already accepted for the tank is not taken
    # (engine/gauge.py: a gauge reads every few minutes; a flood only costs memory).
    reading_min_gap_us: int = 30 * 1_000_000
    # Calendar for "one per nozzle per day" (UTC+08:00 unless configured otherwise).
    local_offset_us: int = LOCAL_OFFSET_US
    # Tank witness (METER_DRIFT, TANK_LOSS, STATION_BIAS) and how much tank history it keeps;
    # with it off no tank history is collected and meters.jsonl stays empty.
    witness_enabled: bool = True
    witness: WitnessSettings = msgspec.field(default_factory=WitnessSettings)
    witness_window_us: int = 30 * US_PER_DAY
    # Scheduled looks (live and batch alike): meter estimates and METER_DRIFT every
    # witness_every_us of event time (local midnights); the periodic tests TANK_LOSS and
    # STATION_BIAS, whose false-alarm rate is per test, only at looks on the weekly
    # cadence below (local Mondays: day 0 of the epoch was a Thursday). 0: no scheduled
    # looks, only the end of a batch.
    witness_every_us: int = US_PER_DAY
    witness_tests_every_us: int = 7 * US_PER_DAY
    witness_tests_phase_us: int = 4 * US_PER_DAY
    # The platform's clock (contract v1.1 §B, §D): each record's receipt time, given with it.
    # A record whose event time is more than this after its receipt time is CLOCK_AHEAD:
    # quarantined, and it moves no watermark.
    clock_ahead_tolerance_us: int = 5 * US_PER_MIN
    # DATA_OUTAGE: a station, tank gauge or nozzle module silent for more than this of the
    # platform's clock while it is expected to report.
    outage_after_us: int = 30 * US_PER_MIN
    # A station whose watermark has not moved for this long of the platform's clock, with
    # decisions pending, gets a tick (its watermark plus the silence) so they are taken.
    decide_after_silence_us: int = 24 * US_PER_H
    # Learned activity (stations and tank gauges without registry hours): a slot of the
    # local day is expected when data was received in it on at least activity_min_days of
    # the activity_days days before.
    activity_slot_us: int = 15 * US_PER_MIN
    activity_days: int = 7
    activity_min_days: int = 5


DEFAULT_SETTINGS = EngineSettings()
