"""Held-out cases: measured on every keep, never shown to an agent.

An agent that sees five cases can learn those five. Cases it never sees tell whether a change
is general: a change that raises the visible score while the held-out score falls has overfit.

Choosing the best of many states by their held-out score is itself optimistic: among enough
states, one scores high on these particular cases by luck. So the last kept state (the one the
visible cases chose) stays the best unless an earlier one leads it on the held-out cases by more
than the noise: when they are scored in folds, by more than the standard error of the two states'
per-fold differences (a paired comparison, the same folds for both).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from overnight import statistics
from overnight.activation.split import split
from overnight.records import Experiment

if TYPE_CHECKING:  # the config validates a split with these functions
    from overnight.config import CaseConfig, SuiteEvaluateConfig


def held_out_ids(config: SuiteEvaluateConfig) -> set[str]:
    """The cases marked ``holdout: true``, plus ``holdout`` (a share) of the others, drawn per
    stratum (the value of the ``holdout_by`` var, or else the case's own assertions) so that
    every kind of case is represented on both sides. The same seed draws the same cases."""
    marked = {case.id for case in config.cases if case.holdout}
    if config.holdout is None:
        return marked
    rest = [_Stratified(case, config.holdout_by) for case in config.cases if not case.holdout]
    _, held = split(rest, config.holdout, config.holdout_seed)
    return marked | {case.query for case in held}


class _Stratified:
    """A case as the stratified split sees it: an id, and the stratum it belongs to."""

    def __init__(self, case: CaseConfig, by: str | None) -> None:
        self.query = case.id
        self.expected = repr(case.vars.get(by)) if by is not None else repr(case.assertions)


def split_cases(
    config: SuiteEvaluateConfig,
) -> tuple[Sequence[CaseConfig], Sequence[CaseConfig]]:
    """(visible, held out), each in the suite's order."""
    held = held_out_ids(config)
    return (
        [case for case in config.cases if case.id not in held],
        [case for case in config.cases if case.id in held],
    )


def final_best(history: Sequence[Experiment]) -> Experiment | None:
    """The run's best state: the last baseline or keep (the tip), unless an earlier state leads
    it on the held-out cases by more than the noise (see the module's docstring), which can
    happen when overfit keeps are warned about rather than rejected, or when a keep loses none
    of the held-out checks but scores lower on them. When a run stops, its branch is put there.
    """
    states = [e for e in history if e.status.advances]
    judged = [e for e in states if held_out_score(e) is not None]
    if not judged:
        return states[-1] if states else None
    return preferred(max(reversed(judged), key=lambda e: held_out_score(e) or 0.0), states[-1])


def preferred(judged: Experiment | None, tip: Experiment | None) -> Experiment | None:
    """The best state, of the tip and ``judged`` (the state with the highest held-out score,
    the later on a tie): the tip, unless ``judged`` clearly leads it."""
    if judged is None or tip is None:
        return tip
    tip_score, judged_score = held_out_score(tip), held_out_score(judged)
    if tip_score is None or judged_score is None:
        return tip
    return judged if judged_score - tip_score > held_out_noise(judged, tip) else tip


def held_out_noise(a: Experiment, b: Experiment) -> float:
    """The standard error of the mean per-fold difference between two states' held-out
    scores; 0 unless both were scored on the same several folds."""
    if len(a.held_out_splits) < 2 or len(a.held_out_splits) != len(b.held_out_splits):
        return 0.0
    differences = [x - y for x, y in zip(a.held_out_splits, b.held_out_splits, strict=True)]
    return math.sqrt(statistics.variance(differences) / len(differences))


def bests_before(history: Sequence[Experiment]) -> list[Experiment | None]:
    """For each experiment of ``history`` (in order), ``final_best`` of those before it, found
    in one pass: the last state, or the best judged one by the same rule and tie-break."""
    bests: list[Experiment | None] = []
    last: Experiment | None = None
    judged: Experiment | None = None  # the best held-out state so far, the later on a tie
    for experiment in history:
        bests.append(preferred(judged, last))
        if experiment.status.advances:
            last = experiment
            score = held_out_score(experiment)
            if score is not None and (judged is None or score >= (held_out_score(judged) or 0.0)):
                judged = experiment
    return bests


def held_out_score(experiment: Experiment) -> float | None:
    """The held-out cases' score (the evaluation's own metric), or their pass count."""
    if experiment.held_out_value is not None:
        return experiment.held_out_value
    return float(experiment.held_out.passed) if experiment.held_out is not None else None


def held_out_text(experiment: Experiment) -> str:
    """How the held-out score reads: passed/total for a suite, the metric otherwise, and scored
    in folds, their mean and standard deviation ("0.7123 ± 0.051 over 3 folds")."""
    suite = experiment.held_out
    if suite is not None and experiment.held_out_value == suite.passed:
        return f"{suite.passed}/{suite.total}"
    value = held_out_score(experiment)
    if value is None:
        return "-"
    splits = experiment.held_out_splits
    if len(splits) < 2:
        return f"{value:.4g}"
    sd = math.sqrt(statistics.variance(splits))
    return f"{value:.4g} ± {sd:.2g} over {len(splits)} folds"
