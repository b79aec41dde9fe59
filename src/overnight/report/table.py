"""The experiments table: one row per experiment, measured against the best state before it."""

from __future__ import annotations

from dataclasses import dataclass

from overnight.formatting import money, score_text
from overnight.holdout import final_best
from overnight.policy import improvement
from overnight.records import Experiment, Review
from overnight.report.data import RunView, category
from overnight.report.diffs import DiffLine, DiffStats, diff_lines, diff_stats
from overnight.view import duration


@dataclass(frozen=True)
class Row:
    experiment: Experiment
    category: str
    value: str
    delta: float | None  # positive: better than the best state it started from
    duration: str
    cost: str
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


def experiment_rows(view: RunView) -> list[Row]:
    rows = []
    for experiment in view.experiments:
        previous = final_best([e for e in view.experiments if e.number < experiment.number])
        delta = None
        if experiment.metric is not None and previous and previous.metric is not None:
            delta = improvement(experiment.metric, previous.metric, view.run.direction)
        rows.append(
            Row(
                experiment,
                category(experiment.status),
                score_text(experiment.metric, experiment.secondary),
                delta,
                elapsed(experiment.duration_s),
                money(experiment.total_cost_usd) if experiment.total_cost_usd else "",
                diff_lines(experiment.diff),
                diff_stats(experiment.diff),
                view.reviews_of(experiment.number),
            )
        )
    return rows


def elapsed(seconds: float) -> str:
    """Seconds to a tenth under a minute, minutes and hours above."""
    return f"{seconds:.1f}s" if seconds < 60 else duration(seconds)
