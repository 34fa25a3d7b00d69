"""The tank witness on the console (issue 12, item 7), in-process: the nozzle page's
estimates look by look with their status in words (an ``insufficient`` one with the
tank's pooled figure beside it), the station page's current estimate per nozzle and per
tank (loss, leak verdict, pooled error, chart correction), the corrected chart as CSV,
and who may see them. (In the browser, after the demo: test_console_witness_browser.py.)"""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
from fastapi.testclient import TestClient

from anxin.auth import create_user
from anxin.engine.stats import TankEstimate
from anxin.engine.witness import MeterRow, WitnessLook
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate

PASSWORD = "correct horse battery staple"
LOOKS = ("2026-03-02T00:00:00.000+08:00", "2026-03-03T00:00:00.000+08:00")


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("console-witness")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("witness-pages")
    simulate(root / "city", stations=2, days=1, seed=4, scenarios=ScenarioSet.parse("honest"), workers=1, group_size=2)
    _, service, app = build(
        db=str(root / "db.sqlite"),
        registry=root / "city" / "registry.json",
        admin_token="admin-token-0123456789",
        cookie_secure=False,
    )
    now = time.time_ns() // 1000
    for name, role, stations in (("zhang", "regulator", ()), ("wang", "operator", ("S0002",))):
        create_user(
            service.store,
            username=name,
            display_name=name,
            role=role,
            password=PASSWORD,
            stations=stations,
            actor="test",
            reason="test",
            now_us=now,
        )
    reg = service.registry
    tank = reg.tanks_of_station["S0001"][0]
    nozzles = [n for n in reg.nozzles if n.tank_id == tank]
    assert len(nozzles) >= 2
    chart = reg.tank_by_id[tank].chart
    corr = [(int(level), 12.5 * (i - 1)) for i, (level, _v) in enumerate(chart[1:4], start=1)]
    for day, ts in enumerate(LOOKS):
        meters = [
            MeterRow(
                nozzle_id=nozzles[0].nozzle_id,
                error_permille=0.4 + day,
                ci95_permille=(-3.1, 3.9 + day),
                n=120 + day,
                status="insufficient",
                tank_id=tank,
                k_pulses_per_m3=nozzles[0].k_pulses_per_m3,
                pooled_permille=0.55,
                pooled_ci95_permille=(0.1, 1.0),
            ),
            MeterRow(
                nozzle_id=nozzles[1].nozzle_id,
                error_permille=4.5,
                ci95_permille=(3.4, 5.6),
                n=300,
                status="violation",
                tank_id=tank,
                k_pulses_per_m3=nozzles[1].k_pulses_per_m3,
            ),
        ]
        est = TankEstimate(
            tank_id=tank,
            station_id="S0001",
            loss_l_per_h=1.2,
            loss_ci95_l_per_h=(0.9, 1.5),
            leak_suspected=True,
            hours=48.0,
            readings_used=570,
            readings_rejected={},
            meters=[],
            residual_sd_ml=800.0,
            scale_anchored=True,
            deliveries_declared=2,
            deliveries_inconsistent=1,
            pooled_permille=0.55,
            pooled_ci95_permille=(0.1, 1.0),
            chart_correction=corr,
            method="witness.method.pooled",
            register_nozzles=2,
            register_shift_permille=-1.25,
        )
        service.store.save_outputs([WitnessLook(station_id="S0001", ts=ts, tests=True, meters=meters, tanks=[est])])
    return {"service": service, "app": app, "tank": tank, "nozzles": nozzles, "corr": corr, "chart": chart}


def _find(pattern: str, text: str) -> str:
    m = re.search(pattern, text, re.S)
    assert m is not None, pattern
    return m.group(1)


def _client(app, user: str = "zhang") -> TestClient:
    c = TestClient(app)
    token = _find(r'name="form_token" value="([^"]+)"', c.get("/console/login").text)
    r = c.post("/console/login", data={"username": user, "password": PASSWORD, "next": "/console", "form_token": token})
    assert r.status_code == 200
    return c


