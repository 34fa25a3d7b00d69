"""Reports: period figures against values worked out by hand from a small fixture, the
oversight reconciliation, XLSX/PDF export, daily reports and ``anxin report``.

The fixture: 2 districts × 2 stations × 2 nozzles; March 2026 (local, UTC+8) is the
period; "now" is 2026-04-10 12:00 local. Rows sit on the period's edges on purpose
(23:59 on 03-31 counts, 00:00 on 04-01 does not).
"""

from __future__ import annotations

import datetime as dt
import io
import re

import msgspec
import pytest
import typer
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner

from anxin.contract.registry import parse_registry
from anxin.contract.times import US_PER_DAY, format_ts, parse_ts
from anxin.crypto.schemes import generate_signer
from anxin.reports import (
    CATEGORIES,
    daily_report,
    due_daily_reports,
    make_due_daily_reports,
    parse_period,
    period_figures,
    reconcile,
    to_pdf,
    to_xlsx,
)
from anxin.reports.daily import stored_daily
from anxin.reports.figures import PeriodError
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.verification import VerificationResult

NOW = parse_ts("2026-04-10T12:00:00+08:00")
DISTRICTS = {"S1": "上城区", "S2": "上城区", "S3": "余杭区", "S4": "余杭区"}


def L(text: str) -> int:
    """Local time (UTC+8) → µs."""
    return parse_ts(text if "+" in text else text + "+08:00")


def registry_dict() -> dict:
    chart = [[0, 0], [1_000_000, 10_000_000], [2_000_000, 25_000_000]]
    nozzles = []
    for s in DISTRICTS:
        for n in (1, 2):
            nid = f"{s}-N{n}"
            signer = generate_signer("ed25519", nid.encode() * 8)
            nozzles.append(
                {
                    "nozzle_id": nid,
                    "station_id": s,
                    "dispenser_id": "D1",
                    "tank_id": f"{s}-T1",
                    "product": "92",
                    "anti_cheat": True,
                    "key_alg": "ed25519",
                    "key_id": f"{nid}-k1",
                    "public_key": signer.public_key_text,
                    "k_pulses_per_m3": 100_000,
                    "max_flow_ml_per_min": 50_000,
                    # S3-N1's validity ran out on 03-15 (overdue); S4-N2 has no passing verification (never)
                    "verified_until": "2026-03-15T00:00:00.000+08:00"
                    if nid == "S3-N1"
                    else "2026-09-01T00:00:00.000+08:00",
                    "last_verification_passed": nid != "S4-N2",
                }
            )
    return {
        "stations": [
            {"station_id": s, "name": f"测试站{s}", "operator": "中国石化", "district": d, "lat": 30.25, "lon": 120.17}
            for s, d in DISTRICTS.items()
        ],
        "tanks": [
            {"tank_id": f"{s}-T1", "station_id": s, "product": "92", "capacity_ml": 30_000_000, "chart": chart}
            for s in DISTRICTS
        ],
        "products": [{"product": "92", "expansion_ppm_per_c": 1200}],
        "nozzles": nozzles,
        "prices": [
            {"station_id": s, "product": "92", "from": "2026-01-01T00:00:00.000+08:00", "unit_price_fen": 800}
            for s in DISTRICTS
        ],
    }


REGISTRY = parse_registry(msgspec.json.encode(registry_dict()))


def _ins(store: Store, table, **values) -> int:
    """Insert one row; its id (0 for tables keyed otherwise)."""
    with store.engine.begin() as c:
        res = c.execute(table.insert().values(**values))
        return int(res.inserted_primary_key[0]) if "id" in table.c else 0


def _verification(store: Store, nozzle_id: str, ts: str, *, passed: bool, type_: str = "periodic") -> None:
    t = L(ts)
    result = VerificationResult(
        station_id=nozzle_id[:2],
        nozzle_id=nozzle_id,
        ts=format_ts(t),
        type=type_,
        org="杭州市计量检定测试院",
        certificate_no=f"JD-{t}",
        k_pulses_per_m3=100_000,
        valid_until=format_ts(t + 180 * US_PER_DAY),
        runs=[],
        flow_points=[],
        max_abs_error_permille=0.5,
        passed=passed,
        within_target=passed,
        reasons=[],
        notes=[],
    )
    _ins(
        store,
        T.verifications,
        nozzle_id=nozzle_id,
        ts=result.ts,
        station_id=nozzle_id[:2],
        passed=passed,
        result=msgspec.to_builtins(result),
    )


def _alarm(
    store: Store, aid: str, rule: str, severity: str, station: str, ts: str, raised: str, state: str | None
) -> None:
    _ins(
        store,
        T.alarms,
        alarm_id=aid,
        rule=rule,
        severity=severity,
        station_id=station,
        ts=format_ts(L(ts)),
        ts_us=L(ts),
        message=rule,
        evidence={},
        raised_us=L(raised),
    )
    if state is not None:
        _ins(store, T.alarm_states, alarm_id=aid, status=state, updated_us=L(raised) + 1, updated_by="tester")


