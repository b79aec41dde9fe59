"""The run's history summed up as it grows: what the stop rules, the budget and the incumbent
need, kept up to date one experiment at a time, so that deciding what to do next costs the same
at experiment 10,000 as at experiment 10."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from overnight.records import AGENT_FAILED, Experiment, Status
from overnight.statistics import Spread, spread


@dataclass
class Tally:
    proposed: int = 0  # experiments an agent proposed (the budget counts these, not replays)
    experiments: int = 0  # every experiment after the baseline
    spent_usd: float = 0.0  # model spending, all purposes together
    unpriced: int = 0  # experiments with a model call of unknown cost, not in ``spent_usd``
    since_keep: int = 0  # experiments since the last keep
    agent_failures: int = 0  # experiments in a row whose agent itself failed
    last_agent_failure: str = ""  # why the last of those failed
    fatal_failure: str = ""  # why the agent cannot work at all (credentials refused), if so
    first_best: float | None = None  # the baseline's score
    last_advance_at: float = 0.0  # when the last keep (or the baseline) began
    statuses: Counter[Status] = field(default_factory=Counter)
    advancing: list[Experiment] = field(default_factory=list)  # the baseline and every keep
    # the best state's score after each experiment, in the order they were recorded
    best_after: list[float | None] = field(default_factory=list)
    # the measurements of each tree measured more than once, and of the best tree so far
    others: Spread = field(default_factory=Spread)
    best_tree: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, history: Iterable[Experiment]) -> Tally:
        tally = cls()
        for experiment in history:
            tally.add(experiment)
        return tally

    def add(self, experiment: Experiment) -> None:
        """One experiment, just recorded; the best measured again later: ``remeasured``."""
        self.spent_usd += experiment.total_cost_usd
        self.unpriced += any(u.cost_usd is None for u in experiment.usage)
        self.statuses[experiment.status] += 1
        best = self.best_after[-1] if self.best_after else None
        if experiment.status is not Status.BASELINE:
            self.experiments += 1
            self.proposed += experiment.replay_of is None
            self.since_keep = 0 if experiment.status is Status.KEEP else self.since_keep + 1
            failed = experiment.status is Status.NO_OP and experiment.description == AGENT_FAILED
            self.agent_failures = self.agent_failures + 1 if failed else 0
            if failed:
                self.last_agent_failure = experiment.reason
                if (experiment.agent_meta or {}).get("fatal"):
                    self.fatal_failure = experiment.reason
        if experiment.status.advances:
            self.advancing.append(experiment)
            self.last_advance_at = experiment.started_at
            if experiment.metric is not None:
                best = experiment.metric
                if self.first_best is None:
                    self.first_best = best
            self._tree_done(self.best_tree)
            metric = [] if experiment.metric is None else [experiment.metric]
            self.best_tree = list(experiment.measurements) or metric
        elif len(experiment.measurements) > 1:
            self._tree_done(list(experiment.measurements))
        self.best_tree += experiment.remeasured
        self.best_after.append(best)

    def resumed(self) -> None:
        """A resumed run gives its agent a fresh start: whoever resumed it has had the chance to
        fix what made the agent fail (a key, a network), so old failures stop nothing."""
        self.agent_failures, self.fatal_failure = 0, ""

    def remeasured(self, value: float) -> None:
        """The best state measured again, after its experiment was recorded."""
        self.best_tree.append(value)

    @property
    def best(self) -> float | None:
        return self.best_after[-1] if self.best_after else None

    def best_before(self, window: int) -> float | None:
        """The best score before the last ``window`` experiments; the baseline's if that reaches
        back to it."""
        cut = len(self.best_after) - window
        before = self.best_after[cut - 1] if cut > 0 else None
        return self.first_best if before is None else before

    def _tree_done(self, values: list[float]) -> None:
        if len(values) > 1:
            self.others += spread([values])
