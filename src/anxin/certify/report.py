"""The certification report's data (``certify.json``): structs, their JSON Schema, and the
encoding that makes the same run the same bytes. Words are not stored: the rule and
fault-kind names, units and notes are catalog keys the PDF and the console word in the
reader's language."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from anxin.certify.protocol import Protocol
from anxin.certify.stats import Proportion

FORMAT = "anxin-certify/1"
# What a rule's row says when it has no measured figure (a catalog key of ``certify``):
Status = Literal["measured", "no_fault_kind", "live_only"]


class RuleFigures(msgspec.Struct, kw_only=True):
    rule: str
    level: Literal["record", "statistical", "live"]
    status: Status
    pd: Proportion  # per injected fault that must raise the rule
    pfa: Proportion | None  # per honest unit (None: not measured)
    pfa_unit: str  # sale | metering | record | nozzle_day | nozzle | tank | station
    alarms: int  # every alarm of the rule in the city trials
    fault_kinds: list[str]  # the simulator's fault kinds that must raise it


class FaultKindFigures(msgspec.Struct, kw_only=True):
    kind: str  # anxin.sim.scenarios name
    primary_rule: str | None
    record_level: bool
    pd: Proportion


class WitnessFigures(msgspec.Struct, kw_only=True):
    """The tank witness over one world (or ``"*"``: all of them) at one horizon."""

    world: str
    days: int
    tanks: int
    honest_nozzles: int
    insufficient: int  # honest nozzles the witness calls insufficient (an honest "cannot tell")
    rmse_permille: float | None  # honest nozzles not insufficient
    coverage: Proportion  # 95 % intervals covering the true error, honest nozzles with one
    drift_found: Proportion  # ±7…10‰ meters at violation or METER_DRIFT
    false_drift: Proportion  # honest nozzles with a METER_DRIFT or a violation
    leak_l_per_h: float
    leak_pd: Proportion
    leak_pfa: Proportion


class LeakFigures(msgspec.Struct, kw_only=True):
    """EPA SIR style: one leak rate, its horizon, Pd on leaking tanks, Pfa on tight ones."""

    leak_l_per_h: float
    leak_gal_per_h: float
    days: int
    pd: Proportion
    pfa: Proportion
    epa_pd_min: float
    epa_pfa_max: float
    epa_met: bool | None  # the point estimates against EPA's 95 % / 5 %; None: too few trials


class CityRun(msgspec.Struct, kw_only=True):
    family: str
    seed: int
    stations: int
    days: int
    records: int
    faults: int
    alarms: int
    false_alarms: int


class Report(msgspec.Struct, kw_only=True):
    format: str = FORMAT
    anxin_version: str
    protocol: Protocol
    worlds: str  # "anxin.sim": the only worlds measured (issue 12 holds the independent ones)
    confidence: float
    min_trials: int
    rules: list[RuleFigures]
    fault_kinds: list[FaultKindFigures]
    units: dict[str, int]  # honest units over all city trials
    cities: list[CityRun]
    witness: list[WitnessFigures]
    leaks: list[LeakFigures]


def encode(report: Report) -> bytes:
    """Indented JSON, keys in the structs' order: the same report is the same bytes."""
    return msgspec.json.format(msgspec.json.encode(report), indent=1) + b"\n"


def decode(data: bytes) -> Report:
    return msgspec.json.decode(data, type=Report)


def schema() -> dict[str, Any]:
    out = msgspec.json.schema(Report)
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "anxin certify report"
    return out
