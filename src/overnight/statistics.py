"""The few tests a keep decision needs, in plain Python (no SciPy): Student's t distribution,
the two-sample t-test for metrics with a variance pooled over the whole run, and the exact sign
test for paired pass/fail checks.

Every p-value here is one-sided and asks the same question: how likely is an advantage at least
this large for the candidate when it is in truth no better than the incumbent?
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_TINY = 1e-300
_EPSILON = 3e-16


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def variance(values: Sequence[float]) -> float:
    """The unbiased sample variance; zero for fewer than two values."""
    if len(values) < 2:
        return 0.0
    centre = mean(values)
    return math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1)


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), by the continued fraction (modified Lentz), on the side where it converges."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(1.0 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= c * d
        if abs(c * d - 1.0) < _EPSILON:
            break
    return result


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (any positive real df)."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2.0, 0.5)
    return tail if t >= 0 else 1.0 - tail


@dataclass(frozen=True)
class Spread:
    """Squared deviations from each tree's own mean, and their degrees of freedom: what the
    run has learned about the evaluation's noise from every tree measured more than once."""

    sum_squares: float = 0.0
    df: int = 0

    def __add__(self, other: Spread) -> Spread:
        return Spread(self.sum_squares + other.sum_squares, self.df + other.df)


def spread(groups: Iterable[Sequence[float]]) -> Spread:
    """The within-group spread of measurements grouped by the tree they measured."""
    total = Spread()
    for values in groups:
        if len(values) > 1:
            centre = mean(values)
            deviations = math.fsum((v - centre) ** 2 for v in values)
            total += Spread(deviations, len(values) - 1)
    return total


@dataclass(frozen=True)
class Comparison:
    """How much better the candidate's mean is (``gain``) and how credible that is (``p``)."""

    gain: float
    p: float
    t: float
    df: float


def student(
    candidate: Sequence[float],
    incumbent: Sequence[float],
    shift: float = 0.0,
    elsewhere: Spread = Spread(),
) -> Comparison:
    """Student's one-sided two-sample t-test, with one variance pooled from both sides and from
    ``elsewhere`` (other trees of the same run).

    Every tree is measured by the same evaluation, whose noise a one-line change rarely alters,
    so pooling lends the candidate's few measurements the degrees of freedom of the whole run.
    """
    n, m = len(candidate), len(incumbent)
    pooled = spread([candidate, incumbent]) + elsewhere
    if n < 1 or m < 1 or pooled.df < 1:
        raise ValueError("Student's test needs a measurement on each side and one more anywhere")
    gain = mean(candidate) - mean(incumbent)
    error = pooled.sum_squares / pooled.df * (1 / n + 1 / m)
    if error == 0.0:
        sure = gain > shift
        return Comparison(gain, 0.0 if sure else 1.0, math.inf if sure else -math.inf, pooled.df)
    t = (gain - shift) / math.sqrt(error)
    return Comparison(gain, t_sf(t, pooled.df), t, pooled.df)


def sign_test(better: int, worse: int) -> float:
    """The exact one-sided sign test: the chance that a fair coin, tossed once per changed
    check, comes up "better" at least ``better`` times out of ``better + worse``."""
    changed = better + worse
    if changed == 0:
        return 1.0
    tail = sum(math.comb(changed, k) for k in range(better, changed + 1))
    return tail / 2**changed