def _inspection(store: Store, kind: str, station: str, status: str, visited: str | None, scheduled: str) -> int:
    return _ins(
        store,
        T.inspections,
        kind=kind,
        station_id=station,
        inspector="insp",
        scheduled_us=L(scheduled),
        visited_us=L(visited) if visited else None,
        status=status,
        checklist={},
        created_us=L(scheduled),
    )


def _complaint(
    store: Store, station: str, received: str, status: str, deadline: str | None, closed: str | None = None
) -> int:
    return _ins(
        store,
        T.complaints,
        station_id=station,
        received_us=L(received),
        text=f"投诉 {station}",
        status=status,
        deadline_us=L(deadline) if deadline else None,
        closed_us=L(closed) if closed else None,
    )


def _case(
    store: Store, station: str, opened: str, status: str, closed: str | None, penalty: int | None, boards: int | None
) -> int:
    return _ins(
        store,
        T.cases,
        station_id=station,
        source="alarm:x",
        status=status,
        opened_us=L(opened),
        opened_by="reg",
        summary=f"案件 {station}",
        closed_us=L(closed) if closed else None,
        penalty_fen=penalty,
        boards_confiscated=boards,
    )


def seed(store: Store) -> dict[str, int]:
    ids: dict[str, int] = {}
    # Verifications                                   in March?
    _verification(store, "S1-N1", "2026-03-05T10:00:00", passed=True)  # V1 yes
    _verification(store, "S1-N2", "2026-03-31T23:59:00", passed=False, type_="after_repair")  # V2 yes (edge)
    _verification(store, "S2-N1", "2026-04-01T00:00:00", passed=True)  # V3 no (next day 00:00)
    _verification(store, "S3-N2", "2026-02-28T23:59:00", passed=True)  # V4 no (the day before)
    _verification(store, "S4-N1", "2026-03-10T09:00:00", passed=True, type_="after_repair")  # V5 yes

    # Inspections
    ids["I1"] = _inspection(store, "routine", "S1", "done", "2026-03-03T10:00:00", "2026-03-03T09:00:00")
    ids["I2"] = _inspection(store, "unannounced", "S3", "done", "2026-03-31T23:59:59", "2026-03-31T20:00:00")
    ids["I3"] = _inspection(store, "citizen", "S2", "done", "2026-04-01T00:00:00", "2026-03-31T20:00:00")
    ids["I4"] = _inspection(store, "follow_up", "S1", "done", "2026-03-20T10:00:00", "2026-03-20T09:00:00")
    ids["I5"] = _inspection(store, "routine", "S4", "planned", None, "2026-03-15T09:00:00")
    ids["I6"] = _inspection(store, "routine", "S2", "cancelled", None, "2026-03-16T09:00:00")
    ids["I7"] = _inspection(store, "routine", "S2", "done", "2026-02-10T10:00:00", "2026-02-10T09:00:00")

    # Rectifications: issued at their inspection's visit
    def rect(insp: str, station: str, deadline: str, status: str, closed: str | None) -> int:
        return _ins(
            store,
            T.rectifications,
            inspection_id=ids[insp],
            station_id=station,
            finding=f"整改 {station}",
            deadline_us=L(deadline),
            status=status,
            closed_us=L(closed) if closed else None,
        )

    ids["R1"] = rect("I1", "S1", "2026-03-15T00:00:00", "closed", "2026-03-20T10:00:00")  # late closure
    ids["R2"] = rect("I2", "S3", "2026-04-07T00:00:00", "open", None)
    ids["R3"] = rect("I7", "S2", "2026-03-10T00:00:00", "closed", "2026-03-05T10:00:00")
    ids["R4"] = rect("I7", "S2", "2026-03-25T00:00:00", "open", None)

    # Complaints
    ids["C1"] = _complaint(store, "S1", "2026-03-02T10:00:00", "closed", "2026-03-12T10:00:00", "2026-03-10T10:00:00")
    ids["C2"] = _complaint(store, "S2", "2026-03-20T10:00:00", "closed", "2026-03-25T10:00:00", "2026-03-28T10:00:00")
    ids["C3"] = _complaint(store, "S3", "2026-03-31T23:59:00", "received", "2026-04-05T10:00:00")
    ids["C4"] = _complaint(store, "S4", "2026-04-01T00:00:00", "assigned", "2026-04-20T10:00:00")
    ids["C5"] = _complaint(store, "S1", "2026-02-20T10:00:00", "closed", None, "2026-03-01T00:00:00")
    ids["C6"] = _complaint(store, "S2", "2026-04-09T10:00:00", "received", None)
    ids["C7"] = _complaint(store, "S3", "2026-03-01T08:00:00", "investigating", "2026-03-08T08:00:00")

    # Cases
    ids["K1"] = _case(store, "S1", "2026-03-05T10:00:00", "closed", "2026-03-25T10:00:00", 5_000_000, 2)
    ids["K2"] = _case(store, "S3", "2026-03-10T10:00:00", "open", None, None, None)
    ids["K3"] = _case(store, "S2", "2026-02-01T10:00:00", "closed", "2026-03-31T23:59:59", 100_000, 1)
    ids["K4"] = _case(store, "S4", "2026-01-15T10:00:00", "closed", "2026-04-01T00:00:00", 999, 9)

    # Alarms (event time ts; raised = when the platform raised it) and their dispositions
    _alarm(store, "A1", "VOLUME_MISMATCH", "critical", "S1", "2026-03-03T10:00:00", "2026-03-03T10:01:00", "confirmed")
    _alarm(store, "A2", "SEQUENCE_GAP", "minor", "S1", "2026-03-31T23:59:59.999", "2026-04-01T00:00:01", None)
    _alarm(
        store, "A3", "VOLUME_MISMATCH", "critical", "S3", "2026-03-15T10:00:00", "2026-03-15T10:01:00", "false_alarm"
    )
    _alarm(store, "A4", "SEAL_BREACH", "critical", "S4", "2026-03-20T10:00:00", "2026-03-20T10:01:00", "acknowledged")
    _alarm(store, "A5", "METER_DRIFT", "major", "S4", "2026-04-01T00:00:00", "2026-04-01T00:00:00", "dispatched")
    _alarm(store, "A6", "VOLUME_MISMATCH", "major", "S3", "2026-04-08T10:00:00", "2026-04-08T10:01:00", None)

    # Work orders
    def wo(alarm: str, station: str, due: str, status: str) -> int:
        return _ins(
            store,
            T.work_orders,
            alarm_id=alarm,
            station_id=station,
            inspector="insp",
            due_us=L(due),
            status=status,
            created_us=L(due) - US_PER_DAY,
        )

    ids["W1"] = wo("A5", "S4", "2026-04-05T10:00:00", "open")
    ids["W2"] = wo("A1", "S1", "2026-03-05T10:00:00", "reported")
    ids["W3"] = wo("A4", "S4", "2026-04-15T10:00:00", "open")

    # Sales per station and local day
    for station, day, n, vol, amt in (
        ("S1", "2026-03-01", 10, 300_000, 240_000),
        ("S2", "2026-03-31", 5, 100_000, 80_000),
        ("S3", "2026-03-15", 7, 200_000, 160_000),
        ("S4", "2026-04-01", 100, 1, 1),
        ("S1", "2026-02-28", 50, 1, 1),
    ):
        _ins(store, T.daily_sales, station_id=station, day=day, sales=n, volume_ml=vol, amount_fen=amt)
    return ids


