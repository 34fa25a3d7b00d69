"""Risk scores and the random draw (双随机), against real databases: a risky station
outranks a clean one with its parts summing to its score; the draw is reproducible from
its seed and from its recorded JSON, differs with another seed, never repeats a station,
avoids the last inspector, and writes planned inspections and an audit entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from anxin.audit import entries
from anxin.contract.registry import Registry, parse_registry
from anxin.engine.outputs import make_alarm
from anxin.sim import ScenarioSet, simulate
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision import risk as R
from anxin.workflow import Dismiss, apply

DAY = 86_400_000_000
NOW = 1_780_000_000_000_000
INSPECTORS = ["li.wei", "wang.fang", "zhao.min"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    out = tmp_path_factory.mktemp("risk") / "city"
    simulate(out, stations=6, days=1, seed=3, scenarios=ScenarioSet.parse("honest"), workers=1, group_size=6)
    return parse_registry((out / "registry.json").read_bytes())


def _alarm(rule: str, station: str, n: int, ts_us: int, nozzle: str | None = None):
    nozzle = nozzle or f"{station}-D1-N1"
    return make_alarm(
        rule,
        key=(station, nozzle, n),
        station_id=station,
        nozzle_id=nozzle,
        seq=n,
        ts_us=ts_us,
        message="test",
        evidence={"seq": n},
    )


def _setup(store: Store) -> None:
    """S0001: critical alarms, a failing meter, STATION_BIAS, a substantiated complaint.
    S0002: clean, inspected recently and clean. S0003: one old dismissed alarm, one minor alarm."""
    store.save_outputs(
        [_alarm("VOLUME_MISMATCH", "S0001", i, NOW - i * DAY) for i in range(3)]
        + [_alarm("STATION_BIAS", "S0001", 99, NOW - 5 * DAY)]
        + [_alarm("FLOW_IMPLAUSIBLE", "S0003", 1, NOW - 30 * DAY), _alarm("VOLUME_MISMATCH", "S0003", 2, NOW - 2 * DAY)]
    )
    dismissed = make_alarm(
        "VOLUME_MISMATCH",
        key=("S0003", "S0003-D1-N1", 2),
        station_id="S0003",
        nozzle_id="S0003-D1-N1",
        seq=2,
        ts_us=NOW - 2 * DAY,
        message="test",
        evidence={"seq": 2},
    )
    apply(store, dismissed.alarm_id, Dismiss(reason="测试"), actor="z", reason="", now_us=NOW)
    with store.engine.begin() as c:
        c.execute(
            T.meter_estimates.insert(),
            [
                dict(
                    nozzle_id="S0001-D1-N1",
                    ts="2026-05-01T00:00:00+08:00",
                    station_id="S0001",
                    tank_id="S0001-T1",
                    k_pulses_per_m3=1,
                    error_permille=-1.0,
                    ci_lo_permille=0,
                    ci_hi_permille=0,
                    n=9,
                    status="ok",
                ),
                dict(
                    nozzle_id="S0001-D1-N1",
                    ts="2026-05-20T00:00:00+08:00",
                    station_id="S0001",
                    tank_id="S0001-T1",
                    k_pulses_per_m3=1,
                    error_permille=-3.6,
                    ci_lo_permille=0,
                    ci_hi_permille=0,
                    n=9,
                    status="drift",
                ),
                dict(
                    nozzle_id="S0002-D1-N1",
                    ts="2026-05-20T00:00:00+08:00",
                    station_id="S0002",
                    tank_id="S0002-T1",
                    k_pulses_per_m3=1,
                    error_permille=0.4,
                    ci_lo_permille=0,
                    ci_hi_permille=0,
                    n=9,
                    status="ok",
                ),
            ],
        )
        c.execute(
            T.complaints.insert(),
            [
                dict(
                    received_us=NOW - DAY,
                    station_id="S0001",
                    text="少油",
                    status="closed",
                    outcome="substantiated",
                    plausible=None,
                ),
                dict(  # open, and triaged as plausible by a regulator: it counts
                    received_us=NOW - DAY,
                    station_id="S0001",
                    text="少油",
                    status="received",
                    outcome=None,
                    plausible=True,
                ),
            ],
        )
        c.execute(
            T.inspections.insert().values(
                kind="routine",
                station_id="S0002",
                inspector="li.wei",
                scheduled_us=NOW - 20 * DAY,
                visited_us=NOW - 20 * DAY,
                status="done",
                checklist={"seal": {"ok": True, "note": ""}},
                created_us=NOW - 30 * DAY,
            )
        )
        insp = c.execute(
            T.inspections.insert().values(
                kind="routine",
                station_id="S0004",
                inspector="wang.fang",
                scheduled_us=NOW - 20 * DAY,
                visited_us=NOW - 20 * DAY,
                status="done",
                checklist={"seal": {"ok": False, "note": "破"}},
                created_us=NOW - 30 * DAY,
            )
        ).inserted_primary_key[0]
        c.execute(
            T.rectifications.insert().values(
                inspection_id=insp, station_id="S0004", finding="铅封破损", deadline_us=NOW + DAY, status="open"
            )
        )


def test_risk_scores_are_explained_by_their_parts(store: Store, registry: Registry) -> None:
    _setup(store)
    scores = R.risk_scores(store, registry, now_us=NOW)
    assert scores == R.risk_scores(store, registry, now_us=NOW)  # deterministic
    by = {r.station_id: r for r in scores}
    assert sorted(by) == [f"S000{i}" for i in range(1, 7)]
    for r in scores:
        assert r.score == pytest.approx(sum(r.parts.values())) and set(r.parts) == set(R.PARTS)
        assert r.score >= 0 and r.explanation
    s1, s2, s3, s4 = by["S0001"], by["S0002"], by["S0003"], by["S0004"]
    assert scores[0].station_id == "S0001" and s1.score > s2.score
    assert s1.parts["alarms"] == pytest.approx(5 * (1 + 0.5 ** (1 / 30) + 0.5 ** (2 / 30)), abs=1e-3)
    assert s1.parts["meter"] == R.METER_OVER_3  # the latest estimate (−3.6‰), not the earlier −1.0‰
    assert s1.parts["station_bias"] == R.STATION_BIAS
    assert s1.parts["complaints"] == R.COMPLAINT_WEIGHT["substantiated"] + R.COMPLAINT_OPEN
    assert s1.parts["never_inspected"] == R.NEVER_INSPECTED
    assert any("3.60‰" in x for x in s1.explanation) and any("误差偏向经营者" in x for x in s1.explanation)
    assert s2.score == 0 and s2.parts["never_inspected"] == 0 and "近180天检查合格" in s2.explanation
    assert s3.parts["alarms"] == pytest.approx(0.5)  # the dismissed one does not count; the minor one half-decayed
    assert s4.parts["rectifications"] == R.OPEN_RECTIFICATION and s4.parts["never_inspected"] == 0
    assert by["S0005"].score == R.NEVER_INSPECTED and by["S0005"].explanation == ["从未检查，计 2.0 分"]


def _plan(store: Store, plan_id: int):
    with store.engine.connect() as c:
        plan = c.execute(select(T.inspection_plans).where(T.inspection_plans.c.id == plan_id)).one()
        rows = c.execute(
            select(T.inspections).where(T.inspections.c.plan_id == plan_id).order_by(T.inspections.c.id)
        ).all()
        audit = c.execute(select(T.audit_log).where(T.audit_log.c.subject == f"inspection_plan:{plan_id}")).all()
    return plan, rows, audit


def test_the_draw_is_reproducible_and_recorded(store: Store, registry: Registry) -> None:
    _setup(store)
    kw = dict(inspectors=INSPECTORS, method="risk", name="2026年第二季度双随机", actor="zhao.min", now_us=NOW)
    p1 = R.draw(store, registry, stations=3, seed=20260401, **kw)
    plan, rows, audit = _plan(store, p1)
    draw = plan.draw
    picks = draw["picks"]
    assert (plan.seed, plan.method, len(picks)) == (20260401, "risk", 3)
    assert len({p["station_id"] for p in picks}) == 3
    assert R.redraw(json.loads(json.dumps(draw))) == picks  # from the recorded JSON alone
    assert [c["station_id"] for c in draw["candidates"]] == sorted(c["station_id"] for c in draw["candidates"])
    weights = {c["station_id"]: c["weight"] for c in draw["candidates"]}
    assert weights["S0002"] == 1000 and weights["S0001"] > weights["S0005"] > weights["S0002"]
    assert [(r.station_id, r.inspector, r.kind, r.status, r.scheduled_us) for r in rows] == [
        (p["station_id"], p["inspector"], "routine", "planned", NOW + 7 * DAY) for p in picks
    ]
    (entry,) = audit
    assert (entry.action, entry.actor, entry.data["seed"], entry.data["picks"]) == (
        "inspection.draw",
        "zhao.min",
        20260401,
        picks,
    )
    assert entry.data["inspection_ids"] == [r.id for r in rows]
    # The same seed draws the same stations (the plan just made changes only whom was last sent).
    p2 = R.draw(store, registry, stations=3, seed=20260401, **kw)
    assert [p["station_id"] for p in _plan(store, p2)[0].draw["picks"]] == [p["station_id"] for p in picks]
    # Another seed, another draw; a plan never asks for more stations than there are.
    others = [
        [p["station_id"] for p in _plan(store, R.draw(store, registry, stations=3, seed=s, **kw))[0].draw["picks"]]
        for s in (1, 2, 3)
    ]
    assert any(o != [p["station_id"] for p in picks] for o in others)
    allp = _plan(store, R.draw(store, registry, stations=50, seed=7, **kw))[0].draw["picks"]
    assert sorted(p["station_id"] for p in allp) == [f"S000{i}" for i in range(1, 7)]


def test_the_draw_avoids_the_last_inspector_and_can_be_uniform(store: Store, registry: Registry) -> None:
    with store.engine.begin() as c:
        c.execute(
            T.inspections.insert().values(
                kind="routine",
                station_id="S0003",
                inspector="li.wei",
                scheduled_us=NOW - DAY,
                status="done",
                checklist={},
                created_us=NOW - DAY,
            )
        )
    for seed in range(8):
        pid = R.draw(
            store,
            registry,
            stations=6,
            inspectors=["li.wei", "wang.fang"],
            seed=seed,
            method="uniform",
            name="全覆盖",
            actor="zhao.min",
            now_us=NOW,
        )
        draw = _plan(store, pid)[0].draw
        assert {c["weight"] for c in draw["candidates"]} == {1000}
        assert R.redraw(draw) == draw["picks"]
        (s3,) = [p for p in draw["picks"] if p["station_id"] == "S0003"]
        assert s3["inspector"] == "wang.fang"
        with store.engine.begin() as c:  # keep S0003's last inspection li.wei's
            c.execute(T.inspections.update().where(T.inspections.c.plan_id == pid).values(status="cancelled"))
    # a single inspector is still assigned, even if it was the last one
    pid = R.draw(
        store, registry, stations=6, inspectors=["li.wei"], seed=1, method="risk", name="x", actor="z", now_us=NOW
    )
    assert {p["inspector"] for p in _plan(store, pid)[0].draw["picks"]} == {"li.wei"}
    for bad in (dict(stations=0), dict(inspectors=[]), dict(method="other"), dict(seed=-1)):
        args = dict(stations=2, inspectors=["a"], seed=1, method="risk", name="x", actor="z", now_us=NOW) | bad
        with pytest.raises(R.DrawError):
            R.draw(store, registry, **args)


def test_redraw_is_pure(tmp_path: Path) -> None:
    record = {
        "seed": 5,
        "stations": 2,
        "inspectors": ["a", "b"],
        "candidates": [
            {"station_id": s, "weight": w, "last_inspector": "a"} for s, w in (("X", 1000), ("Y", 50_000), ("Z", 1000))
        ],
    }
    picks = R.redraw(record)
    assert picks == R.redraw(record) and len(picks) == 2 and {p["inspector"] for p in picks} == {"b"}


def test_spam_complaints_cannot_steer_the_draw(store: Store, registry: Registry) -> None:
    """Finding 7: 415 spam complaints made an innocent station's risk score 421 against 27.5
    for the real cheater (≈ 88 % chance of being drawn). At a smaller scale: 80 complaints
    submitted against the innocent S0002 move nothing until a regulator triages them; the
    cheater S0001, with its alarms, stays the likelier pick."""
    from anxin.supervision import complaints as C

    store.save_outputs([_alarm("VOLUME_MISMATCH", "S0001", i, NOW - i * DAY) for i in range(4)])
    before = {r.station_id: r for r in R.risk_scores(store, registry, now_us=NOW)}
    ids = [
        C.submit(store, registry, station_id="S0002", text=f"少油 {i}", channel="api", now_us=NOW - DAY + i)
        for i in range(80)
    ]
    after = {r.station_id: r for r in R.risk_scores(store, registry, now_us=NOW)}
    assert after["S0002"].score == before["S0002"].score and after["S0002"].parts["complaints"] == 0
    assert "近90天待研判投诉 80 件，不计分" in after["S0002"].explanation
    assert after["S0001"].score > after["S0002"].score

    def share(station: str) -> float:  # the chance of being the first pick of a risk draw
        plan = R.draw(
            store,
            registry,
            stations=1,
            inspectors=INSPECTORS,
            seed=1,
            method="risk",
            name="抽查",
            actor="z",
            now_us=NOW,
        )
        with store.engine.connect() as c:
            draw = c.execute(select(T.inspection_plans.c.draw).where(T.inspection_plans.c.id == plan)).scalar_one()
        weights = {x["station_id"]: x["weight"] for x in draw["candidates"]}
        return weights[station] / sum(weights.values())

    assert share("S0002") < share("S0001") and share("S0002") < 0.25
    # A regulator's triage decides: two plausible ones count (1 each), spam marked as such never does.
    for cid in ids[:2]:
        C.triage(store, cid, plausible=True, actor="zhao.min", reason="有订单号，可信", now_us=NOW)
    for cid in ids[2:5]:
        C.triage(store, cid, plausible=False, actor="zhao.min", reason="重复刷单", now_us=NOW)
    s2 = next(r for r in R.risk_scores(store, registry, now_us=NOW) if r.station_id == "S0002")
    assert s2.parts["complaints"] == 2 * R.COMPLAINT_OPEN
    assert "近90天研判为不可信的投诉 3 件，不计分" in s2.explanation
    assert [e.action for e in entries(store, subject=f"complaint:{ids[0]}")][0] == "complaint.triage"


@pytest.mark.parametrize(
    ("reason", "zh", "en"),
    [
        (
            ("alarms", {"days": 90, "half_life": 30, "alarm_counts": {"critical": 2, "minor": 1}, "points": 9.5}),
            "近90天报警（按30天半衰期衰减）：严重2条、一般1条，计 9.5 分",
            "alarms in the last 90 days (halved every 30 days): critical 2, minor 1; 9.5 points",
        ),
        (
            ("alarms", {"days": 90, "half_life": 30, "alarm_counts": {"critical": 61}, "points": 313.30357}),
            "近90天报警（按30天半衰期衰减）：严重61条，计 313.3 分",
            "alarms in the last 90 days (halved every 30 days): critical 61; 313.3 points",
        ),
        (
            ("meter", {"nozzle": "S1-D1-N1", "error": "3.33", "limit": 3, "points": 8.0}),
            "油枪 S1-D1-N1 计量误差估计 3.33‰，超过3‰，计 8.0 分",
            "nozzle S1-D1-N1: meter error estimate 3.33‰, beyond 3‰; 8.0 points",
        ),
        (
            ("station_bias", {"days": 90, "rule": "STATION_BIAS", "points": 5.0}),
            "近90天有“误差偏向经营者”报警，计 5.0 分",
            "a “Errors favour the operator” alarm in the last 90 days; 5.0 points",
        ),
        (
            ("complaints", {"days": 90, "complaint_counts": {"substantiated": 1, "open": 2}, "points": 5.0}),
            "近90天投诉举报：待办2件、属实1件，计 5.0 分",
            "complaints in the last 90 days: open 2, substantiated 1; 5.0 points",
        ),
        (
            ("complaints_not_counted", {"days": 90, "kind": "untriaged", "n": 80}),
            "近90天待研判投诉 80 件，不计分",
            "complaints in the last 90 days not triaged yet: 80, not counted",
        ),
        (
            ("rectifications", {"n": 1, "points": 2.0}),
            "未完成整改 1 项，计 2.0 分",
            "rectifications not completed: 1; 2.0 points",
        ),
        (("never_inspected", {"points": 2.0}), "从未检查，计 2.0 分", "never inspected; 2.0 points"),
        (
            ("clean_inspection", {"days": 180, "minus": 2.0}),
            "近180天检查合格，减 2.0 分",
            "an inspection passed in the last 180 days; minus 2.0 points",
        ),
        (("none", {}), "无风险因素", "no risk factors"),
    ],
)
def test_a_risk_reason_reads_in_either_language(reason, zh: str, en: str) -> None:
    """A station's risk is handed over as parts (key, parameters), worded from the
    catalog in the reader's language — not a Chinese sentence read back into English —
    with its points to one decimal (a sum of decayed weights was shown as 313.3036)."""
    from anxin.supervision.risk import explain

    assert explain(reason, "zh") == zh and explain(reason, "en") == en
