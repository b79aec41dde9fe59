"""Per-worker figures on a hand-made history of two workers: counts, rate and busy share over the
run's wall time, stale winners and conflicts, what each runs now, and nothing for one worker."""

from dataclasses import replace

import pytest

from overnight.ledger import Unfinished
from overnight.records import Experiment, Status
from overnight.workers_view import WorkerFigures, wall_time, worker_figures, worker_lines


def row(number, worker, status, started, seconds, replay_of=None):
    meta = {} if replay_of is None else {"replay_of": replay_of}
    return Experiment(
        1,
        number,
        "p" * 40,
        status,
        started_at=1_700_000_000.0 + started,
        duration_s=seconds,
        agent_meta=meta,
        worker=worker,
    )


# 15 minutes of wall time: worker 1's #2 wins on the baseline's state while worker 0 keeps #1,
# so #2 is stale and worker 1 measures it again as #4; worker 0's #5 conflicts with the best.
HISTORY = [
    row(0, 0, Status.BASELINE, 0, 60),
    row(1, 0, Status.KEEP, 60, 300),
    row(2, 1, Status.STALE, 60, 600),
    row(3, 0, Status.DISCARD, 360, 240),
    row(4, 1, Status.KEEP, 660, 240, replay_of=2),
    row(5, 0, Status.CONFLICT, 660, 180),
]


def test_each_worker_has_its_own_figures() -> None:
    assert wall_time(HISTORY) == 900

    first, second = worker_figures(HISTORY)

    assert first == WorkerFigures(
        worker=0,
        experiments=3,  # the baseline is not one
        replays=0,
        per_hour=pytest.approx(12.0),
        busy=pytest.approx(780 / 900),  # the baseline's time is
        kept=1,
        stale=0,
        conflicts=1,
    )
    assert second == WorkerFigures(
        worker=1,
        experiments=2,
        replays=1,
        per_hour=pytest.approx(8.0),
        busy=pytest.approx(840 / 900),
        kept=1,
        stale=1,
        conflicts=0,
    )


def test_what_each_worker_runs_now() -> None:
    in_flight = [Unfinished(6, "p" * 40, 0.0, {}, worker=1)]

    figures = worker_figures(HISTORY, in_flight)

    assert [f.running for f in figures] == [None, 6]
    assert worker_lines(figures, live=True) == [
        "worker 0: 3 experiments, 12.0 an hour, busy 87%; 1 kept, 0 stale, 1 conflict; now: idle",
        "worker 1: 2 experiments (1 replay), 8.0 an hour, busy 93%; 1 kept, 1 stale, 0 conflicts;"
        " now: #6",
    ]
    assert not any("now" in line for line in worker_lines(figures, live=False))


def test_a_worker_seen_only_in_flight_counts() -> None:
    baseline = HISTORY[:1]
    in_flight = [Unfinished(n, "p" * 40, 0.0, {}, worker=n - 1) for n in (1, 2)]

    figures = worker_figures(baseline, in_flight)

    assert [(f.worker, f.experiments, f.running) for f in figures] == [(0, 0, 1), (1, 0, 2)]
    assert (figures[0].busy, figures[1].busy) == (1.0, 0.0)
    assert worker_figures([], in_flight)[0].per_hour is None  # no wall time yet


def test_one_worker_has_no_figures() -> None:
    alone = [replace(e, worker=0) for e in HISTORY]

    assert worker_figures(alone) == []
    assert worker_figures(alone, [Unfinished(6, "p" * 40, 0.0, {})]) == []
    assert worker_figures([]) == []