@pytest.fixture
def seeded(store):
    return store, seed(store)


# ------------------------------------------------------------------ figures
def test_city_figures_by_hand(seeded):
    store, _ = seeded
    f = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", now_us=NOW)
    assert (f.stations, f.nozzles) == (4, 8)
    # V1, V2 (03-31 23:59), V5; not V3 (04-01 00:00) nor V4 (02-28); passed V1, V5; after repair V2, V5
    assert (f.verifications, f.verifications_passed, f.verifications_after_repair) == (3, 2, 2)
    assert f.pass_rate == pytest.approx(2 / 3)
    # At 03-31 end: valid S1-N1 (V1), S2-N1, S2-N2 (registry; V3 is later), S3-N2 (V4), S4-N1 (V5) = 5;
    # S1-N2 failed, S3-N1 overdue, S4-N2 never → coverage 5/8; disclosed = all but "never" = 7/8
    assert (f.nozzles_valid, f.verification_coverage) == (5, 5 / 8)
    assert (f.nozzles_disclosed, f.disclosure_coverage) == (7, 7 / 8)
    # Done and visited in March: I1 routine, I2 unannounced (23:59:59), I4 follow_up; not I3 (04-01), I5, I6, I7
    assert f.inspections_done == 3
    assert f.inspections_by_kind == {"routine": 1, "unannounced": 1, "citizen": 0, "follow_up": 1}
    # Issued (their visit in March): R1 (I1), R2 (I2); closed in March: R1, R3;
    # overdue (deadline in March, not closed by it): R1 (closed late), R4 (open)
    assert (f.rectifications_issued, f.rectifications_closed, f.rectifications_overdue) == (2, 2, 2)
    # Received: C1, C2, C3 (23:59), C7; closed: C1, C2, C5 (03-01 00:00); on time: C1, C5 (no deadline)
    assert (f.complaints_received, f.complaints_closed, f.complaints_closed_on_time) == (4, 3, 2)
    # Opened K1, K2; closed K1, K3 (03-31 23:59:59), not K4 (04-01 00:00): 50 000 + 1 000 yuan, 2 + 1 boards
    assert (f.cases_opened, f.cases_closed, f.penalties_fen, f.boards_confiscated) == (2, 2, 5_100_000, 3)
    # A1, A2 (23:59:59.999), A3, A4; closed A1 confirmed, A3 false_alarm
    assert f.alarms_raised == 4
    assert f.alarms_by_rule == {"SEAL_BREACH": 1, "SEQUENCE_GAP": 1, "VOLUME_MISMATCH": 2}
    assert f.alarms_by_severity == {"critical": 3, "minor": 1}
    assert (f.alarms_closed, f.alarm_closure_rate) == (2, 0.5)
    # S1 03-01, S2 03-31, S3 03-15; not S4 04-01 nor S1 02-28
    assert (f.sales, f.volume_ml, f.amount_fen) == (22, 600_000, 480_000)


