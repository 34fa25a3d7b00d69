"""The overview's district map in Debian's chromium (issue 13, item 4), on the demo city
(tests/demo_city.py, whose ``anxin demo`` loads its schematic districts through the path
of ``anxin map load``): the districts are drawn from the fetched GeoJSON (no request
leaves the machine), shaded by their stations' worst open alarm, the stations on them; a
click on a district opens its open alarms, a click on a station its page; the attribution
says the districts are schematic, in the reader's language."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

pytest.register_assert_rewrite("demo_city")
from demo_city import PASSWORD, Demo  # noqa: E402

pytest_plugins = ["demo_city"]
pytestmark = pytest.mark.xdist_group("demo-city")  # in the worker that built the city


def _overview(browser, demo: Demo, lang: str, width: int = 1280):
    ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN", reduced_motion="reduce")
    page = ctx.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(demo.base) else None)
    page.goto(f"{demo.base}/console/login" + ("?lang=en" if lang == "en" else ""))
    page.locator("#username").fill("regulator")
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(re.compile(r".*/console$"))
    page.locator("#map[data-drawn]").wait_for(timeout=15_000)
    return ctx, page, outside


def _map_state(page) -> dict:
    return page.evaluate(
        """() => {
          const chart = echarts.getInstanceByDom(document.getElementById('map'));
          const option = chart.getOption();
          const geo = option.geo && option.geo[0];
          return {
            drawn: document.getElementById('map').getAttribute('data-drawn'),
            regions: geo ? geo.regions.map(r => [r.name, r.itemStyle.areaColor, !!r.silent]) : [],
            series: option.series.map(s => [s.type, s.coordinateSystem, s.data.length]),
          };
        }"""
    )


def _click_at(page, lonlat_or_region: str | list[float]) -> None:
    """Click the map at a district's centre (its name) or at [lon, lat]."""
    page.locator("#map").scroll_into_view_if_needed()
    xy = page.evaluate(
        """(where) => {
          const chart = echarts.getInstanceByDom(document.getElementById('map'));
          const geo = chart.getModel().getComponent('geo').coordinateSystem;
          const at = typeof where === 'string' ? geo.getRegion(where).getCenter() : where;
          return chart.convertToPixel({geoIndex: 0}, at);
        }""",
        lonlat_or_region,
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


def _quiet_district(page, names: list[str]) -> str:
    """Of ``names``, a district whose centre is clear of every station's dot."""
    return page.evaluate(
        """(names) => {
          const chart = echarts.getInstanceByDom(document.getElementById('map'));
          const geo = chart.getModel().getComponent('geo').coordinateSystem;
          const dots = JSON.parse(document.getElementById('data').textContent).stations
            .map(s => chart.convertToPixel({geoIndex: 0}, [s.lon, s.lat]));
          const clear = (n) => { const c = chart.convertToPixel({geoIndex: 0}, geo.getRegion(n).getCenter());
            return Math.min(...dots.map(d => Math.hypot(d[0] - c[0], d[1] - c[1]))); };
          return names.slice().sort((a, b) => clear(b) - clear(a))[0];
        }""",
        names,
    )


def test_the_districts_are_drawn_and_lead_to_their_alarms(browser, demo_city: Demo) -> None:
    ctx, page, outside = _overview(browser, demo_city, "zh")
    try:
        data = page.evaluate("JSON.parse(document.getElementById('data').textContent)")
        state = _map_state(page)
        assert state["drawn"] == "districts", state
        shades = {"critical": "#f3c1bd", "major": "#f8dcae", "minor": "#c7dff0"}
        for name, colour, silent in state["regions"]:
            mine = data["map"]["districts"].get(name)
            assert colour == (shades[mine["state"]] if mine and mine["state"] else "#eef0f3"), name
            assert silent == (mine is None), name
        assert {n for n, _, _ in state["regions"]} >= set(data["map"]["districts"])
        assert sum(n for _, cs, n in state["series"] if cs == "geo") == len(data["stations"])
        note = page.locator("#map ~ p.note").inner_text()
        assert "示意区界，非真实行政区划" in note
        assert outside == [], outside  # (no tile server, no font, nothing from elsewhere)
        # a district with stations: its open alarms; a station: its page
        district = _quiet_district(page, sorted(data["map"]["districts"]))
        station = data["stations"][0]
        _click_at(page, [station["lon"], station["lat"]])
        page.wait_for_url(re.compile(r".*/console/stations/.*"))
        assert page.url.endswith(f"/console/stations/{station['station_id']}")
        page.go_back()
        page.locator("#map[data-drawn=districts]").wait_for(timeout=15_000)
        _click_at(page, district)
        page.wait_for_url(re.compile(r".*/console/alarms\?.*"))
        query = parse_qs(urlparse(page.url).query)
        assert query == {"status": ["open"], "district": [district]}, page.url
        assert page.locator("select[name=district]").input_value() == district
    finally:
        ctx.close()


def test_the_attribution_is_in_the_readers_language(browser, demo_city: Demo) -> None:
    ctx, page, _ = _overview(browser, demo_city, "en", width=390)
    try:
        assert _map_state(page)["drawn"] == "districts"
        note = page.locator("#map ~ p.note").inner_text()
        assert "Schematic districts, not the real boundaries" in note and "示意" not in note
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 392  # (a phone's width)
    finally:
        ctx.close()


def test_a_regulator_goes_from_the_map_to_an_alarm_and_disposes_of_it(browser, demo_city: Demo) -> None:
    """Issue 13's acceptance, walked in the browser: from the map to a district, to a
    station, to an alarm; its evidence read in Chinese; a first step of its disposal
    taken — and on no page of the way an English sentence, an untranslated state or a
    raw field name (test_page_text's rule, on what the browser shows)."""
    from test_page_text import offences

    ctx, page, outside = _overview(browser, demo_city, "zh")
    seen: dict[str, set[str]] = {}

    def read(where: str) -> None:
        seen[where] = offences(page.locator("main").inner_text())

    try:
        data = page.evaluate("JSON.parse(document.getElementById('data').textContent)")
        read("overview")
        district = _quiet_district(page, sorted(data["map"]["districts"]))
        _click_at(page, district)
        page.wait_for_url(re.compile(r".*/console/alarms\?.*"))
        read("district's alarms")
        page.locator("table.list tbody tr a[href^='/console/stations/']").first.click()
        page.wait_for_url(re.compile(r".*/console/stations/[^/?]+$"))
        read("station")
        links = page.locator("main a[href^='/console/alarms/']")
        hrefs = [links.nth(i).get_attribute("href") for i in range(min(links.count(), 10))]
        for href in hrefs:  # the first of the station's alarms no one has taken up yet
            page.goto(f"{demo_city.base}{href}")
            if page.locator("form[action$='/acknowledge']").count():
                break
        else:
            raise AssertionError(f"no new alarm among {hrefs}")
        read("alarm")
        main = page.locator("main").inner_text()
        assert "证据" in main and re.search(r"[\u4e00-\u9fff]", page.locator("h1").inner_text())
        form = page.locator("form[action$='/acknowledge']")
        form.locator("input[name=reason]").fill("已阅，安排核查")
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        page.locator("h1 .badge", has_text="已确认").wait_for(timeout=10_000)
        read("alarm after the step")
        assert outside == [], outside
    finally:
        ctx.close()
    assert not {k: v for k, v in seen.items() if v}, seen
