"""A city's district boundaries (区县边界) read from a GeoJSON file an administrator loads,
checked as if the file were hostile: a FeatureCollection of Polygon and MultiPolygon
features, each named, every position a finite longitude/latitude within range, every
ring closed, within a size, feature and vertex cap. The first thing wrong is the one
error, with where it is (``features[3].geometry.coordinates[0][2]``) and what is wrong,
in the reader's language (:mod:`anxin.i18n`); nothing is half-read.

Nothing is simplified, merged or repaired: a file over a cap is refused with its count,
for the administrator to simplify with a tool of their choice (mapshaper, QGIS), knowing
what they did. What is kept of a feature is its name and its geometry (the other
properties are dropped: the console shows names, and a property is no place for a
hostile file to hide markup); a position's third number (an altitude, which RFC 7946
allows) is dropped too. Pure: no database, no I/O.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from typing import Any

import msgspec
import numpy as np

from anxin.i18n import t

MAX_BYTES = 20 * 1024 * 1024  # the file
MAX_FEATURES = 500  # districts (a city has a few dozen at most)
MAX_VERTICES = 200_000  # positions in all rings: what a browser draws on every overview
MAX_NAME = 64  # characters of a district's name
MAX_ATTRIBUTION = 500
# A declared coordinate reference system (GeoJSON 2008; RFC 7946 has none: WGS 84 always)
# must be WGS 84 longitude/latitude.
WGS84 = {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "EPSG:4326", "urn:ogc:def:crs:EPSG::4326"}

Ring = list[tuple[float, float]]
Polygon = list[Ring]


class BoundaryError(ValueError):
    """What is wrong with a boundary file: where (a JSON path, or "" for the file) and
    the catalog's words for the problem (``map_err_<problem>``), formatted with ``params``."""

    def __init__(self, where: str, problem: str, **params: Any) -> None:
        self.where, self.problem, self.params = where, problem, params
        super().__init__(self.text())

    def text(self) -> str:
        """The problem in the current language (a command line's, a request's)."""
        said = t(f"map_err_{self.problem}").format(**self.params)
        return f"{self.where}{t('map_colon')}{said}" if self.where else said


class District(msgspec.Struct, frozen=True):
    """One district: its name and its polygons (each a list of rings, lon/lat)."""

    name: str
    polygons: list[Polygon]

    @property
    def vertices(self) -> int:
        return sum(len(r) for p in self.polygons for r in p)

    def bbox(self) -> tuple[float, float, float, float]:
        """(west, south, east, north)."""
        lons = [x for p in self.polygons for r in p for x, _ in r]
        lats = [y for p in self.polygons for r in p for _, y in r]
        return min(lons), min(lats), max(lons), max(lats)

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point lies inside (even-odd over every ring: holes are out)."""
        w, s, e, n = self.bbox()
        if not (w <= lon <= e and s <= lat <= n):
            return False
        inside = False
        for polygon in self.polygons:
            for ring in polygon:
                a = np.asarray(ring, dtype=float)
                x0, y0, x1, y1 = a[:-1, 0], a[:-1, 1], a[1:, 0], a[1:, 1]
                spans = (y0 > lat) != (y1 > lat)
                with np.errstate(divide="ignore", invalid="ignore"):
                    cross = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
                inside ^= bool(np.count_nonzero(spans & (lon < cross)) % 2)
        return inside


class Boundaries(msgspec.Struct, frozen=True):
    """A city's districts, as read."""

    districts: list[District]

    @property
    def vertices(self) -> int:
        return sum(d.vertices for d in self.districts)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.districts]

    def bbox(self) -> tuple[float, float, float, float]:
        boxes = [d.bbox() for d in self.districts]
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    def district_of(self, lon: float, lat: float) -> str | None:
        """The name of the (first) district the point lies in, None outside them all."""
        return next((d.name for d in self.districts if d.contains(lon, lat)), None)

    def to_geojson(self) -> bytes:
        """The districts as a FeatureCollection (``properties.name`` only): what is stored
        and what the console draws."""
        features = []
        for d in self.districts:
            if len(d.polygons) == 1:
                geometry: dict[str, Any] = {"type": "Polygon", "coordinates": d.polygons[0]}
            else:
                geometry = {"type": "MultiPolygon", "coordinates": d.polygons}
            features.append({"type": "Feature", "properties": {"name": d.name}, "geometry": geometry})
        return msgspec.json.encode({"type": "FeatureCollection", "features": features})


def clean_text(value: str, *, limit: int) -> str | None:
    """``value`` stripped, or None when it is empty, longer than ``limit`` characters or
    holds a control, format (a bidirectional override), surrogate or unassigned character."""
    text = value.strip()
    if not text or len(text) > limit:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text):
        return None
    return text