def test_district_figures_by_hand(seeded):
    store, _ = seeded
    a = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", district="上城区", now_us=NOW)
    assert (a.stations, a.nozzles, a.nozzles_valid, a.nozzles_disclosed) == (2, 4, 3, 4)
    assert (a.verifications, a.verifications_passed, a.verifications_after_repair) == (2, 1, 1)  # V1, V2
    assert a.inspections_by_kind == {"routine": 1, "unannounced": 0, "citizen": 0, "follow_up": 1}  # I1, I4
    # R1 | R1, R3 | R1, R4
    assert (a.rectifications_issued, a.rectifications_closed, a.rectifications_overdue) == (1, 2, 2)
    # C1, C2 | C1, C2, C5 | C1, C5
    assert (a.complaints_received, a.complaints_closed, a.complaints_closed_on_time) == (2, 3, 2)
    assert (a.cases_opened, a.cases_closed, a.penalties_fen, a.boards_confiscated) == (1, 2, 5_100_000, 3)
    assert (a.alarms_raised, a.alarms_by_rule, a.alarms_by_severity, a.alarms_closed) == (
        2,
        {"SEQUENCE_GAP": 1, "VOLUME_MISMATCH": 1},
        {"critical": 1, "minor": 1},
        1,
    )
    assert (a.sales, a.volume_ml, a.amount_fen) == (15, 400_000, 320_000)

    b = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", district="余杭区", now_us=NOW)
    assert (b.stations, b.nozzles, b.nozzles_valid, b.nozzles_disclosed) == (2, 4, 2, 3)  # S3-N2, S4-N1 | not S4-N2
    assert (b.verifications, b.verifications_passed, b.verifications_after_repair) == (1, 1, 1)  # V5
    assert b.inspections_by_kind == {"routine": 0, "unannounced": 1, "citizen": 0, "follow_up": 0}  # I2
    assert (b.rectifications_issued, b.rectifications_closed, b.rectifications_overdue) == (1, 0, 0)  # R2
    assert (b.complaints_received, b.complaints_closed, b.complaints_closed_on_time) == (2, 0, 0)  # C3, C7
    assert (b.cases_opened, b.cases_closed, b.penalties_fen, b.boards_confiscated) == (1, 0, 0, 0)  # K2
    assert (b.alarms_raised, b.alarms_by_rule, b.alarms_by_severity, b.alarms_closed) == (
        2,
        {"SEAL_BREACH": 1, "VOLUME_MISMATCH": 1},
        {"critical": 2},
        1,
    )
    assert (b.sales, b.volume_ml, b.amount_fen) == (7, 200_000, 160_000)
    assert b.pass_rate == 1.0 and b.alarm_closure_rate == 0.5


def test_boundaries_and_now(seeded):
    store, _ = seeded
    # April 1st alone: the 00:00 rows belong to it
    d = period_figures(store, REGISTRY, start="2026-04-01", end="2026-04-01", now_us=NOW)
    assert (d.verifications, d.inspections_done, d.complaints_received, d.cases_closed, d.alarms_raised, d.sales) == (
        1,
        1,
        1,
        1,
        1,
        100,
    )  # V3, I3, C4, K4, A5, S4's sales
    # Nothing after now is known: as of 03-20 12:00, K1 (closed 03-25) and K3 (03-31) are not closed yet,
    # V2 and A2 (03-31) have not happened; alarms A1, A3, A4
    early = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", now_us=L("2026-03-20T12:00:00"))
    assert (early.cases_opened, early.cases_closed, early.verifications, early.alarms_raised) == (2, 0, 2, 3)
    # The empty district: nothing, rates undefined
    e = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", district="西湖区", now_us=NOW)
    assert (e.nozzles, e.verifications, e.pass_rate, e.verification_coverage, e.alarm_closure_rate) == (
        0,
        0,
        None,
        None,
        None,
    )


