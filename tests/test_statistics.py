"""The statistics behind noise-aware keeps, against published values and their symmetries."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overnight.statistics import (
    Spread,
    mean,
    regularized_beta,
    sign_test,
    spread,
    student,
    t_sf,
    variance,
)

# One-sided critical values of Student's t from the standard tables: P(T > t) = p.
T_TABLE = [
    (1, 6.314, 0.05),
    (1, 31.821, 0.01),
    (5, 2.015, 0.05),
    (5, 3.365, 0.01),
    (10, 1.812, 0.05),
    (10, 2.764, 0.01),
    (30, 1.697, 0.05),
    (30, 2.457, 0.01),
    (120, 1.658, 0.05),
]


@pytest.mark.parametrize(("df", "t", "p"), T_TABLE)
def test_t_tail_matches_the_tables(df: int, t: float, p: float) -> None:
    assert t_sf(t, df) == pytest.approx(p, rel=2e-3)


def test_t_tail_is_a_half_at_zero_and_a_normal_tail_for_large_df() -> None:
    assert t_sf(0.0, 3) == pytest.approx(0.5)
    assert t_sf(1.959964, 1e7) == pytest.approx(0.025, rel=1e-4)
    assert t_sf(math.inf, 4) == 0.0
    assert t_sf(-math.inf, 4) == 1.0


def test_regularized_beta_known_values() -> None:
    assert regularized_beta(0.5, 2, 2) == pytest.approx(0.5)
    assert regularized_beta(0.3, 1, 1) == pytest.approx(0.3)
    assert regularized_beta(0.2, 2, 3) == pytest.approx(0.1808)  # 1 - (1 + 3x)(1 - x)^3
    assert regularized_beta(0.0, 2, 3) == 0.0
    assert regularized_beta(1.0, 2, 3) == 1.0


@given(
    t=st.floats(-50, 50, allow_nan=False),
    df=st.floats(0.5, 500, allow_nan=False),
)
def test_t_tail_is_a_probability_and_symmetric(t: float, df: float) -> None:
    upper = t_sf(t, df)
    assert 0.0 <= upper <= 1.0
    assert upper + t_sf(-t, df) == pytest.approx(1.0, abs=1e-9)


def test_student_on_a_worked_example() -> None:
    # Means 4 and 1, both variances 2.5, so pooled 2.5: t = 3 / sqrt(2.5 * (1/5 + 1/5)) = 3, df 8.
    result = student([2, 3, 4, 5, 6], [-1, 0, 1, 2, 3])
    assert result.gain == pytest.approx(3.0)
    assert result.t == pytest.approx(3.0)
    assert result.df == pytest.approx(8.0)
    assert result.p == pytest.approx(t_sf(3.0, 8))
    assert result.p == pytest.approx(0.008536, rel=1e-3)


def test_the_shift_asks_for_a_gain_larger_than_min_delta() -> None:
    plain = student([2, 3, 4, 5, 6], [-1, 0, 1, 2, 3])
    shifted = student([2, 3, 4, 5, 6], [-1, 0, 1, 2, 3], shift=3.0)
    assert shifted.p == pytest.approx(0.5)
    assert plain.p < shifted.p


def test_without_spread_a_gain_is_certain() -> None:
    assert student([2.0, 2.0], [1.0, 1.0]).p == 0.0
    assert student([1.0, 1.0], [1.0, 1.0]).p == 1.0


def test_student_pools_the_variance() -> None:
    result = student([2, 3, 4], [-1, 0, 1, 2, 3])
    pooled = (2 * 1.0 + 4 * 2.5) / 6
    assert result.df == 6
    assert result.t == pytest.approx(2.0 / math.sqrt(pooled * (1 / 3 + 1 / 5)))


def test_student_needs_three_measurements_one_a_side() -> None:
    with pytest.raises(ValueError):
        student([1.0], [2.0])


samples = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=12)


@given(a=samples, b=samples)
def test_student_is_a_probability_and_antisymmetric(a: list[float], b: list[float]) -> None:
    forward, backward = student(a, b), student(b, a)
    assert 0.0 <= forward.p <= 1.0
    if math.isfinite(forward.t) and forward.t != 0:
        assert forward.p + backward.p == pytest.approx(1.0, abs=1e-6)


def test_mean_and_variance() -> None:
    assert mean([1, 2, 3]) == 2
    assert variance([1, 2, 3]) == 1
    assert variance([5.0]) == 0.0


def test_spread_pools_within_each_group_only() -> None:
    pooled = spread([[1.0, 3.0], [10.0, 12.0, 14.0], [100.0]])

    assert pooled.df == 1 + 2  # a single measurement says nothing about noise
    assert pooled.sum_squares == pytest.approx(2.0 + 8.0)  # not the 100-wide gap between trees


def test_noise_measured_elsewhere_lends_the_test_its_degrees_of_freedom() -> None:
    others = Spread(sum_squares=99.0, df=99)  # sd 1, well known

    alone = student([3.0, 3.2], [0.0, 0.1])
    pooled = student([3.0, 3.2], [0.0, 0.1], elsewhere=others)

    assert pooled.df == alone.df + 99
    assert 0 < pooled.p < 0.05 < 1 - pooled.p
    assert pooled.t < alone.t  # sd 1 is larger than these four values alone suggest


def test_one_measurement_a_side_is_enough_when_noise_is_known() -> None:
    test = student([2.0], [0.0], elsewhere=Spread(10.0, 10))
    assert test.t == pytest.approx(2.0 / math.sqrt(2.0))


@pytest.mark.parametrize(
    ("better", "worse", "p"),
    [(5, 0, 1 / 32), (8, 0, 1 / 256), (3, 3, 42 / 64), (0, 4, 1.0), (0, 0, 1.0), (6, 1, 8 / 128)],
)
def test_sign_test_is_the_binomial_tail(better: int, worse: int, p: float) -> None:
    assert sign_test(better, worse) == pytest.approx(p)


def test_sign_test_handles_large_counts() -> None:
    assert 0 < sign_test(1200, 900) < 1e-9
    assert sign_test(900, 1200) == pytest.approx(1.0)
