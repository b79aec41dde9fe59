"""Keep or revert, and when to stop.

A policy sees the candidate's score and the incumbent's and answers keep or not, with a reason.
Stop rules look only at the ledger's history and the clock, so a resumed run stops where an
uninterrupted one would have.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from overnight import statistics
from overnight.config import BudgetConfig, PolicyConfig, StopConfig
from overnight.records import Experiment, Score, Status


@dataclass(frozen=True)
class Decision:
    keep: bool
    reason: str
    more: bool = False  # undecided yet: measure the candidate once more, then ask again


def improvement(value: float, best: float, direction: str) -> float:
    """How much better ``value`` is than ``best``: positive is better, whatever the direction."""
    return best - value if direction == "minimize" else value - best


MEASURE_AGAIN = Decision(False, "undecided: measure again", more=True)


class Policy(ABC):
    """Keep or revert. ``weigh`` sees every measurement so far of the candidate and of the
    incumbent (the best tree) and may ask for another before it answers."""

    repeats: int = 1  # the most measurements one candidate may take
    window: int = 1  # how many of the incumbent's latest measurements count

    @abstractmethod
    def decide(self, candidate: Score, best: float, direction: str) -> Decision: ...

    def weigh(
        self, candidate: Sequence[float], incumbent: Sequence[float], direction: str
    ) -> Decision:
        """Measure ``repeats`` times, then compare the means."""
        if len(candidate) < self.repeats:
            return MEASURE_AGAIN
        return self.decide(Score(statistics.mean(candidate)), statistics.mean(incumbent), direction)

    def remeasure_incumbent(self, measured: int, kept: bool) -> bool:
        """Whether to measure the incumbent again once the tree is back at it: only a policy
        that compares samples needs fresh ones."""
        return False


class GreedyPolicy(Policy):
    """Keep whenever the measurement (the mean of ``repeats``) beats the best by more than
    ``min_delta``."""

    def __init__(self, min_delta: float = 0.0, repeats: int = 1) -> None:
        self.min_delta = min_delta
        self.repeats = repeats
        self.window = repeats

    def decide(self, candidate: Score, best: float, direction: str) -> Decision:
        assert candidate.value is not None
        gain = improvement(candidate.value, best, direction)
        if gain > self.min_delta:
            return Decision(True, f"better by {gain:.6g}")
        if gain > 0:
            return Decision(
                False, f"better by {gain:.6g}, not more than min_delta {self.min_delta:g}"
            )
        return Decision(False, "not better" if gain == 0 else f"worse by {-gain:.6g}")


class NoiseAwarePolicy(Policy):
    """Keep only a gain larger than ``min_delta`` that noise is unlikely to explain, spending
    measurements where the answer is unclear (sequential testing):

    1. one measurement first; unless it beats the incumbent's mean by ``min_delta`` plus
       ``screen`` of the incumbent's standard deviations, discard at once, so most candidates
       (worse, or equal) cost what they cost the greedy policy;
    2. otherwise measure again, and after each measurement run Student's one-sided t-test on
       the candidate's measurements against the incumbent's latest ``window``: keep when p is below
       ``alpha`` shared among the looks (a Bonferroni split, so looking often does not raise the
       false-keep rate), discard when the candidate's mean no longer beats ``min_delta`` or when
       ``repeats`` measurements were spent.

    The incumbent is measured again after every discard that needed more than one measurement,
    so its sample follows a machine that drifts, and a candidate is compared with what the
    incumbent measures now, not what it measured hours ago.
    """

    def __init__(
        self,
        min_delta: float = 0.0,
        repeats: int = 5,
        alpha: float = 0.05,
        screen: float = 0.5,
        window: int | None = None,
    ) -> None:
        if repeats < 2:
            raise ValueError("the noise-aware policy needs repeats of at least 2")
        self.min_delta = min_delta
        self.repeats = repeats
        self.alpha = alpha
        self.screen = screen
        self.window = window or 2 * repeats

    def decide(self, candidate: Score, best: float, direction: str) -> Decision:
        """One value against one value tells nothing about noise: this is the greedy answer,
        for callers that have only the best's mean."""
        return GreedyPolicy(self.min_delta).decide(candidate, best, direction)

    def weigh(
        self, candidate: Sequence[float], incumbent: Sequence[float], direction: str
    ) -> Decision:
        sign = -1.0 if direction == "minimize" else 1.0
        ours = [sign * v for v in candidate]
        theirs = [sign * v for v in incumbent[-self.window :]]
        gain = statistics.mean(ours) - statistics.mean(theirs)
        n = len(ours)
        if n == 1:
            bar = self.min_delta + self.screen * math.sqrt(statistics.variance(theirs))
            if gain > bar:
                return MEASURE_AGAIN
            return Decision(False, f"{_gain_words(gain)} in one measurement; not promising")
        if gain <= self.min_delta:
            return Decision(
                False, f"{_gain_words(gain)} on average of {n}; not more than min_delta"
            )
        test = statistics.student(ours, theirs, shift=self.min_delta)
        level = self.alpha / (self.repeats - 1)
        if test.p < level:
            return Decision(
                True, f"better by {gain:.6g} on average of {n} (p = {test.p:.2g} < {level:.2g})"
            )
        if n >= self.repeats:
            return Decision(
                False,
                f"better by {gain:.6g} on average of {n}, but not credibly "
                f"(p = {test.p:.2g}, needs < {level:.2g})",
            )
        return MEASURE_AGAIN

    def remeasure_incumbent(self, measured: int, kept: bool) -> bool:
        return measured > 1 and not kept


