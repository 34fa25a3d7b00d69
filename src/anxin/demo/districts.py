"""The demo city's district map: schematic, and said to be.

No boundary file whose licence allows shipping it is at hand, and the simulated city is
only Hangzhou-like, so the demo does not pretend: its districts are the cells of their
centres (``anxin.sim.layout.DISTRICTS``) in a power diagram, weighted so that each
district's stations lie in its cell as far as straight lines allow, clipped to a box
around the stations (:func:`anxin.geo.schematic.schematic_map`), loaded through the same path as
``anxin map load`` (checked, stored, audited) under an attribution that says what they are."""

from __future__ import annotations

import time

import msgspec

from anxin.contract.registry import Registry
from anxin.geo.queries import MapInfo, load_boundaries
from anxin.geo.schematic import schematic_map
from anxin.i18n.po import table
from anxin.sim.layout import DISTRICTS
from anxin.store.database import Store

# What the map is, in both languages (stored with it: the console shows the reader's).
ATTRIBUTION, ATTRIBUTION_EN = table("demo")["schematic_attribution"]
SOURCE = "anxin demo: schematic districts"


def schematic_geojson(registry: Registry) -> bytes:
    """The demo city's schematic districts as a GeoJSON file's bytes."""
    centres = {name: spec[:4] for name, spec in DISTRICTS.items()}
    return msgspec.json.encode(schematic_map(centres, [(s.lat, s.lon, s.district) for s in registry.stations]))


def load_schematic_map(store: Store, registry: Registry) -> MapInfo:
    """Load the schematic districts as the demo's map (as ``anxin map load`` would)."""
    info, _ = load_boundaries(
        store,
        schematic_geojson(registry),
        source=SOURCE,
        attribution=ATTRIBUTION,
        attribution_en=ATTRIBUTION_EN,
        actor="anxin demo",
        reason="demo city",
        now_us=time.time_ns() // 1000,
    )
    return info
