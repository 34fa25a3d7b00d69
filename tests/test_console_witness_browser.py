"""The tank witness in the console after the demo, in Debian's chromium through Playwright
(issue 12, item 7): the demo replays a small city for three days and serves its console;
the nozzle page of the nozzle with the largest estimated error has its chart drawn (the
ECharts canvas, the interval band among its series) and the figures in a table, and the
station page lists every nozzle's current estimate and its tanks. Screenshots go to
``test-artifacts/screenshots/`` and ``/tmp/anxin-witness-*.png``."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from anxin.demo.live import run_demo

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
pytestmark = pytest.mark.xdist_group("browser")


def test_demo_estimates_in_the_browser(browser, tmp_path: Path) -> None:
    from live import free_port

    console = Console(file=open(tmp_path / "console.txt", "w"), width=120)  # noqa: SIM115
    port = free_port()
    out = tmp_path / "d"
    seen: dict[str, Any] = {}

    def visit() -> None:  # what a regulator does while the demo waits for Ctrl-C
        db = sqlite3.connect(out / "anxin.sqlite")
        nozzle, station = db.execute(
            "SELECT nozzle_id, station_id FROM meter_estimates ORDER BY abs(error_permille) DESC"
        ).fetchone()
        # the table's first row is the newest look (not always the nozzle's largest estimate)
        (error,) = db.execute(
            "SELECT error_permille FROM meter_estimates WHERE nozzle_id = ? ORDER BY ts DESC LIMIT 1", (nozzle,)
        ).fetchone()
        seen["looks"] = db.execute(
            "SELECT count(DISTINCT ts) FROM meter_estimates WHERE nozzle_id = ?", (nozzle,)
        ).fetchone()[0]
        seen["station_nozzles"] = {
            r[0] for r in db.execute("SELECT DISTINCT nozzle_id FROM meter_estimates WHERE station_id = ?", (station,))
        }
        db.close()
        url = f"http://127.0.0.1:{port}"
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        page.goto(f"{url}/console/login")
        page.get_by_label("用户名").fill("regulator")
        page.get_by_label("密码").fill("anxin-demo-2026")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r".*/console$"))
        page.goto(f"{url}/console/nozzles/{nozzle}")
        # (locators, not wait_for_function: the CSP forbids the string it evaluates)
        page.locator("#estimate canvas").first.wait_for()
        page.locator("#estimate[data-series]").wait_for()
        seen["series"] = page.locator("#estimate").get_attribute("data-series")
        seen["chart_looks"] = page.locator("#estimate").get_attribute("data-looks")
        seen["rows"] = page.locator("#estimate-table tbody tr").count()
        seen["first_row"] = page.locator("#estimate-table tbody tr").first.inner_text()
        seen["error"] = error
        page.screenshot(path=str(SHOTS / "witness-nozzle.png"), full_page=True)
        page.goto(f"{url}/console/stations/{station}")
        page.locator("#nozzle-estimates").wait_for()
        seen["listed"] = {
            n: page.locator(f'#nozzle-estimates tr[data-nozzle="{n}"]').inner_text() for n in seen["station_nozzles"]
        }
        seen["tanks"] = page.locator(".tank").count()
        corrections = page.locator(".chart.correction")
        for i in range(corrections.count()):  # a tank whose chart correction was learnt: its chart drawn
            corrections.nth(i).locator("canvas").first.wait_for()
        page.screenshot(path=str(SHOTS / "witness-station.png"), full_page=True)
        ctx.close()

    SHOTS.mkdir(parents=True, exist_ok=True)
    result = run_demo(out=out, stations=2, days=3, seed=7, speed=0, console=console, serve=True, port=port, wait=visit)
    assert result.batch_equals_live
    assert seen["looks"] == 2  # the second midnight's look and the final one
    assert "band" in str(seen["series"]) and "estimate" in str(seen["series"]) and seen["chart_looks"] == "2"
    assert seen["rows"] == 2 and f"{seen['error']:+.2f}" in str(seen["first_row"])
    listed = seen["listed"]
    assert isinstance(listed, dict) and listed
    for text in listed.values():  # each nozzle with its error, interval and status in words
        assert re.search(r"[+-]\d+\.\d\d", text) and re.search("正常|关注|超差|无法区分", text), text
    assert seen["tanks"] >= 1
    for name in ("nozzle", "station"):
        shutil.copy(SHOTS / f"witness-{name}.png", f"/tmp/anxin-witness-{name}.png")