def _gain_words(gain: float) -> str:
    if gain > 0:
        return f"better by {gain:.6g}"
    return "no better" if gain == 0 else f"worse by {-gain:.6g}"


POLICIES: dict[str, type[Policy]] = {"greedy": GreedyPolicy, "noise-aware": NoiseAwarePolicy}


def make_policy(config: PolicyConfig, repeats: int = 1) -> Policy:
    """The policy the config names; ``repeats`` is ``evaluate.repeats``."""
    if config.kind == "noise-aware":
        return NoiseAwarePolicy(config.min_delta, repeats, config.alpha)
    return GreedyPolicy(config.min_delta, repeats)


@dataclass(frozen=True)
class StopRules:
    budget: BudgetConfig
    stop: StopConfig
    direction: str

    def reason(self, history: Sequence[Experiment], elapsed_s: float) -> str | None:
        """Why the run should stop now, or None to go on."""
        experiments = [e for e in history if e.status is not Status.BASELINE]
        best = _best(history)
        target = self.stop.target
        if (
            best is not None
            and target is not None
            and improvement(best, target, self.direction) >= 0
        ):
            return f"target reached: {best:.6g} (target {target:g})"
        limit = self.budget.experiments
        if limit is not None and len(experiments) >= limit:
            return f"experiment budget spent: {len(experiments)} of {limit}"
        if self.budget.hours is not None and elapsed_s >= self.budget.hours * 3600:
            return f"time budget spent: {elapsed_s / 3600:.2f} of {self.budget.hours:g} hours"
        spent = sum(e.total_cost_usd for e in history)
        if self.budget.cost_usd is not None and spent >= self.budget.cost_usd:
            return f"cost budget spent: ${spent:.4f} of ${self.budget.cost_usd:g}"
        patience = self.stop.patience
        if patience is not None and _since_last_keep(experiments) >= patience:
            return f"no improvement in the last {patience} experiments (patience)"
        plateau = self.stop.plateau
        if plateau is not None and len(experiments) >= plateau.window:
            gain = recent_gain(history, plateau.window, self.direction)
            if gain is not None and gain < plateau.min_gain:
                return (
                    f"diminishing returns: gained {gain:.4g} in the last {plateau.window} "
                    f"experiments (less than {plateau.min_gain:g})"
                )
        return None


def recent_gain(history: Sequence[Experiment], window: int, direction: str) -> float | None:
    """How much the best improved over the last ``window`` experiments (None before a baseline):
    the rate that shows a plateau coming."""
    if not any(e.status.advances for e in history):
        return None
    cut = max(0, len(history) - window)
    then = _best(history[:cut]) if cut else None
    now = _best(history)
    if now is None:
        return None
    if then is None:  # the window reaches back to the baseline
        then = next(e.metric for e in history if e.status.advances)
    assert then is not None
    return improvement(now, then, direction)


def _best(history: Sequence[Experiment]) -> float | None:
    kept = [e.metric for e in history if e.status.advances and e.metric is not None]
    return kept[-1] if kept else None


def _since_last_keep(experiments: Sequence[Experiment]) -> int:
    count = 0
    for experiment in reversed(experiments):
        if experiment.status is Status.KEEP:
            break
        count += 1
    return count
