"""Trigger accuracy: does the router pick the skill a query is labelled with, and only then?

A router is run several times per query, as models do not answer the same way every time. A
skill's *trigger rate* for a query is the share of runs that chose it, and the query *triggers*
the skill when that rate reaches the threshold (0.5 by default: at least half the runs agree).
The query's *predicted* label is the triggered skill with the highest rate (a tie goes to the
name first in alphabetical order), or None when no skill reaches the threshold.

Triggering is the positive class, counted per query on the predicted label:

- a true positive: the expected skill is the predicted one;
- a false positive: a predicted skill that is not the expected one, on queries that should
  trigger nothing as much as on those that expect another skill;
- a false negative: an expected skill that is not predicted.

A query expecting skill A that predicts B is one false positive (of B) and one false negative
(of A). Overall counts are the sums of the per-skill counts (micro-averaging).

A ratio with nothing to divide by is 0.0, never an error: precision when nothing was predicted
(``Scores.predictions == 0``), recall when nothing was expected (``Scores.positives == 0``), F1
when precision and recall are both 0. The counts are there to tell an undefined 0.0 from a
measured one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from overnight.errors import EvaluationError

DEFAULT_THRESHOLD = 0.5
IMPLAUSIBLY_LOW = 0.2  # a baseline recall or trigger rate below this is worth a warning


@dataclass(frozen=True)
class QueryResult:
    """What the router chose for one query, once per run (None: no skill)."""

    query: str
    expected: str | None
    choices: tuple[str | None, ...]

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError(f"no run of the router for the query {self.query!r}")

    def rates(self) -> dict[str, float]:
        """Each chosen skill's share of the runs, by name; skills never chosen are absent."""
        counts = Counter(choice for choice in self.choices if choice is not None)
        return {name: counts[name] / len(self.choices) for name in sorted(counts)}

    def predicted(self, threshold: float = DEFAULT_THRESHOLD) -> str | None:
        rates = self.rates()
        best = max(rates, key=rates.__getitem__, default=None)  # the first of equals: by name
        return best if best is not None and rates[best] >= threshold else None


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of triggering, from the counts they are made of."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def positives(self) -> int:
        """Queries that expect the skill (or any skill, overall); 0 leaves recall undefined."""
        return self.true_positives + self.false_negatives

    @property
    def predictions(self) -> int:
        """Queries predicted to trigger the skill (or any); 0 leaves precision undefined."""
        return self.true_positives + self.false_positives

    @property
    def precision(self) -> float:
        return _ratio(self.true_positives, self.predictions)

    @property
    def recall(self) -> float:
        return _ratio(self.true_positives, self.positives)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.precision * self.recall, self.precision + self.recall)


@dataclass(frozen=True)
class QueryOutcome:
    """One query, measured: what was expected, what triggered, and every skill's rate."""

    query: str
    expected: str | None
    predicted: str | None
    rates: Mapping[str, float]


@dataclass(frozen=True)
class ActivationMetrics:
    threshold: float
    outcomes: tuple[QueryOutcome, ...]  # in the order of the results
    overall: Scores
    per_skill: Mapping[str, Scores]  # every skill expected or predicted somewhere, by name
    # expected label -> predicted label -> queries, over ``labels`` (zeros included)
    confusion: Mapping[str | None, Mapping[str | None, int]]

    @classmethod
    def from_results(
        cls, results: Iterable[QueryResult], threshold: float = DEFAULT_THRESHOLD
    ) -> ActivationMetrics:
        outcomes = tuple(
            QueryOutcome(result.query, result.expected, result.predicted(threshold), result.rates())
            for result in results
        )
        if not outcomes:
            raise EvaluationError("no query results to measure trigger accuracy on")
        mentioned = {
            label for outcome in outcomes for label in (outcome.expected, outcome.predicted)
        }
        skills = sorted(label for label in mentioned if label is not None)
        per_skill = {skill: _scores(outcomes, skill) for skill in skills}
        labels: list[str | None] = [*skills, None]
        confusion = {expected: dict.fromkeys(labels, 0) for expected in labels}
        for outcome in outcomes:
            confusion[outcome.expected][outcome.predicted] += 1
        overall = Scores(
            sum(scores.true_positives for scores in per_skill.values()),
            sum(scores.false_positives for scores in per_skill.values()),
            sum(scores.false_negatives for scores in per_skill.values()),
        )
        return cls(threshold, outcomes, overall, per_skill, confusion)

    @property
    def labels(self) -> tuple[str | None, ...]:
        """The confusion matrix's rows and columns: skills by name, then None (no skill)."""
        return tuple(self.confusion)

    @property
    def accuracy(self) -> float:
        """The share of queries whose predicted label is the expected one, None included."""
        correct = sum(outcome.predicted == outcome.expected for outcome in self.outcomes)
        return correct / len(self.outcomes)

    @property
    def precision(self) -> float:
        return self.overall.precision

    @property
    def recall(self) -> float:
        return self.overall.recall

    @property
    def f1(self) -> float:
        return self.overall.f1


