"""The temperature smoother's memo (issue 14: a look re-smooths only what changed since
the last look): a segment taken from the memo, or one that grew and was smoothed only
where its readings' neighbours changed, is the segment smoothed again, bit for bit, and
one segment's readings never reach another's result."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin.engine.stats import WitnessSettings, estimate_tank
from anxin.engine.stats import smooth as rd
from anxin.sim.synth_tank import synth_tank
from anxin.sim.world import WORLDS


def _fresh(t_h, temp, seg, monkeypatch: pytest.MonkeyPatch, half_h: float = 6.0, k: int = 48) -> np.ndarray:
    """The smoother with the memo switched off: every segment computed now."""
    with monkeypatch.context() as m:
        m.setattr(rd, "MEMO_MAX_READINGS", 0)
        return rd.smooth_temperature(t_h, temp, seg, half_h, k)


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
        want = _fresh(t_h, temp, seg, mp)
    first = rd.smooth_temperature(t_h, temp, seg, 6.0, 48)
    again = rd.smooth_temperature(t_h, temp, seg, 6.0, 48)  # every segment from the memo
    assert first.tobytes() == want.tobytes()
    assert again.tobytes() == want.tobytes()


@settings(max_examples=40, deadline=None)
@given(spec=segments, seed=st.integers(0, 2**16), shift=st.floats(min_value=0.01, max_value=5.0))
def test_one_segments_readings_never_reach_another_segment(spec, seed, shift):
    """The same times with other temperatures in the last segment: only that segment's
    result changes (the memo's key holds the temperatures, not only the times)."""
    t_h, temp, seg = _readings(spec, seed)
    before = rd.smooth_temperature(t_h, temp, seg, 6.0, 48)
    last = seg == seg[-1]
    other = temp.copy()
    other[last] += shift
    after = rd.smooth_temperature(t_h, other, seg, 6.0, 48)
    assert after[~last].tobytes() == before[~last].tobytes()
    assert not np.array_equal(after[last], before[last])


def test_a_growing_window_takes_its_closed_segments_from_the_memo(monkeypatch):
    memo = rd.SegmentMemo()
    monkeypatch.setattr(rd, "MEMO", memo)
    t_h, temp, seg = _readings([(200, 1 / 12, 15.0), (150, 1 / 12, 18.0), (100, 1 / 12, 12.0)], 3)
    rd.smooth_temperature(t_h[:300], temp[:300], seg[:300], 6.0, 48)  # yesterday's look: 100 of the second
    got = rd.smooth_temperature(t_h, temp, seg, 6.0, 48)  # today's
    # the first again; the second grew (its first 52 readings kept); the third is new
    assert (memo.hits, memo.extended, memo.misses) == (1, 1, 3)
    assert got.tobytes() == _fresh(t_h, temp, seg, monkeypatch).tobytes()


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
    memo = rd.SegmentMemo()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rd, "MEMO", memo)
        rd.smooth_temperature(t_h[:n_old], temp[:n_old], seg[:n_old], half_h, k)
        grown = rd.smooth_temperature(t_h, temp, seg, half_h, k)
        assert memo.extended == (1 if rd.MEMO_MIN_READINGS <= n_old and k < n_old else 0)
        want = _fresh(t_h, temp, seg, mp, half_h, k)
    assert grown.tobytes() == want.tobytes()


def test_the_memo_keeps_at_most_its_bytes(monkeypatch):
    memo = rd.SegmentMemo(max_bytes=3 * 20 * 24)  # three segments of 20 readings
    monkeypatch.setattr(rd, "MEMO", memo)
    for i in range(5):
        t_h, temp, seg = _readings([(20, 0.25, 10.0 + i)], i)
        rd.smooth_temperature(t_h, temp, seg, 6.0, 48)
    assert len(memo._entries) == 3 and memo.bytes == 3 * 20 * 24
    rd.smooth_temperature(t_h, temp, seg, 6.0, 48)
    assert memo.hits == 1  # the latest is still there
    t_h, temp, seg = _readings([(20, 0.25, 10.0)], 0)
    rd.smooth_temperature(t_h, temp, seg, 6.0, 48)
    assert memo.hits == 1 and memo.misses == 6  # the first went out


def test_integer_readings_are_smoothed_as_floats(monkeypatch):
    """The memo reads its key's bytes back as float64: other dtypes are converted first."""
    t_h, temp, seg = _readings([(60, 0.25, 20.0)], 1)
    as_int = np.round(temp * 10).astype(np.int64)
    got = rd.smooth_temperature(t_h, as_int, seg, 6.0, 48)
    assert got.tobytes() == _fresh(t_h, as_int.astype(np.float64), seg, monkeypatch).tobytes()


def test_a_tanks_estimate_is_the_same_with_the_memo_warm_cold_or_off(monkeypatch):
    data, _ = synth_tank(world=WORLDS["independent"], seed=2, days=4, errors={"N1": 0.004, "N2": -0.001})
    s = WitnessSettings()
    enc = msgspec.json.Encoder()
    memo = rd.SegmentMemo()
    monkeypatch.setattr(rd, "MEMO", memo)
    cold = enc.encode(estimate_tank(data, s))
    warm = enc.encode(estimate_tank(data, s))
    assert memo.hits > 0
    monkeypatch.setattr(rd, "MEMO_MAX_READINGS", 0)
    off = enc.encode(estimate_tank(data, s))
    assert cold == warm == off
