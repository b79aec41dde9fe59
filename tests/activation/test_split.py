"""Train and held-out queries: proportions per label and overall, one query of each label kept
for training, determinism, independence from the input order, nothing lost or duplicated."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overnight.activation.split import split


@dataclass(frozen=True)
class Query:
    query: str
    expected: str | None


def queries(**sizes: int) -> list[Query]:
    """``sizes`` by label; the label ``none`` stands for None."""
    return [
        Query(f"{label} query {i}", None if label == "none" else label)
        for label, size in sizes.items()
        for i in range(size)
    ]


def by_label(part: list[Query]) -> Counter[str | None]:
    return Counter(query.expected for query in part)


def test_each_label_is_split_in_proportion() -> None:
    train, held_out = split(queries(pdf=10, docx=5, none=20), fraction=0.4)

    assert by_label(held_out) == {"pdf": 4, "docx": 2, None: 8}
    assert by_label(train) == {"pdf": 6, "docx": 3, None: 12}


def test_rounding_is_settled_over_all_labels() -> None:
    train, held_out = split(queries(a=3, b=3, c=3, d=3, e=3), fraction=0.4)

    assert len(held_out) == 6  # 40% of 15, though 40% of each 3 rounds to 1
    assert all(1 <= count <= 2 for count in by_label(held_out).values())
    assert all(count >= 1 for count in by_label(train).values())


def test_every_label_keeps_a_query_for_training() -> None:
    train, held_out = split(queries(pdf=2, docx=1, none=3), fraction=1.0)

    assert by_label(train) == {"pdf": 1, "docx": 1, None: 1}
    assert by_label(held_out) == {"pdf": 1, None: 2}
    assert split(queries(pdf=1), fraction=0.9) == (queries(pdf=1), [])


def test_fraction_zero_holds_nothing_out_and_out_of_range_is_refused() -> None:
    assert split(queries(pdf=4), fraction=0.0) == (queries(pdf=4), [])
    with pytest.raises(ValueError, match="between 0 and 1"):
        split(queries(pdf=4), fraction=1.5)


def test_the_split_follows_the_seed() -> None:
    items = queries(pdf=20, none=20)

    assert split(items, seed=3) == split(items, seed=3)
    assert split(items, seed=3) != split(items, seed=4)


def test_both_parts_keep_the_input_order() -> None:
    items = queries(pdf=10, none=10)
    random.Random(1).shuffle(items)

    train, held_out = split(items)

    assert train == [query for query in items if query in train]
    assert held_out == [query for query in items if query in held_out]


labelled = st.lists(
    st.builds(Query, st.text(max_size=6), st.sampled_from(["a", "b", "c", None])), max_size=40
)


@given(labelled, st.floats(0.0, 1.0), st.integers(0, 3), st.randoms(use_true_random=False))
def test_parts_are_disjoint_complete_and_independent_of_order(
    items: list[Query], fraction: float, seed: int, rng: random.Random
) -> None:
    train, held_out = split(items, fraction, seed)
    shuffled = items[:]
    rng.shuffle(shuffled)
    train_again, held_out_again = split(shuffled, fraction, seed)

    assert Counter(train) + Counter(held_out) == Counter(items)
    assert Counter(train_again) == Counter(train)
    assert Counter(held_out_again) == Counter(held_out)
    sizes = by_label(items)
    caps = {label: min(size - 1, math.ceil(size * fraction)) for label, size in sizes.items()}
    assert len(held_out) == min(math.floor(len(items) * fraction + 0.5), sum(caps.values()))
    held = by_label(held_out)
    for label, size in sizes.items():
        share = size * fraction
        assert min(math.floor(share), size - 1) <= held[label] <= min(math.ceil(share), size - 1)