def sanity_problem(results: Sequence[QueryResult]) -> str | None:
    """Why the measurement cannot be trusted, in one line, or None when it can.

    A router that never chooses a skill, though some queries expect one, or that chooses one in
    every run, though some queries expect none, is most likely broken (its answers are not read,
    or it is not allowed to answer "none") rather than bad: its scores would be a silent 0%
    recall or 0% specificity. This looks at the runs themselves, not at the thresholded labels,
    so a router that answers both ways now and then is never flagged.
    """
    runs = sum(len(result.choices) for result in results)
    chosen = sum(choice is not None for result in results for choice in result.choices)
    positives = sum(result.expected is not None for result in results)
    negatives = len(results) - positives
    if chosen == 0 and positives:
        return (
            f"the router chose no skill in any of {runs} runs over {len(results)} queries, though"
            f" {positives} expect one: are its answers read correctly?"
        )
    if chosen == runs and negatives:
        return (
            f"the router chose a skill in every one of {runs} runs, even for the {negatives}"
            " queries that expect none: can it answer that no skill fits?"
        )
    return None


def low_trigger_warning(
    results: Sequence[QueryResult], threshold: float = DEFAULT_THRESHOLD
) -> str | None:
    """Why a baseline that triggers too seldom to be plausible deserves a look, in one line, or
    None. Unlike ``sanity_problem`` this only warns: a bad router and bad descriptions look the
    same, and bad descriptions are what a run is for. Below ``IMPLAUSIBLY_LOW`` of the queries
    that expect a skill, either few runs trigger any skill (the threshold, the descriptions or
    the detection) or the ones that do name the wrong skill (the names the router reports)."""
    expecting = [result for result in results if result.expected is not None]
    if not expecting:
        return None
    runs = sum(len(result.choices) for result in expecting)
    rate = sum(c is not None for result in expecting for c in result.choices) / runs
    recall = ActivationMetrics.from_results(results, threshold).recall
    if recall >= IMPLAUSIBLY_LOW and rate >= IMPLAUSIBLY_LOW:
        return None
    if rate < IMPLAUSIBLY_LOW:
        causes = (
            "a threshold too high for the router's scores, descriptions too short to match the"
            " queries, or a router whose triggers are not detected (see each query's detail in"
            " the log)"
        )
    else:
        causes = (
            "skill names the router reports that differ from the skills' names, or descriptions"
            " so alike that the wrong skill wins"
        )
    return (
        f"only {rate:.0%} of the runs on the {len(expecting)} queries that expect a skill"
        f" triggered one, and recall is {recall:.0%} (below {IMPLAUSIBLY_LOW:.0%} is"
        f" implausibly low): likely {causes}"
    )


def _scores(outcomes: Iterable[QueryOutcome], skill: str) -> Scores:
    counts = Counter(
        (outcome.expected == skill, outcome.predicted == skill) for outcome in outcomes
    )
    return Scores(counts[True, True], counts[False, True], counts[True, False])


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
