"""``overnight status`` sums a run up with the ledger's own queries instead of reading every
row: the sums must be what the rows say, for one worker and for several."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from long_runs import lengthen
from overnight.ledger import Ledger
from overnight.overview import overview
from overnight.policy import recent_gain
from overnight.view import stale_winners_line, stale_winners_text
from overnight.workers_view import worker_figures
from report_projects import metric_project, workers_project


def check_against_the_rows(root: Path) -> None:
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = ledger.run()
        assert run is not None
        history = ledger.experiments(run.id)
        summed = overview(ledger, run.id, newest=10)
    finally:
        ledger.close()
    assert summed.counts == Counter(e.status for e in history)
    advancing = [e.number for e in history if e.status.advances]
    newest = [e.number for e in history[-10:]]
    assert [e.number for e in summed.rows] == sorted({*advancing, *newest})
    for window in (3, 10):
        assert recent_gain(summed.rows, window, run.direction) == recent_gain(
            history, window, run.direction
        )
    assert summed.workers == worker_figures(history)
    assert summed.spent_usd == pytest.approx(sum(e.total_cost_usd for e in history))
    said = stale_winners_line(summed.counts, summed.kept_replays)
    assert said == stale_winners_text(history)


def test_one_worker_long_run(tmp_path: Path) -> None:
    root = metric_project(tmp_path / "metric")
    lengthen(root, 300)
    check_against_the_rows(root)


def test_two_workers_with_a_replay(tmp_path: Path) -> None:
    root = workers_project(tmp_path / "workers")
    check_against_the_rows(root)
