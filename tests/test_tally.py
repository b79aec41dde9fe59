"""The run's tally, kept as experiments end, says what reading the whole history would."""

from __future__ import annotations

from overnight import statistics
from overnight.records import Experiment, Status
from overnight.tally import Tally


def row(number: int, status: Status, metric: float | None, *values: float, **fields) -> Experiment:
    return Experiment(1, number, "p", status, metric=metric, measurements=list(values), **fields)


def test_counts_best_and_the_noise_of_the_trees_measured_more_than_once() -> None:
    history = [
        row(0, Status.BASELINE, 5.0, 5.0, 5.2),
        row(1, Status.DISCARD, 5.5, 5.4, 5.6),
        row(2, Status.KEEP, 4.0, 4.1, 3.9, remeasured=[4.05]),
        row(3, Status.CRASH, None),
        row(4, Status.DISCARD, 4.5, 4.5),
        row(5, Status.STALE, 3.0, 3.0, agent_meta={"replay_of": None}),
        row(6, Status.DISCARD, 4.2, 4.2, agent_meta={"replay_of": 5}),
    ]
    tally = Tally.of(history)
    tally.remeasured(3.95)

    assert (tally.experiments, tally.proposed, tally.since_keep) == (6, 5, 4)
    assert tally.best == 4.0 and tally.best_before(3) == 4.0 and tally.best_before(6) == 5.0
    assert tally.best_tree == [4.1, 3.9, 4.05, 3.95]
    assert tally.others == statistics.spread([[5.0, 5.2], [5.4, 5.6]])
    assert [e.number for e in tally.advancing] == [0, 2]
    assert tally.statuses[Status.DISCARD] == 3
