"""Keep or revert, and when to stop."""

import pytest

from overnight.config import BudgetConfig, PlateauConfig, PolicyConfig, StopConfig
from overnight.policy import GreedyPolicy, StopRules, improvement, make_policy, recent_gain
from overnight.records import Experiment, Score, Status
from overnight.tally import Tally


def score(value):
    return Score(value)


@pytest.mark.parametrize(
    ("value", "best", "direction", "gain"),
    [
        (0.8, 1.0, "minimize", 0.2),
        (1.2, 1.0, "minimize", -0.2),
        (1.2, 1.0, "maximize", 0.2),
        (0.8, 1.0, "maximize", -0.2),
        (1.0, 1.0, "maximize", 0.0),
    ],
)
def test_improvement_is_positive_when_better(value, best, direction, gain):
    assert improvement(value, best, direction) == pytest.approx(gain)


def test_greedy_minimize_keeps_a_lower_value():
    policy = GreedyPolicy()

    kept = policy.decide(score(0.9), best=1.0, direction="minimize")
    worse = policy.decide(score(1.1), best=1.0, direction="minimize")
    equal = policy.decide(score(1.0), best=1.0, direction="minimize")

    assert kept.keep and "better by 0.1" in kept.reason
    assert not worse.keep and "worse by 0.1" in worse.reason
    assert not equal.keep and equal.reason == "not better"


def test_greedy_maximize_keeps_a_higher_value():
    policy = GreedyPolicy()

    assert policy.decide(score(0.9), best=0.8, direction="maximize").keep
    assert not policy.decide(score(0.7), best=0.8, direction="maximize").keep
    assert not policy.decide(score(0.8), best=0.8, direction="maximize").keep


def test_greedy_handles_negative_metrics():
    policy = GreedyPolicy()

    assert policy.decide(score(-5.0), best=-4.0, direction="minimize").keep
    assert policy.decide(score(-3.0), best=-4.0, direction="maximize").keep


def test_min_delta_must_be_exceeded():
    policy = GreedyPolicy(min_delta=0.5)

    small = policy.decide(score(1.25), best=1.0, direction="maximize")
    equal = policy.decide(score(1.5), best=1.0, direction="maximize")
    enough = policy.decide(score(1.75), best=1.0, direction="maximize")

    assert not small.keep and "not more than min_delta 0.5" in small.reason
    assert not equal.keep
    assert enough.keep


def test_min_delta_for_minimize():
    policy = GreedyPolicy(min_delta=0.25)

    assert not policy.decide(score(0.75), best=1.0, direction="minimize").keep
    assert policy.decide(score(0.5), best=1.0, direction="minimize").keep


def test_make_policy_from_config():
    policy = make_policy(PolicyConfig(kind="greedy", min_delta=0.125))

    assert isinstance(policy, GreedyPolicy)
    assert policy.min_delta == 0.125


def tally(*entries: tuple[Status, float | None]) -> Tally:
    return Tally.of(history(*entries))


def history(*entries):
    """Experiments from ``(status, metric)`` pairs, numbered from 0."""
    return [
        Experiment(run_id=1, number=i, parent_commit="p", status=status, metric=metric)
        for i, (status, metric) in enumerate(entries)
    ]


def rules(direction="minimize", experiments=None, hours=None, target=None, patience=None):
    return StopRules(
        BudgetConfig(experiments=experiments, hours=hours),
        StopConfig(target=target, patience=patience),
        direction,
    )


BASELINE = (Status.BASELINE, 1.0)


def test_no_rule_no_stop():
    assert rules().reason(tally(BASELINE, (Status.DISCARD, 2.0)), elapsed_s=10**6) is None


def test_experiment_budget_does_not_count_the_baseline():
    stop = rules(experiments=2)

    assert stop.reason(tally(BASELINE), 0) is None
    assert stop.reason(tally(BASELINE, (Status.DISCARD, 2.0)), 0) is None
    reason = stop.reason(tally(BASELINE, (Status.DISCARD, 2.0), (Status.CRASH, None)), 0)
    assert reason == "experiment budget spent: 2 of 2"


