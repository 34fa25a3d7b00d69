"""The pure lifecycles of a complaint (投诉), an inspection (检查) and a case (案件): every
(status, action) pair against a table written here apart from the module, the module's
docstring tables parsed and compared to it, terminal statuses allowing nothing, random
action sequences, and the services on real databases refusing every disallowed step with
the error they gave before the graphs were moved out of them."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from factory import City
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision import SupervisionError, cases, complaints, inspections
from anxin.supervision import lifecycle as L

NOW = 1_800_000_000_000_000

# The model, written apart from the module: lifecycle -> status -> {action -> next status}.
EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    "complaint": {
        "received": {"assign": "assigned"},
        "assigned": {"assign": "assigned", "investigate": "investigating"},
        "investigating": {"assign": "investigating", "investigate": "investigating", "reply": "replied"},
        "replied": {"reply": "replied", "close": "closed"},
        "closed": {},
    },
    "inspection": {"planned": {"visit": "done"}, "done": {}, "cancelled": {}},
    "case": {
        "open": {"update": "investigating", "penalize": "decided"},
        "investigating": {"update": "investigating", "penalize": "decided"},
        "decided": {"close": "closed"},
        "closed": {},
    },
    "request": {"requested": {"schedule": "scheduled"}, "scheduled": {"visit": "done"}, "done": {}},
    "rectification": {"open": {"follow_up": "closed"}, "closed": {}},
}
ACTIONS = {
    "complaint": ("assign", "investigate", "reply", "close"),
    "inspection": ("visit",),
    "case": ("update", "penalize", "close"),
    "request": ("schedule", "visit"),
    "rectification": ("follow_up",),
}
INITIAL = {
    "complaint": "received",
    "inspection": "planned",
    "case": "open",
    "request": "requested",
    "rectification": "open",
}
TERMINAL = {
    "complaint": {"closed"},
    "inspection": {"done", "cancelled"},
    "case": {"closed"},
    "request": {"done"},
    "rectification": {"closed"},
}
LIFECYCLES: dict[str, L.Lifecycle[Any, Any]] = {
    "complaint": L.COMPLAINT,
    "inspection": L.INSPECTION,
    "case": L.CASE,
    "request": L.CITIZEN_REQUEST,
    "rectification": L.RECTIFICATION,
}
NEXT = {
    "complaint": L.complaint_next,
    "inspection": L.inspection_next,
    "case": L.case_next,
    "request": L.CITIZEN_REQUEST.next,
    "rectification": L.RECTIFICATION.next,
}
HEADINGS = {
    "complaint": "Complaint (投诉):",
    "inspection": "Inspection (检查):",
    "case": "Case (案件):",
    "request": "Citizen-chosen inspection request (你点我检):",
    "rectification": "Rectification order (整改):",
}
PAIRS = [(name, s, a) for name in EXPECTED for s in EXPECTED[name] for a in ACTIONS[name]]


def _doc_table(heading: str) -> tuple[dict[str, dict[str, str]], set[str]]:
    """The module docstring's simple table under ``heading``: the edges and the terminal set."""
    lines = (L.__doc__ or "").splitlines()
    start = lines.index(heading)
    top, mid, bottom = [i for i in range(start, len(lines)) if re.fullmatch(r"=+( +=+)+", lines[i])][:3]
    starts = [m.start() for m in re.finditer(r"=+", lines[top])]

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]

    assert cells(lines[top + 1]) == ["from", "action", "to"] and mid == top + 2
    edges: dict[str, dict[str, str]] = {}
    terminal: set[str] = set()
    for line in lines[mid + 1 : bottom]:
        frm, action, to = cells(line)
        for status in frm.split(", "):
            out = edges.setdefault(status, {})
            if action == "—":
                assert to == "(terminal)", line
                terminal.add(status)
            else:
                assert action not in out, f"{status} · {action} twice"
                out[action] = to
    return edges, terminal


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_docstring_table_is_the_graph(name: str) -> None:
    edges, terminal = _doc_table(HEADINGS[name])
    assert edges == EXPECTED[name]
    assert terminal == TERMINAL[name] == set(LIFECYCLES[name].terminal)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_statuses_actions_and_terminal_set(name: str) -> None:
    lc = LIFECYCLES[name]
    assert lc.statuses == tuple(EXPECTED[name])  # the stored names, in display order
    assert lc.actions == ACTIONS[name] and lc.initial == INITIAL[name]
    assert set(lc.terminal) == {s for s, out in EXPECTED[name].items() if not out}
    # the services' old names are the lifecycle's tuples
    service = {"complaint": complaints, "inspection": inspections, "case": cases}.get(name)
    assert service is None or service.STATUSES == lc.statuses


