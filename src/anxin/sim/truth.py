"""Ground truth of a simulated city (真值), written beside the data directory.

``DATA_DIR`` holds only what a real platform would receive; ``DATA_DIR.truth``
holds what the simulator knows and the checker must find:

* ``faults.jsonl`` — one line per injected fault with the alarm keys it must
  (``expect``) and may (``allow``) cause;
* ``meters.jsonl`` — every nozzle's true meter error (JJG 443 sign), for the
  statistical estimator;
* ``tanks.jsonl`` — every tank's true geometry, leak and supply;
* ``world.json`` and ``charts.jsonl`` — only in a world other than the default
  (``anxin simulate --world``): the world's parameters, and per tank what it did
  (:class:`TankWorldTruth`, with the true chart);
* ``rejects.json`` — the malformed lines per file;
* ``summary.json`` and ``scenarios.json`` — what was simulated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

TRUTH_SUFFIX = ".truth"


def truth_dir_for(data_dir: Path) -> Path:
    """The truth directory of a data directory: its sibling ``<data_dir>.truth``."""
    return Path(str(Path(data_dir)).rstrip("/") + TRUTH_SUFFIX)


class AlarmKey(msgspec.Struct, frozen=True, kw_only=True):
    """What identifies an alarm for matching (see ``evaluate.matches``)."""

    rule: str
    station_id: str
    nozzle_id: str | None = None
    seq: int | None = None
    order_id: str | None = None
    day: str | None = None  # local date, UNVERIFIED_USE only
    tank_id: str | None = None  # TANK_LOSS only


class Fault(msgspec.Struct, kw_only=True):
    fault_id: str
    scenario: str
    record_level: bool
    expect: list[AlarmKey]
    allow: list[AlarmKey] = []
    station_id: str = ""
    nozzle_id: str | None = None
    tank_id: str | None = None
    detail: dict[str, Any] = {}


class MeterTruth(msgspec.Struct, kw_only=True):
    nozzle_id: str
    station_id: str
    tank_id: str
    product: str
    anti_cheat: bool
    scenario: str | None
    error_permille: float  # volume-weighted true error of the period's dispensings
    base_error_permille: float  # the meter's own error at the registry K
    segments: list[dict[str, Any]]  # [{"from": ts, "error_permille": e}] as K changed
    dispensings: int
    metered_ml: int
    true_ml: float


class TankTruth(msgspec.Struct, kw_only=True):
    tank_id: str
    station_id: str
    product: str
    scenario: str | None
    leak_ml_per_h: float
    capacity_ml: int
    diameter_mm: float
    length_mm: float
    expansion_ppm_per_c: int
    initial_volume20_ml: float
    ground_temp_c: float
    water_um: float
    deliveries: int
    delivered_ml: int  # what went into the tank
    declared_ml: int = 0  # what the delivery notes say
    drawn_true_ml: float


class TankWorldTruth(msgspec.Struct, kw_only=True):
    """What a non-default world did to one tank (``charts.jsonl``): the true geometry
    beyond TankTruth's, the depot, the real losses apart from the leak, and the true
    chart, so a learnt chart correction can be scored."""

    tank_id: str
    station_id: str
    world: str
    head_depth_mm: float
    tilt_deg: float
    gauge_position: float
    depot: str
    depot_bias_permille: float
    evaporation_ml_per_h: float
    water_ingress_mm_per_day: float
    readings_planned: int
    readings_sent: int
    # (registered level µm, true volume − registered volume mL) at every registered chart point
    chart_error: list[tuple[int, float]]


class RejectTruth(msgspec.Struct, kw_only=True):
    file: str
    line: int  # 1-based
    mode: str


_enc = msgspec.json.Encoder()


def encode_line(obj: Any) -> bytes:
    return _enc.encode(obj) + b"\n"


def encode_pretty(obj: Any) -> bytes:
    return msgspec.json.format(_enc.encode(obj), indent=2) + b"\n"


def read_faults(truth_dir: Path) -> list[Fault]:
    path = truth_dir / "faults.jsonl"
    if not path.exists():
        return []
    dec = msgspec.json.Decoder(Fault)
    return [dec.decode(line) for line in path.read_bytes().splitlines() if line.strip()]


def read_rejects(truth_dir: Path) -> dict[str, int]:
    """Expected reject count per file name."""
    path = truth_dir / "rejects.json"
    if not path.exists():
        return {}
    data = msgspec.json.decode(path.read_bytes())
    return {name: int(v["count"]) for name, v in data.get("files", {}).items()}


def read_meters(truth_dir: Path) -> list[MeterTruth]:
    path = truth_dir / "meters.jsonl"
    if not path.exists():
        return []
    dec = msgspec.json.Decoder(MeterTruth)
    return [dec.decode(line) for line in path.read_bytes().splitlines() if line.strip()]
