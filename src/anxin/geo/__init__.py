"""District maps (区县边界): a city's district boundaries, which an administrator loads
from a GeoJSON file (``anxin map load``) and the console's overview draws, each district
shaded by its stations' worst open alarm.

* :mod:`anxin.geo.boundaries` — reading a boundary file as if it were hostile (pure);
* :mod:`anxin.geo.schematic` — a schematic map from district centres (the demo's; pure);
* :mod:`anxin.geo.queries` — the maps in the store (every load a version, audited);
* :mod:`anxin.geo.cli` — ``anxin map load|show``.
"""
