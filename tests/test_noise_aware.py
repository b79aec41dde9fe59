"""Noise-aware keeps: the policy's sequential decisions, and whole runs against a noisy
evaluator whose true value never changes, where greedy keeps noise and noise-aware does not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import overnight
from conftest import default_config
from overnight.config import Config, PolicyConfig
from overnight.policy import (
    Evidence,
    Flips,
    GreedyPolicy,
    NoiseAwarePolicy,
    flips,
    make_policy,
)
from overnight.records import Check, Status, SuiteResult
from overnight.statistics import Spread

INCUMBENT = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 10.0]  # mean 10, sd about 0.3


def test_a_clearly_worse_candidate_costs_one_measurement() -> None:
    policy = NoiseAwarePolicy(repeats=5)

    decision = policy.weigh([9.0], INCUMBENT, "maximize")

    assert not decision.keep and not decision.more
    assert "worse by 1" in decision.reason


def test_a_promising_candidate_is_measured_again() -> None:
    policy = NoiseAwarePolicy(repeats=5)

    assert policy.weigh([11.0], INCUMBENT, "maximize").more


def test_a_clear_improvement_is_kept_after_a_few_measurements() -> None:
    policy = NoiseAwarePolicy(repeats=5)
    candidate: list[float] = []
    for value in [11.0, 11.2, 10.9, 11.1, 11.0]:
        candidate.append(value)
        decision = policy.weigh(candidate, INCUMBENT, "maximize")
        if not decision.more:
            break
    assert decision.keep
    assert len(candidate) < 5
    assert "p = " in decision.reason


def test_an_unclear_gain_is_discarded_when_the_repeats_are_spent() -> None:
    policy = NoiseAwarePolicy(repeats=3)

    decision = policy.weigh([10.4, 9.9, 10.3], INCUMBENT, "maximize")

    assert not decision.keep and not decision.more
    assert "not credibly" in decision.reason


def test_a_gain_within_min_delta_is_discarded() -> None:
    policy = NoiseAwarePolicy(min_delta=2.0, repeats=5)

    decision = policy.weigh([11.0, 11.1], INCUMBENT, "maximize")

    assert not decision.keep and not decision.more


def test_minimize_reads_lower_as_better() -> None:
    policy = NoiseAwarePolicy(repeats=5)

    assert policy.weigh([9.0], INCUMBENT, "minimize").more
    assert not policy.weigh([11.0], INCUMBENT, "minimize").more


def test_greedy_with_repeats_compares_means() -> None:
    policy = GreedyPolicy(repeats=2)

    assert policy.weigh([11.0], INCUMBENT, "maximize").more
    assert policy.weigh([11.0, 9.5], INCUMBENT[:2], "maximize").keep is False
    assert policy.weigh([11.0, 10.5], INCUMBENT[:2], "maximize").keep


def test_noise_known_from_other_trees_decides_against_a_single_baseline() -> None:
    policy = NoiseAwarePolicy(repeats=5)
    known = Evidence(Spread(sum_squares=20.0, df=20))  # sd 1

    assert policy.weigh([10.2], [10.0], "maximize").more  # nothing known yet: measure again
    assert not policy.weigh([10.2], [10.0], "maximize", known).more  # 0.2 sd: within the noise
    assert policy.weigh([11.5], [10.0], "maximize", known).more


def test_a_fading_candidate_is_dropped_before_the_repeats_are_spent() -> None:
    policy = NoiseAwarePolicy(repeats=8)

    decision = policy.weigh([10.6, 9.6], INCUMBENT, "maximize")

    assert not decision.keep and not decision.more
    assert "not credibly" in decision.reason


def test_fresh_measurements_of_a_new_best_and_of_the_best_after_close_calls() -> None:
    policy = NoiseAwarePolicy(repeats=4)  # window 8

    assert policy.remeasures(measured=2, kept=True, incumbent=8) == 4  # it won by coming out high
    assert policy.remeasures(measured=3, kept=False, incumbent=5) == 1
    assert policy.remeasures(measured=1, kept=False, incumbent=5) == 0  # not a close call
    assert policy.remeasures(measured=3, kept=False, incumbent=8) == 0  # the window is full
    assert GreedyPolicy().remeasures(measured=1, kept=True, incumbent=1) == 0


def suite(passed: dict[tuple[str, str], bool]) -> SuiteResult:
    checks = [Check(case, 0, name, ok, "") for (case, name), ok in passed.items()]
    return SuiteResult([], checks)


def test_flips_pair_the_same_case_and_assertion() -> None:
    incumbent = suite({("a", "x"): False, ("a", "y"): True, ("b", "x"): False})
    candidate = suite({("a", "x"): True, ("a", "y"): False, ("b", "x"): True, ("c", "x"): True})

    assert flips([candidate], [incumbent]) == Flips(better=2, worse=1)  # case c is new: unpaired


def test_flips_compare_pass_rates_over_repeated_measurements() -> None:
    incumbent = [suite({("a", "x"): True}), suite({("a", "x"): False})]  # half the time
    always = [suite({("a", "x"): True})] * 3

    assert flips(always, incumbent) == Flips(better=1, worse=0)
    assert flips(incumbent, incumbent) == Flips()


def test_suites_are_decided_check_by_check() -> None:
    policy = NoiseAwarePolicy(repeats=3, alpha=0.05)
    many = Evidence(flips=Flips(better=6, worse=0))
    few = Evidence(flips=Flips(better=2, worse=0))
    mixed = Evidence(flips=Flips(better=3, worse=3))

    assert policy.weigh([16.0], [10.0], "maximize", many).keep
    assert "6 checks better, 0 worse" in policy.weigh([16.0], [10.0], "maximize", many).reason
    assert policy.weigh([12.0], [10.0], "maximize", few).more  # outputs may vary: look again
    assert not policy.weigh([12.0, 12.0], [10.0, 10.0], "maximize", few).more  # they do not
    assert not policy.weigh([10.5], [10.0], "maximize", mixed).more  # as many worse as better


def test_make_policy_reads_the_config() -> None:
    policy = make_policy(PolicyConfig(kind="noise-aware", alpha=0.01), repeats=4)
    assert isinstance(policy, NoiseAwarePolicy)
    assert (policy.repeats, policy.alpha) == (4, 0.01)


def test_noise_aware_needs_repeats() -> None:
    with pytest.raises(ValueError, match=r"evaluate\.repeats"):
        Config.model_validate(default_config(policy={"kind": "noise-aware"}))


# -- whole runs ---------------------------------------------------------------------------------

# The true value is the first line of value.txt; the noise (sd 1) is fixed by the seed and the
# tree, so a run is reproducible while every new tree gets a fresh draw.
NOISY_SCORE = """\
import os, random
from pathlib import Path
text = Path("value.txt").read_text()
seed = os.environ["OVERNIGHT_SEED"]
noise = random.Random(f"{seed}|{text}").gauss(0, 1)
print(f"seed={seed}")
print(f"score: {float(text.splitlines()[0]) + noise}")
"""

# A change that changes nothing that matters: the same true value, a different comment.
NEUTRAL_AGENT = """\
import os
from pathlib import Path
number = os.environ["OVERNIGHT_EXPERIMENT"]
Path("value.txt").write_text(f"10.0\\n# attempt {number}\\n")
print(f"neutral change {number}")
"""


def seeds_used(root: Path) -> list[str]:
    """The seed of every measurement, from the evaluations' logs (one log per measurement)."""
    logs = sorted((root / ".overnight" / "logs" / "t").glob("*.log"))
    lines = [line for log in logs for line in log.read_text().splitlines()]
    return [line.removeprefix("seed=") for line in lines if line.startswith("seed=")]