def test_zero_experiment_budget_stops_after_the_baseline():
    assert rules(experiments=0).reason(tally(BASELINE), 0) == "experiment budget spent: 0 of 0"


def test_hours_budget():
    stop = rules(hours=0.5)

    assert stop.reason(tally(BASELINE), elapsed_s=1799) is None
    assert stop.reason(tally(BASELINE), elapsed_s=1800).startswith("time budget spent: 0.50 of 0.5")


def test_target_when_minimizing():
    stop = rules(direction="minimize", target=0.5)

    assert stop.reason(tally(BASELINE, (Status.KEEP, 0.6)), 0) is None
    assert stop.reason(tally(BASELINE, (Status.KEEP, 0.5)), 0) == "target reached: 0.5 (target 0.5)"
    assert stop.reason(tally(BASELINE, (Status.KEEP, 0.4)), 0).startswith("target reached")


def test_target_when_maximizing():
    stop = rules(direction="maximize", target=0.9)

    assert stop.reason(tally((Status.BASELINE, 0.5), (Status.KEEP, 0.8)), 0) is None
    assert stop.reason(tally((Status.BASELINE, 0.5), (Status.KEEP, 0.95)), 0).startswith(
        "target reached: 0.95"
    )


def test_target_ignores_discarded_values():
    stop = rules(direction="maximize", target=0.9)

    assert stop.reason(tally((Status.BASELINE, 0.5), (Status.DISCARD, 0.99)), 0) is None


def test_baseline_already_at_target_stops():
    stop = rules(direction="minimize", target=2.0)

    assert stop.reason(tally(BASELINE), 0).startswith("target reached")


def test_patience_counts_since_the_last_keep():
    stop = rules(patience=3)
    two_misses = [
        BASELINE,
        (Status.DISCARD, 2.0),
        (Status.KEEP, 0.9),
        (Status.DISCARD, 1.0),
        (Status.CRASH, None),
    ]

    assert stop.reason(tally(*two_misses), 0) is None
    reason = stop.reason(tally(*two_misses, (Status.TIMEOUT, None)), 0)
    assert reason == "no improvement in the last 3 experiments (patience)"


def test_patience_does_not_count_the_baseline():
    stop = rules(patience=2)

    assert stop.reason(tally(BASELINE, (Status.DISCARD, 2.0)), 0) is None
    assert stop.reason(tally(BASELINE, (Status.DISCARD, 2.0), (Status.VIOLATION, None)), 0)


def test_a_keep_resets_patience():
    stop = rules(patience=2)
    entries = [BASELINE, (Status.DISCARD, 2.0), (Status.DISCARD, 2.0), (Status.KEEP, 0.5)]

    assert stop.reason(tally(*entries), 0) is None


def _plateau_history(values):
    history = [Experiment(1, 0, "p", Status.BASELINE, metric=values[0])]
    best = values[0]
    for n, value in enumerate(values[1:], start=1):
        status = Status.KEEP if value < best else Status.DISCARD
        best = min(best, value)
        history.append(Experiment(1, n, "p", status, metric=value))
    return history


def test_recent_gain_measures_the_best_over_a_window():
    history = _plateau_history([1.0, 0.8, 0.9, 0.7, 0.69, 0.7, 0.7])

    assert recent_gain(history, 3, "minimize") == pytest.approx(0.01)  # 0.70 -> 0.69
    assert recent_gain(history, 6, "minimize") == pytest.approx(0.31)  # the whole run
    assert recent_gain(history[:1], 3, "minimize") == 0.0


def test_plateau_stops_when_the_window_gained_too_little():
    rules = StopRules(
        BudgetConfig(experiments=None),
        StopConfig(plateau=PlateauConfig(window=3, min_gain=0.05)),
        "minimize",
    )
    climbing = _plateau_history([1.0, 0.8, 0.7, 0.6])
    flat = _plateau_history([1.0, 0.8, 0.7, 0.6, 0.59, 0.6, 0.6])

    assert rules.reason(Tally.of(climbing), 0) is None
    assert rules.reason(Tally.of(flat), 0) == (
        "diminishing returns: gained 0.01 in the last 3 experiments (less than 0.05)"
    )
