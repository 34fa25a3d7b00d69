"""The overview's district map (issue 13, item 4) in-process and in the browser: without a
loaded map the stations stay a scatter on longitude and latitude with a line saying an
administrator can load the districts; with one, the page hands its script the map's
address and each district's shade (its stations' worst open alarm, in the reader's
scope), the attribution under the map in the reader's language, the GeoJSON behind the
overview's own access (nobody: the login), and a district leads to the alarm list
filtered by it — a link in the page, a click on the map."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import msgspec
import pytest
from fastapi.testclient import TestClient
from sessions_helper import signed_in

from anxin.geo.queries import load_boundaries
from anxin.geo.schematic import schematic_map
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.sim.layout import DISTRICTS
from anxin.sim.replay import arrival_lines, uploads
from anxin.web import queries as Q
from anxin.web.texts import words

NOW = 1_780_000_000_000_000


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("overview-map")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("overview-map")
    simulate(
        root / "city",
        stations=4,
        days=1,
        seed=21,
        scenarios=ScenarioSet.parse("honest,amount_fraud=0.05"),
        workers=1,
        group_size=4,
    )
    _, service, app = build(
        db=str(root / "db.sqlite"),
        registry=root / "city" / "registry.json",
        admin_token="admin-token-0123456789",
        cookie_secure=False,
    )
    for sid, lines in uploads(arrival_lines(root / "city"), "S0001"):
        service.ingest(sid, lines, source="test")
    clients = {}
    for who, role, stations in (("regulator", "regulator", ()), ("operator", "operator", ("S0001",))):
        c = TestClient(app, headers={"Accept-Language": "zh-CN"})
        signed_in(c, service.store, f"map_{who}", role, stations)
        clients[who] = c
    clients["anon"] = TestClient(app)
    return {"service": service, "app": app, "c": clients}


def _data(html: str) -> dict:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S)
    assert m, "the page's data element"
    return msgspec.json.decode(m.group(1).replace("<\\/", "</"))


def _load(service, **kw) -> None:
    reg = service.registry
    doc = schematic_map({k: v[:4] for k, v in DISTRICTS.items()}, [(s.lat, s.lon, s.district) for s in reg.stations])
    load_boundaries(
        service.store, msgspec.json.encode(doc), source="test", actor="system", reason="t", now_us=NOW, **kw
    )


def test_the_overview_without_a_map_and_then_with_one(world) -> None:
    service, c = world["service"], world["c"]
    # nothing loaded: the scatter as before, and how to load the districts
    page = c["regulator"].get("/console")
    assert page.status_code == 200
    assert words("zh")["map_none"] in page.text and "anxin map load" in page.text
    assert "map" not in _data(page.text)
    assert c["regulator"].get("/console/map.geojson").status_code == 404
    english = c["regulator"].get("/console?lang=en")
    assert words("en")["map_none"].replace("'", "&#39;") in english.text
    c["regulator"].get("/console?lang=zh")

    _load(
        service,
        attribution="示意区界，非真实行政区划（测试）",
        attribution_en="Schematic districts, not the real boundaries (test)",
    )
    page = c["regulator"].get("/console")
    assert words("zh")["map_none"] not in page.text
    assert "区界：示意区界，非真实行政区划（测试）" in page.text and words("zh")["map_hint"] in page.text
    d = _data(page.text)["map"]
    assert d["url"] == "/console/map.geojson?v=1" and d["alarms"] == "/console/alarms?status=open&district="
    states = Q.station_states(service.store, service.registry, stations=None)
    assert d["districts"] == Q.district_states(states)
    assert sum(x["stations"] for x in d["districts"].values()) == len(service.registry.stations)
    for district, shade in d["districts"].items():  # its stations' worst open alarm
        theirs = [s["state"] for s in states if s["district"] == district]
        assert shade["state"] == next((x for x in ("critical", "major", "minor") if x in theirs), None)
    assert any(x["state"] for x in d["districts"].values())  # (the city has amount fraud)
    english = c["regulator"].get("/console?lang=en").text
    assert "Boundaries: Schematic districts, not the real boundaries (test)" in english
    assert "示意" not in english
    c["regulator"].get("/console?lang=zh")

    r = c["regulator"].get(d["url"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    geo = msgspec.json.decode(r.content)
    assert geo["type"] == "FeatureCollection" and {f["properties"]["name"] for f in geo["features"]} >= set(
        d["districts"]
    )
    again = c["regulator"].get(d["url"], headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content
    # a new load is a new address (the browser's cached copy is not the map any more)
    _load(service, attribution="第二版")
    assert _data(c["regulator"].get("/console").text)["map"]["url"] == "/console/map.geojson?v=2"
    assert c["regulator"].get("/console/map.geojson?v=2").headers["etag"] != r.headers["etag"]


def test_the_map_is_behind_the_overviews_access(world) -> None:
    c = world["c"]
    r = c["anon"].get("/console/map.geojson", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/map.geojson"
    assert "FeatureCollection" not in r.text
    # a station's operator sees the districts, shaded by its own station alone
    if c["regulator"].get("/console/map.geojson").status_code == 404:
        _load(world["service"])
    page = c["operator"].get("/console")
    d = _data(page.text)["map"]
    own = world["service"].registry.station_by_id["S0001"].district
    assert set(d["districts"]) == {own} and d["districts"][own]["stations"] == 1
    assert c["operator"].get(d["url"]).status_code == 200


def test_a_district_leads_to_its_open_alarms(world) -> None:
    service, c = world["service"], world["c"]
    page = c["regulator"].get("/console").text
    links = re.findall(r'href="(/console/alarms\?status=open&amp;district=[^"]+)"', page)
    districts = {s.district for s in service.registry.stations}
    shown = {parse_qs(urlparse(link.replace("&amp;", "&")).query)["district"][0] for link in links}
    assert shown == districts
    for district in districts:
        listing = c["regulator"].get("/console/alarms", params={"status": "open", "district": district})
        assert listing.status_code == 200
        assert re.search(rf'<option value="{re.escape(district)}"\s+selected>', listing.text), district
        ids = set(re.findall(r'href="/console/stations/(S\d+)"', listing.text))
        assert ids <= {s.station_id for s in service.registry.stations if s.district == district}, (district, ids)
        rows, _ = Q.alarm_page(
            service.store, service.registry, Q.AlarmFilter(district=district, status="open"), stations=None
        )
        assert all(service.registry.station_by_id[r["station_id"]].district == district for r in rows)
