"""A family of simulated worlds (issue 12, item 2): the tank physics as a parameter space.

A :class:`World` says how the simulated tanks, gauges, charts, deliveries and demand
behave. Its defaults are the simulator as it has always been (``anxin simulate`` with
the default world writes the same bytes as before the world existed); every other
world moves one or more axes away from it, so an estimator can be measured on tanks
it was not tuned for. ``WORLDS`` names the ones the robustness bench runs;
:meth:`World.load` takes a name or a TOML/JSON file of overrides.

Light on purpose (msgspec only): the CLI imports it lazily, the engine never.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

__all__ = ["World", "WorldError", "WORLDS"]


class WorldError(ValueError):
    """A world that cannot be built (unknown name, unreadable file, bad field)."""


class World(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Tank physics of a simulated world. Defaults: the simulator of before (``default``)."""

    name: str = "default"
    description: str = "the project's own simulator"

    # --- Delivery notes ---------------------------------------------------------------
    """The declared volume of each delivery (the note, at 20 °C, from the depot's loading
    meter) errs by ``note_sd_permille`` (SD, independent per compartment) plus its depot's
    bias, drawn once per depot from N(0, ``depot_bias_sd_permille``). ``depots`` = 0: one
    depot per station (per tank in a single-tank scene); n > 0: the city has n depots and
    each station takes its fuel from one of them."""
    note_sd_permille: float = 1.0
    depot_bias_sd_permille: float = 0.0
    depots: int = 0

    # --- The verification register ------------------------------------------------------
    """A share ``verified_share`` of the nozzles has a verification with the K in force in
    the register (the robustness bench's scenes), whose measured error is the meter's
    error before any drift, measured with SD ``verification_sd_permille`` (the standard
    can, the runs' repeatability, an honest meter's drift since)."""
    verified_share: float = 1.0
    verification_sd_permille: float = 0.3

    # --- Delivered fuel temperature, mixing and stratification --------------------------
    """Each delivery (compartment) arrives off the ground temperature by N(0,
    ``delivery_temp_sd_c``) — or, with ``delivery_temp_range_c`` > 0, uniformly within
    ±range — and with ``delivery_temp_vs_tank`` off the tank's current temperature instead
    of the ground's. The bulk (volume-weighted) temperature, which sets the volume, mixes
    by volume while unloading and relaxes to the ground with ``relax_h``. The probe is a
    single point at ``probe_height`` (fraction of the diameter): with ``mixing_tau_h`` > 0
    the delivered fuel stays a layer (``stratified``: warm on top, cold at the bottom) that
    mixes in with that time constant, and the probe reads the layer it sits in; not
    stratified, it reads the old fuel until mixed. ``temp_cycle_c``: daily cycle."""
    delivery_temp_sd_c: float = 3.0
    delivery_temp_range_c: float = 0.0
    delivery_temp_vs_tank: bool = False
    mixing_tau_h: float = 0.0
    stratified: bool = True
    probe_height: float = 0.5
    relax_h: float = 36.0
    temp_cycle_c: float = 0.4

    # --- The registered chart against the true tank -------------------------------------
    """The registered 罐容表 (``chart_points`` levels) is the registered geometry times
    (1 + a random smooth cubic of ``chart_shape_rms_permille`` RMS) times (1 ± the overall
    ``chart_scale_permille``, sign drawn per tank), plus per-point strapping errors:
    uniform within ±``strapping_point_permille`` of the volume at that point, and an
    absolute error of ``strapping_capacity_permille`` = (lo, hi) ‰ of capacity (magnitude
    uniform in [lo, hi], random sign), each independent per point. The true tank may be
    tilted by ``tilt_deg`` along its length, its gauge at ``gauge_position`` (fraction of
    the length from the low end); the registered chart assumes a level tank. Its ends
    are ``end_caps``: flat, or ellipsoidal heads ``head_depth`` × radius deep ("dished"),
    or hemispheres; ``chart_heads`` = "flat": the registered chart is a flat-ended
    cylinder of the same capacity, "true": it includes the heads."""
    chart_points: int = 120
    chart_shape_rms_permille: float = 1.5
    chart_scale_permille: float = 0.0
    strapping_point_permille: float = 0.0
    strapping_capacity_permille: tuple[float, float] = (0.0, 0.0)
    tilt_deg: float = 0.0
    gauge_position: float = 0.5
    end_caps: Literal["flat", "dished", "hemispherical"] = "flat"
    head_depth: float = 0.4
    chart_heads: Literal["flat", "true"] = "flat"

    # --- The gauge -----------------------------------------------------------------------
    """Level noise (SD, µm) and resolution (µm, the reported level is a multiple of it);
    probe temperature noise (°C) and resolution (m°C); the water float's resolution (µm).
    One reading every ``reading_interval_min`` minutes; gaps start ``gaps_per_day`` times
    a day on average (Poisson) and last an exponential ``gap_mean_min``; with
    ``delivery_on_reading`` every delivery starts exactly on a reading's instant."""
    level_noise_um: float = 25.0
    level_resolution_um: int = 1
    temp_noise_c: float = 0.05
    temp_resolution_mc: int = 1
    water_resolution_um: int = 1
    reading_interval_min: float = 5.0
    gaps_per_day: float = 0.0
    gap_mean_min: float = 60.0
    delivery_on_reading: bool = False

    # --- Demand (single-tank scenes and the robustness bench; a city's layout is its own) --
    """Nozzles per tank drawn uniformly in ``nozzles_per_tank``; a share ``twin_share`` of
    a tank's nozzles (after the first) sell on the first one's pattern, a couple of
    minutes apart (near-identical demand); every nozzle sells ``sales_per_day`` times a day
    on average, Poisson on the common daily curve."""
    nozzles_per_tank: tuple[int, int] = (2, 4)
    twin_share: float = 0.0
    sales_per_day: float = 110.0

    # --- Water and real losses -----------------------------------------------------------
    """The water bottom grows by ``water_ingress_mm_per_day`` (the float reports it); the
    fuel evaporates at ``evaporation_ml_per_h`` (a real loss, apart from any leak)."""
    water_ingress_mm_per_day: float = 0.0
    evaporation_ml_per_h: float = 0.0

    def __post_init__(self) -> None:
        for field, lo, hi in _RANGES:
            v = getattr(self, field)
            if isinstance(v, tuple):
                bad = not all(lo <= x <= hi for x in v) or v[0] > v[1]
            else:
                bad = not (lo <= v <= hi) or (isinstance(v, float) and not math.isfinite(v))
            if bad:
                raise WorldError(f"world field {field!r} = {v!r} is out of range [{lo}, {hi}]")
        if self.chart_points < 2:
            raise WorldError("world field 'chart_points' must be at least 2")

    # ------------------------------------------------------------------ derived values
    @property
    def interval_us(self) -> int:
        """The reading interval in µs, whole seconds."""
        return round(self.reading_interval_min * 60.0) * 1_000_000

    @property
    def is_default(self) -> bool:
        """Same physics as the default world (the name and description aside)."""
        return _physics(self) == _physics(DEFAULT)

    def reading_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`anxin.sim.tank.tank_readings` that predate the world."""
        return {
            "interval_us": self.interval_us,
            "noise_um": self.level_noise_um,
            "temp_noise_c": self.temp_noise_c,
            "temp_cycle_c": self.temp_cycle_c,
            "delivery_temp_sd_c": self.delivery_temp_sd_c,
        }

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, name_or_path: str | Path) -> World:
        """A named world, or a TOML/JSON file of overrides on top of the default world
        (``base = "NAME"`` in the file starts from that named world instead)."""
        key = str(name_or_path)
        if key in WORLDS:
            return WORLDS[key]
        path = Path(key)
        if not path.is_file():
            raise WorldError(f"unknown world {key!r}: neither a named world ({', '.join(WORLDS)}) nor a file")
        try:
            text = path.read_text(encoding="utf-8")
            raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise WorldError(f"cannot read world file {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise WorldError(f"world file {path}: expected a table/object of fields")
        return cls.from_overrides(raw, default_name=path.stem)

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any], *, default_name: str = "custom") -> World:
        """A world from a dict of field overrides (``base``: the named world to start from)."""
        raw = dict(overrides)
        base_name = raw.pop("base", "default")
        if base_name not in WORLDS:
            raise WorldError(f"world field 'base' = {base_name!r} is not a named world ({', '.join(WORLDS)})")
        merged = {**WORLDS[base_name].to_dict(), "name": default_name, "description": f"overrides on {base_name}"}
        merged.update(raw)
        try:
            return msgspec.convert(merged, cls)
        except msgspec.ValidationError as exc:
            raise WorldError(_plain(str(exc))) from exc


def _plain(msg: str) -> str:
    """msgspec's validation message, with the field named plainly."""
    if msg.startswith("world field"):  # our own range check, raised in __post_init__
        return msg.split(" - at `$", 1)[0]
    unknown = re.match(r"Object contains unknown field `([^`]*)`", msg)
    if unknown:
        return f"unknown world field {unknown.group(1)!r} (see anxin.sim.world.World)"
    if " - at `$." in msg:  # a type error, "... - at `$.field`"
        what, at = msg.rsplit(" - at `$.", 1)
        return f"world field {at.rstrip('`').split('[')[0]!r}: {what}"
    return f"bad world: {msg}"


