"""When a similarity router triggers: a threshold and a margin, fitted to labelled queries.

A router that ranks skills by a score (the embedding router's cosine similarity) triggers the top
skill only when its score reaches ``threshold`` and beats the runner-up's by at least ``margin``:
a query as close to two skills as to one is ambiguous, and an agent offered both may well pick
the other one or neither.

Where those cuts belong depends on the model and on how the descriptions are written, so they are
fitted to the training queries at the baseline: every pair of a small grid is tried on the
queries' rankings, and the pair with the best value of the metric wins. Among pairs that score
the same, the smallest margin wins (it turns fewer queries away), then the middle one of the
tied thresholds at that margin (the cut furthest from both ends of the plateau). The rankings are
computed once, and the same rankings always give the same pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from overnight.activation.metrics import ActivationMetrics, QueryResult

THRESHOLDS = tuple(round(0.1 + 0.025 * step, 3) for step in range(25))  # 0.1 to 0.7
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12)

Ranking = Sequence[tuple[str, float]]  # skills and their scores, best first


@dataclass(frozen=True)
class Ranked:
    """A training query: the skill it should trigger (None: none) and how the router ranked."""

    expected: str | None
    ranking: Ranking


@dataclass(frozen=True)
class Calibration:
    threshold: float
    margin: float
    value: float  # the metric the pair reached on the queries
    queries: int


def choose(ranking: Ranking, threshold: float, margin: float) -> str | None:
    """The top skill when it reaches ``threshold`` and leads the next one by ``margin``."""
    if not ranking or ranking[0][1] < threshold:
        return None
    if len(ranking) > 1 and ranking[0][1] - ranking[1][1] < margin:
        return None
    return ranking[0][0]


def calibrate(
    queries: Sequence[Ranked],
    metric: str,
    thresholds: Sequence[float] = THRESHOLDS,
    margins: Sequence[float] = MARGINS,
) -> Calibration:
    """The pair of ``thresholds`` x ``margins`` that maximizes ``metric`` (an attribute of
    ``ActivationMetrics``: f1, accuracy, precision or recall) over ``queries``."""
    if not queries:
        raise ValueError("no labelled query to calibrate on")
    best: tuple[float, float, list[float]] | None = None  # value, margin, tied thresholds
    for margin in sorted(margins):
        for threshold in sorted(thresholds):
            value = _value(queries, threshold, margin, metric)
            if best is None or value > best[0]:
                best = (value, margin, [threshold])
            elif value == best[0] and margin == best[1]:
                best[2].append(threshold)
    assert best is not None
    value, margin, tied = best
    return Calibration(tied[(len(tied) - 1) // 2], margin, value, len(queries))


def _value(queries: Sequence[Ranked], threshold: float, margin: float, metric: str) -> float:
    results = [
        QueryResult(str(index), query.expected, (choose(query.ranking, threshold, margin),))
        for index, query in enumerate(queries)
    ]
    return float(getattr(ActivationMetrics.from_results(results), metric))
