"""Train and held-out queries: descriptions are improved on one part and judged on the other, so
a description that only learnt its training queries by heart is found out.

The split is stratified: the queries of each label (a skill's name, or None for those that
should trigger no skill) are split on their own, so both parts ask the same mix of questions.
Each label holds out its share of ``fraction`` rounded down or up, but never all its queries: at
least one stays for training, so a label with a single query is never held out. Which labels
round up is settled over all of them together (largest remainders first), so that the held-out
part comes as near to ``fraction`` of all queries as whole queries allow.

The same queries and seed always give the same split, in whatever order the queries come: each
label's queries are sorted before a generator seeded by the seed and the label shuffles them.
Both parts keep the queries in their input order.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

DEFAULT_FRACTION = 0.4


class Labelled(Protocol):
    """A query and the skill it should trigger, if any."""

    @property
    def query(self) -> str: ...

    @property
    def expected(self) -> str | None: ...


Q = TypeVar("Q", bound=Labelled)


def split(
    queries: Sequence[Q], fraction: float = DEFAULT_FRACTION, seed: int = 0
) -> tuple[list[Q], list[Q]]:
    """``(train, held_out)``, with about ``fraction`` of each label's queries held out."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"the held-out fraction must lie between 0 and 1, got {fraction}")
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index in sorted(range(len(queries)), key=lambda i: queries[i].query):
        groups[queries[index].expected].append(index)
    counts = _held_out_counts({label: len(group) for label, group in groups.items()}, fraction)
    held_out: set[int] = set()
    for label, group in groups.items():
        random.Random(f"overnight-split:{seed}:{label}").shuffle(group)
        held_out.update(group[: counts[label]])
    return (
        [query for index, query in enumerate(queries) if index not in held_out],
        [query for index, query in enumerate(queries) if index in held_out],
    )


def _held_out_counts(sizes: Mapping[str | None, int], fraction: float) -> dict[str | None, int]:
    """How many queries of each label to hold out (see the module's docstring)."""
    caps = {label: min(size - 1, math.ceil(size * fraction)) for label, size in sizes.items()}
    target = min(math.floor(sum(sizes.values()) * fraction + 0.5), sum(caps.values()))
    counts = {label: min(math.floor(size * fraction), caps[label]) for label, size in sizes.items()}
    labels = sorted(sizes, key=lambda label: (label is None, label or ""))
    while sum(counts.values()) < target:
        behind = (label for label in labels if counts[label] < caps[label])
        counts[max(behind, key=lambda label: sizes[label] * fraction - counts[label])] += 1
    return counts
