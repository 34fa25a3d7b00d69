"""District maps (issue 13, item 4): a boundary file an administrator loads is read as if
it were hostile — each rule refuses with its own words naming the feature and the field,
and nothing is stored (no map, no audit entry); a good file is kept exactly (nothing
simplified) as a new version with its audit entry; ``anxin map load|show`` on the
command line; the demo's schematic map, loaded through the same path."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from anxin.audit import entries, verify
from anxin.cli import app
from anxin.contract.registry import parse_registry
from anxin.geo import boundaries as B
from anxin.geo.boundaries import BoundaryError, parse_boundaries
from anxin.geo.queries import current_boundaries, current_map, load_boundaries, map_document, map_versions
from anxin.geo.schematic import schematic_map
from anxin.i18n import language_scope
from anxin.sim import ScenarioSet, simulate
from anxin.sim.layout import DISTRICTS
from anxin.store import schema as T
from anxin.store.database import Store

NOW = 1_780_000_000_000_000


def square(lon: float, lat: float, d: float = 0.1) -> list[list[float]]:
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def city() -> dict[str, Any]:
    """A good file: a Polygon, a MultiPolygon with a hole, extra properties, an altitude."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "上城区", "adcode": 330102, "note": "<script>x</script>"},
                "geometry": {"type": "Polygon", "coordinates": [square(120.1, 30.2)]},
            },
            {
                "type": "Feature",
                "properties": {"name": "拱墅区"},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [
                        [square(120.1, 30.3), [[120.12, 30.32], [120.14, 30.32], [120.13, 30.34], [120.12, 30.32]]],
                        [[[120.3, 30.3, 5.0], [120.4, 30.3, 5.0], [120.35, 30.4, 6.0], [120.3, 30.3, 5.0]]],
                    ],
                },
            },
        ],
    }


def enc(doc: Any) -> bytes:
    return msgspec.json.encode(doc)


def _set(doc: dict, path: tuple, value: Any) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return doc


def _del(doc: dict, path: tuple) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for k in path[:-1]:
        target = target[k]
    del target[path[-1]]
    return doc


