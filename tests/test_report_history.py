"""What a live dashboard keeps of a run says what reading the whole run again would: the
summary's figures, the chart's paths and the rows' bests, extended one experiment at a time."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from overnight.holdout import bests_before, final_best
from overnight.ledger import Ledger
from overnight.records import Experiment, Status
from overnight.report.chart import collide, layout
from overnight.report.history import History, HistoryCache
from report_projects import metric_project

KINDS = [Status.KEEP, Status.DISCARD, Status.DISCARD, Status.CRASH, Status.NO_OP, Status.STALE]


def rows(count: int, seed: int) -> list[Experiment]:
    """A run whose metric range widens now and then (the chart's y axis moves), with held-out
    scores on some keeps and experiments without a value."""
    rng = random.Random(seed)
    made = [Experiment(1, 0, "p", Status.BASELINE, metric=5.0, held_out_value=0.5)]
    for number in range(1, count):
        status = rng.choice(KINDS)
        metric = None if status in (Status.CRASH, Status.NO_OP) else 5 + rng.gauss(0, number / 20)
        held = rng.choice([None, rng.random()]) if status is Status.KEEP else None
        made.append(
            Experiment(
                1,
                number,
                "p",
                status,
                metric=metric,
                held_out_value=held,
                description=f"change {number}",
                cost_usd=0.01 * rng.random(),
            )
        )
    return made


def drawn(history: History, marks: int):
    return layout(history.experiments, history.tally, history.trace(marks))


@pytest.mark.parametrize("marks", [3, 100])
def test_a_history_extended_row_by_row_equals_one_read_at_once(marks: int) -> None:
    made = rows(120, seed=marks)
    history = History.of(1, made[:5])
    drawn(history, marks)
    for end in range(6, len(made) + 1):
        history = history.extended(made[end - 1 : end])
        whole = History.of(1, made[:end])
        assert history.tally == whole.tally
        assert drawn(history, marks) == drawn(whole, marks)
    assert list(history.tally.bests) == bests_before(made)
    assert history.tally.best == final_best(made)
    assert history.tally.tried == len(made) - 1
    assert history.tally.kept == sum(e.status is Status.KEEP for e in made)


def test_a_history_extended_by_several_rows_at_once_is_the_same() -> None:
    made = rows(60, seed=3)
    history = History.of(1, made[:10])
    drawn(history, 5)
    history = history.extended(made[10:])
    assert drawn(history, 5) == drawn(History.of(1, made), 5)


def record(ledger: Ledger, run_id: int, number: int, parent: str) -> None:
    ledger.record(
        Experiment(run_id, number, parent, Status.DISCARD, metric=1.0, description=f"#{number}")
    )


def test_rows_finished_out_of_order_are_read_again(tmp_path: Path) -> None:
    root = metric_project(tmp_path / "metric")
    ledger = Ledger(root / ".overnight" / "ledger.db")
    cache = HistoryCache()
    try:
        run = ledger.run()
        assert run is not None
        first = cache.read(ledger, run.id)
        last, parent = first.experiments[-1].number, first.experiments[-1].parent_commit
        for number in (last + 1, last + 2):  # two workers
            ledger.begin(run.id, number, parent, {})
        record(ledger, run.id, last + 2, parent)  # the later one finishes first
        assert [e.number for e in cache.read(ledger, run.id).experiments][-1] == last + 2
        record(ledger, run.id, last + 1, parent)
        again = cache.read(ledger, run.id)
        whole = History.of(run.id, ledger.experiments(run.id, notes=False))
    finally:
        ledger.close()
    assert [e.number for e in again.experiments] == [e.number for e in whole.experiments]
    assert again.tally == whole.tally
    assert drawn(again, 2) == drawn(whole, 2)


def test_labels_of_keeps_in_a_row_do_not_run_into_each_other() -> None:
    """Forty keeps in a row, each a little better: parallel slanted labels a few pixels apart
    would write over each other, so only those with room keep theirs."""
    made = [Experiment(1, 0, "p", Status.BASELINE, metric=50.0)]
    made += [
        Experiment(1, n, "p", Status.KEEP, metric=50.0 - n, description=f"a long description {n}")
        for n in range(1, 41)
    ]
    labels = drawn(History.of(1, made), 100).labels
    assert 3 <= len(labels) < 24
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not collide(a, b), (a, b)
    assert [label.x for label in labels] == sorted(label.x for label in labels)
