"""The certified figures on the console (issue 17, item 3): every alarm page links to its
rule's figures ("本规则的检出率与误报率"), and the page shows the latest ``anxin certify``
report in zh-CN (English on request) — the rule's row marked, its Pd and Pfa with their
intervals, the leak test, the witness; without a report (or with a broken one) it says so
and how to make one; only a signed-in viewer sees it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from anxin.auth import create_user
from anxin.certify.measure import CityCounts, Honest, TankCounts
from anxin.certify.pdf import render_pdf
from anxin.certify.protocol import CityTrial, quick
from anxin.certify.report import encode
from anxin.certify.run import summarise
from anxin.contract.alarm import Alarm, alarm_id
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate

PASSWORD = "correct horse battery staple"


def _report() -> bytes:
    """A report of made-up counts (the protocol's own run is tests/test_certify.py's)."""
    city = CityCounts(
        rule_trials={"VOLUME_MISMATCH": [310, 310], "SEAL_BREACH": [4, 4]},
        kind_trials={"rigged_inflate": [310, 310], "seal_unauthorised": [4, 4]},
        false_alarms={},
        alarms={"VOLUME_MISMATCH": 310, "SEAL_BREACH": 4},
        units={
            "sale": 26810,
            "metering": 26973,
            "record": 77205,
            "nozzle_day": 81,
            "nozzle": 27,
            "tank": 26,
            "station": 5,
        },
        records=77900,
    )
    honest = [Honest(true=0.5, est=0.4, lo=-0.2, hi=1.0, status="ok", drift=False)] * 30
    tanks = [
        TankCounts(
            world="default" if i < 40 else "harsh",
            days=7,
            leak_l_per_h=0.76 if i % 3 == 0 else 0.0,
            leak_alarmed=i % 3 == 0,
            honest=honest,
            drifted=[True],
        )
        for i in range(60)
    ]
    trial = CityTrial(family="raised", seed=1, stations=6, days=3, scenarios="honest")
    return encode(summarise(quick(), [(trial, city)], tanks))


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("certify-console")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("certified-pages")
    simulate(root / "city", stations=1, days=1, seed=4, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    report = root / "certify" / "certify.json"
    _, service, app = build(
        db=str(root / "db.sqlite"),
        registry=root / "city" / "registry.json",
        admin_token="admin-token-0123456789",
        cookie_secure=False,
        certify_report=str(report),
    )
    create_user(
        service.store,
        username="zhang",
        display_name="zhang",
        role="regulator",
        password=PASSWORD,
        stations=(),
        actor="test",
        reason="test",
        now_us=time.time_ns() // 1000,
    )
    nozzle = service.registry.nozzles[0]
    alarm = Alarm(
        alarm_id=alarm_id("VOLUME_MISMATCH", nozzle.station_id, "O1"),
        rule="VOLUME_MISMATCH",
        severity="critical",
        station_id=nozzle.station_id,
        nozzle_id=nozzle.nozzle_id,
        seq=7,
        order_id="O1",
        ts="2026-03-01T10:00:00.000+08:00",
        message="sold 30500 mL, metered 30000 mL",
        evidence={},
    )
    service.store.save_outputs([alarm])
    return {"app": app, "report": report, "alarm": alarm}


def _client(app) -> TestClient:
    c = TestClient(app)
    page = c.get("/console/login").text
    token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert token is not None
    r = c.post(
        "/console/login",
        data={"username": "zhang", "password": PASSWORD, "next": "/console", "form_token": token.group(1)},
    )
    assert r.status_code == 200
    return c


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", html, flags=re.S)))


def test_without_a_report_the_page_says_how_to_make_one(site) -> None:
    c = _client(site["app"])
    page = _text(c.get("/console/certified").text)
    assert "尚无认证报告" in page and "anxin certify" in page and str(site["report"]) in page
    assert c.get("/console/certified.pdf").status_code == 404


def test_alarm_page_links_to_its_rules_figures_in_zh(site) -> None:
    report: Path = site["report"]
    report.parent.mkdir(parents=True, exist_ok=True)
    data = _report()
    report.write_bytes(data)
    c = _client(site["app"])
    page = c.get(f"/console/alarms/{site['alarm'].alarm_id}").text
    link = re.search(r'<a href="([^"]+)">本规则的检出率与误报率</a>', page)
    assert link is not None and link.group(1) == "/console/certified?rule=VOLUME_MISMATCH#rule-VOLUME_MISMATCH"
    html = c.get(link.group(1)).text
    row = re.search(r'<tr id="rule-VOLUME_MISMATCH" class="focus"[^>]*>(.*?)</tr>', html, re.S)
    assert row is not None
    cells = _text(row.group(1))
    assert "油量不符" in cells and "所查看的规则" in cells
    assert "100 % (98.8–100 %)" in cells and "310/310" in cells  # Pd, its exact interval, the trials
    assert "0 % (0–0.0138 %)" in cells and "0/26810" in cells and "每笔诚实销售" in cells  # Pfa per honest sale
    seen = _text(html)
    assert "仅在 anxin.sim 模拟器的世界中测得" in seen and "Clopper-Pearson" in seen
    assert "0.76 L/h（0.201 加仑/小时）" in seen and "达到" in seen  # the EPA row: 20 of 20, 0 of 40
    assert "铅封/防作弊破坏" in seen and "数据不足" in seen  # 4 trials: too few
    assert "多种不利条件" in seen and "全部世界" in seen  # the witness per world, worlds in words
    assert not re.search(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", seen)  # no identifier
    assert not re.search(r"\b(harsh|insufficient|measured)\b", seen)
    en = _text(c.get("/console/certified?rule=VOLUME_MISMATCH&lang=en").text)
    assert "Volume mismatch" in en or "volume" in en.lower()
    assert "honest sale" in en and "insufficient data" in en
    c.get("/console?lang=zh")


def test_the_pdf_is_served_beside_it(site) -> None:
    report: Path = site["report"]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_bytes(_report())
    from anxin.certify.report import decode

    report.with_name("certify.pdf").write_bytes(render_pdf(decode(report.read_bytes())))
    c = _client(site["app"])
    assert 'href="/console/certified.pdf"' in c.get("/console/certified").text
    r = c.get("/console/certified.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")


def test_a_broken_report_is_named_not_a_server_error(site) -> None:
    report: Path = site["report"]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_bytes(b'{"format": "anxin-certify/1", "rules": "none"}')
    c = _client(site["app"])
    r = c.get("/console/certified")
    assert r.status_code == 200 and "无法读取" in _text(r.text)


def test_only_a_signed_in_viewer_sees_it(site) -> None:
    c = TestClient(site["app"])
    r = c.get("/console/certified", follow_redirects=False)
    assert r.status_code in (302, 303) and "/console/login" in r.headers["location"]
    assert c.get("/console/certified.pdf", follow_redirects=False).status_code in (302, 303)