def _text(html: str) -> str:
    """What a reader sees: the page without its tags, scripts and JSON data."""
    html = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_nozzle_page_shows_each_look_and_an_insufficient_one_in_words(app) -> None:
    c = _client(app["app"])
    insufficient, violation = app["nozzles"][0].nozzle_id, app["nozzles"][1].nozzle_id
    page = c.get(f"/console/nozzles/{insufficient}").text
    seen = _text(page)
    assert "无法区分" in seen and "罐合计误差" in seen and "+0.55 [+0.10, +1.00]" in seen
    assert "数据不足以区分" in seen or "不足以区分" in seen
    assert "+1.40" in seen and "[-3.10, +4.90]" in seen  # the latest look first
    assert page.count('data-status="insufficient"') == 2
    assert not re.search(r"\binsufficient\b|\bpooled_permille\b", seen)  # no raw status or field name in zh
    data = _find(r'<script id="data" type="application/json">(.*?)</script>', page)
    assert '"band"' in data and '"pooled"' in data and LOOKS[1] in data
    en = _text(c.get(f"/console/nozzles/{insufficient}?lang=en").text)
    assert "cannot be told apart" in en and "Tank pooled error" in en
    c.get("/console?lang=zh")
    seen = _text(c.get(f"/console/nozzles/{violation}").text)
    assert "超差" in seen and "+4.50" in seen


def test_station_page_lists_every_nozzle_and_the_tank(app) -> None:
    c = _client(app["app"])
    page = c.get("/console/stations/S0001").text
    seen = _text(page)
    for n in app["nozzles"][:2]:
        assert f'data-nozzle="{n.nozzle_id}"' in page
    assert "无法区分" in seen and "超差" in seen and "2026-03-03 00:00" in seen
    assert "+1.20 [+0.90, +1.50]" in seen and "疑似渗漏" in seen and "2 (1)" in seen
    assert f'id="correction-{app["tank"]}"' in page and f"/console/tanks/{app['tank']}/chart.csv" in page
    assert "2 支油枪的检定误差一致；进油单共同偏差修正 -1.25‰" in seen  # the register's anchor, stored and shown
    assert not re.search(r"\b(insufficient|violation|leak_suspected|chart_correction)\b", seen)
    assert "尚无估计" in _text(c.get("/console/stations/S0002").text)


def test_corrected_chart_csv(app) -> None:
    c = _client(app["app"])
    r = c.get(f"/console/tanks/{app['tank']}/chart.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["液位（微米）", "登记容积（毫升）", "修正（毫升）", "修正后容积（毫升）"]
    assert len(rows) == 1 + len(app["chart"])
    corr = dict(app["corr"])
    for (level, volume), row in zip(app["chart"], rows[1:]):
        assert int(row[0]) == level and int(row[1]) == volume
        if level in corr:
            assert float(row[2]) == corr[level] and float(row[3]) == pytest.approx(volume + corr[level])
        else:
            assert row[2] == "" and int(row[3]) == volume
    en = c.get(f"/console/tanks/{app['tank']}/chart.csv?lang=en").content.decode("utf-8-sig")
    assert en.startswith("Level (µm),Registered volume (mL),Correction (mL),Corrected volume (mL)")


def test_who_may_see_the_witness(app) -> None:
    tank = app["tank"]
    anon = TestClient(app["app"])
    r = anon.get(f"/console/tanks/{tank}/chart.csv", follow_redirects=False)
    assert r.status_code == 303 and "/console/login" in r.headers["location"]
    wang = _client(app["app"], "wang")  # the operator of S0002 only
    # another station's tank and nozzle page: 404, as an unknown id (anxin.web.deps: out of
    # scope is not found)
    assert wang.get(f"/console/tanks/{tank}/chart.csv").status_code == 404
    assert wang.get(f"/console/nozzles/{app['nozzles'][0].nozzle_id}").status_code == 404
    own = app["service"].registry.tanks_of_station["S0002"][0]
    assert wang.get(f"/console/tanks/{own}/chart.csv").status_code == 200
    assert _client(app["app"]).get("/console/tanks/NO-SUCH-TANK/chart.csv").status_code == 404