def parse_boundaries(data: bytes, *, name_field: str = "name") -> Boundaries:
    """The districts of a GeoJSON file's bytes, or :class:`BoundaryError` on the first
    thing wrong with it."""
    if len(data) > MAX_BYTES:
        raise BoundaryError("", "too_big", size=len(data), cap=MAX_BYTES)
    try:
        doc = msgspec.json.decode(data)
    except RecursionError:
        raise BoundaryError("", "too_deep") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:  # (a number out of range is the latter)
        raise BoundaryError("", "not_json", reason=str(exc)) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise BoundaryError("", "not_collection", got=_shown(got))
    _check_crs(doc.get("crs"))
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise BoundaryError("features", "no_features")
    if len(features) > MAX_FEATURES:
        raise BoundaryError("features", "too_many_features", n=len(features), cap=MAX_FEATURES)
    budget = _Budget(MAX_VERTICES)
    districts: list[District] = []
    seen: dict[str, int] = {}
    for i, feature in enumerate(features):
        where = f"features[{i}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise BoundaryError(where, "not_feature")
        name = _name(feature.get("properties"), name_field, where)
        if name in seen:
            raise BoundaryError(f"{where}.properties.{name_field}", "duplicate", name=name, first=seen[name])
        seen[name] = i
        districts.append(District(name=name, polygons=_geometry(feature.get("geometry"), f"{where}.geometry", budget)))
    return Boundaries(districts=districts)


class _Budget:
    """The vertices left under the cap, counted as they are read (a file far over it stops early)."""

    def __init__(self, cap: int) -> None:
        self.cap, self.used = cap, 0

    def take(self, n: int, where: str) -> None:
        self.used += n
        if self.used > self.cap:
            raise BoundaryError(where, "too_many_vertices", cap=self.cap)


def _shown(value: object, limit: int = 40) -> str:
    text = msgspec.json.encode(value).decode() if value is not None else "null"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_crs(crs: object) -> None:
    if crs is None:
        return
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if not isinstance(name, str) or name not in WGS84:
        raise BoundaryError("crs", "crs", got=_shown(name if name is not None else crs))


def _name(properties: object, field: str, where: str) -> str:
    at = f"{where}.properties.{field}"
    if not isinstance(properties, dict):
        raise BoundaryError(f"{where}.properties", "no_properties")
    value = properties.get(field)
    if value is None:
        raise BoundaryError(at, "no_name", field=field)
    if not isinstance(value, str):
        raise BoundaryError(at, "name_not_text", got=_shown(value))
    name = clean_text(value, limit=MAX_NAME)
    if name is None:
        raise BoundaryError(at, "bad_name", cap=MAX_NAME)
    return name


def _geometry(geometry: object, where: str, budget: _Budget) -> list[Polygon]:
    if not isinstance(geometry, dict):
        raise BoundaryError(where, "no_geometry")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    at = f"{where}.coordinates"
    if kind == "Polygon":
        return [_polygon(coords, at, budget)]
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise BoundaryError(at, "not_multipolygon")
        return [_polygon(p, f"{at}[{j}]", budget) for j, p in enumerate(coords)]
    raise BoundaryError(f"{where}.type", "geometry_type", got=_shown(kind))


def _polygon(value: object, where: str, budget: _Budget) -> Polygon:
    if not isinstance(value, list) or not value:
        raise BoundaryError(where, "not_polygon")
    return [_ring(r, f"{where}[{k}]", budget) for k, r in enumerate(value)]


def _ring(value: object, where: str, budget: _Budget) -> Ring:
    if not isinstance(value, list):
        raise BoundaryError(where, "not_ring")
    budget.take(len(value), where)
    if len(value) < 4:
        raise BoundaryError(where, "ring_short", n=len(value))
    ring = [_position(p, f"{where}[{m}]") for m, p in enumerate(value)]
    if ring[0] != ring[-1]:
        raise BoundaryError(where, "ring_open", first=_pair(ring[0]), last=_pair(ring[-1]))
    return ring


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _position(value: object, where: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) not in (2, 3) or not all(_number(x) for x in value):
        raise BoundaryError(where, "not_position", got=_shown(value))
    lon, lat = float(value[0]), float(value[1])
    if not -180.0 <= lon <= 180.0 or not -90.0 <= lat <= 90.0:
        raise BoundaryError(where, "out_of_range", lon=_num(lon), lat=_num(lat))
    return lon, lat


def _num(x: float) -> str:
    return f"{x:.6g}"


def _pair(p: tuple[float, float]) -> str:
    return f"[{_num(p[0])}, {_num(p[1])}]"


class Coverage(msgspec.Struct, frozen=True):
    """How a map covers the registered stations: per district of the registry without a
    boundary, its stations; and the stations with a boundary that lie outside it (where
    they lie instead: a district's name, or None outside every one)."""

    unmapped: dict[str, list[str]]
    outside: list[tuple[str, str | None]]


def coverage(boundaries: Boundaries, stations: Iterable[Any]) -> Coverage:
    """``stations``: the registry's (``station_id``, ``district``, ``lon``, ``lat``)."""
    by_name = {d.name: d for d in boundaries.districts}
    unmapped: dict[str, list[str]] = {}
    outside: list[tuple[str, str | None]] = []
    for st in stations:
        own = by_name.get(st.district)
        if own is None:
            unmapped.setdefault(st.district, []).append(st.station_id)
        elif not own.contains(st.lon, st.lat):
            outside.append((st.station_id, boundaries.district_of(st.lon, st.lat)))
    return Coverage(unmapped=dict(sorted(unmapped.items())), outside=outside)
