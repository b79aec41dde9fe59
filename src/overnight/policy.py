"""Keep or revert, and when to stop.

A policy sees the candidate's score and the incumbent's and answers keep or not, with a reason.
Stop rules look only at the ledger's history and the clock, so a resumed run stops where an
uninterrupted one would have.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from overnight import statistics
from overnight.records import Experiment, Score, SuiteResult
from overnight.tally import Tally

if TYPE_CHECKING:
    from overnight.config import BudgetConfig, PolicyConfig, StopConfig


@dataclass(frozen=True)
class Decision:
    keep: bool
    reason: str
    more: bool = False  # undecided yet: measure the candidate once more, then ask again


def improvement(value: float, best: float, direction: str) -> float:
    """How much better ``value`` is than ``best``: positive is better, whatever the direction."""
    return best - value if direction == "minimize" else value - best


MEASURE_AGAIN = Decision(False, "undecided: measure again", more=True)


@dataclass(frozen=True)
class Flips:
    """Suites: of the checks (case and assertion) whose pass rate differs between candidate and
    incumbent, how many the candidate passes more often, and how many less often."""

    better: int = 0
    worse: int = 0


def flips(candidate: Sequence[SuiteResult], incumbent: Sequence[SuiteResult]) -> Flips:
    """Pair every check of the candidate's matrices with the same check of the incumbent's:
    the same cases and assertions, so a case that is simply easier cannot weigh in."""
    ours, theirs = pass_rates(candidate), pass_rates(incumbent)
    pairs = [(ours[key], theirs[key]) for key in ours.keys() & theirs.keys()]
    return Flips(sum(a > b for a, b in pairs), sum(a < b for a, b in pairs))


def pass_rates(suites: Sequence[SuiteResult]) -> dict[tuple[str, str], float]:
    """How often each check (case, assertion) passed over the matrices given."""
    counts: dict[tuple[str, str], list[int]] = {}
    for suite in suites:
        for check in suite.checks:
            tally = counts.setdefault((check.case_id, check.assertion), [0, 0])
            tally[0] += check.passed
            tally[1] += 1
    return {key: passed / total for key, (passed, total) in counts.items()}


@dataclass(frozen=True)
class Evidence:
    """What the run knows besides the two samples: the evaluation's noise measured on other trees,
    and for suites, the check-by-check comparison."""

    elsewhere: statistics.Spread = field(default_factory=statistics.Spread)
    flips: Flips | None = None


class Policy(ABC):
    """Keep or revert. ``weigh`` sees every measurement so far of the candidate and of the
    incumbent (the best tree) and may ask for another before it answers."""

    repeats: int = 1  # the most measurements one candidate may take
    window: int = 1  # how many of the incumbent's latest measurements count

    @abstractmethod
    def decide(self, candidate: Score, best: float, direction: str) -> Decision: ...

    def weigh(
        self,
        candidate: Sequence[float],
        incumbent: Sequence[float],
        direction: str,
        evidence: Evidence = Evidence(),
    ) -> Decision:
        """Measure ``repeats`` times, then compare the means."""
        if len(candidate) < self.repeats:
            return MEASURE_AGAIN
        return self.decide(Score(statistics.mean(candidate)), statistics.mean(incumbent), direction)

    def remeasures(self, measured: int, kept: bool, incumbent: int) -> int:
        """How often to measure the best tree once the experiment is settled, given how often the
        candidate was measured and how many measurements the incumbent has: only a policy that
        compares samples needs fresh ones."""
        return 0


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
    measurements where the answer is unclear (sequential testing).

    Metrics: after each measurement, Student's t-test compares the candidate's measurements with
    the incumbent's latest ``window``, with the noise pooled over every tree the run measured
    more than once. After the first, a candidate goes on only when its t exceeds ``screen``, so
    most candidates (worse, or equal) cost what they cost the greedy policy. Then it is kept as
    soon as p < ``alpha``, and discarded when t falls below ``futility`` or when ``repeats``
    measurements were spent.

    Suites: the exact sign test over the checks whose pass rate changed (the same cases and
    assertions on both sides), with the same sequence of looks.

    The incumbent's sample is refreshed as the run goes: a kept candidate won because its
    measurements came out high, so the new best is measured ``repeats`` times afresh; and after a
    close call the best is measured once more, while it has fewer than ``window`` measurements,
    so a machine that drifts does not pass for progress.
    """

    def __init__(
        self,
        min_delta: float = 0.0,
        repeats: int = 8,
        alpha: float = 0.005,
        screen: float = 0.5,
        futility: float = 0.5,
        window: int | None = None,
    ) -> None:
        if repeats < 2:
            raise ValueError("the noise-aware policy needs repeats of at least 2")
        self.min_delta = min_delta
        self.repeats = repeats
        self.alpha = alpha
        self.screen = screen
        self.futility = futility
        self.window = window or 2 * repeats

    def decide(self, candidate: Score, best: float, direction: str) -> Decision:
        """One value against one value tells nothing about noise: this is the greedy answer,
        for callers that have only the best's mean."""
        return GreedyPolicy(self.min_delta).decide(candidate, best, direction)

    def weigh(
        self,
        candidate: Sequence[float],
        incumbent: Sequence[float],
        direction: str,
        evidence: Evidence = Evidence(),
    ) -> Decision:
        sign = -1.0 if direction == "minimize" else 1.0
        ours = [sign * v for v in candidate]
        theirs = [sign * v for v in incumbent[-self.window :]]
        gain = statistics.mean(ours) - statistics.mean(theirs)
        n = len(ours)
        if gain <= self.min_delta:
            shortfall = "" if gain <= 0 else "; not more than min_delta"
            return Decision(False, f"{_gain_words(gain)}{_over(n)}{shortfall}")
        if evidence.flips is not None:
            return self._sign_test(gain, n, evidence.flips, settled=_settled(ours, theirs))
        pooled = statistics.spread([ours, theirs]) + evidence.elsewhere
        if pooled.df < 1:  # nothing known yet about the noise: learn it
            return MEASURE_AGAIN
        test = statistics.student(ours, theirs, self.min_delta, evidence.elsewhere)
        if n == 1:
            if test.t > self.screen:
                return MEASURE_AGAIN
            return Decision(False, f"better by {gain:.6g} in one measurement; within the noise")
        if test.p < self.alpha:
            return Decision(True, f"better by {gain:.6g}{_over(n)} (p = {test.p:.2g})")
        if test.t < self.futility or n >= self.repeats:
            return Decision(
                False,
                f"better by {gain:.6g}{_over(n)}, but not credibly "
                f"(p = {test.p:.2g}, needs < {self.alpha:g})",
            )
        return MEASURE_AGAIN

    def _sign_test(self, gain: float, n: int, changed: Flips, settled: bool) -> Decision:
        """Could a fair coin have made as many of the changed checks better? Measuring again
        helps only while outputs vary."""
        p = statistics.sign_test(changed.better, changed.worse)
        counts = f"{changed.better} checks better, {changed.worse} worse"
        if p < self.alpha:
            return Decision(True, f"better by {gain:.6g}{_over(n)}: {counts} (p = {p:.2g})")
        if settled or n >= self.repeats or changed.better <= changed.worse:
            return Decision(
                False,
                f"better by {gain:.6g}{_over(n)}, but not credibly: {counts} "
                f"(p = {p:.2g}, needs < {self.alpha:g})",
            )
        return MEASURE_AGAIN

    def remeasures(self, measured: int, kept: bool, incumbent: int) -> int:
        if kept:
            return self.repeats
        return int(measured > 1 and incumbent < self.window)