G0 = ("features", 0, "geometry")
G1 = ("features", 1, "geometry")
# (case, the file's bytes, where the error is, its problem, words of its English message)
HOSTILE = [
    ("not json", b'{"type": "FeatureCollection", ', "", "not_json", "not valid JSON"),
    ("number out of range", enc(city()).replace(b"120.1,", b"1e400,", 1), "", "not_json", "not valid JSON"),
    ("nested too deeply", b"[" * 100_000 + b"]" * 100_000, "", "too_deep", "nested too deeply"),
    ("a list", b"[]", "", "not_collection", 'FeatureCollection (it is "list")'),
    ("a feature", enc(city()["features"][0]), "", "not_collection", 'it is "Feature"'),
    (
        "projected",
        enc({**city(), "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}),
        "crs",
        "crs",
        "EPSG:3857",
    ),
    ("no features", enc(_set(city(), ("features",), [])), "features", "no_features", "no features"),
    ("features not a list", enc(_set(city(), ("features",), {"a": 1})), "features", "no_features", "no features"),
    ("a number", enc(_set(city(), ("features", 1), 7)), "features[1]", "not_feature", "not a GeoJSON Feature"),
    (
        "not a Feature",
        enc(_set(city(), ("features", 1, "type"), "Point")),
        "features[1]",
        "not_feature",
        "not a GeoJSON Feature",
    ),
    (
        "no properties",
        enc(_set(city(), ("features", 0, "properties"), None)),
        "features[0].properties",
        "no_properties",
        "no properties",
    ),
    (
        "no name",
        enc(_del(city(), ("features", 1, "properties", "name"))),
        "features[1].properties.name",
        "no_name",
        "--name-field",
    ),
    (
        "a number for a name",
        enc(_set(city(), ("features", 1, "properties", "name"), 12)),
        "features[1].properties.name",
        "name_not_text",
        "(it is 12)",
    ),
    (
        "an empty name",
        enc(_set(city(), ("features", 1, "properties", "name"), "  ")),
        "features[1].properties.name",
        "bad_name",
        "empty",
    ),
    (
        "a right-to-left override",
        enc(_set(city(), ("features", 1, "properties", "name"), "\u202e区城上")),
        "features[1].properties.name",
        "bad_name",
        "control characters",
    ),
    (
        "a long name",
        enc(_set(city(), ("features", 1, "properties", "name"), "区" * 65)),
        "features[1].properties.name",
        "bad_name",
        "64 characters",
    ),
    (
        "a name twice",
        enc(_set(city(), ("features", 1, "properties", "name"), "上城区")),
        "features[1].properties.name",
        "duplicate",
        "features[0]",
    ),
    ("no geometry", enc(_set(city(), G1, None)), "features[1].geometry", "no_geometry", "no geometry"),
    (
        "a point",
        enc(_set(city(), G0, {"type": "Point", "coordinates": [120.1, 30.2]})),
        "features[0].geometry.type",
        "geometry_type",
        '(it is "Point")',
    ),
    (
        "a geometry collection",
        enc(_set(city(), G0, {"type": "GeometryCollection", "geometries": []})),
        "features[0].geometry.type",
        "geometry_type",
        "GeometryCollection",
    ),
    (
        "an empty MultiPolygon",
        enc(_set(city(), (*G1, "coordinates"), [])),
        "features[1].geometry.coordinates",
        "not_multipolygon",
        "MultiPolygon",
    ),
    (
        "an empty polygon",
        enc(_set(city(), (*G0, "coordinates"), [])),
        "features[0].geometry.coordinates",
        "not_polygon",
        "array of rings",
    ),
    (
        "a ring that is a number",
        enc(_set(city(), (*G1, "coordinates", 0, 1), 3)),
        "features[1].geometry.coordinates[0][1]",
        "not_ring",
        "array of positions",
    ),
    (
        "a ring of three",
        enc(_set(city(), (*G0, "coordinates", 0), square(120.1, 30.2)[:2] + [[120.1, 30.2]])),
        "features[0].geometry.coordinates[0]",
        "ring_short",
        "has 3 positions",
    ),
    (
        "an open ring",
        enc(_set(city(), (*G1, "coordinates", 1, 0, 3), [120.3, 30.31])),
        "features[1].geometry.coordinates[1][0]",
        "ring_open",
        "[120.3, 30.3] is not its last [120.3, 30.31]",
    ),
    (
        "a position of one number",
        enc(_set(city(), (*G0, "coordinates", 0, 2), [120.2])),
        "features[0].geometry.coordinates[0][2]",
        "not_position",
        "two finite numbers",
    ),
    (
        "a position of four numbers",
        enc(_set(city(), (*G0, "coordinates", 0, 2), [120.2, 30.3, 1, 2])),
        "features[0].geometry.coordinates[0][2]",
        "not_position",
        "two finite numbers",
    ),
    (
        "text for a longitude",
        enc(_set(city(), (*G0, "coordinates", 0, 2), ["120.2", 30.3])),
        "features[0].geometry.coordinates[0][2]",
        "not_position",
        '"120.2"',
    ),
    (
        "true for a longitude",
        enc(_set(city(), (*G0, "coordinates", 0, 2), [True, 30.3])),
        "features[0].geometry.coordinates[0][2]",
        "not_position",
        "two finite numbers",
    ),
    (
        "a longitude beyond 180",
        enc(_set(city(), (*G0, "coordinates", 0, 2), [13_380_000.0, 3_530_000.0])),
        "features[0].geometry.coordinates[0][2]",
        "out_of_range",
        "projected coordinates?",
    ),
    (
        "a latitude beyond 90",
        enc(_set(city(), (*G1, "coordinates", 1, 0, 1), [120.4, 90.5])),
        "features[1].geometry.coordinates[1][0][1]",
        "out_of_range",
        "latitude 90.5",
    ),
]


@pytest.fixture
def store(migrated_sqlite: Path):
    s = Store(str(migrated_sqlite))
    yield s
    s.close()


def _nothing_stored(store: Store) -> None:
    with store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(T.district_maps)).scalar_one() == 0
    assert entries(store) == []
    assert current_map(store) is None and map_document(store) is None


@pytest.mark.parametrize(("case", "data", "where", "problem", "said"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_file_is_refused_naming_where_and_what(store, case, data, where, problem, said) -> None:
    with language_scope("en"), pytest.raises(BoundaryError) as err:
        load_boundaries(store, data, source="x.geojson", actor="system", reason="test", now_us=NOW)
    assert (err.value.where, err.value.problem) == (where, problem), case
    with language_scope("en"):
        text = err.value.text()
    assert text.startswith(f"{where}: " if where else "") and said in text, text
    with language_scope("zh"):
        assert "：" in err.value.text() or not where  # said in Chinese too
    _nothing_stored(store)


@pytest.mark.parametrize(
    ("cap", "value", "problem", "said"),
    [
        ("MAX_BYTES", 400, "too_big", "over the cap of 400"),
        ("MAX_FEATURES", 1, "too_many_features", "2 features, over the cap of 1"),
        ("MAX_VERTICES", 12, "too_many_vertices", "more than 12 vertices"),
    ],
)
def test_a_file_over_a_cap_is_refused_not_simplified(store, monkeypatch, cap, value, problem, said) -> None:
    monkeypatch.setattr(B, cap, value)
    with language_scope("en"), pytest.raises(BoundaryError) as err:
        load_boundaries(store, enc(city()), source="x.geojson", actor="system", reason="test", now_us=NOW)
    assert err.value.problem == problem and said in str(err.value)
    _nothing_stored(store)


def test_the_real_caps_are_what_a_browser_draws() -> None:
    assert B.MAX_BYTES == 20 * 1024 * 1024 and B.MAX_VERTICES == 200_000
    # a file far over the vertex cap stops at the ring that crosses it
    huge = {"type": "FeatureCollection", "features": [_feature(f"区{i}", 0.0, 0.0, 50_001) for i in range(5)]}
    with pytest.raises(BoundaryError) as err:
        parse_boundaries(enc(huge))
    assert err.value.where == "features[3].geometry.coordinates[0]" and err.value.problem == "too_many_vertices"


@pytest.mark.parametrize(
    ("kwargs", "where", "problem"),
    [
        ({"attribution": "© OSM\x07"}, "--attribution", "bad_attribution"),
        ({"attribution_en": "x" * 501}, "--attribution-en", "bad_attribution"),
        ({"name_field": ""}, "--name-field", "bad_name_field"),
    ],
)
def test_a_bad_option_stores_nothing_either(store, kwargs, where, problem) -> None:
    with pytest.raises(BoundaryError) as err:
        load_boundaries(store, enc(city()), source="x", actor="system", reason="test", now_us=NOW, **kwargs)
    assert (err.value.where, err.value.problem) == (where, problem)
    _nothing_stored(store)


def test_a_good_file_is_kept_exactly_as_a_version_with_its_audit_entry(store) -> None:
    data = enc(city())
    info, read = load_boundaries(
        store,
        data,
        source="hangzhou.geojson",
        attribution=" © OpenStreetMap 贡献者，ODbL ",
        attribution_en="© OpenStreetMap contributors, ODbL",
        actor="system",
        reason="anxin map load",
        now_us=NOW,
    )
    assert info.version == 1 and info.districts == ["上城区", "拱墅区"] and info.vertices == 5 + 5 + 4 + 4
    assert info.attribution == "© OpenStreetMap 贡献者，ODbL"  # (stripped)
    assert info.attribution_in("en") == "© OpenStreetMap contributors, ODbL"
    found = map_document(store)
    assert found is not None
    stored = msgspec.json.decode(found[1])
    # every position as given (the altitude dropped), the name the only property kept
    original = city()
    for got, want in zip(stored["features"], original["features"], strict=True):
        assert got["properties"] == {"name": want["properties"]["name"]}
        assert got["geometry"]["type"] == want["geometry"]["type"]
        coords = want["geometry"]["coordinates"]
        flat = coords if want["geometry"]["type"] == "MultiPolygon" else [coords]
        back = got["geometry"]["coordinates"]
        back = back if got["geometry"]["type"] == "MultiPolygon" else [back]
        assert back == [[[p[:2] for p in ring] for ring in poly] for poly in flat]
    assert parse_boundaries(found[1]) == read
    log = entries(store)
    assert len(log) == 1 and verify(store).ok
    e = log[0]
    assert (e.action, e.subject, e.actor, e.reason) == ("map.load", "district_map:1", "system", "anxin map load")
    assert e.data["attribution"] == "© OpenStreetMap 贡献者，ODbL" and e.data["sha256"] == info.sha256.hex()
    assert e.data["attribution_en"] == "© OpenStreetMap contributors, ODbL" and e.data["source"] == "hangzhou.geojson"
    # a second load is the current map; the first is kept
    other = _set(city(), ("features", 0, "properties", "name"), "西湖区")
    second, _ = load_boundaries(store, enc(other), source="v2.geojson", actor="system", reason="t", now_us=NOW + 1)
    assert second.version == 2 and current_map(store) == second and map_versions(store) == 2
    assert map_document(store, 1) is not None and map_document(store, 1)[0] == info  # type: ignore[index]
    now = current_boundaries(store)
    assert now is not None and now[1].names == ["西湖区", "拱墅区"]


def test_points_in_districts_holes_and_parts() -> None:
    b = parse_boundaries(enc(city()))
    assert b.district_of(120.15, 30.25) == "上城区"
    assert b.district_of(120.11, 30.31) == "拱墅区"  # the first part
    assert b.district_of(120.13, 30.325) is None  # in the first part's hole
    assert b.district_of(120.35, 30.32) == "拱墅区"  # the second part
    assert b.district_of(121.0, 31.0) is None


# ------------------------------------------------------------ properties


def _feature(name: str, lon: float, lat: float, n: int, r: float = 0.05) -> dict[str, Any]:
    ring = [[lon + r * math.cos(2 * math.pi * k / n), lat + r * math.sin(2 * math.pi * k / n)] for k in range(n)]
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }


names = st.text(st.characters(categories=("L", "N", "P", "Zs")), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and s
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(names, st.floats(-179, 179), st.floats(-89, 89), st.integers(3, 40)),
        min_size=1,
        max_size=8,
        unique_by=lambda x: x[0],
    )
)
def test_any_good_file_reads_back_the_same(spec) -> None:
    doc = {"type": "FeatureCollection", "features": [_feature(n, lon, lat, k, 0.5) for n, lon, lat, k in spec]}
    b = parse_boundaries(enc(doc))
    assert b.names == [n for n, *_ in spec] and b.vertices == sum(k + 1 for *_, k in spec)
    assert parse_boundaries(b.to_geojson()) == b
    assert msgspec.json.decode(b.to_geojson()) == doc  # nothing simplified, nothing moved


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=40,
)
geometry_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["Polygon", "MultiPolygon", "Point"]), "coordinates": json_values}
)
feature_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Feature", "feature"]),
        "properties": st.none() | st.dictionaries(st.sampled_from(["name", "NAME"]), json_values, max_size=2),
        "geometry": st.none() | geometry_like | json_values,
    }
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries({"type": st.just("FeatureCollection"), "features": st.lists(feature_like, max_size=4)}),
    )
)
def test_whatever_a_file_holds_it_is_read_or_refused_in_words(doc) -> None:
    try:
        b = parse_boundaries(enc(doc))
    except BoundaryError as exc:
        with language_scope("en"):
            assert exc.text()
        with language_scope("zh"):
            assert exc.text()
    else:
        assert b.districts and all(r[0] == r[-1] and len(r) >= 4 for d in b.districts for p in d.polygons for r in p)


