"""Keep or revert, and when to stop.

A policy sees the candidate's score and the incumbent's and answers keep or not, with a reason.
Stop rules look only at the ledger's history and the clock, so a resumed run stops where an
uninterrupted one would have.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from overnight.config import BudgetConfig, PolicyConfig, StopConfig
from overnight.records import Experiment, Score, Status


@dataclass(frozen=True)
class Decision:
    keep: bool
    reason: str


def improvement(value: float, best: float, direction: str) -> float:
    """How much better ``value`` is than ``best``: positive is better, whatever the direction."""
    return best - value if direction == "minimize" else value - best


class Policy(ABC):
    @abstractmethod
    def decide(self, candidate: Score, best: float, direction: str) -> Decision: ...


class GreedyPolicy(Policy):
    """Keep whenever the single measurement beats the best by more than ``min_delta``."""

    def __init__(self, min_delta: float = 0.0) -> None:
        self.min_delta = min_delta

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


POLICIES: dict[str, type[Policy]] = {"greedy": GreedyPolicy}


def make_policy(config: PolicyConfig) -> Policy:
    return POLICIES[config.kind](min_delta=config.min_delta)


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
