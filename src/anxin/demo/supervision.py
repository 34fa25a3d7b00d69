"""Believable supervision work for the demo, so every console page has something to
show: citizens' complaints on sales the engine flagged, a citizen-chosen inspection, a
risk-weighted random draw with one visit done (and its rectification order), a
confirmed alarm carried to a closed case with a penalty, and yesterday's daily report.
Everything goes through the same domain functions (and audit log) as real work."""

from __future__ import annotations

import time

from anxin.demo.queries import first_inspection_of_plan, flagged_sales
from anxin.ingest.service import IngestService
from anxin.reports import make_due_daily_reports
from anxin.supervision import cases as K
from anxin.supervision import complaints as C
from anxin.supervision import inspections as I
from anxin.supervision import risk as R
from anxin.workflow import Acknowledge, Confirm, Dispatch, Report, apply

DAY = 86_400_000_000


def populate(service: IngestService, *, inspectors: tuple[str, ...] = ("inspector",)) -> dict[str, int]:
    store, reg = service.store, service.registry
    if reg is None:
        raise RuntimeError("the demo's supervision work needs the city's registry loaded first")
    now = time.time_ns() // 1000
    done: dict[str, int] = {}
    flagged = flagged_sales(store, ("AMOUNT_MISMATCH", "VOLUME_MISMATCH", "PRICE_MISMATCH"), limit=4)
    # Citizens complain about three of the flagged sales (the order number links them).
    texts = ("加油金额与油量对不上，怀疑多收钱", "加满油箱却比平时多付了不少", "小票单价和挂牌价不一致")
    for (_alarm, station_id, nozzle_id, order_id, ts_us, _rule), text in zip(flagged, texts):
        C.submit(
            store,
            reg,
            station_id=station_id,
            nozzle_id=nozzle_id,
            text=text,
            order_ref=order_id,
            event_ts_us=ts_us,
            channel="qr",
            now_us=now,
        )
        done["complaints"] = done.get("complaints", 0) + 1
    # The first flagged sale is confirmed on site and becomes a case, decided and closed.
    if flagged:
        alarm_id = flagged[0][0]
        for action in (
            Acknowledge(),
            Dispatch(inspector=inspectors[0], due_us=now + 3 * DAY),
            Report(result="现场核查：加油机主板被改装，结算金额与计量不符"),
            Confirm(summary="加油机主板改装，多收加油款"),
        ):
            apply(store, alarm_id, action, actor="regulator", reason="演示", now_us=now)
        case = K.by_source(store, f"alarm:{alarm_id}")
        if case is not None:
            K.update(
                store,
                case.id,
                parties=[{"name": "演示加油站有限公司", "role": "经营者", "id_no": "91330100DEMO"}],
                violations=[{"code": "计量法第二十六条", "text": "使用不合格计量器具，多收加油款"}],
                actor="regulator",
                now_us=now,
            )
            K.penalize(
                store,
                case.id,
                penalty_fen=2_000_000,
                boards_confiscated=1,
                decision="罚款二万元，没收作弊主板一块",
                actor="regulator",
                now_us=now,
            )
            done["cases"] = 1
    # 你点我检: a citizen asks for a nozzle to be checked.
    nozzle = reg.nozzles[0]
    I.citizen_request(store, reg, nozzle_id=nozzle.nozzle_id, contact="138****0000", now_us=now)
    # 双随机: a risk-weighted draw of three stations, and the first visit recorded.
    plan = R.draw(
        store,
        reg,
        stations=min(3, len(reg.stations)),
        inspectors=list(inspectors),
        seed=20260301,
        method="risk",
        name="演示双随机抽查",
        actor="regulator",
        now_us=now,
    )
    first = first_inspection_of_plan(store, plan)
    if first is not None:
        noz = next(n for n in reg.nozzles if n.station_id == first[1])
        I.record_visit(
            store,
            reg,
            first[0],
            checklist={
                I.SEALS_INTACT: (True, ""),
                I.MODULE_REGISTERED: (True, ""),
                I.CERTIFICATE_VALID: (True, ""),
                I.CREDIT_COMMITMENT_POSTED: (False, "信用承诺书未上墙"),
            },
            test_fill_runs=[
                {"standard_ml": 20_000, "indicated_ml": 20_012, "standard_temp_mc": 20_000, "dispenser_temp_mc": 20_000}
            ],
            findings="信用承诺书未上墙，限期整改",
            actor=inspectors[0],
            now_us=now,
            nozzle_id=noz.nozzle_id,
        )
        done["inspections"] = 1
    done["reports"] = len(make_due_daily_reports(store, reg, now_us=now))
    return done
