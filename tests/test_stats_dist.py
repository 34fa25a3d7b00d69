"""The witness's own distribution functions agree with SciPy (the reference) over the
ranges the witness uses and beyond."""

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import stats

from anxin.engine.stats.dist import betainc, binom_greater_pvalue, norm_ppf, t_ppf, t_sf


@pytest.mark.parametrize("p", [1e-12, 1e-6, 0.001, 0.025, 0.05, 0.3, 0.5, 0.9, 0.95, 0.975, 0.999, 1 - 1e-9])
def test_normal_quantile(p):
    assert norm_ppf(p) == pytest.approx(stats.norm.ppf(p), rel=1e-12, abs=1e-14)


@given(st.integers(1, 400), st.data())
def test_sign_test_pvalue_is_the_binomial_tail(n, data):
    k = data.draw(st.integers(0, n))
    assert binom_greater_pvalue(k, n) == pytest.approx(
        stats.binomtest(k, n, 0.5, alternative="greater").pvalue, rel=1e-12
    )


def test_sign_test_edges():
    assert binom_greater_pvalue(0, 0) == 1.0
    assert binom_greater_pvalue(3, 3) == 1 / 8
    assert binom_greater_pvalue(4, 3) == 0.0


@given(
    st.floats(-60, 60, allow_nan=False),
    st.sampled_from([1, 2, 3, 4, 5, 7, 10, 19, 30, 57, 120, 1000, 2.5]),
)
@example(t=1.4667823617225172e-08, df=1)  # SciPy's own value is 7e-11 off here
def test_t_upper_tail(t, df):
    # SciPy loses about 1e-10 absolute at the centre (t → 0), where the tail is ½
    ref = stats.t.sf(t, df)
    assert t_sf(t, df) == pytest.approx(ref, rel=1e-10, abs=1e-300 if abs(t) > 1e-3 else 2e-10)


@given(st.floats(-60, 60, allow_nan=False))
@example(t=1.4667823617225172e-08)
def test_t_upper_tail_against_the_closed_forms(t):
    """df = 1 is Cauchy's, df = 2 has a closed form: both exact to the last digits."""
    assert t_sf(t, 1) == pytest.approx(0.5 - math.atan(t) / math.pi, rel=1e-12, abs=1e-300)
    assert t_sf(t, 2) == pytest.approx(0.5 - t / (2.0 * math.sqrt(2.0 + t * t)), rel=1e-10, abs=1e-300)


@given(
    st.floats(1e-10, 1 - 1e-10),
    st.sampled_from([1, 2, 3, 4, 5, 7, 10, 19, 30, 57, 120, 1000, 2.5]),
)
def test_t_quantile(p, df):
    assert t_ppf(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9, abs=1e-12)


def test_t_edges():
    assert t_sf(0.0, 5) == 0.5
    assert t_sf(math.inf, 5) == 0.0 and t_sf(-math.inf, 5) == 1.0
    assert t_ppf(0.5, 3) == 0.0
    with pytest.raises(ValueError):
        t_ppf(1.0, 3)


def power_series(a: float, b: float, x: float) -> float:
    """I_x(a, b) = x^a (1−x)^b / (a·B(a, b)) · Σ_n (a+b)_n / (a+1)_n · xⁿ: an independent reference
    (older SciPy releases lose digits far in the tail), converging fast where x < (a+1)/(a+b+2)."""
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    total, term, n = 0.0, 1.0, 0
    while term > 1e-20 * total or n == 0:
        total += term
        term *= (a + b + n) / (a + 1 + n) * x
        n += 1
    return front * total / a


@given(st.floats(0.1, 500), st.floats(0.1, 50), st.floats(1e-6, 1 - 1e-6))
def test_incomplete_beta_equals_its_power_series(a, b, x):
    """Where the series converges fast, directly; on the other side through the symmetry
    I_x(a, b) = 1 − I_{1−x}(b, a). (No SciPy here: its older releases lose digits.)"""
    if x < (a + 1) / (a + b + 2):
        assert betainc(a, b, x) == pytest.approx(power_series(a, b, x), rel=1e-9, abs=1e-300)
    else:
        y = 1.0 - x
        assert betainc(a, b, x, y) == pytest.approx(1.0 - power_series(b, a, y), rel=1e-9, abs=1e-15)


def test_incomplete_beta_far_in_the_tail_equals_its_power_series():
    a, b, x = 308.5698475031181, 35.79174596968123, 0.08841979175522682  # SciPy 1.17 is 40 % off here
    assert betainc(a, b, x) == pytest.approx(power_series(a, b, x), rel=1e-12)
