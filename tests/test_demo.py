"""The demo end to end (no pacing): the live path stores what the batch checker finds."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from rich.console import Console

from anxin.demo.live import run_demo


def test_demo_live_equals_batch_and_lands_in_sqlite(tmp_path: Path) -> None:
    console = Console(file=open(tmp_path / "console.txt", "w"), width=120)  # noqa: SIM115
    result = run_demo(out=tmp_path / "d", stations=3, days=2, seed=5, speed=0, console=console)
    assert result.batch_equals_live and result.live_alarm_ids > 0
    db = sqlite3.connect(result.db)
    (alarms,) = db.execute("SELECT count(*) FROM alarms").fetchone()
    kinds = dict(db.execute("SELECT kind, count(*) FROM ledger GROUP BY kind").fetchall())
    assert alarms == result.live_alarm_ids
    assert kinds["metering"] > 500 and kinds["settlement"] > 500 and kinds["tank_reading"] > 500
    text = (tmp_path / "console.txt").read_text()
    assert "批量比对与实时比对结果一致" in text and "anxin.sqlite" in text
    # Every nozzle the batch estimated (enough data) has its estimate stored, the latest
    # one the batch's: two days end before the second midnight's look, so it is the final
    # look's (issue 12: the meter_estimates table was empty after the demo).
    meters = [json.loads(line) for line in (Path(result.check_dir) / "meters.jsonl").read_text().splitlines()]
    latest = dict(
        db.execute(
            "SELECT nozzle_id, error_permille FROM meter_estimates m WHERE ts = "
            "(SELECT max(ts) FROM meter_estimates WHERE nozzle_id = m.nozzle_id)"
        ).fetchall()
    )
    assert meters and {m["nozzle_id"] for m in meters} == set(latest)
    for m in meters:
        assert abs(latest[m["nozzle_id"]] - m["error_permille"]) < 1e-6, m


def test_demo_serves_the_console_while_it_replays(tmp_path: Path) -> None:
    """--serve: the console answers during the demo with its accounts, and stops after."""
    import httpx2
    from live import free_port

    console = Console(file=open(tmp_path / "console.txt", "w"), width=120)  # noqa: SIM115
    port = free_port()
    seen: dict[str, int] = {}

    def visit() -> None:  # what a visitor does while the demo waits for Ctrl-C
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True) as c:
            token = re.search(r'name="form_token" value="([^"]+)"', c.get("/console/login").text)[1]
            r = c.post(
                "/console/login",
                data={"username": "regulator", "password": "anxin-demo-2026", "next": "/console", "form_token": token},
            )
            seen["overview"] = r.status_code
            seen["alarms"] = c.get("/console/alarms").text.count("/console/alarms/")
            seen["public"] = c.get("/p/S0001-D1-N1").status_code
            for page in ("complaints", "inspections", "cases", "oversight", "statistics", "risk", "audit", "register"):
                r = c.get(f"/console/{page}")
                seen[page] = r.status_code
            seen["case_rows"] = c.get("/console/cases").text.count("/console/cases/")
            seen["complaint_rows"] = c.get("/console/complaints").text.count("/console/complaints/")

    result = run_demo(
        out=tmp_path / "d", stations=2, days=1, seed=5, speed=0, console=console, serve=True, port=port, wait=visit
    )
    assert result.batch_equals_live
    assert seen["overview"] == 200 and seen["alarms"] > 0 and seen["public"] == 200
    pages = ("complaints", "inspections", "cases", "oversight", "statistics", "risk", "audit", "register")
    assert all(seen[p] == 200 for p in pages), seen
    assert seen["case_rows"] >= 1 and seen["complaint_rows"] >= 1  # populated with believable work
    assert f"http://127.0.0.1:{port}/console" in (tmp_path / "console.txt").read_text()
