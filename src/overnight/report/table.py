"""The experiments table: one row per experiment, measured against the best state before it.

A long run has thousands of rows, most of them plain discards: the table then shows every keep
(up to a limit), the newest others, and says how many it left out. Inline diffs go with a
complete table, or with keeps only; a live page loads the others' diffs when one is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from overnight.formatting import score_text, spending, tokens
from overnight.policy import improvement
from overnight.records import Experiment, Review
from overnight.report.data import RunView
from overnight.report.diffs import DiffLine, DiffStats, diff_lines, diff_stats
from overnight.report.kinds import category
from overnight.view import duration


@dataclass(frozen=True)
class Bounds:
    """How much of a long run a page shows: the newest ``keeps`` keeps (None: all) and the
    newest ``others`` other experiments as rows, and as chart marks with their own tooltip the
    newest ``marks`` keeps and as many others (the rest are drawn as plain points)."""

    keeps: int | None
    others: int
    marks: int


REPORT_BOUNDS = Bounds(keeps=None, others=200, marks=300)
DASHBOARD_BOUNDS = Bounds(keeps=50, others=100, marks=100)


@dataclass(frozen=True)
class Row:
    experiment: Experiment
    category: str
    value: str
    delta: float | None  # positive: better than the best state it started from
    duration: str
    cost: str
    tokens: str
    diff: list[DiffLine]
    stats: DiffStats
    reviews: list[Review]

    @property
    def delta_text(self) -> str:
        return "" if self.delta is None else f"{self.delta:+.4g}"

    @property
    def reviewable(self) -> bool:
        """Only keeps take an accept or reject: they are what the branch holds."""
        return self.category == "keep"


@dataclass(frozen=True)
class Table:
    rows: list[Row]
    left_out_keeps: int
    left_out_others: int
    inline_diffs: bool  # False: only keeps carry their diff; the others' comes on demand

    @property
    def complete(self) -> bool:
        return not (self.left_out_keeps or self.left_out_others)

    def with_diff(self, row: Row) -> bool:
        return self.inline_diffs or row.category in ("keep", "baseline")


def experiment_table(view: RunView, bounds: Bounds) -> Table:
    """The rows ``bounds`` lets a page show, in number order, each measured against the best
    state before it (the run's tally has them all)."""
    tally = view.history.tally
    keeps, others = tally.keeps, tally.others
    shown_keeps = keeps if bounds.keeps is None else keeps[max(0, len(keeps) - bounds.keeps) :]
    shown_others = others[max(0, len(others) - bounds.others) :]
    rows = [
        _row(view, view.experiments[index], tally.bests[index])
        for index in sorted((*tally.baselines, *shown_keeps, *shown_others))
    ]
    left_keeps, left_others = len(keeps) - len(shown_keeps), len(others) - len(shown_others)
    return Table(rows, left_keeps, left_others, not (left_keeps or left_others))


def experiment_row(view: RunView, number: int) -> Row | None:
    """One experiment's row, for a page that asks for a diff it left out."""
    index = view.index(number)
    if index is None:
        return None
    return _row(view, view.experiments[index], view.history.tally.bests[index])


def _row(view: RunView, experiment: Experiment, previous: Experiment | None) -> Row:
    delta = None
    if experiment.metric is not None and previous and previous.metric is not None:
        delta = improvement(experiment.metric, previous.metric, view.run.direction)
    return Row(
        experiment,
        category(experiment.status),
        score_text(experiment.metric, experiment.secondary),
        delta,
        elapsed(experiment.duration_s),
        spending(experiment.usage),
        tokens(experiment.usage),
        diff_lines(experiment.diff),
        diff_stats(experiment.diff),
        view.reviews_of(experiment.number),
    )


def elapsed(seconds: float) -> str:
    """Seconds to a tenth under a minute, minutes and hours above."""
    return f"{seconds:.1f}s" if seconds < 60 else duration(seconds)
