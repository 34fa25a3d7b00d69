"""Inspections (检查) on real databases: 你点我检 from request to visit, the test fill's
error as in verification (JJG 443), rectifications opened by failed items and closed
only by a follow-up, overdue, stations without inspection, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from anxin.audit import entries, verify
from anxin.contract.records import Verification, VerificationRun
from anxin.contract.registry import parse_registry
from anxin.contract.times import US_PER_DAY
from anxin.sim import ScenarioSet, simulate
from anxin.store import schema as T
from anxin.supervision import CHECKLIST, SupervisionError, inspections
from anxin.verification import beta_for_product, evaluate_verification

STATION = "S0001"
NOW = 1_800_000_000_000_000
ALL_OK = {k: (True, "") for k in CHECKLIST if k != "test_fill_within_mpe"}
GOOD_RUNS = [{"standard_ml": 20000, "indicated_ml": 20040, "standard_temp_mc": 20000, "dispenser_temp_mc": 20000}]
BAD_RUNS = [  # 15 °C measure, 20 °C fuel: V_B = 20000·(1 + 1.2e-3·5 − 50e-6·5) = 20115 mL
    {"standard_ml": 20000, "indicated_ml": 20200, "standard_temp_mc": 15000, "dispenser_temp_mc": 20000},
    {"standard_ml": 20000, "indicated_ml": 20190, "standard_temp_mc": 15000, "dispenser_temp_mc": 20000},
]


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    out = tmp_path_factory.mktemp("inspections") / "city"
    simulate(out, stations=1, days=1, seed=32, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    return parse_registry((out / "registry.json").read_bytes())


def _audit_count(store) -> int:
    with store.engine.connect() as c:
        return c.execute(select(func.count()).select_from(T.audit_log)).scalar_one()


def test_citizen_request_to_visit(store, reg) -> None:
    nozzle = reg.nozzles[1]
    with pytest.raises(SupervisionError) as e:
        inspections.citizen_request(store, reg, nozzle_id="NOPE", now_us=NOW)
    assert (e.value.code, e.value.field) == ("unknown_nozzle", "nozzle_id")
    rid = inspections.citizen_request(store, reg, nozzle_id=nozzle.nozzle_id, contact="微信用户", now_us=NOW)
    [req] = inspections.citizen_requests(store)
    assert (req["status"], req["station_id"], req["nozzle_id"]) == ("requested", STATION, nozzle.nozzle_id)
    assert entries(store, subject=f"citizen_request:{rid}")[0].actor == "public"

    iid = inspections.schedule_citizen(
        store, rid, inspector="li", scheduled_us=NOW + US_PER_DAY, actor="zhang", now_us=NOW + 1
    )
    ins = inspections.get(store, iid)
    assert (ins["kind"], ins["nozzle_id"], ins["status"], ins["inspector"]) == (
        "citizen",
        nozzle.nozzle_id,
        "planned",
        "li",
    )
    assert ins["citizen_request"]["status"] == "scheduled"
    with pytest.raises(SupervisionError, match="request_already_scheduled"):
        inspections.schedule_citizen(store, rid, inspector="li", scheduled_us=NOW, actor="zhang", now_us=NOW + 2)

    result = inspections.record_visit(
        store,
        reg,
        iid,
        checklist=ALL_OK,
        test_fill_runs=GOOD_RUNS,
        findings="现场正常",
        actor="li",
        now_us=NOW + US_PER_DAY,
    )
    assert result["rectifications"] == [] and result["test_fill"]["nozzle_id"] == nozzle.nozzle_id
    assert result["test_fill"]["error_permille"] == 2.0  # (20040 − 20000) / 20000
    ins = inspections.get(store, iid)
    assert ins["status"] == "done" and ins["visited_us"] == NOW + US_PER_DAY
    assert ins["checklist"]["test_fill_within_mpe"]["ok"] is True
    assert set(ins["checklist"]) == set(CHECKLIST)  # (jsonb keeps no key order)
    assert ins["citizen_request"]["status"] == "done"
    with pytest.raises(SupervisionError, match="forbidden_step"):  # a visit is recorded once
        inspections.record_visit(
            store, reg, iid, checklist=ALL_OK, test_fill_runs=None, findings=None, actor="li", now_us=NOW + US_PER_DAY
        )
    assert [e.action for e in reversed(entries(store))] == [
        "citizen_request.create",
        "inspection.schedule",
        "inspection.visit",
    ]
    assert verify(store).ok


def test_test_fill_error_is_the_verification_error(reg) -> None:
    nozzle = reg.nozzles[0]
    got = inspections.compute_test_fill(reg, nozzle.nozzle_id, BAD_RUNS, ts_us=NOW)
    beta = beta_for_product(reg.product_by_id[nozzle.product].expansion_ppm_per_c)
    ts = datetime.fromtimestamp(NOW / 1e6, tz=UTC)
    v = Verification(
        station_id=STATION,
        nozzle_id=nozzle.nozzle_id,
        ts=ts,
        type="periodic",
        org="x",
        certificate_no="c",
        k_pulses_per_m3=nozzle.k_pulses_per_m3,
        valid_until=ts,
        runs=[VerificationRun(flow_ml_per_min=40000, **r) for r in BAD_RUNS],
    )
    expected = evaluate_verification(v, beta_y_per_c=beta)
    assert got["error"] == expected.flow_points[0].error
    assert got["error_permille"] == expected.max_abs_error_permille
    assert got["within_mpe"] is expected.flow_points[0].passes_mpe is False
    # by hand: V_B = 20115 mL; errors 85/20115 and 75/20115, mean 80/20115 = +3.977‰
    assert beta == 1200e-6
    assert got["error"] == pytest.approx(80 / 20115, rel=1e-12)
    assert got["error_permille"] == 3.977
    with pytest.raises(SupervisionError) as e:
        inspections.compute_test_fill(reg, nozzle.nozzle_id, [{**GOOD_RUNS[0], "standard_ml": 0}], ts_us=NOW)
    assert e.value.code == "bad_run"
    with pytest.raises(SupervisionError) as e:
        inspections.compute_test_fill(reg, nozzle.nozzle_id, [{"standard_ml": 1}], ts_us=NOW)
    assert e.value.field == "test_fill_runs[0].indicated_ml"


def test_rectifications_are_closed_only_by_a_follow_up(store, reg) -> None:
    nozzle = reg.nozzles[0].nozzle_id
    with pytest.raises(SupervisionError, match="bad_kind"):
        inspections.schedule(
            store, station_id=STATION, inspector="li", scheduled_us=NOW, kind="x", actor="z", now_us=NOW
        )
    first = inspections.schedule(
        store, station_id=STATION, inspector="li", scheduled_us=NOW, kind="unannounced", actor="zhang", now_us=NOW
    )
    with pytest.raises(SupervisionError, match="follow_up_of_undone"):
        inspections.schedule(
            store,
            station_id=STATION,
            inspector="li",
            scheduled_us=NOW,
            kind="follow_up",
            follow_up_of=first,
            actor="zhang",
            now_us=NOW,
        )
    with pytest.raises(SupervisionError) as e:  # every item must be recorded
        inspections.record_visit(
            store,
            reg,
            first,
            checklist={"seals_intact": (True, "")},
            test_fill_runs=None,
            findings=None,
            actor="li",
            now_us=NOW,
        )
    assert e.value.code == "missing_item" and e.value.field == "checklist.module_registered"
    with pytest.raises(SupervisionError, match="unknown_item"):
        inspections.record_visit(
            store,
            reg,
            first,
            checklist={**ALL_OK, "coffee": (True, "")},
            test_fill_runs=None,
            findings=None,
            actor="li",
            now_us=NOW,
        )
    visit = NOW + 3600_000_000
    out = inspections.record_visit(
        store,
        reg,
        first,
        checklist={**ALL_OK, "seals_intact": (False, "2号机铅封断开"), "credit_commitment_posted": (False, "")},
        test_fill_runs=BAD_RUNS,
        nozzle_id=nozzle,
        findings="铅封破坏，测试加油超差",
        actor="li",
        now_us=visit,
    )
    assert len(out["rectifications"]) == 3
    opened = inspections.open_rectifications(store)
    assert [r["id"] for r in opened] == out["rectifications"]
    assert all(r["deadline_us"] == visit + 10 * US_PER_DAY and r["station_id"] == STATION for r in opened)
    assert "铅封完好且与登记一致" in opened[0]["finding"] and "2号机铅封断开" in opened[0]["finding"]
    assert "测试加油误差合格" in opened[2]["finding"] and "+3.977‰" in opened[2]["finding"]
    assert not any(r["overdue"] for r in inspections.open_rectifications(store, now_us=visit + 10 * US_PER_DAY))
    assert all(r["overdue"] for r in inspections.open_rectifications(store, now_us=visit + 10 * US_PER_DAY + 1))

    # a routine inspection, all ok, closes nothing
    routine = inspections.schedule(
        store, station_id=STATION, inspector="wang", scheduled_us=visit, kind="routine", actor="zhang", now_us=visit
    )
    out = inspections.record_visit(
        store,
        reg,
        routine,
        checklist=ALL_OK,
        test_fill_runs=GOOD_RUNS,
        nozzle_id=nozzle,
        findings=None,
        actor="wang",
        now_us=visit + 1,
    )
    assert out["closed"] == [] and len(inspections.open_rectifications(store)) == 3
    with pytest.raises(SupervisionError, match="not_a_follow_up"):
        inspections.schedule(
            store,
            station_id=STATION,
            inspector="li",
            scheduled_us=visit,
            kind="routine",
            follow_up_of=first,
            actor="zhang",
            now_us=visit,
        )
    with pytest.raises(SupervisionError, match="follow_up_needs_origin"):
        inspections.schedule(
            store, station_id=STATION, inspector="li", scheduled_us=visit, kind="follow_up", actor="zhang", now_us=visit
        )

    # a follow-up with an item still failing closes nothing (and opens its own order)
    f1 = inspections.schedule(
        store,
        station_id=STATION,
        inspector="li",
        scheduled_us=visit,
        kind="follow_up",
        follow_up_of=first,
        actor="zhang",
        now_us=visit,
    )
    out = inspections.record_visit(
        store,
        reg,
        f1,
        checklist={**ALL_OK, "seals_intact": (False, "仍未恢复")},
        test_fill_runs=GOOD_RUNS,
        nozzle_id=nozzle,
        findings=None,
        actor="li",
        now_us=visit + 2,
    )
    assert out["closed"] == [] and len(out["rectifications"]) == 1
    # a follow-up without a test fill has not shown every item ok: closes nothing
    f2 = inspections.schedule(
        store,
        station_id=STATION,
        inspector="li",
        scheduled_us=visit,
        kind="follow_up",
        follow_up_of=first,
        actor="zhang",
        now_us=visit,
    )
    out = inspections.record_visit(
        store, reg, f2, checklist=ALL_OK, test_fill_runs=None, findings=None, actor="li", now_us=visit + 3
    )
    assert out["closed"] == [] and inspections.get(store, f2)["checklist"]["test_fill_within_mpe"]["ok"] is None
    # a follow-up with all items ok closes the first inspection's orders, and only those
    f3 = inspections.schedule(
        store,
        station_id=STATION,
        inspector="li",
        scheduled_us=visit,
        kind="follow_up",
        follow_up_of=first,
        actor="zhang",
        now_us=visit,
    )
    first_ids = [r["id"] for r in inspections.get(store, first)["rectifications"]]
    out = inspections.record_visit(
        store,
        reg,
        f3,
        checklist=ALL_OK,
        test_fill_runs=GOOD_RUNS,
        nozzle_id=nozzle,
        findings="整改到位",
        actor="li",
        now_us=visit + 4,
    )
    assert out["closed"] == first_ids
    rect = inspections.get(store, first)["rectifications"]
    assert all((r["status"], r["closed_by"], r["closed_us"]) == ("closed", f3, visit + 4) for r in rect)
    [still] = inspections.open_rectifications(store)
    assert still["inspection_id"] == f1
    e = entries(store, subject=f"inspection:{f3}")[0]
    assert e.action == "inspection.visit" and e.data["rectifications_closed"] == first_ids
    assert e.data["test_fill_error_permille"] == "2.000"
    # one entry per change: 5 schedules, 5 visits
    assert _audit_count(store) == 10 and verify(store).ok

    assert [x["id"] for x in inspections.listing(store, status="planned")] == []
    assert len(inspections.listing(store, station_ids=[STATION])) == 5
    assert inspections.listing(store, station_ids=["S9"]) == []


def test_stations_without_inspection(store, reg) -> None:
    assert inspections.stations_without_inspection(store, reg, since_us=NOW) == [STATION]
    iid = inspections.schedule(
        store, station_id=STATION, inspector="li", scheduled_us=NOW, kind="routine", actor="zhang", now_us=NOW
    )
    assert inspections.stations_without_inspection(store, reg, since_us=NOW) == [STATION]  # planned is not done
    inspections.record_visit(
        store, reg, iid, checklist=ALL_OK, test_fill_runs=None, findings=None, actor="li", now_us=NOW + 5
    )
    assert inspections.stations_without_inspection(store, reg, since_us=NOW) == []
    assert inspections.stations_without_inspection(store, reg, since_us=NOW + 6) == [STATION]


def test_a_rectifications_finding_is_stored_as_parts_and_worded_when_read(store, reg) -> None:
    """Issue 13: a failed item's finding is stored as parts (the item, the note as typed,
    the test fill's error and limit) and worded when read, in Chinese or English; one
    stored before as a Chinese sentence (an existing database's) is shown as written."""
    import re

    from anxin.reports.oversight import reconcile
    from anxin.reports.oversight import summary_text as oversight_summary
    from anxin.web.composed import finding

    cjk = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
    iid = inspections.schedule(
        store, station_id=STATION, inspector="li", scheduled_us=NOW, kind="routine", actor="zhang", now_us=NOW
    )
    out = inspections.record_visit(
        store,
        reg,
        iid,
        checklist={**ALL_OK, "certificate_valid": (False, ""), "test_fill_within_mpe": (True, "复测一次")},
        test_fill_runs=BAD_RUNS,
        nozzle_id=reg.nozzles[0].nozzle_id,
        findings=None,
        actor="li",
        now_us=NOW,
    )
    with store.engine.connect() as c:
        stored = c.execute(select(T.rectifications.c.finding).order_by(T.rectifications.c.id)).scalars().all()
    assert len(out["rectifications"]) == len(stored) == 2 and not any(
        cjk.search(f) for f in stored[:1]
    )  # parts: codes (and typed notes)
    cert, fill = inspections.get(store, iid)["rectifications"]
    assert (cert["finding_key"], cert["finding_params"]) == ("failed", {"item": "certificate_valid", "note": ""})
    assert cert["finding"] == finding(cert, "zh") == "检定证书有效：不合格"
    assert finding(cert, "en") == "Verification certificate valid: failed"
    assert fill["finding_params"]["note"] == "复测一次" and fill["finding_params"]["mpe_permille"] == 3
    assert fill["finding"] == "测试加油误差合格：不合格（误差 +3.977‰（限 ±3‰）；复测一次）"
    assert finding(fill, "en") == "Test fill within the permitted error: failed (error +3.977‰ (limit ±3‰); 复测一次)"
    assert not cjk.search(finding(cert, "en")) and not re.search(r"[A-Za-z]", finding(fill, "zh"))
    # the visit's checklist keeps the note as typed and the test fill's figures as parts
    item = inspections.get(store, iid)["checklist"]["test_fill_within_mpe"]
    assert item["note"] == "复测一次" and item["parts"]["key"] == "test_fill"
    assert item["parts"]["params"] == {"error_permille": fill["finding_params"]["error_permille"], "mpe_permille": 3}
    assert inspections.checklist_note(item, "zh") == "误差 +3.977‰（限 ±3‰）；复测一次"
    assert inspections.checklist_note(item, "en") == "error +3.977‰ (limit ±3‰); 复测一次"

    # an order written before its finding was stored as parts: shown as written, in either language
    legacy = "信用承诺书上墙：不合格（未上墙）"
    with store.engine.begin() as c:
        c.execute(
            T.rectifications.insert().values(
                inspection_id=iid, station_id=STATION, finding=legacy, deadline_us=NOW, status="open"
            )
        )
    old = inspections.get(store, iid)["rectifications"][2]
    assert (old["finding"], old["finding_key"], old["finding_params"]) == (legacy, None, None)
    assert finding(old, "zh") == legacy and finding(old, "en") == legacy

    # the oversight list's line: the same words, short, in either language
    o = reconcile(store, reg, now_us=NOW + 11 * US_PER_DAY, station_ids=[STATION])
    lines = {i.ref: i for i in o.of("rectification_overdue")}
    item = lines[str(cert["id"])]
    assert item.summary.endswith(" 整改：检定证书有效：不合格")
    assert oversight_summary(item, reg, "en").endswith(" rectification: Verification certificate valid: failed")
    assert oversight_summary(lines[str(old["id"])], reg, "en").endswith(" rectification: " + legacy)