# (field, lo, hi): what the simulator models sensibly.
_RANGES: tuple[tuple[str, float, float], ...] = (
    ("note_sd_permille", 0.0, 20.0),
    ("depot_bias_sd_permille", 0.0, 20.0),
    ("depots", 0, 1000),
    ("verified_share", 0.0, 1.0),
    ("verification_sd_permille", 0.0, 20.0),
    ("delivery_temp_sd_c", 0.0, 15.0),
    ("delivery_temp_range_c", 0.0, 15.0),
    ("mixing_tau_h", 0.0, 48.0),
    ("probe_height", 0.0, 1.0),
    ("relax_h", 0.1, 1000.0),
    ("temp_cycle_c", 0.0, 10.0),
    ("chart_points", 2, 10_000),
    ("chart_shape_rms_permille", 0.0, 50.0),
    ("chart_scale_permille", 0.0, 50.0),
    ("strapping_point_permille", 0.0, 50.0),
    ("strapping_capacity_permille", 0.0, 10.0),
    ("tilt_deg", 0.0, 3.0),
    ("gauge_position", 0.0, 1.0),
    ("head_depth", 0.05, 1.0),
    ("level_noise_um", 0.0, 1000.0),
    ("level_resolution_um", 1, 5000),
    ("temp_noise_c", 0.0, 5.0),
    ("temp_resolution_mc", 1, 1000),
    ("water_resolution_um", 1, 10_000),
    ("reading_interval_min", 1.0 / 60.0, 120.0),
    ("gaps_per_day", 0.0, 48.0),
    ("gap_mean_min", 1.0, 24 * 60.0),
    ("nozzles_per_tank", 1, 16),
    ("twin_share", 0.0, 1.0),
    ("sales_per_day", 1.0, 2000.0),
    ("water_ingress_mm_per_day", 0.0, 100.0),
    ("evaporation_ml_per_h", 0.0, 10_000.0),
)


