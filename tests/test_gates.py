"""Correctness gates: a change that wins on the metric is kept only if the project's checks
still pass and its secondary metrics keep their constraints, as a user of a speed metric needs
(the default agent otherwise "wins" by shrinking the workload)."""

from __future__ import annotations

import sys

import pytest
import yaml

import overnight
from conftest import default_config
from overnight.brief import BriefInputs, render_brief
from overnight.config import ConstraintConfig, EvaluateConfig, load_config
from overnight.errors import ConfigError, EvaluationError
from overnight.evaluators.gates import broken_constraints
from overnight.records import Status
from stand_ins.support import run_cli

# a workload made faster either honestly (FAST) or by doing less of it (SIZE)
WORK = "SIZE = 1000\nFAST = 0\n"
SCORE = """\
import work
seconds = work.SIZE / 1000 / (1 + work.FAST)
print(f"seconds: {seconds}")
print(f"peak_mb: {100 + 50 * work.FAST}")
"""
CHECK = """\
import work
assert work.SIZE == 1000, f"the workload shrank to {work.SIZE}"
print("tests pass")
"""
AGENT = """\
import os, re
from pathlib import Path
moves = {1: ("FAST", 1), 2: ("SIZE", 500), 3: ("FAST", 3)}
name, value = moves[int(os.environ["OVERNIGHT_EXPERIMENT"])]
text = Path("work.py").read_text()
Path("work.py").write_text(re.sub(rf"^{name} = .*$", f"{name} = {value}", text, flags=re.M))
print(f"{name} = {value}")
"""


def gated_repo(make_repo, **evaluate: object):
    return make_repo(
        {"work.py": WORK, "score.py": SCORE, "test_work.py": CHECK, "agent.py": AGENT},
        default_config(
            editable=["work.py"],
            frozen=["score.py", "test_work.py", "agent.py"],
            evaluate={
                "command": f"{sys.executable} score.py",
                "metric": "seconds",
                "direction": "minimize",
                "timeout": 30,
                **evaluate,
            },
            agent={"kind": "command", "command": f"{sys.executable} agent.py"},
            budget={"experiments": 3},
        ),
    )


def test_a_faster_change_that_breaks_the_tests_is_not_kept(make_repo) -> None:
    root = gated_repo(make_repo, checks=[f"{sys.executable} test_work.py"])

    summary = overnight.run(root, tag="t")

    statuses = {e.description: e for e in summary.experiments}
    assert statuses["FAST = 1"].status is Status.KEEP
    shrunk = statuses["SIZE = 500"]
    assert shrunk.status is Status.CHECK_FAILED
    assert "check `" in shrunk.reason and "the workload shrank to 500" in shrunk.reason
    assert statuses["FAST = 3"].status is Status.KEEP
    assert summary.best == pytest.approx(0.25)
    log = run_cli("log", str(root))
    assert "check-failed" in log.stdout and "test_work.py` exited with code 1" in log.stdout


def test_a_constraint_relative_to_the_baseline_rejects_a_costly_win(make_repo) -> None:
    root = gated_repo(
        make_repo, constraints={"peak_mb": {"worse_by_at_most": 0.6}}
    )  # FAST = 1 costs 50% more memory (allowed), FAST = 3 costs 150% (not)

    summary = overnight.run(root, tag="t")

    by = {e.description: e for e in summary.experiments}
    assert by["FAST = 1"].status is Status.KEEP
    assert by["SIZE = 500"].status is Status.KEEP  # no check: nothing forbids shrinking
    costly = by["FAST = 3"]
    assert costly.status is Status.CHECK_FAILED
    assert "peak_mb 250 is 150.0% worse than the baseline's 100 (at most 60%)" in costly.reason


def test_a_baseline_that_fails_a_check_stops_the_run_at_once(make_repo) -> None:
    root = gated_repo(make_repo, checks=[f"{sys.executable} -c 'raise SystemExit(4)'"])
    with pytest.raises(EvaluationError, match=r"does not pass its gates.*exited with code 4"):
        overnight.run(root, tag="t")


def test_eval_runs_the_gates(make_repo) -> None:
    root = gated_repo(
        make_repo, checks=[f"{sys.executable} test_work.py"], constraints={"peak_mb": {"max": 90}}
    )
    result = run_cli("eval", str(root))
    assert result.returncode == 1
    assert "constraint: peak_mb 100 is above its max 90" in result.stderr


def test_constraints_say_what_they_break() -> None:
    bounds = {
        "mb": ConstraintConfig(max=100),
        "hits": ConstraintConfig(min=5, worse_by_at_most=0.1, direction="maximize"),
    }
    assert broken_constraints(bounds, {"mb": 80, "hits": 9.5}, {"hits": 10}) == []
    assert broken_constraints(bounds, {"mb": 120, "hits": 4}, {"hits": 10}) == [
        "mb 120 is above its max 100",
        "hits 4 is below its min 5",
        "hits 4 is 60.0% worse than the baseline's 10 (at most 10%)",
    ]
    assert broken_constraints(bounds, {"hits": 9}, None) == [
        "mb was not printed, and a constraint needs it"
    ]


def test_checks_and_constraints_are_validated(tmp_path) -> None:
    config = EvaluateConfig.model_validate(
        {"command": "x", "metric": "s", "checks": ["pytest -q", {"command": "make", "timeout": 5}]}
    )
    assert [(c.command, c.timeout) for c in config.checks] == [("pytest -q", 600), ("make", 5)]
    evaluate = {"command": "x", "metric": "s", "constraints": {"mb": {}}}
    (tmp_path / "overnight.yaml").write_text(
        yaml.safe_dump({"name": "x", "editable": ["a"], "evaluate": evaluate})
    )
    with pytest.raises(ConfigError, match=r"constraints\.mb: needs max, min or worse_by_at_most"):
        load_config(tmp_path / "overnight.yaml")


def test_the_next_brief_shows_the_failing_check(make_repo) -> None:
    root = gated_repo(make_repo, checks=[f"{sys.executable} test_work.py"])
    summary = overnight.run(root, tag="t", experiments=2)
    failed = summary.experiments[-1]
    assert failed.status is Status.CHECK_FAILED
    brief = render_brief(
        BriefInputs(
            config=load_config(root / "overnight.yaml"),
            root=root,
            number=3,
            editable_files=["work.py"],
            history=summary.experiments,
        )
    )
    assert "Experiment 2: check-failed — SIZE = 500" in brief
    assert "the workload shrank to 500" in brief
