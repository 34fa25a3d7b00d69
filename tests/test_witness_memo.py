"""The temperature smoother's memo (issue 14: a look re-smooths only the segments that
changed since the last look): a segment taken from the memo is the segment smoothed
again, bit for bit, and one segment's readings never reach another's result."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin.engine.stats import WitnessSettings, estimate_tank
from anxin.engine.stats import readings as rd
from anxin.sim.synth_tank import synth_tank
from anxin.sim.world import WORLDS


def _fresh(t_h: np.ndarray, temp: np.ndarray, seg: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """The smoother with the memo switched off: every segment computed now."""
    with monkeypatch.context() as m:
        m.setattr(rd, "_MEMO_MAX_READINGS", 0)
        return rd.smooth_temperature(t_h, temp, seg, 6.0, 48)


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


def test_a_growing_window_takes_its_closed_segments_from_the_memo():
    t_h, temp, seg = _readings([(200, 1 / 12, 15.0), (150, 1 / 12, 18.0), (100, 1 / 12, 12.0)], 3)
    rd._smoothed_segment.cache_clear()
    rd.smooth_temperature(t_h[:300], temp[:300], seg[:300], 6.0, 48)  # yesterday's look: the third not yet there
    rd.smooth_temperature(t_h, temp, seg, 6.0, 48)  # today's
    info = rd._smoothed_segment.cache_info()
    assert (info.hits, info.misses) == (1, 4)  # the first segment again; the second grew, the third is new


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
    rd._smoothed_segment.cache_clear()
    cold = enc.encode(estimate_tank(data, s))
    warm = enc.encode(estimate_tank(data, s))
    assert rd._smoothed_segment.cache_info().hits > 0
    monkeypatch.setattr(rd, "_MEMO_MAX_READINGS", 0)
    off = enc.encode(estimate_tank(data, s))
    assert cold == warm == off