def test_parse_period():
    assert parse_period("2026-03") == ("2026-03-01", "2026-03-31")
    assert parse_period("2026-02") == ("2026-02-01", "2026-02-28")
    assert parse_period("2026-12") == ("2026-12-01", "2026-12-31")
    assert parse_period("2026-Q1") == ("2026-01-01", "2026-03-31")
    assert parse_period("2026-q4") == ("2026-10-01", "2026-12-31")
    assert parse_period("2026") == ("2026-01-01", "2026-12-31")
    assert parse_period("2026-03-01:2026-03-15") == ("2026-03-01", "2026-03-15")
    assert parse_period("2026-03-05") == ("2026-03-05", "2026-03-05")
    for bad in ("2026-13", "2026-Q5", "March", "2026-03-15:2026-03-01", "2026-02-30"):
        with pytest.raises(PeriodError):
            parse_period(bad)


def test_rows_are_bilingual(seeded):
    store, _ = seeded
    f = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", now_us=NOW)
    zh, en = dict(f.rows("zh")), dict(f.rows("en"))
    assert zh["检定次数"] == "3" and en["Verifications"] == "3"
    assert zh["区域"] == "全市" and zh["检定覆盖率（期末）"] == "62.5% (5/8)"
    assert zh["罚没款（元）"] == "51,000.00" and zh["加油量（升）"] == "600.00"
    assert zh["  按规则 油量不符"] == "2" and en["  by rule VOLUME_MISMATCH"] == "2"
    assert len(f.rows("zh")) == len(f.rows("en"))


# ------------------------------------------------------------------ oversight
def test_oversight_each_gap(seeded):
    store, ids = seeded
    o = reconcile(store, REGISTRY, now_us=NOW)

    def got(cat):
        return [(i.ref, i.station_id, i.link) for i in o.of(cat)]

    # received/assigned > 3 days: C3 (received 03-31), C4 (assigned 04-01); not C6 (04-09), not C7 (investigating)
    assert got("complaint_uninvestigated") == [
        (str(ids["C3"]), "S3", f"/console/complaints/{ids['C3']}"),
        (str(ids["C4"]), "S4", f"/console/complaints/{ids['C4']}"),
    ]
    # no disposition, raised > 7 days ago: A4 (acknowledged), A2 (no state); not A5 (dispatched), A6 (too young)
    assert got("alarm_undisposed") == [("A4", "S4", "/console/alarms/A4"), ("A2", "S1", "/console/alarms/A2")]
    assert got("case_open") == [(str(ids["K2"]), "S3", f"/console/cases/{ids['K2']}")]
    # S4: alarms A4, A5 and complaint C4, only a planned inspection; S1, S2 (I7 in Feb), S3 (I2) were visited
    assert got("station_uninspected") == [("S4", "S4", "/console/stations/S4")]
    assert got("work_order_overdue") == [(str(ids["W1"]), "S4", f"/console/workorders/{ids['W1']}")]
    # not closed past the deadline: C7 (03-08), C3 (04-05); C2 was closed (late, but closed), C4's is ahead
    assert got("complaint_overdue") == [
        (str(ids["C7"]), "S3", f"/console/complaints/{ids['C7']}"),
        (str(ids["C3"]), "S3", f"/console/complaints/{ids['C3']}"),
    ]
    # open past the deadline: R4 (03-25, ordered by I7), R2 (04-07, by I2); the link is the ordering visit
    assert got("rectification_overdue") == [
        (str(ids["R4"]), "S2", f"/console/inspections/{ids['I7']}"),
        (str(ids["R2"]), "S3", f"/console/inspections/{ids['I2']}"),
    ]
    assert o.counts == {
        "complaint_uninvestigated": 2,
        "alarm_undisposed": 2,
        "case_open": 1,
        "station_uninspected": 1,
        "work_order_overdue": 1,
        "complaint_overdue": 2,
        "rectification_overdue": 2,
    }
    assert list(o.counts) == list(CATEGORIES) and len(o.items) == 11
    assert o.of("case_open")[0].summary.startswith("测试站S3（S3）")
    assert o.of("alarm_undisposed")[0].since == "2026-03-20T10:01:00.000+08:00"

    # scoped to 上城区: A2 and R4 only
    s = reconcile(store, REGISTRY, now_us=NOW, station_ids=["S1", "S2"])
    assert [(i.category, i.ref) for i in s.items] == [
        ("alarm_undisposed", "A2"),
        ("rectification_overdue", str(ids["R4"])),
    ]

    # disposing of what is open empties the lists
    with store.engine.begin() as c:
        c.execute(T.alarm_states.update().values(status="confirmed"))
        c.execute(T.alarm_states.insert().values(alarm_id="A2", status="false_alarm", updated_us=NOW, updated_by="x"))
        c.execute(T.complaints.update().values(status="closed", closed_us=NOW))
        c.execute(T.cases.update().values(status="closed", closed_us=NOW))
        c.execute(T.work_orders.update().values(status="closed"))
        c.execute(T.rectifications.update().values(status="closed", closed_us=NOW))
    _inspection(store, "citizen", "S4", "done", "2026-04-09T10:00:00", "2026-04-09T09:00:00")
    assert reconcile(store, REGISTRY, now_us=NOW).items == []


