"""The figures the pages draw from a run's finished experiments, folded one experiment at a
time: a live page extends them by the rows that finished since its last look instead of going
over the whole run again, and a finished experiment never changes, so what was folded stays.

A ``PageTally`` is immutable: extending one makes another, so a page still rendering from the
old one is never disturbed by the next update. (The loop keeps its own ``overnight.tally.Tally``
of the run, for the brief, the live view and the stop rules.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from overnight.holdout import held_out_score, preferred
from overnight.records import Experiment, Status


@dataclass(frozen=True)
class PageTally:
    count: int = 0
    baseline: Experiment | None = None  # the first baseline
    tried: int = 0
    kept: int = 0
    total_cost: float = 0.0
    unpriced: int = 0  # experiments with a model call of unknown cost
    tip: Experiment | None = None  # the last state that advanced the run (baseline or keep)
    judged: Experiment | None = None  # the best held-out state so far, the later on a tie
    bests: tuple[Experiment | None, ...] = ()  # per experiment, the best state before it
    baselines: tuple[int, ...] = ()  # indices into the experiments, by kind
    keeps: tuple[int, ...] = ()
    others: tuple[int, ...] = ()
    values: tuple[float, float] | None = None  # the lowest and highest metric measured
    held_values: tuple[float, float] | None = None  # the same for the states' held-out scores

    @classmethod
    def of(cls, experiments: Sequence[Experiment]) -> PageTally:
        return cls().extended(experiments)

    @property
    def best(self) -> Experiment | None:
        """The run's best state, by the rule of ``holdout.final_best``."""
        return preferred(self.judged, self.tip)

    def extended(self, newer: Sequence[Experiment]) -> PageTally:
        """This tally with ``newer`` (the experiments that finished after those it holds, in
        order) folded in, as ``holdout.bests_before`` and ``final_best`` would find them."""
        if not newer:
            return self
        baseline, tried, kept, cost = self.baseline, self.tried, self.kept, self.total_cost
        unpriced = self.unpriced
        tip, judged, values, held = self.tip, self.judged, self.values, self.held_values
        bests, kinds = list(self.bests), {"baseline": [], "keep": [], "other": []}
        for index, experiment in enumerate(newer, start=self.count):
            bests.append(preferred(judged, tip))
            status = experiment.status
            if status is Status.BASELINE:
                baseline = baseline or experiment
                kinds["baseline"].append(index)
            else:
                tried += 1
                kinds["keep" if status is Status.KEEP else "other"].append(index)
                kept += status is Status.KEEP
            cost += experiment.total_cost_usd
            unpriced += any(u.cost_usd is None for u in experiment.usage)
            if experiment.metric is not None:
                values = _widened(values, experiment.metric)
            if status.advances:
                tip = experiment
                score = held_out_score(experiment)
                if score is not None:
                    held = _widened(held, score)
                    if judged is None or score >= (held_out_score(judged) or 0.0):
                        judged = experiment
        return PageTally(
            self.count + len(newer),
            baseline,
            tried,
            kept,
            cost,
            unpriced,
            tip,
            judged,
            tuple(bests),
            self.baselines + tuple(kinds["baseline"]),
            self.keeps + tuple(kinds["keep"]),
            self.others + tuple(kinds["other"]),
            values,
            held,
        )


def _widened(span: tuple[float, float] | None, value: float) -> tuple[float, float]:
    return (value, value) if span is None else (min(span[0], value), max(span[1], value))
