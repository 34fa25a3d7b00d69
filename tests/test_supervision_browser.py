"""Supervision journeys in Debian's chromium: a complaint from the public page handled
to closure, a citizen-chosen inspection (你点我检) with its test fill and rectification,
a case to closure with its evidence bundle, the risk-weighted draw, the oversight view
and the statistics with their export."""

from __future__ import annotations

import io
import re
import time
import zipfile

import httpx2
import msgspec
import pytest
from services import fresh_pg_database
from test_console_browser import _login, _shot, start_platform

from anxin.supervision.bundle import verify_bundle
from anxin.workflow import Acknowledge, Confirm, Dispatch, Report, apply

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """The same live service, on real PostgreSQL this time."""
    with fresh_pg_database() as url:
        yield from start_platform(tmp_path_factory.mktemp("supervision"), url)


def test_complaint_from_the_public_page_to_closure(browser, platform) -> None:
    url = platform["server"].url
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.goto(f"{url}/p/S0001-D1-N1")
    sale = next(msgspec.json.decode(raw) for sid, raw in platform["rest"] if sid == "S0001" and b'"settlement"' in raw)
    phone.get_by_label("您遇到的问题").fill("付了钱但油量不对")
    phone.get_by_label("订单号（可选）").fill(sale["order_id"])
    phone.locator("form[action$='/report'] button").click()
    assert "已收到" in phone.inner_text("main")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(page, url, "zhang")
    page.goto(f"{url}/console/complaints")
    _shot(page, "complaints")
    page.locator("table.list tbody a").first.click()
    _shot(page, "complaint")
    page.get_by_role("button", name="分派").click()
    page.get_by_label("说明").fill("调取该订单结算与计量记录核对")
    page.get_by_role("button", name="记录调查").click()
    page.get_by_label("答复投诉人").fill("经核查，计量与结算一致")
    page.locator("form[action$='/reply'] button").click()
    page.get_by_label("办理结果").select_option("unsubstantiated")
    page.get_by_label("理由").fill("记录一致，未发现问题")
    page.get_by_role("button", name="办结").click()
    assert "已办结" in page.inner_text("h1")  # the state in words, not "closed"
    _shot(page, "complaint-closed")
    # The complaint was substantiated after all: a case is opened from it.
    page.get_by_label("案情摘要").fill("群众投诉经复查属实，立案调查")
    page.get_by_role("button", name="立案").click()
    page.wait_for_url(re.compile(r".*/console/cases/\d+$"))
    assert re.search(r"投诉 #\d+", page.inner_text("main"))  # the case's source in words, not "complaint:1"


def test_citizen_chosen_inspection_with_a_test_fill(browser, platform) -> None:
    url = platform["server"].url
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(f"{url}/p/S0002-D1-N1")
    phone.get_by_role("button", name="你点我检：请检查这支油枪").click()
    assert "已收到" in phone.inner_text("main")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(page, url, "zhang")
    page.goto(f"{url}/console/inspections")
    _shot(page, "inspections")
    page.locator("form[action='/console/inspections'] input[name=request_id]").first.locator("xpath=..").locator(
        "button"
    ).click()
    page.wait_for_url(re.compile(r".*/console/inspections/\d+$"))
    insp_url = page.url
    inspector = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(inspector, url, "li")
    inspector.goto(insp_url)
    _shot(inspector, "inspection-visit")
    inspector.locator("input[name=ok_credit_commitment_posted][value=no]").check()
    inspector.fill("input[name=standard_ml_0]", "20000")
    inspector.fill("input[name=indicated_ml_0]", "20010")
    inspector.get_by_label("检查发现").fill("信用承诺书未上墙")
    inspector.get_by_role("button", name="登记检查结果").click()
    assert "已检查" in inspector.inner_text("h1")  # the state in words, not "done"
    assert "信用承诺书" in inspector.inner_text("main")
    _shot(inspector, "inspection-done")


def test_case_to_closure_with_a_verifiable_bundle(browser, platform) -> None:
    url, store = platform["server"].url, platform["store"]
    alarm = next(
        a
        for _, a in store.alarms_after(0, limit=1000)
        if a["rule"] in ("AMOUNT_MISMATCH", "PRICE_MISMATCH") and a["station_id"] == "S0003"
    )
    now = time.time_ns() // 1000
    for action in (
        Acknowledge(),
        Dispatch(inspector="li", due_us=now + 86_400_000_000),
        Report(result="现场核实多收款"),
        Confirm(summary="结算金额与单价不符"),
    ):
        apply(store, alarm["alarm_id"], action, actor="zhang", reason="test", now_us=time.time_ns() // 1000)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(page, url, "zhang")
    page.goto(f"{url}/console/cases")
    _shot(page, "cases")
    page.locator("table.list tbody a").first.click()
    page.get_by_label("名称").fill("某加油站有限公司")
    page.get_by_label("角色").fill("经营者")
    page.get_by_label("违法行为").fill("多收加油款")
    page.get_by_role("button", name="保存").click()
    page.get_by_label("罚款（元）").fill("20000")
    page.get_by_label("没收主板（块）").fill("1")
    page.locator("textarea[name=decision]").fill("罚款二万元，没收作弊主板一块")
    page.locator("form[action$='/penalize'] button").click()
    page.locator("input[name=reason][required]").fill("已执行")
    page.get_by_role("button", name="办结").click()
    assert "已结案" in page.inner_text("h1")
    _shot(page, "case-closed")
    href = page.locator("a[href$='bundle.zip']").get_attribute("href")
    data = page.request.get(url + href).body()
    report = verify_bundle(data)
    assert report.ok and report.signatures_checked > 0, report
    assert "case.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    case_id = re.search(r"/console/cases/(\d+)/", href)[1]  # the tests share a platform: not always #1
    page.goto(f"{url}/console/audit")
    assert f"导出证据包 · 案件 {case_id}" in page.inner_text("table.list")  # the download is on the record


def test_draw_oversight_and_statistics(browser, platform) -> None:
    url = platform["server"].url
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(page, url, "zhang")
    page.goto(f"{url}/console/risk")
    _shot(page, "risk")
    page.fill("input[name=seed]", "20260328")
    page.get_by_role("button", name="抽取").click()
    page.wait_for_url(re.compile(r".*/console/inspections.*"))
    page.goto(f"{url}/console/oversight")
    _shot(page, "oversight")
    assert page.locator(".fig").count() >= 5
    page.goto(f"{url}/console/statistics?period=2026-03")
    page.locator("#by-rule canvas").first.wait_for()  # (wait_for_function's polling would need eval: CSP)
    _shot(page, "statistics")
    assert page.locator("table.list tr").count() > 10
    xlsx = page.request.get(f"{url}/console/statistics/report.xlsx?period=2026-03")
    assert xlsx.status == 200 and xlsx.body()[:2] == b"PK"
    pdf = page.request.get(f"{url}/console/statistics/report.pdf?period=2026-03")
    assert pdf.status == 200 and pdf.body()[:4] == b"%PDF"
    assert httpx2.get(f"{url}/console/oversight", follow_redirects=False).status_code == 303  # needs a login