# ------------------------------------------------------------------ export
def test_xlsx_and_pdf(seeded):
    from openpyxl import load_workbook

    store, ids = seeded
    f = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", district="余杭区", now_us=NOW)
    o = reconcile(store, REGISTRY, now_us=NOW, station_ids=["S3", "S4"])
    wb = load_workbook(io.BytesIO(to_xlsx(f, o)))
    assert wb.sheetnames[:2] == ["统计", "对账"] and len(wb.sheetnames) == 2 + len(CATEGORIES)
    figs = {r[0]: r[1] for r in wb["统计"].iter_rows(min_row=3, values_only=True)}
    assert figs == dict(f.rows("zh")) and figs["检定次数"] == "1" and figs["区域"] == "余杭区"
    counts = {r[0]: r[1] for r in wb["对账"].iter_rows(min_row=3, values_only=True)}
    assert counts["案件未结案"] == 1 and counts["工单超期"] == 1
    sheet = wb[wb.sheetnames[2 + CATEGORIES.index("case_open")]]
    assert list(next(sheet.iter_rows(values_only=True))) == ["编号", "加油站", "起始时间", "说明", "链接"]
    assert [r[4] for r in sheet.iter_rows(min_row=2, values_only=True)] == [f"/console/cases/{ids['K2']}"]
    only = load_workbook(io.BytesIO(to_xlsx(f)))
    assert only.sheetnames == ["统计"]

    pdf = to_pdf(f, o)
    assert pdf.startswith(b"%PDF") and pdf == to_pdf(f, o)
    assert to_pdf(f).startswith(b"%PDF") and to_pdf(f) != pdf


def _cells(wb) -> list[str]:
    return [v for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str)]


def _typed(store: Store) -> list[str]:
    """What the data itself says in Chinese (names, typed texts): kept in an English file."""
    names = [st.name for st in REGISTRY.stations]
    with store.engine.connect() as c:
        typed = [*c.execute(select(T.complaints.c.text)).scalars(), *c.execute(select(T.cases.c.summary)).scalars()]
        typed += list(c.execute(select(T.rectifications.c.finding)).scalars())
    return sorted({*names, *typed, "余杭区"}, key=len, reverse=True)


def test_the_oversight_lines_are_worded_in_the_files_language(seeded) -> None:
    """Every oversight line of an export is worded from its parts in the file's language:
    the English file without a Chinese word of the platform's (the data's names and typed
    texts apart), the Chinese one without a state or rule code."""
    from openpyxl import load_workbook

    from anxin.reports.oversight import summary_text

    store, _ = seeded
    f = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", now_us=NOW)
    o = reconcile(store, REGISTRY, now_us=NOW)
    assert {i.category for i in o.items} == set(CATEGORIES)  # every kind of line
    typed = _typed(store)
    for lang in ("zh", "en"):
        wb = load_workbook(io.BytesIO(to_xlsx(f, o, lang=lang, registry=REGISTRY)))
        lines = [r[3] for ws in wb.worksheets[2:] for r in ws.iter_rows(min_row=2, values_only=True)]
        assert lines == [summary_text(i, REGISTRY, lang) for k in CATEGORIES for i in o.of(k)]
        for line in lines:
            if lang == "zh":
                codes = r"\b(received|assigned|investigating|new|acknowledged|dispatched|on_site)\b|[A-Z]+_[A-Z]+"
                assert not re.search(codes, line), line
                assert line.startswith("测试站")
            else:
                for t in typed:
                    line = line.replace(t, " ")
                assert not re.search(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]", line), line
    en = [summary_text(i, REGISTRY, "en") for i in o.items]
    assert any(" (received)" in x or " (assigned)" in x for x in en) and any("(New)" in x for x in en)
    zh = [summary_text(i, REGISTRY, "zh") for i in o.items]
    assert zh == [i.summary for i in o.items]  # the Chinese summary is the same line
    # the PDF too: the same figures and lines give the same bytes, each language its own
    assert to_pdf(f, o, lang="en", registry=REGISTRY) == to_pdf(f, o, lang="en", registry=REGISTRY)
    assert to_pdf(f, o, lang="en", registry=REGISTRY) != to_pdf(f, o, registry=REGISTRY)


