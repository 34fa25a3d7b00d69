"""A schematic district map (示意区界) for a city whose real boundaries are not at hand —
the demo's simulated city: each district the cell of its centre in a power diagram
(a Voronoi diagram whose cells grow with each district's weight: its spread, raised
until its stations lie in its cell as far as straight lines allow), clipped to a box
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


def _fit(
    gen: np.ndarray, weight: np.ndarray, pts: np.ndarray, own: np.ndarray, *, rounds: int = 200, clear: float = 0.004
) -> np.ndarray:
    """The weights grown so that as many stations as may lie in their own district's cell:
    a station in another's cell raises its own district's weight just past that cell's
    (the best weights seen are kept: stations of two districts mixed together cannot all
    be separated by straight lines)."""
    best, best_wrong = weight.copy(), len(pts) + 1
    w = weight.copy()
    mine = own >= 0
    dist = ((pts[:, None, :] - gen[None, :, :]) ** 2).sum(-1)  # squared, station × centre
    ceiling = 4 * float(dist.max()) + 1.0  # beyond it one cell would swallow the box: stop
    for _ in range(rounds):
        cell = (dist - w[None, :]).argmin(1)
        wrong = np.flatnonzero(mine & (cell != own))
        if len(wrong) < best_wrong:
            best, best_wrong = w.copy(), len(wrong)
        if not len(wrong) or float(w.max()) > ceiling:
            break
        for s in wrong:  # |s-gi|²-wi < |s-gj|²-wj  ⇐  wi = |s-gi|²-|s-gj|²+wj+ε
            i, j = own[s], cell[s]
            # (ε moves the boundary ``clear`` degrees past the station: its dot is not on the line)
            eps = 2 * clear * float(np.linalg.norm(gen[i] - gen[j]))
            w[i] = max(w[i], dist[s, i] - dist[s, j] + w[j] + eps)
    return best


def schematic_map(
    centres: Mapping[str, tuple[float, float, float, float]],
    stations: Sequence[tuple[float, float, str]],
    *,
    margin: float = 0.03,
    digits: int = 5,
) -> dict[str, Any]:
    """A FeatureCollection of the districts ``centres`` (name → (lat, lon, and the spread
    of its stations in latitude and in longitude, degrees)) as power cells, clipped to the
    box around ``stations`` ((lat, lon, district) each) and the centres of the districts
    nearest them, widened by ``margin`` degrees. Each district's weight starts as the
    square of its spread (the wide districts' cells reach further) and grows until its
    stations lie in its cell, as far as straight lines allow. A district whose cell misses
    the box is left out."""
    if not centres:
        raise ValueError("a schematic map needs district centres")
    names = list(centres)
    pts_ll = [(lat, lon) for lat, lon, _ in stations] or [(c[0], c[1]) for c in centres.values()]
    lat0 = sum(p[0] for p in pts_ll) / len(pts_ll)
    k = math.cos(math.radians(lat0))  # a degree of longitude is this many of latitude here

    def plane(lat: float, lon: float) -> np.ndarray:
        return np.array([lon * k, lat])

    gen = np.array([plane(lat, lon) for lat, lon, _, _ in centres.values()])
    weight = np.array([((dlat + dlon * k) / 2) ** 2 for _, _, dlat, dlon in centres.values()])
    pts = np.array([plane(*p) for p in pts_ll])
    if stations:
        own = np.array([names.index(d) if d in centres else -1 for _, _, d in stations])
        weight = _fit(gen, weight, pts, own)
    near = {int(np.argmin(((gen - p) ** 2).sum(1) - weight)) for p in pts}
    inside = [*pts, *(gen[i] for i in near)]
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