def noisy_run(make_repo, name: str, policy: dict, evaluate: dict):
    config = default_config(
        frozen=["score.py", "agent.py"],
        agent={"kind": "command", "command": f"{sys.executable} agent.py"},
        policy=policy,
        budget={"experiments": 12},
    )
    config["evaluate"] = {**config["evaluate"], **evaluate}
    root = make_repo(
        {"score.py": NOISY_SCORE, "agent.py": NEUTRAL_AGENT, "value.txt": "10.0\n"},
        config,
        name=name,
    )
    summary = overnight.run(root, tag="t")
    return summary, seeds_used(root)


def test_greedy_keeps_noise_and_noise_aware_does_not(make_repo) -> None:
    greedy, greedy_seeds = noisy_run(make_repo, "greedy", {"kind": "greedy"}, {})
    aware, aware_seeds = noisy_run(
        make_repo,
        "aware",
        {"kind": "noise-aware"},
        {"repeats": 5, "seeds": "vary"},
    )

    greedy_keeps = [e for e in greedy.experiments if e.status is Status.KEEP]
    aware_keeps = [e for e in aware.experiments if e.status is Status.KEEP]
    assert len(greedy_keeps) >= 2  # a fresh draw beats the best now and then
    assert aware_keeps == []
    assert set(greedy_seeds) == {"0"}  # seeds: fixed
    assert len(set(aware_seeds)) > 1  # seeds: vary
    measured = [e for e in aware.experiments if e.number > 0]
    assert aware.experiments[0].measurements and len(aware.experiments[0].measurements) == 5
    assert all(1 <= len(e.measurements) <= 5 for e in measured)
    assert any(len(e.measurements) == 1 for e in measured)  # early discards
    assert any(len(e.measurements) > 1 for e in measured)  # promising ones measured again
    assert len(aware_seeds) < 2 * (5 + len(greedy_seeds))  # not repeats x the greedy cost
    for e in measured:
        assert e.metric == pytest.approx(sum(e.measurements) / len(e.measurements))