def test_exports_in_english(seeded) -> None:
    """The reader's language reaches the files: sheet names, headers, figures, categories,
    the title and the oversight lines in English."""
    from openpyxl import load_workbook

    store, _ = seeded
    f = period_figures(store, REGISTRY, start="2026-03-01", end="2026-03-31", district="余杭区", now_us=NOW)
    o = reconcile(store, REGISTRY, now_us=NOW, station_ids=["S3", "S4"])
    wb = load_workbook(io.BytesIO(to_xlsx(f, o, lang="en", registry=REGISTRY)))
    assert wb.sheetnames[:2] == ["Figures", "Reconciliation"]
    rows = list(wb["Figures"].iter_rows(values_only=True))
    assert rows[0][0].startswith("Fuel dispenser metrology supervision report 2026-03-01 ~ 2026-03-31")
    assert rows[1] == ("Figure", "Value") and {r[0]: r[1] for r in rows[2:]} == dict(f.rows("en"))
    counts = {r[0]: r[1] for r in wb["Reconciliation"].iter_rows(min_row=3, values_only=True)}
    assert counts["Cases not closed"] == 1
    sheet = wb[wb.sheetnames[2 + CATEGORIES.index("case_open")]]
    head, *items = list(sheet.iter_rows(values_only=True))
    assert head == ("Reference", "Station", "Since", "Summary", "Link")
    assert [r[3] for r in items] == ["测试站S3 (S3) case: 案件 S3"] and all("T" not in r[2] for r in items)
    typed = _typed(store)
    rest = []
    for v in _cells(wb):
        for t in typed:
            v = v.replace(t, " ")
        rest.append(v)
    assert not [v for v in rest if any("\u4e00" <= ch <= "\u9fff" for ch in v)]
    assert to_pdf(f, o, lang="en") != to_pdf(f, o)


# ------------------------------------------------------------------ daily
def test_daily_reports(seeded):
    store, _ = seeded
    assert due_daily_reports(store, now_us=NOW) == ["2026-04-09"]  # none yet: yesterday only
    rid = daily_report(store, REGISTRY, day="2026-03-31", now_us=NOW)
    assert daily_report(store, REGISTRY, day="2026-03-31", now_us=NOW + 5) == rid  # idempotent
    r = T.reports.c
    with store.engine.connect() as c:
        rows = c.execute(select(r.district, r.kind, r.created_us).order_by(r.district)).all()
    assert [(d, k) for d, k, _ in rows] == [("", "daily"), ("上城区", "daily"), ("余杭区", "daily")]
    assert {cu for *_, cu in rows} == {NOW}  # kept as first written
    city = stored_daily(store, "2026-03-31")
    # 03-31: V2, I2, C3, K3, A2, S2's sales
    assert (
        city["verifications"],
        city["inspections_done"],
        city["complaints_received"],
        city["cases_closed"],
        city["alarms_raised"],
        city["sales"],
    ) == (1, 1, 1, 1, 1, 5)
    assert city["district"] is None and stored_daily(store, "2026-03-31", "余杭区")["district"] == "余杭区"
    assert stored_daily(store, "2026-03-31", "上城区")["sales"] == 5

    # late data: kept unchanged unless replace=True
    with store.engine.begin() as c:
        c.execute(T.daily_sales.update().where(T.daily_sales.c.day == "2026-03-31").values(sales=6))
    daily_report(store, REGISTRY, day="2026-03-31", now_us=NOW + 10)
    assert stored_daily(store, "2026-03-31")["sales"] == 5
    assert daily_report(store, REGISTRY, day="2026-03-31", now_us=NOW + 10, replace=True) == rid
    assert stored_daily(store, "2026-03-31")["sales"] == 6
    with store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(T.reports)).scalar_one() == 3

    # the days since the last city report up to yesterday
    assert due_daily_reports(store, now_us=NOW) == [f"2026-04-{d:02d}" for d in range(1, 10)]
    assert due_daily_reports(store, now_us=NOW, max_days=2) == ["2026-04-01", "2026-04-02"]
    made = make_due_daily_reports(store, REGISTRY, now_us=NOW)
    assert len(made) == 9 and len(set(made) | {rid}) == 10
    assert due_daily_reports(store, now_us=NOW) == []
    assert due_daily_reports(store, now_us=NOW + US_PER_DAY) == ["2026-04-10"]


