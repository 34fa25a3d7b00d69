"""A schematic district map (示意区界) for a city whose real boundaries are not at hand —
the demo's simulated city: each district the cell of its centre in a power diagram
(a Voronoi diagram whose cells grow with each district's spread), clipped to a box
around the stations. Straight lines between made-up centres: it shows which district
is where, never where a boundary runs, and whoever loads it says so in its attribution.

Pure numpy: each cell is the box cut by one half-plane per other centre."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Point = tuple[float, float]


def _clip(poly: np.ndarray, a: np.ndarray, b: float) -> np.ndarray:
    """The convex polygon ``poly`` (n×2, open) cut to the half-plane a·x ≤ b (Sutherland–Hodgman)."""
    if len(poly) == 0:
        return poly
    side = poly @ a - b
    out: list[np.ndarray] = []
    for i in range(len(poly)):
        p, q = poly[i], poly[(i + 1) % len(poly)]
        sp, sq = side[i], side[(i + 1) % len(poly)]
        if sp <= 0:
            out.append(p)
        if (sp < 0 < sq) or (sq < 0 < sp):
            out.append(p + (q - p) * (sp / (sp - sq)))
    return np.array(out).reshape(-1, 2)


def schematic_map(
    centres: Mapping[str, tuple[float, float, float, float]],
    stations: Sequence[Point],
    *,
    margin: float = 0.03,
    digits: int = 5,
) -> dict[str, Any]:
    """A FeatureCollection of the districts ``centres`` (name → (lat, lon, and the spread
    of its stations in latitude and in longitude, degrees)) as power cells, clipped to the
    box around ``stations`` ((lat, lon) each) and the centres of the districts nearest
    them, widened by ``margin`` degrees. A district whose cell misses the box is left out."""
    if not centres:
        raise ValueError("a schematic map needs district centres")
    pts = list(stations) or [(c[0], c[1]) for c in centres.values()]
    lat0 = sum(p[0] for p in pts) / len(pts)
    k = math.cos(math.radians(lat0))  # a degree of longitude is this many of latitude here

    def plane(lat: float, lon: float) -> np.ndarray:
        return np.array([lon * k, lat])

    names = list(centres)
    gen = np.array([plane(lat, lon) for lat, lon, _, _ in centres.values()])
    # a district's weight: the square of its stations' mean spread (the cells of the wide
    # districts reach further; on the demo's city about 93 % of the stations then lie in
    # their own district's cell, 90 % in a plain Voronoi diagram's)
    weight = np.array([((dlat + dlon * k) / 2) ** 2 for _, _, dlat, dlon in centres.values()])
    near = {int(np.argmin(((gen - plane(*p)) ** 2).sum(1) - weight)) for p in pts}
    inside = [plane(*p) for p in pts] + [gen[i] for i in near]
    lo, hi = np.min(inside, axis=0) - margin, np.max(inside, axis=0) + margin
    box = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    features = []
    for i, name in enumerate(names):
        cell = box
        for j in range(len(names)):
            if j != i:  # |x-gi|²-wi ≤ |x-gj|²-wj  ⇔  2x·(gj-gi) ≤ |gj|²-|gi|²-wj+wi
                a = 2 * (gen[j] - gen[i])
                b = float(gen[j] @ gen[j] - gen[i] @ gen[i] - weight[j] + weight[i])
                cell = _clip(cell, a, b)
        ring = [[round(float(x) / k, digits), round(float(y), digits)] for x, y in cell]
        ring = [p for n, p in enumerate(ring) if n == 0 or p != ring[n - 1]]
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring.pop()
        if len(ring) < 3:
            continue
        ring.append(ring[0])
        features.append(
            {"type": "Feature", "properties": {"name": name}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
        )
    return {"type": "FeatureCollection", "features": features}