def test_the_seed_reaches_the_command(tmp_path: Path) -> None:
    from overnight.config import EvaluateConfig
    from overnight.evaluators import CommandEvaluator

    evaluator = CommandEvaluator(
        EvaluateConfig(command='echo "score: $OVERNIGHT_SEED"', metric="score")
    )

    assert evaluator.evaluate(tmp_path, tmp_path / "a.log").value == 0
    assert evaluator.evaluate(tmp_path, tmp_path / "b.log", seed=3).value == 3


# Experiment 1 raises the true value by 5 sd; every later change is neutral.
ONE_REAL_GAIN_AGENT = """\
import os
from pathlib import Path
number = int(os.environ["OVERNIGHT_EXPERIMENT"])
value = 15.0 if number >= 1 else 10.0
Path("value.txt").write_text(f"{value}\\n# attempt {number}\\n")
print("raise the value" if number == 1 else f"neutral change {number}")
"""


def test_a_real_gain_is_kept_and_the_new_best_is_measured_afresh(make_repo) -> None:
    config = default_config(
        frozen=["score.py", "agent.py"],
        agent={"kind": "command", "command": f"{sys.executable} agent.py"},
        policy={"kind": "noise-aware"},
        budget={"experiments": 6},
    )
    config["evaluate"] = {**config["evaluate"], "repeats": 4, "seeds": "vary"}
    root = make_repo(
        {"score.py": NOISY_SCORE, "agent.py": ONE_REAL_GAIN_AGENT, "value.txt": "10.0\n"}, config
    )

    summary = overnight.run(root, tag="t")

    first = summary.experiments[1]
    assert first.status is Status.KEEP and "p = " in first.reason
    assert len(first.remeasured) == 4  # the kept tree, measured again: not only its lucky draws
    assert all(11 < v < 19 for v in first.remeasured)
    assert [e.status for e in summary.experiments[2:]] == [Status.DISCARD] * 5
    stored = overnight.history(root)[1][1]
    assert stored.remeasured == first.remeasured