@pytest.mark.parametrize("name, status, action", PAIRS)
def test_every_status_and_action(name: str, status: str, action: str) -> None:
    lc, want = LIFECYCLES[name], EXPECTED[name][status].get(action)
    allowed_from = tuple(s for s in EXPECTED[name] if action in EXPECTED[name][s])
    assert lc.allowed_from(action) == allowed_from
    if want is not None:
        assert NEXT[name](status, action) == lc.next(status, action) == want
        assert action in lc.allowed_actions(status)
        return
    with pytest.raises(L.TransitionError) as e:
        NEXT[name](status, action)
    reason = str(e.value)
    assert "\n" not in reason and f"cannot {action} " in reason and f" that is {status} " in reason
    assert (e.value.status, e.value.action, e.value.allowed_from) == (status, action, allowed_from)
    assert action not in lc.allowed_actions(status)
    if status in TERMINAL[name]:
        assert reason.endswith("(it is final)")
    else:
        assert reason.endswith("(allowed: " + ", ".join(EXPECTED[name][status]) + ")")


@pytest.mark.parametrize("name, status", [(n, s) for n, ts in TERMINAL.items() for s in sorted(ts)])
def test_terminal_statuses_allow_nothing(name: str, status: str) -> None:
    lc = LIFECYCLES[name]
    assert lc.allowed_actions(status) == ()
    for action in ACTIONS[name]:
        with pytest.raises(L.TransitionError, match="it is final"):
            lc.next(status, action)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_unknown_status_or_action_is_refused(name: str) -> None:
    lc = LIFECYCLES[name]
    with pytest.raises(L.TransitionError, match="unknown status"):
        lc.next("archived", ACTIONS[name][0])
    with pytest.raises(L.TransitionError, match=f"not a {name} action"):
        lc.next(INITIAL[name], "escalate")


@pytest.mark.parametrize("name", list(EXPECTED))
@given(data=st.data())
def test_random_action_sequences(name: str, data: st.DataObject) -> None:
    """From the initial status, any sequence (refused steps included, which change
    nothing) stays in the set, never leaves a terminal status and follows the table."""
    lc, model = LIFECYCLES[name], EXPECTED[name]
    doc_edges, _ = _doc_table(HEADINGS[name])
    actions = data.draw(st.lists(st.sampled_from(ACTIONS[name]), max_size=30))
    status = lc.initial
    for action in actions:
        want = model[status].get(action)
        assert doc_edges[status].get(action) == want
        try:
            after = lc.next(status, action)
        except L.TransitionError:
            assert want is None
            continue
        assert after == want and after in lc.statuses
        assert status not in lc.terminal
        status = after


# ------------------------------------------------------------------ the services
def _audit_count(store: Store) -> int:
    with store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(T.audit_log)).scalar_one())


def _status(store: Store, table: Any, row_id: int) -> str:
    with store.engine.connect() as c:
        return str(c.execute(select(table.c.status).where(table.c.id == row_id)).scalar_one())


def _insert(store: Store, table: Any, **values: Any) -> int:
    with store.engine.begin() as c:
        return int(c.execute(table.insert().values(**values)).inserted_primary_key[0])


def test_complaint_service_follows_the_graph_and_refuses_as_before(store: Store) -> None:
    zh = {
        "received": "已受理",
        "assigned": "已分派",
        "investigating": "调查中",
        "replied": "已答复",
        "closed": "已办结",
    }
    step_zh = {"assign": "分派", "investigate": "调查", "reply": "答复", "close": "办结"}
    allowed_zh = {
        "assign": "已受理、已分派、调查中",
        "investigate": "已分派、调查中",
        "reply": "调查中、已答复",
        "close": "已答复",
    }
    calls = {
        "assign": lambda cid: complaints.assign(store, cid, assignee="li", actor="zhang", now_us=NOW),
        "investigate": lambda cid: complaints.investigate(store, cid, note="调取交易记录", actor="li", now_us=NOW),
        "reply": lambda cid: complaints.reply(store, cid, text="经核查计量合格", actor="li", now_us=NOW),
        "close": lambda cid: complaints.close(
            store, cid, outcome="unsubstantiated", reason="测试加油合格", actor="li", now_us=NOW
        ),
    }
    for status, out in EXPECTED["complaint"].items():
        for action in ACTIONS["complaint"]:
            cid = _insert(store, T.complaints, received_us=NOW, station_id="S1", text="跳字快", status=status)
            n = _audit_count(store)
            if action in out:
                assert calls[action](cid) == out[action] == _status(store, T.complaints, cid)
                assert complaints.get(store, cid)["history"][-1]["data"]["before"] == status
                assert _audit_count(store) == n + 1
                continue
            with pytest.raises(SupervisionError) as e:
                calls[action](cid)
            assert e.value.code == "forbidden_step" and e.value.field is None
            assert e.value.message == (
                f"投诉 {cid} 当前状态为「{zh[status]}」，不能{step_zh[action]}（允许的状态：{allowed_zh[action]}）"
            )
            assert _status(store, T.complaints, cid) == status and _audit_count(store) == n  # nothing written