def test_due_daily_from_first_day(tmp_path):
    store = Store(str(tmp_path / "d.sqlite"))
    try:
        assert due_daily_reports(store, now_us=NOW, first_day="2026-04-07") == [
            "2026-04-07",
            "2026-04-08",
            "2026-04-09",
        ]
        assert due_daily_reports(store, now_us=L("2026-04-10T00:00:00")) == ["2026-04-09"]
        assert due_daily_reports(store, now_us=L("2026-04-09T23:59:59")) == ["2026-04-08"]
    finally:
        store.close()


# ------------------------------------------------------------------ CLI
def test_cli_report(tmp_path, monkeypatch):
    from anxin.reports.cli import register

    path = tmp_path / "cli.sqlite"
    store = Store(str(path))
    store.registry_save(msgspec.json.encode(registry_dict()), author="t", reason="t")
    ids = seed(store)
    store.close()
    monkeypatch.setattr("anxin.store.database.now_us", lambda: NOW)
    monkeypatch.setenv("ANXIN_LANG", "zh")  # (restored afterwards: --lang en below writes it)
    app = typer.Typer()

    def fail(message: str) -> None:
        print(f"错误: {message}")
        raise typer.Exit(2)

    register(app, Console(width=200), fail)
    app.command("noop")(lambda: None)  # a second command keeps "report" a subcommand
    runner = CliRunner()
    xlsx, pdf = tmp_path / "out.xlsx", tmp_path / "out.pdf"
    res = runner.invoke(
        app,
        [
            "report",
            "--period",
            "2026-03",
            "--district",
            "余杭区",
            "--db",
            str(path),
            "--xlsx",
            str(xlsx),
            "--pdf",
            str(pdf),
            "--oversight",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "统计报表 2026-03-01 ~ 2026-03-31" in res.output
    assert "检定次数" in res.output and "余杭区" in res.output and "案件未结案" in res.output
    assert xlsx.read_bytes()[:2] == b"PK" and pdf.read_bytes().startswith(b"%PDF")
    from openpyxl import load_workbook

    cells = [v for ws in load_workbook(xlsx).worksheets for row in ws.iter_rows(values_only=True) for v in row]
    assert f"/console/cases/{ids['K2']}" in cells and "/console/alarms/A4" in cells

    res = runner.invoke(app, ["report", "--period", "2026-Q1", "--db", str(path), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "Report 2026-01-01 ~ 2026-03-31" in res.output and "Verifications" in res.output
    # --lang en: the files' oversight lines in English too (the stations by name)
    args = ["report", "--period", "2026-03", "--db", str(path), "--xlsx", str(xlsx), "--oversight", "--lang", "en"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = [r[3] for ws in load_workbook(xlsx).worksheets[2:] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert "测试站S3 (S3) case: 案件 S3" in lines and any(x.endswith(" (New)") for x in lines)
    assert not [x for x in lines if "（" in x or "报警" in x or "投诉（" in x]
    monkeypatch.setenv("ANXIN_LANG", "zh")

    res = runner.invoke(app, ["report", "--period", "2026-13", "--db", str(path)])
    assert res.exit_code == 2 and "2026-13" in res.output
    res = runner.invoke(app, ["report", "--period", "2026-03", "--district", "西湖区", "--db", str(path)])
    assert res.exit_code == 2 and "西湖区" in res.output


def test_the_live_service_generates_the_daily_report_by_itself(tmp_path) -> None:
    """The serve app's job: once started, yesterday's report exists without anyone asking."""
    import time as _time

    from fastapi.testclient import TestClient
    from services import wait_for

    from anxin.reports.daily import local_date, stored_daily
    from anxin.serve.runtime import build
    from anxin.sim import ScenarioSet, simulate

    simulate(tmp_path / "city", stations=1, days=1, seed=3, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    _, service, app = build(
        db=str(tmp_path / "db.sqlite"), registry=tmp_path / "city" / "registry.json", reports_every_s=3600.0
    )
    yesterday = local_date(_time.time_ns() // 1000 - 86_400_000_000)
    with TestClient(app):
        wait_for(lambda: stored_daily(service.store, yesterday) is not None, what="the daily report")


def test_saturated_daily_sales_do_not_break_the_figures(store):
    """A station that sends absurd volumes day after day (each day's row saturates at
    2⁵³ − 1) must not turn a year's statistics into a database integer overflow."""
    top = 2**53 - 1
    start = dt.date(2025, 1, 1)
    rows = [
        {
            "station_id": s,
            "day": (start + dt.timedelta(days=d)).isoformat(),
            "sales": top,
            "volume_ml": top,
            "amount_fen": top,
        }
        for s in ("S1", "S2", "S3")
        for d in range(400)
    ]
    with store.engine.begin() as c:
        c.execute(T.daily_sales.insert(), rows)
    f = period_figures(store, REGISTRY, start="2025-01-01", end="2026-02-28", now_us=NOW)
    assert f.volume_ml >= 1200 * top * 0.999
