"""The few tests a keep decision needs, in plain Python (no SciPy): Student's t distribution,
Welch's two-sample t-test for metrics, and the exact sign test for paired pass/fail checks.

Every p-value here is one-sided and asks the same question: how likely is an advantage at least
this large for the candidate when it is in truth no better than the incumbent?
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
class Comparison:
    """How much better the candidate's mean is (``gain``) and how credible that is (``p``)."""

    gain: float
    p: float
    t: float
    df: float


def student(
    candidate: Sequence[float], incumbent: Sequence[float], shift: float = 0.0
) -> Comparison:
    """Student's one-sided two-sample t-test, with one variance pooled from both sides.

    Both sides are measurements of the same evaluation, whose noise a one-line change rarely
    alters, so pooling lends the candidate's few measurements the incumbent's many degrees of
    freedom.
    """
    n, m = len(candidate), len(incumbent)
    if n < 1 or m < 1 or n + m < 3:
        raise ValueError("Student's test needs three measurements, one or more on each side")
    gain = mean(candidate) - mean(incumbent)
    pooled = (variance(candidate) * (n - 1) + variance(incumbent) * (m - 1)) / (n + m - 2)
    spread = pooled * (1 / n + 1 / m)
    if spread == 0.0:
        sure = gain > shift
        return Comparison(gain, 0.0 if sure else 1.0, math.inf if sure else -math.inf, n + m - 2)
    t = (gain - shift) / math.sqrt(spread)
    return Comparison(gain, t_sf(t, n + m - 2), t, n + m - 2)