def test_inspection_service_follows_the_graph_and_refuses_as_before(store: Store) -> None:
    reg = City().registry()
    zh = {"planned": "待检查", "done": "已检查", "cancelled": "已取消"}
    all_ok = {k: (True, "") for k in inspections.MANUAL_ITEMS}
    for status, out in EXPECTED["inspection"].items():
        iid = _insert(
            store,
            T.inspections,
            kind="routine",
            station_id="S1",
            inspector="li",
            scheduled_us=NOW,
            status=status,
            checklist={},
            created_us=NOW,
        )
        n = _audit_count(store)

        def visit(iid: int = iid) -> dict[str, Any]:
            return inspections.record_visit(
                store, reg, iid, checklist=all_ok, test_fill_runs=None, findings=None, actor="li", now_us=NOW + 1
            )

        if "visit" in out:
            assert visit()["status"] == out["visit"] == _status(store, T.inspections, iid)
            assert _audit_count(store) == n + 1
            continue
        with pytest.raises(SupervisionError) as e:
            visit()
        assert (e.value.code, e.value.message) == (
            "forbidden_step",
            f"检查 {iid} 当前状态为「{zh[status]}」，不能登记检查结果",
        )
        assert _status(store, T.inspections, iid) == status and _audit_count(store) == n


def test_case_service_follows_the_graph_and_refuses_as_before(store: Store) -> None:
    refusal = {
        "update": "parties and violations are fixed",
        "penalize": "already decided",
        "close": "only a decided case can be closed",
    }
    codes = {"update": "case_fixed_after_decision", "penalize": "case_already_decided", "close": "case_not_decided"}
    calls = {
        "update": lambda k: cases.update(
            store, k, parties=[{"name": "某某石化有限公司", "role": "经营者"}], actor="zhao", now_us=NOW
        ),
        "penalize": lambda k: cases.penalize(store, k, penalty_fen=0, decision="不予处罚", actor="zhao", now_us=NOW),
        "close": lambda k: cases.close(store, k, reason="结案", actor="zhao", now_us=NOW),
    }

    ids = itertools.count(1)

    def a_case(status: str, decision: str | None) -> int:
        return _insert(
            store,
            T.cases,
            station_id="S1",
            source=f"inspection:{next(ids)}",
            status=status,
            opened_us=NOW,
            opened_by="zhao",
            summary="s",
            decision=decision,
        )

    for status, out in EXPECTED["case"].items():
        for action in ACTIONS["case"]:
            k = a_case(status, "罚款" if status in ("decided", "closed") else None)
            n = _audit_count(store)
            if action in out:
                assert calls[action](k).status == out[action] == _status(store, T.cases, k)
                assert _audit_count(store) == n + 1
                continue
            with pytest.raises(cases.CaseError) as e:
                calls[action](k)
            # the English as it was; str() is now the code and the Chinese a Chinese page shows
            assert e.value.text("en") == f"case {k} is {status}: {refusal[action]}"
            assert e.value.code == codes[action] and str(e.value) == f"{codes[action]}: {e.value.text('zh')}"
            assert f"案件 {k} 当前状态为「{cases.STATUS_NAMES_ZH[status]}」" in e.value.message
            assert _status(store, T.cases, k) == status and _audit_count(store) == n
    # the check of data beside the graph: a decided case without its decision text does not close
    k = a_case("decided", None)
    with pytest.raises(cases.CaseError) as e:
        calls["close"](k)
    assert e.value.code == "case_not_decided" and "only a decided case can be closed" in e.value.text("en")
    assert _status(store, T.cases, k) == "decided"
