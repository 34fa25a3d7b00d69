"""Alarm triage against real databases (SQLite and PostgreSQL): triage to closure both
ways, work orders and the overdue query, incidents, audit entries in the same
transaction, and concurrent applies of which only one wins."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from anxin.engine.outputs import make_alarm
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.workflow import (
    Acknowledge,
    ConcurrentChange,
    Confirm,
    Dismiss,
    Dispatch,
    Report,
    TransitionError,
    UnknownAlarm,
    alarm_state,
    apply,
    attach_incidents,
    backfill_incidents,
    counts_by_status,
    incident_listener,
    incidents,
    overdue_work_orders,
    service,
    work_orders,
)
from anxin.workflow.lifecycle import AlarmState

T0 = 1_772_294_400_000_000
HOUR = 3_600_000_000


def _alarm(seq: int, nozzle: str | None = "N1", station: str = "S1", rule: str = "VOLUME_MISMATCH"):
    return make_alarm(
        rule,
        key=(station, nozzle, seq),
        station_id=station,
        nozzle_id=nozzle,
        seq=seq,
        ts_us=T0 + seq * HOUR,
        message="volume differs",
        evidence={"seq": seq},
    )


def _stored(store: Store, *alarms) -> list[str]:
    store.save_outputs(list(alarms))
    return [a.alarm_id for a in alarms]


def _audit(store: Store, alarm_id: str) -> list[tuple[str, str, dict]]:
    au = T.audit_log.c
    with store.engine.connect() as c:
        rows = c.execute(
            select(au.action, au.actor, au.data).where(au.subject == f"alarm:{alarm_id}").order_by(au.seq)
        ).all()
    return [(r.action, r.actor, r.data) for r in rows]


def _count(store: Store, table) -> int:
    with store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())


def _triage_to_on_site(store: Store, aid: str, due_us: int = T0 + 48 * HOUR) -> None:
    apply(store, aid, Acknowledge(), actor="wang.fang", reason="", now_us=T0 + 1)
    apply(store, aid, Dispatch(inspector="li.wei", due_us=due_us), actor="wang.fang", reason="", now_us=T0 + 2)
    apply(store, aid, Report(result="short by 0.5 %"), actor="li.wei", reason="", now_us=T0 + 3)


def test_triage_to_a_confirmed_case(store: Store) -> None:
    (aid,) = _stored(store, _alarm(1))
    assert alarm_state(store, aid) == AlarmState(alarm_id=aid)  # untouched: new
    _triage_to_on_site(store, aid)
    s = apply(
        store, aid, Confirm(summary="short delivery on N1"), actor="zhao.min", reason="on-site test", now_us=T0 + 4
    )
    assert s.status == "confirmed" and s.case_id is not None and s.updated_by == "zhao.min"
    assert alarm_state(store, aid) == s
    with store.engine.connect() as c:
        case = c.execute(select(T.cases).where(T.cases.c.id == s.case_id)).one()
    assert (case.source, case.status, case.station_id, case.summary, case.opened_by) == (
        f"alarm:{aid}",
        "open",
        "S1",
        "short delivery on N1",
        "zhao.min",
    )
    (wo,) = work_orders(store)
    assert (wo.id, wo.status, wo.result, wo.reported_us) == (s.work_order_id, "closed", "short by 0.5 %", T0 + 3)
    log = _audit(store, aid)
    assert [x[0] for x in log] == ["alarm.acknowledge", "alarm.dispatch", "alarm.report", "alarm.confirm"]
    assert [(d["before"], d["after"]) for _, _, d in log] == [
        ("new", "acknowledged"),
        ("acknowledged", "dispatched"),
        ("dispatched", "on_site"),
        ("on_site", "confirmed"),
    ]
    assert log[1][2]["action"] == {"inspector": "li.wei", "due_us": T0 + 48 * HOUR}
    assert log[3][2]["case_id"] == s.case_id and log[3][1] == "zhao.min"
    # the case opened as every case does: its parties and violations empty, its own
    # history starting with 立案 (it had none when triage inserted the row itself)
    assert (case.parties, case.violations) == ([], [])
    with store.engine.connect() as c:
        opened = c.execute(
            select(T.audit_log.c.action, T.audit_log.c.actor).where(T.audit_log.c.subject == f"case:{s.case_id}")
        ).all()
    assert [tuple(r) for r in opened] == [("case.open", "zhao.min")]
    with pytest.raises(TransitionError, match="confirmed"):  # terminal
        apply(store, aid, Dismiss(reason="changed my mind"), actor="x", reason="", now_us=T0 + 5)


def test_false_alarm_keeps_its_reason(store: Store) -> None:
    a1, a2 = _stored(store, _alarm(1), _alarm(2, nozzle="N2"))
    with pytest.raises(TransitionError, match="needs a reason"):
        apply(store, a1, Dismiss(reason="  "), actor="wang.fang", reason="", now_us=T0)
    assert alarm_state(store, a1).status == "new" and _audit(store, a1) == []  # nothing written
    s = apply(store, a1, Dismiss(reason="known test fill"), actor="wang.fang", reason="", now_us=T0 + 1)
    assert (s.status, s.closed_reason, s.work_order_id, s.case_id) == ("false_alarm", "known test fill", None, None)
    assert _audit(store, a1)[0][0] == "alarm.dismiss"
    _triage_to_on_site(store, a2)  # and after a visit: the work order closes, no case
    s2 = apply(store, a2, Dismiss(reason="nozzle under calibration"), actor="li.wei", reason="", now_us=T0 + 9)
    assert alarm_state(store, a2).closed_reason == "nozzle under calibration"
    assert work_orders(store, status="closed")[0].id == s2.work_order_id
    assert _count(store, T.cases) == 0


def test_work_orders_and_the_overdue_query(store: Store) -> None:
    a1, a2 = _stored(store, _alarm(1), _alarm(2, nozzle="N2"))
    for aid in (a1, a2):
        apply(store, aid, Acknowledge(), actor="wang.fang", reason="", now_us=T0)
    apply(store, a1, Dispatch(inspector="li.wei", due_us=T0 + 24 * HOUR), actor="wang.fang", reason="", now_us=T0 + 1)
    apply(store, a2, Dispatch(inspector="chen.jie", due_us=T0 + 48 * HOUR), actor="wang.fang", reason="", now_us=T0 + 1)
    assert overdue_work_orders(store, now_us=T0 + 12 * HOUR) == []
    assert [w.alarm_id for w in overdue_work_orders(store, now_us=T0 + 30 * HOUR)] == [a1]
    assert [w.alarm_id for w in overdue_work_orders(store, now_us=T0 + 50 * HOUR)] == [a1, a2]  # most overdue first
    assert [w.alarm_id for w in work_orders(store, inspector="chen.jie")] == [a2]
    apply(store, a1, Report(result="inconclusive: pump down"), actor="li.wei", reason="", now_us=T0 + 30 * HOUR)
    (first,) = work_orders(store, inspector="li.wei")
    assert (first.status, first.result, first.reported_us) == ("reported", "inconclusive: pump down", T0 + 30 * HOUR)
    assert [w.alarm_id for w in overdue_work_orders(store, now_us=T0 + 50 * HOUR)] == [a2]  # reported: not overdue
    s = apply(
        store,
        a1,
        Dispatch(inspector="li.wei", due_us=T0 + 72 * HOUR),
        actor="wang.fang",
        reason="result inconclusive",
        now_us=T0 + 31 * HOUR,
    )
    old, new = work_orders(store, inspector="li.wei")
    assert (old.status, new.status, new.id) == ("closed", "open", s.work_order_id)
    assert _audit(store, a1)[-1][2]["previous_work_order_id"] == old.id
    assert [w.id for w in work_orders(store, status="open")] == sorted(
        [new.id, work_orders(store, inspector="chen.jie")[0].id]
    )
    assert counts_by_status(store, None) == {
        "new": 0,
        "acknowledged": 0,
        "dispatched": 2,
        "on_site": 0,
        "confirmed": 0,
        "false_alarm": 0,
    }


def test_counts_by_status_of_some_stations(store: Store) -> None:
    a1, _a2, a3 = _stored(store, _alarm(1), _alarm(2), _alarm(3, station="S2"))
    apply(store, a1, Acknowledge(), actor="x", reason="", now_us=T0)
    apply(store, a3, Dismiss(reason="test fill"), actor="x", reason="", now_us=T0)
    assert counts_by_status(store, {"S1"}) == {
        "new": 1,
        "acknowledged": 1,
        "dispatched": 0,
        "on_site": 0,
        "confirmed": 0,
        "false_alarm": 0,
    }
    assert counts_by_status(store, {"S2"})["false_alarm"] == 1
    assert sum(counts_by_status(store, set()).values()) == 0
    assert sum(counts_by_status(store, None).values()) == 3


def test_unknown_alarm(store: Store) -> None:
    with pytest.raises(UnknownAlarm, match="nope"):
        apply(store, "nope", Acknowledge(), actor="x", reason="", now_us=T0)
    with pytest.raises(UnknownAlarm):
        alarm_state(store, "nope")
    assert _count(store, T.audit_log) == 0


def test_incidents_group_one_nozzle_and_close_when_all_are_terminal(store: Store) -> None:
    n1 = [_alarm(k) for k in (1, 2, 3)]
    other = [_alarm(4, nozzle="N2"), _alarm(5, nozzle=None, rule="TANK_LOSS")]
    listener = incident_listener(store, clock=lambda: T0)
    listener(store.save_outputs(n1[:2] + other))
    listener(store.save_outputs([n1[2]]))  # a later upload extends the open incident
    assert attach_incidents(store, n1 + other, now_us=T0 + 1) == 0  # idempotent
    got = {(i.nozzle_id, i.alarms, i.first_ts_us, i.last_ts_us, i.status) for i in incidents(store)}
    assert got == {
        ("N1", 3, T0 + HOUR, T0 + 3 * HOUR, "open"),
        ("N2", 1, T0 + 4 * HOUR, T0 + 4 * HOUR, "open"),
        (None, 1, T0 + 5 * HOUR, T0 + 5 * HOUR, "open"),
    }
    ids = {alarm_state(store, a.alarm_id).incident_id for a in n1}
    assert len(ids) == 1 and None not in ids
    (inc,) = ids
    assert {alarm_state(store, a.alarm_id).status for a in n1} == {"new"}
    apply(store, n1[0].alarm_id, Dismiss(reason="test fill"), actor="x", reason="", now_us=T0 + 10)
    apply(store, n1[1].alarm_id, Dismiss(reason="test fill"), actor="x", reason="", now_us=T0 + 11)
    assert incidents(store, status="open", station_ids={"S1"})[-1].id == inc  # one alarm still open
    _triage_to_on_site(store, n1[2].alarm_id)
    assert work_orders(store)[0].incident_id == inc
    apply(store, n1[2].alarm_id, Confirm(summary="short"), actor="x", reason="", now_us=T0 + 12)
    assert [i.id for i in incidents(store, status="closed")] == [inc]
    assert _audit(store, n1[2].alarm_id)[-1][2]["incident_closed"] is True
    (later,) = _stored(store, _alarm(9))  # the nozzle alarms again: a new incident
    assert attach_incidents(store, [later], now_us=T0 + 20) == 1
    assert alarm_state(store, later).incident_id not in (None, inc)


def test_backfill_attaches_what_was_raised_before(store: Store) -> None:
    a1, a2, a3, a4 = _stored(store, _alarm(1), _alarm(2), _alarm(3), _alarm(4, nozzle="N2"))
    apply(store, a2, Acknowledge(), actor="x", reason="", now_us=T0)  # a state row without an incident
    apply(store, a3, Dismiss(reason="test fill"), actor="x", reason="", now_us=T0)  # closed: left alone
    assert backfill_incidents(store, now_us=T0 + 1) == 3
    assert backfill_incidents(store, now_us=T0 + 2) == 0
    st = {a: alarm_state(store, a) for a in (a1, a2, a3, a4)}
    assert st[a1].incident_id == st[a2].incident_id is not None and st[a3].incident_id is None
    assert (st[a2].status, st[a2].updated_us) == ("acknowledged", T0)  # the state itself is untouched
    assert sorted(i.alarms for i in incidents(store)) == [1, 2]


def test_audit_is_in_the_same_transaction(store: Store, monkeypatch) -> None:
    a1, a2 = _stored(store, _alarm(1), _alarm(2, nozzle="N2"))
    _triage_to_on_site(store, a1)
    apply(store, a2, Dismiss(reason="test fill"), actor="x", reason="operator called", now_us=T0)
    assert _count(store, T.audit_log) == 4  # one entry per action applied
    with pytest.raises(TransitionError):
        apply(store, a2, Acknowledge(), actor="x", reason="", now_us=T0 + 1)
    assert _count(store, T.audit_log) == 4  # none for a refused one

    def broken(conn, **kw):
        raise RuntimeError("audit down")

    monkeypatch.setattr(service, "audit", broken)
    with pytest.raises(RuntimeError, match="audit down"):
        apply(store, a1, Confirm(summary="short"), actor="x", reason="", now_us=T0 + 5)
    s = alarm_state(store, a1)
    assert s.status == "on_site" and s.case_id is None  # nothing of the action stayed
    assert _count(store, T.cases) == 0 and work_orders(store)[0].status == "reported"


@pytest.mark.parametrize("first", ["new", "acknowledged"])
def test_concurrent_applies_only_one_wins(store: Store, first: str) -> None:
    (aid,) = _stored(store, _alarm(1))
    if first == "acknowledged":  # a state row exists: the conditional update decides
        apply(store, aid, Acknowledge(), actor="x", reason="", now_us=T0)
    n = 6
    barrier = threading.Barrier(n)
    won: list[str] = []
    lost: list[Exception] = []

    def go(k: int) -> None:
        barrier.wait()
        try:
            apply(store, aid, Dismiss(reason=f"reason {k}"), actor=f"user{k}", reason="", now_us=T0 + 10)
            won.append(f"reason {k}")
        except (TransitionError, ConcurrentChange) as e:
            lost.append(e)

    threads = [threading.Thread(target=go, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1 and len(lost) == n - 1
    assert alarm_state(store, aid).closed_reason == won[0]
    assert [x[0] for x in _audit(store, aid)].count("alarm.dismiss") == 1


def test_a_stale_state_is_refused(store: Store) -> None:
    (aid,) = _stored(store, _alarm(1))
    apply(store, aid, Acknowledge(), actor="x", reason="", now_us=T0)
    stale = alarm_state(store, aid)
    apply(store, aid, Dismiss(reason="test fill"), actor="y", reason="", now_us=T0 + 1)
    after = AlarmState(alarm_id=aid, status="dispatched", updated_us=T0 + 2, updated_by="x")
    with pytest.raises(ConcurrentChange), store.engine.begin() as c:
        service._save(c, stale, after, exists=True)
    with pytest.raises(ConcurrentChange), store.engine.begin() as c:
        service._save(c, AlarmState(alarm_id=aid), after, exists=False)
    assert alarm_state(store, aid).status == "false_alarm"