def _physics(w: World) -> dict[str, Any]:
    d = w.to_dict()
    d.pop("name")
    d.pop("description")
    return d


DEFAULT = World()


def _w(name: str, description: str, **kw: Any) -> World:
    return World(name=name, description=description, **kw)


WORLDS: dict[str, World] = {
    w.name: w
    for w in (
        DEFAULT,
        _w(
            "independent",
            "the independent data of issue 12: no smooth chart error but 0.1–0.3‰ of capacity per point, "
            "notes ±2‰, delivered fuel within ±6 °C of the tank mixed at once, 2–6 nozzles",
            note_sd_permille=2.0,
            delivery_temp_range_c=6.0,
            delivery_temp_vs_tank=True,
            chart_shape_rms_permille=0.0,
            strapping_capacity_permille=(0.1, 0.3),
            nozzles_per_tank=(2, 6),
        ),
        _w(
            "notes_biased",
            "delivery notes 3‰ SD and a 2‰ SD bias per depot (three depots in the city)",
            note_sd_permille=3.0,
            depot_bias_sd_permille=2.0,
            depots=3,
        ),
        _w(
            "hot_cold_stratified",
            "delivered fuel within ±8 °C of the tank, mixing over 12 h, stratified, probe low (0.25 D)",
            delivery_temp_range_c=8.0,
            delivery_temp_vs_tank=True,
            mixing_tau_h=12.0,
            probe_height=0.25,
        ),
        _w(
            "slow_mixing_plume",
            "delivered fuel N(0, 5 °C) off ground, mixing over 6 h, not stratified (the probe sees the old fuel)",
            delivery_temp_sd_c=5.0,
            mixing_tau_h=6.0,
            stratified=False,
        ),
        _w("chart_scale", "the registered chart off by ±0.5 % overall", chart_scale_permille=5.0),
        _w(
            "tilted", "tank tilted 0.5° along its length, gauge at 20 % of the length", tilt_deg=0.5, gauge_position=0.2
        ),
        _w(
            "dished_ends",
            "ellipsoidal heads 0.4 r deep; the registered chart a flat-ended cylinder of the same capacity",
            end_caps="dished",
            head_depth=0.4,
        ),
        _w("strapping", "per-point strapping errors within ±0.3 % of the volume", strapping_point_permille=3.0),
        _w(
            "coarse_gauge",
            "level noise 60 µm, resolution 100 µm; probe 0.2 °C noise, 0.1 °C resolution",
            level_noise_um=60.0,
            level_resolution_um=100,
            temp_noise_c=0.2,
            temp_resolution_mc=100,
        ),
        _w(
            "sparse_readings",
            "a reading every 15 min, two gaps a day of 90 min on average",
            reading_interval_min=15.0,
            gaps_per_day=2.0,
            gap_mean_min=90.0,
        ),
        _w(
            "fast_on_reading",
            "a reading every minute, 10 µm noise, every delivery starting exactly on a reading",
            reading_interval_min=1.0,
            level_noise_um=10.0,
            delivery_on_reading=True,
        ),
        _w("many_nozzles", "8 nozzles per tank", nozzles_per_tank=(8, 8)),
        _w(
            "twins",
            "8 nozzles per tank selling on the same pattern (near-identical demand)",
            nozzles_per_tank=(8, 8),
            twin_share=1.0,
        ),
        _w(
            "water_ingress",
            "water bottom growing 2 mm a day, float resolution 0.5 mm",
            water_ingress_mm_per_day=2.0,
            water_resolution_um=500,
        ),
        _w("evaporation", "a real loss of 0.2 L/h by evaporation", evaporation_ml_per_h=200.0),
        _w(
            "harsh",
            "several axes at once: biased noisy notes, warm stratified deliveries, scale, strapping, tilt, "
            "dished ends, coarse gauge with gaps, 2–8 nozzles partly twins, water, evaporation",
            note_sd_permille=2.0,
            depot_bias_sd_permille=1.0,
            delivery_temp_range_c=6.0,
            delivery_temp_vs_tank=True,
            mixing_tau_h=6.0,
            probe_height=0.3,
            chart_scale_permille=3.0,
            strapping_point_permille=1.0,
            strapping_capacity_permille=(0.1, 0.3),
            tilt_deg=0.3,
            gauge_position=0.3,
            end_caps="dished",
            level_noise_um=40.0,
            level_resolution_um=50,
            temp_noise_c=0.1,
            temp_resolution_mc=10,
            reading_interval_min=10.0,
            gaps_per_day=1.0,
            nozzles_per_tank=(2, 8),
            twin_share=0.3,
            water_ingress_mm_per_day=1.0,
            water_resolution_um=200,
            evaporation_ml_per_h=100.0,
        ),
    )
}