# ------------------------------------------------------------ the command line


@pytest.fixture(autouse=True)
def _chinese(monkeypatch):
    monkeypatch.setenv("ANXIN_LANG", "zh")  # (--lang en sets it for the process)


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def registry_doc(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("map-city")
    simulate(root / "city", stations=8, days=1, seed=11, scenarios=ScenarioSet.parse("honest"), workers=1)
    return (root / "city" / "registry.json").read_bytes()


@pytest.fixture
def db(tmp_path: Path, registry_doc: bytes) -> str:
    url = str(tmp_path / "db.sqlite")
    s = Store(url)
    s.registry_save(registry_doc, author="test", reason="test")
    s.close()
    return url


def _file(tmp_path: Path, doc: Any, name: str = "city.geojson") -> Path:
    path = tmp_path / name
    path.write_bytes(enc(doc) if not isinstance(doc, bytes) else doc)
    return path


def test_map_load_and_show_on_the_command_line(tmp_path: Path, db: str, registry_doc: bytes) -> None:
    reg = parse_registry(registry_doc)
    res = run("map", "show", "--db", db, "--lang", "en")
    assert res.exit_code == 0 and "No district boundaries loaded (anxin map load FILE.geojson)" in res.output
    districts = sorted({s.district for s in reg.stations})
    first, rest = districts[0], districts[1:]
    # the first district drawn far from its stations, the others where the demo puts them
    doc = {"type": "FeatureCollection", "features": [_feature(first, 100.0, 10.0, 6)]}
    doc["features"] += [
        {"type": "Feature", "properties": {"NAME": d}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
        for d, ring in _cells(reg, rest)
    ]
    for f in doc["features"][:1]:
        f["properties"] = {"NAME": first}
    path = _file(tmp_path, doc)
    res = run(
        "map",
        "load",
        str(path),
        "--name-field",
        "NAME",
        "--attribution",
        "© OpenStreetMap 贡献者，ODbL",
        "--attribution-en",
        "© OpenStreetMap contributors, ODbL",
        "--db",
        db,
        "--lang",
        "en",
    )
    assert res.exit_code == 0, res.output
    assert f"District map version 1 loaded: {len(districts)} districts" in res.output
    n_first = sum(1 for s in reg.stations if s.district == first)
    assert f"{n_first} stations lie outside their district's boundary" in " ".join(res.output.split())
    res = run("map", "show", "--db", db, "--lang", "zh")
    out = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "区县边界 · 第 1 版（共载入 1 次）" in out and "署名：© OpenStreetMap 贡献者，ODbL" in out
    assert "英文署名：© OpenStreetMap contributors, ODbL" in out and "名称属性 NAME" in out
    for d in districts:
        assert d in out
    station = next(s for s in reg.stations if s.district == first)
    assert f"{station.station_id} {station.name}（{first}）→ 不在任何区县内" in out
    # a district missing from the file: its stations are named
    res = run(
        "map",
        "load",
        str(_file(tmp_path, _del(doc, ("features", 0)), "v2.geojson")),
        "--name-field",
        "NAME",
        "--db",
        db,
    )
    out = " ".join(res.output.split())
    assert res.exit_code == 0 and "区界第 2 版" in out and "未提供署名" in out
    assert "以下区县有登记的加油站，但区界文件中没有" in out and f"{first}：{station.station_id}" in out


def _cells(reg, districts: list[str]):
    """A box around each district's stations (overlaps allowed: each station inside its own)."""
    for d in districts:
        pts = [(s.lon, s.lat) for s in reg.stations if s.district == d]
        w, e = min(p[0] for p in pts) - 0.001, max(p[0] for p in pts) + 0.001
        s_, n = min(p[1] for p in pts) - 0.001, max(p[1] for p in pts) + 0.001
        yield d, [[w, s_], [e, s_], [e, n], [w, n], [w, s_]]


def test_a_bad_file_on_the_command_line_is_one_line_and_nothing_is_stored(tmp_path: Path, db: str) -> None:
    bad = _set(city(), ("features", 1, "geometry", "coordinates", 1, 0, 3), [120.3, 30.31])
    res = run("map", "load", str(_file(tmp_path, bad, "bad.geojson")), "--db", db, "--lang", "en")
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert "bad.geojson" in lines[0] and "nothing was loaded" in lines[0]
    assert "features[1].geometry.coordinates[1][0]: the ring is not closed" in lines[0]
    res = run("map", "load", str(tmp_path / "missing.geojson"), "--db", db, "--lang", "zh")
    assert res.exit_code == 2 and "无法读取" in res.output
    s = Store(db, migrate=False)
    try:
        _nothing_stored(s)
    finally:
        s.close()


def test_a_huge_file_is_not_read_whole(tmp_path: Path, db: str, monkeypatch) -> None:
    monkeypatch.setattr(B, "MAX_BYTES", 1000)
    path = tmp_path / "huge.geojson"
    path.write_bytes(b" " * 5000 + enc(city()))
    res = run("map", "load", str(path), "--db", db, "--lang", "en")
    assert res.exit_code == 2 and "1,001 bytes, over the cap of 1,000" in res.output  # (read no further)


# ------------------------------------------------------------ the demo's schematic map


def test_the_demos_schematic_map_covers_its_stations(registry_doc: bytes, store: Store) -> None:
    from anxin.demo.districts import ATTRIBUTION, ATTRIBUTION_EN, load_schematic_map, schematic_geojson

    reg = parse_registry(registry_doc)
    b = parse_boundaries(schematic_geojson(reg))  # a file the platform takes
    assert set(b.names) <= set(DISTRICTS) and {s.district for s in reg.stations} <= set(b.names)
    for s in reg.stations:  # (a small city's stations each in their own district's cell)
        assert b.district_of(s.lon, s.lat) == s.district, s.station_id
    # the cells do not overlap: a grid of points over the box lies in at most one each
    w, s_, e, n = b.bbox()
    for i in range(21):
        for j in range(21):
            lon, lat = w + (e - w) * (i + 0.5) / 21, s_ + (n - s_) * (j + 0.5) / 21
            assert sum(d.contains(lon, lat) for d in b.districts) == 1, (lon, lat)
    info = load_schematic_map(store, reg)
    assert "示意区界，非真实行政区划" in info.attribution and "Schematic districts, not the real" in ATTRIBUTION_EN
    assert info.attribution == ATTRIBUTION and info.actor == "anxin demo"
    assert entries(store)[0].action == "map.load"


def test_a_schematic_cell_is_the_centres_power_cell() -> None:
    centres = {"A": (30.0, 120.0, 0.05, 0.05), "B": (30.0, 120.2, 0.05, 0.05), "C": (31.5, 121.5, 0.01, 0.01)}
    doc = schematic_map(centres, [(30.0, 120.0, "A"), (30.0, 120.2, "B")], margin=0.05)
    b = parse_boundaries(enc(doc))
    assert b.names == ["A", "B"]  # C's cell misses the box around the stations: left out
    assert b.district_of(120.09, 30.0) == "A" and b.district_of(120.11, 30.0) == "B"
    # a station of A beyond the bisector: A's cell grows to hold it, B keeps its own
    doc = schematic_map(centres, [(30.0, 120.0, "A"), (30.0, 120.14, "A"), (30.0, 120.2, "B")], margin=0.05)
    b = parse_boundaries(enc(doc))
    assert b.district_of(120.14, 30.0) == "A" and b.district_of(120.2, 30.0) == "B"
    # stations of two districts mixed: as many as straight lines allow, none lost from the box
    mixed = [(30.0, 120.0 + 0.01 * n, "AB"[n % 2]) for n in range(20)]
    b = parse_boundaries(enc(schematic_map(centres, mixed, margin=0.05)))
    assert all(b.district_of(lon, lat) in ("A", "B") for lat, lon, _ in mixed)