def _settled(ours: Sequence[float], theirs: Sequence[float]) -> bool:
    """Both sides measured twice or more, always the same: a deterministic evaluation."""
    return len(ours) > 1 and len(set(ours)) == 1 and len(set(theirs)) == 1


def _over(n: int) -> str:
    return " in one measurement" if n == 1 else f" on average of {n}"


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

    def reason(self, tally: Tally, elapsed_s: float) -> str | None:
        """Why the run should stop now, or None to go on."""
        best, target = tally.best, self.stop.target
        if (
            best is not None
            and target is not None
            and improvement(best, target, self.direction) >= 0
        ):
            return f"target reached: {best:.6g} (target {target:g})"
        limit = self.budget.experiments
        if limit is not None and tally.proposed >= limit:
            return f"experiment budget spent: {tally.proposed} of {limit}"
        if self.budget.hours is not None and elapsed_s >= self.budget.hours * 3600:
            return f"time budget spent: {elapsed_s / 3600:.2f} of {self.budget.hours:g} hours"
        if self.budget.cost_usd is not None and tally.spent_usd >= self.budget.cost_usd:
            return f"cost budget spent: ${tally.spent_usd:.4f} of ${self.budget.cost_usd:g}"
        if tally.fatal_failure:
            return f"the agent cannot work: {' '.join(tally.fatal_failure.split())[:300]}"
        failures = self.stop.agent_failures
        if failures is not None and tally.agent_failures >= failures:
            last = " ".join(tally.last_agent_failure.split())[:200]
            return f"the agent failed {tally.agent_failures} times in a row; the last: {last}"
        patience = self.stop.patience
        if patience is not None and tally.since_keep >= patience:
            return f"no improvement in the last {patience} experiments (patience)"
        plateau = self.stop.plateau
        if plateau is not None and tally.experiments >= plateau.window:
            then = tally.best_before(plateau.window)
            if best is not None and then is not None:
                gain = improvement(best, then, self.direction)
                if gain < plateau.min_gain:
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
