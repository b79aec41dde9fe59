"""Held-out folds: the held-out queries dealt into ``k`` parts, so a state's held-out score
comes with its spread, and one lucky draw of queries cannot make a state the best.

Only the held-out queries are dealt: the training ones have been shown to the agent, and a
description that learnt them by heart would score well on any split that counted them. Each
label's queries are shuffled (seeded by the seed and the label, as ``split`` does) and dealt in
turn, one label after another, so every fold asks about the same mix of skills and the folds
differ in size by one query at most.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from overnight.activation.metrics import ActivationMetrics, QueryResult
from overnight.activation.split import Labelled

Q = TypeVar("Q", bound=Labelled)


def folds(queries: Sequence[Q], k: int, seed: int = 0) -> list[list[Q]]:
    """``k`` disjoint folds that together hold every query, each in the input order."""
    if not 1 <= k <= max(1, len(queries)):
        raise ValueError(f"cannot deal {len(queries)} queries into {k} folds")
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index in sorted(range(len(queries)), key=lambda i: queries[i].query):
        groups[queries[index].expected].append(index)
    fold_of: dict[int, int] = {}
    dealt = 0
    for label in sorted(groups, key=lambda label: (label is None, label or "")):
        group = groups[label]
        random.Random(f"overnight-folds:{seed}:{label}").shuffle(group)
        for index in group:
            fold_of[index] = dealt % k
            dealt += 1
    return [[q for i, q in enumerate(queries) if fold_of[i] == fold] for fold in range(k)]


def fold_scores(
    results: Sequence[QueryResult], k: int, seed: int, metric: str, threshold: float
) -> list[float]:
    """The metric (``f1``, ``accuracy``, ``precision`` or ``recall``) on each fold of the
    measured held-out queries: the routing is done once, only the counting is per fold."""
    return [
        float(getattr(ActivationMetrics.from_results(fold, threshold), metric))
        for fold in folds(results, k, seed)
    ]
