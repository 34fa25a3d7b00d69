"""The temperature smoother's memo (issue 14: a look re-smooths only what changed since
the tank's last look): a segment taken from the memo, or one that grew and was smoothed
only where its readings' neighbours changed, is the segment smoothed again, bit for bit;
one segment's readings never reach another's result, one tank's never another tank's; the
memo holds what the tanks' windows need, whatever else was looked at in between."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin.engine.stats import WitnessSettings, estimate_tank
from anxin.engine.stats import smooth as sm
from anxin.sim.synth_tank import synth_tank
from anxin.sim.world import WORLDS


@pytest.fixture
def memo(monkeypatch: pytest.MonkeyPatch) -> sm.SegmentMemo:
    fresh = sm.SegmentMemo()
    monkeypatch.setattr(sm, "MEMO", fresh)
    return fresh


def _fresh(t_h, temp, seg, half_h: float = 6.0, k: int = 48) -> np.ndarray:
    """The smoother without the memo: every segment computed now."""
    return sm.smooth_temperature(t_h, temp, seg, half_h, k)


segments = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=300),  # readings in the segment
        st.floats(min_value=1 / 60, max_value=0.5),  # hours between readings
        st.floats(min_value=-30.0, max_value=45.0),  # its temperature level
    ),
    min_size=1,
    max_size=5,
)


def _readings(spec: list[tuple[int, float, float]], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t, temp, seg, at = [], [], [], 0.0
    for i, (n, step, level) in enumerate(spec):
        ts = at + step * np.arange(n)
        t.append(ts)
        temp.append(level + np.sin(ts / 4.0) + rng.normal(0.0, 0.05, n))
        seg.append(np.full(n, i))
        at = ts[-1] + 3.0
    return np.concatenate(t), np.concatenate(temp), np.concatenate(seg)


@settings(max_examples=40, deadline=None)
@given(spec=segments, seed=st.integers(0, 2**16))
def test_a_remembered_segment_is_the_segment_smoothed_again(spec, seed):
    t_h, temp, seg = _readings(spec, seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sm, "MEMO", sm.SegmentMemo())
        first = sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T1")
        again = sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T1")  # every segment from the memo
    want = _fresh(t_h, temp, seg)
    assert first.tobytes() == want.tobytes()
    assert again.tobytes() == want.tobytes()


@settings(max_examples=40, deadline=None)
@given(spec=segments, seed=st.integers(0, 2**16), shift=st.floats(min_value=0.01, max_value=5.0))
def test_one_segments_readings_never_reach_another_segment(spec, seed, shift):
    """The same times with other temperatures in the last segment: only that segment's
    result changes (the memo compares the temperatures, not only the times)."""
    t_h, temp, seg = _readings(spec, seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sm, "MEMO", sm.SegmentMemo())
        before = sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T1")
        last = seg == seg[-1]
        other = temp.copy()
        other[last] += shift
        after = sm.smooth_temperature(t_h, other, seg, 6.0, 48, tank="T1")
    assert after[~last].tobytes() == before[~last].tobytes()
    assert after.tobytes() == _fresh(t_h, other, seg).tobytes()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=9, max_value=300), at=st.integers(min_value=8), shift=st.floats(0.001, 5.0))
def test_a_segment_changed_after_its_first_readings_is_smoothed_again(n, at, shift):
    """The memo finds a segment by its first readings but takes it only when every reading
    is the same: one temperature changed further on (a reading rejected or corrected since
    the last look) and the segment is smoothed again."""
    t_h, temp, seg = _readings([(n, 1 / 12, 15.0)], n)
    other = temp.copy()
    other[8 + at % (n - 8)] += shift
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sm, "MEMO", sm.SegmentMemo())
        sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T1")
        got = sm.smooth_temperature(t_h, other, seg, 6.0, 48, tank="T1")
    assert got.tobytes() == _fresh(t_h, other, seg).tobytes()


def test_a_growing_window_takes_its_closed_segments_from_the_memo(memo):
    t_h, temp, seg = _readings([(200, 1 / 12, 15.0), (150, 1 / 12, 18.0), (100, 1 / 12, 12.0)], 3)
    sm.smooth_temperature(t_h[:300], temp[:300], seg[:300], 6.0, 48, tank="T1")  # yesterday's: 100 of the second
    got = sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T1")  # today's
    # the first again; the second grew (its first 52 readings kept); the third is new
    assert (memo.hits, memo.extended, memo.misses) == (1, 1, 3)
    assert got.tobytes() == _fresh(t_h, temp, seg).tobytes()


@settings(max_examples=60, deadline=None)
@given(
    n_old=st.integers(min_value=5, max_value=400),
    more=st.integers(min_value=1, max_value=300),
    step=st.floats(min_value=1 / 60, max_value=0.5),
    k=st.integers(min_value=1, max_value=60),
    half_h=st.floats(min_value=0.1, max_value=12.0),
    seed=st.integers(0, 2**16),
)
def test_a_grown_segment_is_smoothed_as_if_new(n_old, more, step, k, half_h, seed):
    """Whatever the segment's length against the window (``k``, ``half_h``), the readings
    kept from the last look and those smoothed again make the fresh result exactly."""
    rng = np.random.default_rng(seed)
    n = n_old + more
    t_h = step * np.arange(n) + rng.uniform(0.0, step / 3, n)
    temp = 20.0 + np.sin(t_h / 5.0) + rng.normal(0.0, 0.05, n)
    seg = np.zeros(n, dtype=np.int64)
    memo = sm.SegmentMemo()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sm, "MEMO", memo)
        sm.smooth_temperature(t_h[:n_old], temp[:n_old], seg[:n_old], half_h, k, tank="T1")
        grown = sm.smooth_temperature(t_h, temp, seg, half_h, k, tank="T1")
    assert memo.extended == (1 if sm.MEMO_MIN_READINGS <= n_old and k < n_old else 0)
    assert grown.tobytes() == _fresh(t_h, temp, seg, half_h, k).tobytes()


def test_a_segment_that_left_the_window_goes_at_the_tanks_next_look(memo):
    t_h, temp, seg = _readings([(100, 1 / 12, 15.0), (100, 1 / 12, 18.0), (100, 1 / 12, 12.0)], 4)
    sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T1")
    held = memo.bytes
    assert held == 300 * 8 and len(memo._entries) == 3
    sm.smooth_temperature(t_h[100:], temp[100:], seg[100:], 6.0, 48, tank="T1")  # the first left the window
    assert memo.hits == 2 and len(memo._entries) == 2 and memo.bytes == 200 * 8


def test_tanks_do_not_share_or_push_out_each_others_segments(memo):
    """Two tanks with identical readings are remembered apart, and many other tanks
    looked at in between do not push a tank's segments out (the memo is not an LRU of
    the last looks while the windows fit in it)."""
    t_h, temp, seg = _readings([(100, 1 / 12, 15.0)], 5)
    sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T1")
    sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T2")
    assert memo.misses == 2 and len(memo._entries) == 2
    for i in range(200):
        other = _readings([(50, 1 / 12, float(i % 40))], 100 + i)
        sm.smooth_temperature(*other, 6.0, 48, tank=f"X{i}")
    sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T1")
    assert memo.hits == 1


def test_the_memo_keeps_at_most_its_bytes(monkeypatch):
    memo = sm.SegmentMemo(max_bytes=3 * 20 * 8)  # three segments of 20 readings
    monkeypatch.setattr(sm, "MEMO", memo)
    for i in range(5):
        t_h, temp, seg = _readings([(20, 0.25, 10.0 + i)], i)
        sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank=f"T{i}")
    assert len(memo._entries) == 3 and memo.bytes == 3 * 20 * 8
    sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T4")
    assert memo.hits == 1  # the latest is still there
    t_h, temp, seg = _readings([(20, 0.25, 10.0)], 0)
    sm.smooth_temperature(t_h, temp, seg, 6.0, 48, tank="T0")
    assert memo.hits == 1 and memo.misses == 6  # the first went out


def test_integer_readings_are_smoothed_as_floats(memo):
    """The memo compares float64 bytes: other dtypes are converted first."""
    t_h, temp, seg = _readings([(60, 0.25, 20.0)], 1)
    as_int = np.round(temp * 10).astype(np.int64)
    got = sm.smooth_temperature(t_h, as_int, seg, 6.0, 48, tank="T1")
    assert got.tobytes() == _fresh(t_h, as_int.astype(np.float64), seg).tobytes()


def test_a_tanks_estimate_is_the_same_with_the_memo_warm_or_cold(memo, monkeypatch):
    data, _ = synth_tank(world=WORLDS["independent"], seed=2, days=4, errors={"N1": 0.004, "N2": -0.001})
    s = WitnessSettings()
    enc = msgspec.json.Encoder()
    cold = enc.encode(estimate_tank(data, s))
    warm = enc.encode(estimate_tank(data, s))
    assert memo.hits > 0 and memo.misses > 0
    monkeypatch.setattr(sm, "MEMO_MIN_READINGS", 10**9)  # every segment computed anew
    off = enc.encode(estimate_tank(data, s))
    assert cold == warm == off
