"""The pure lifecycle of an alarm in triage: every allowed path, every forbidden
transition refused with a reason naming the status and the action, the required
fields, and random action sequences against an independent model of the graph."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from anxin.workflow.lifecycle import (
    STATUSES,
    TERMINAL,
    Acknowledge,
    Action,
    AlarmState,
    Confirm,
    Dismiss,
    Dispatch,
    Report,
    TransitionError,
    action_name,
    allowed_actions,
    transition,
)

NOW = 1_772_294_400_000_000
HOUR = 3_600_000_000

# The model, written apart from the module's GRAPH: status -> {action -> next status}.
MODEL = {
    "new": {"acknowledge": "acknowledged", "dismiss": "false_alarm"},
    "acknowledged": {"dispatch": "dispatched", "dismiss": "false_alarm"},
    "dispatched": {"report": "on_site"},
    "on_site": {"confirm": "confirmed", "dismiss": "false_alarm", "dispatch": "dispatched"},
    "confirmed": {},
    "false_alarm": {},
}

GOOD: dict[str, Action] = {
    "acknowledge": Acknowledge(),
    "dispatch": Dispatch(inspector="li.wei", due_us=NOW + 48 * HOUR),
    "report": Report(result="meter reads 0.4 % short at 40 L/min"),
    "confirm": Confirm(summary="short delivery on N1"),
    "dismiss": Dismiss(reason="known test fill"),
}


def _run(actions: list[str], now: int = NOW) -> AlarmState:
    s = AlarmState(alarm_id="a1")
    for k, name in enumerate(actions):
        s = transition(s, GOOD[name], now_us=now + k)
    return s


@pytest.mark.parametrize(
    "path, end",
    [
        (["acknowledge", "dispatch", "report", "confirm"], "confirmed"),
        (["acknowledge", "dispatch", "report", "dismiss"], "false_alarm"),
        (["acknowledge", "dispatch", "report", "dispatch", "report", "confirm"], "confirmed"),
        (["acknowledge", "dispatch", "report", "dispatch", "report", "dismiss"], "false_alarm"),
        (["acknowledge", "dismiss"], "false_alarm"),
        (["dismiss"], "false_alarm"),
    ],
)
def test_allowed_paths(path: list[str], end: str) -> None:
    s = _run(path)
    assert s.status == end
    assert s.updated_us == NOW + len(path) - 1
    assert allowed_actions(s) == []
    if end == "false_alarm":
        assert s.closed_reason == "known test fill"


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("name", list(GOOD))
def test_every_pair_is_allowed_or_refused_with_a_reason(status: str, name: str) -> None:
    s = AlarmState(alarm_id="a1", status=status, updated_us=NOW - 1)
    if name in MODEL[status]:
        assert transition(s, GOOD[name], now_us=NOW).status == MODEL[status][name]
        assert name in allowed_actions(s)
    else:
        with pytest.raises(TransitionError) as e:
            transition(s, GOOD[name], now_us=NOW)
        msg = str(e.value)
        assert status in msg and name in msg and "\n" not in msg
        assert name not in allowed_actions(s)


def test_allowed_actions_follow_the_model() -> None:
    for status in STATUSES:
        assert sorted(allowed_actions(AlarmState(alarm_id="a", status=status))) == sorted(MODEL[status])


@pytest.mark.parametrize("reason", ["", "   ", "\t\n"])
@pytest.mark.parametrize("status", ["new", "acknowledged", "on_site"])
def test_a_false_alarm_needs_a_reason(status: str, reason: str) -> None:
    s = AlarmState(alarm_id="a1", status=status)
    with pytest.raises(
        TransitionError, match=f"cannot dismiss an alarm that is {status}: a false alarm needs a reason"
    ):
        transition(s, Dismiss(reason=reason), now_us=NOW)
    assert transition(s, Dismiss(reason="  calibration run "), now_us=NOW).closed_reason == "calibration run"


@pytest.mark.parametrize(
    "status, action, what",
    [
        ("acknowledged", Dispatch(inspector=" ", due_us=NOW + HOUR), "inspector"),
        ("acknowledged", Dispatch(inspector="li.wei", due_us=NOW), "due time"),
        ("on_site", Dispatch(inspector="li.wei", due_us=NOW - HOUR), "due time"),
        ("dispatched", Report(result=""), "result"),
        ("on_site", Confirm(summary=" "), "summary"),
    ],
)
def test_required_fields(status: str, action: Action, what: str) -> None:
    with pytest.raises(TransitionError, match=what):
        transition(AlarmState(alarm_id="a1", status=status), action, now_us=NOW)


def test_transition_is_pure() -> None:
    s = AlarmState(alarm_id="a1", status="acknowledged", updated_us=5, updated_by="x", incident_id=3)
    t = transition(s, GOOD["dispatch"], now_us=NOW)
    assert s.status == "acknowledged" and s.updated_us == 5  # the input is unchanged (frozen)
    assert (t.status, t.updated_us, t.updated_by, t.incident_id) == ("dispatched", NOW, "x", 3)
    assert transition(s, GOOD["dispatch"], now_us=NOW) == t  # same in, same out


def test_actions_decode_from_json() -> None:
    got = msgspec.json.decode(b'{"type": "dispatch", "inspector": "li.wei", "due_us": 7}', type=Action)
    assert got == Dispatch(inspector="li.wei", due_us=7) and action_name(got) == "dispatch"
    assert [action_name(a) for a in GOOD.values()] == list(GOOD)


def _actions() -> st.SearchStrategy[Action]:
    text = st.sampled_from(["", " ", "ok", "known test fill"])
    return st.one_of(
        st.just(Acknowledge()),
        st.builds(Dispatch, inspector=text, due_us=st.integers(NOW - HOUR, NOW + 2 * HOUR)),
        st.builds(Report, result=text),
        st.builds(Confirm, summary=text),
        st.builds(Dismiss, reason=text),
    )


def _fields_ok(a: Action, now: int) -> bool:
    if isinstance(a, Dispatch):
        return bool(a.inspector.strip()) and a.due_us > now
    if isinstance(a, Report):
        return bool(a.result.strip())
    if isinstance(a, Confirm):
        return bool(a.summary.strip())
    if isinstance(a, Dismiss):
        return bool(a.reason.strip())
    return True


@settings(max_examples=300, deadline=None)
@given(st.lists(_actions(), max_size=12))
def test_any_sequence_follows_the_model_or_raises(actions: list[Action]) -> None:
    s = AlarmState(alarm_id="a1")
    statuses = [s.status]
    expected = ["new"]
    for k, a in enumerate(actions):
        now = NOW + k
        name = action_name(a)
        nxt = MODEL[expected[-1]].get(name)
        if nxt is not None and _fields_ok(a, now):
            s = transition(s, a, now_us=now)
            statuses.append(s.status)
            expected.append(nxt)
            assert s.updated_us == now
        else:
            before = s
            with pytest.raises(TransitionError):
                transition(s, a, now_us=now)
            assert s == before
        if expected[-1] in TERMINAL:
            assert allowed_actions(s) == []
    assert statuses == expected
    event(f"ends {statuses[-1]}")
    # once terminal, always terminal: nothing after the first terminal status
    terminal_at = [k for k, x in enumerate(statuses) if x in TERMINAL]
    assert not terminal_at or terminal_at[0] == len(statuses) - 1
