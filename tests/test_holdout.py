"""Held-out cases: the split, the wall between them and the agent, and the overfit marking."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from overnight.config import CONFIG_NAME, SuiteEvaluateConfig, load_config
from overnight.errors import ConfigError
from overnight.holdout import bests_before, final_best, held_out_ids, split_cases
from overnight.ledger import Ledger
from overnight.records import Check, Experiment, Status, SuiteResult

# -- the split ----------------------------------------------------------------------------------


def suite_config(cases: list[dict], **extra) -> SuiteEvaluateConfig:
    return SuiteEvaluateConfig.model_validate(
        {
            "kind": "suite",
            "generate": {"kind": "command", "command": "echo hi"},
            "cases": cases,
            "assert": ["contains-statistic"],
            **extra,
        }
    )


def test_cases_marked_holdout_are_held_out() -> None:
    config = suite_config([{"id": "a"}, {"id": "b", "holdout": True}, {"id": "c"}])

    visible, held = split_cases(config)

    assert [c.id for c in visible] == ["a", "c"]
    assert [c.id for c in held] == ["b"]


def test_a_share_is_drawn_per_stratum_and_reproducibly() -> None:
    cases = [{"id": f"{kind}{i}", "vars": {"kind": kind}} for kind in "xy" for i in range(10)]
    config = suite_config(cases, holdout=0.3, holdout_by="kind")

    held = held_out_ids(config)

    assert len(held) == 6
    assert len([h for h in held if h.startswith("x")]) == 3  # each kind on both sides
    assert held == held_out_ids(suite_config(list(reversed(cases)), holdout=0.3, holdout_by="kind"))
    others = {
        frozenset(held_out_ids(suite_config(cases, holdout=0.3, holdout_by="kind", holdout_seed=s)))
        for s in range(5)
    }
    assert len(others) > 1  # the seed draws


def test_without_holdout_by_cases_checked_alike_are_a_stratum() -> None:
    cases = [{"id": f"p{i}"} for i in range(4)] + [
        {"id": f"q{i}", "assert": ["valid-json"]} for i in range(4)
    ]

    held = held_out_ids(suite_config(cases, holdout=0.25))

    assert sorted(h[0] for h in held) == ["p", "q"]


def test_holding_out_every_case_is_a_config_error(tmp_path: Path) -> None:
    config = {
        "name": "t",
        "editable": ["a.txt"],
        "evaluate": {
            "kind": "suite",
            "generate": {"kind": "command", "command": "cat a.txt"},
            "cases": [{"id": "only", "holdout": True}],
            "assert": ["contains-statistic"],
        },
    }
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / CONFIG_NAME).write_text(yaml.safe_dump(config))

    with pytest.raises(ConfigError, match="every case is held out") as error:
        load_config(tmp_path / CONFIG_NAME)
    assert CONFIG_NAME in str(error.value)


def states(*held_out: int | None) -> list[Experiment]:
    """A baseline and keeps whose held-out scores are ``held_out`` (of 4)."""
    result = []
    for number, passed in enumerate(held_out):
        suite = None
        if passed is not None:
            suite = SuiteResult([], [Check("h", i, "x", i < passed, "") for i in range(4)])
        status = Status.BASELINE if number == 0 else Status.KEEP
        result.append(Experiment(1, number, "c", status, held_out=suite))
    return result


def test_the_final_best_is_chosen_by_the_held_out_score() -> None:
    assert final_best(states(1, 3, 2)).number == 1  # a warned overfit keep at the tip
    assert final_best(states(1, 3, 3)).number == 2  # ties: the later state
    assert final_best(states(None, None)).number == 1  # no held-out cases: the tip
    assert final_best([]) is None


# -- whole runs ---------------------------------------------------------------------------------

SECRET = "zebra-secret-91"

GENERATOR = """\
from pathlib import Path

def answer(word):
    rules = Path("rules.txt").read_text().split()
    if f"special:{word}" in rules or "special:*" in rules:
        return f"{word} SPECIAL GOOD"
    if "general" in rules and "only-specials" not in rules:
        return f"{word} GOOD"
    return word
"""

# 1: a general improvement; 2: one that learns the visible cases and breaks the rest;
# 3: a general improvement again. Every brief it was given is copied to BRIEFS, and the
# overnight.yaml it finds in its workspace (where the cases are written) to CONFIGS.
AGENT = """\
import os, sys
from pathlib import Path
number = int(os.environ["OVERNIGHT_EXPERIMENT"])
with open(sys.argv[1], "a") as briefs:
    briefs.write(Path(os.environ["OVERNIGHT_BRIEF"]).read_text() + "\\n=====\\n")
with open(sys.argv[2], "a") as configs:
    configs.write(Path("overnight.yaml").read_text() + "\\n=====\\n")
rules = {
    1: "general",
    2: "general only-specials special:v1 special:v2 special:v3",
    3: "general special:*",
}[number]
Path("rules.txt").write_text(rules + "\\n")
print(f"rules: {rules}")
"""


def holdout_project(tmp_path: Path, overfit: dict | None = None) -> tuple[Path, Path]:
    root = tmp_path / "project"
    root.mkdir()
    briefs = tmp_path / "briefs.txt"
    (root / "rules.txt").write_text("nothing\n")
    (root / "gen.py").write_text(GENERATOR)
    (root / "agent.py").write_text(AGENT)
    visible = [{"id": f"v{i}", "vars": {"word": f"v{i}"}} for i in (1, 2, 3)]
    held = [{"id": f"held-{i}", "vars": {"word": f"{SECRET}-{i}"}, "holdout": True} for i in (1, 2)]
    config = {
        "name": "holdout",
        "editable": ["rules.txt"],
        "frozen": ["gen.py", "agent.py"],
        "evaluate": {
            "kind": "suite",
            "generate": {"kind": "python", "function": "gen.py:answer"},
            "cases": visible + held,
            "assert": [
                {"type": "regex", "pattern": "GOOD"},
                {"type": "contains", "value": "SPECIAL"},
            ],
            **({"overfit": overfit} if overfit else {}),
        },
        "agent": {
            "kind": "command",
            "command": f"{sys.executable} agent.py {briefs} {tmp_path / 'configs.txt'}",
        },
        "budget": {"experiments": 3},
    }
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root, briefs


def test_held_out_cases_never_reach_the_agent_and_overfit_is_rejected(tmp_path: Path) -> None:
    root, briefs = holdout_project(tmp_path)

    summary = overnight.run(root)

    statuses = [e.status for e in summary.experiments]
    assert statuses == [Status.BASELINE, Status.KEEP, Status.OVERFIT, Status.KEEP]
    assert [e.metric for e in summary.experiments] == [0.0, 3.0, 6.0, 6.0]  # visible: of 6
    overfit = summary.experiments[2]
    assert overfit.reason.startswith("overfit")
    assert not any(ch.isdigit() for ch in overfit.reason)  # no held-out score in the brief
    held = {e.number: (e.held_out.passed, e.held_out.total) for e in summary.experiments[:4]}
    assert held == {0: (0, 4), 1: (2, 4), 2: (0, 4), 3: (4, 4)}
    assert summary.best_experiment.number == 3
    assert "special:*" in git(root, "show", f"{summary.run.branch}:rules.txt")
    assert (root / "rules.txt").read_text() == "nothing\n"  # the checkout is never touched

    # The wall: three briefs were written, and not one mentions a held-out case or output.
    written = briefs.read_text()
    assert written.count("=====") == 3
    assert "v1" in written  # the visible cases are there
    for leak in (SECRET, "held-1", "held-2"):
        assert leak not in written
    # The overnight.yaml the agent could read in its workspace lists the visible cases only,
    # while the checkout's and the branch's keep every case (the evaluation used them all).
    seen = (tmp_path / "configs.txt").read_text().split("\n=====\n")[:-1]
    assert len(seen) == 3
    for text in seen:
        assert [c["id"] for c in yaml.safe_load(text)["evaluate"]["cases"]] == ["v1", "v2", "v3"]
        assert SECRET not in text and "held-" not in text
    for text in (
        (root / CONFIG_NAME).read_text(),
        git(root, "show", f"{summary.run.branch}:{CONFIG_NAME}"),
    ):
        assert SECRET in text and "held-2" in text
    # The ledger has every held-out output, apart from the visible ones.
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        stored = ledger.suite_result(summary.run.id, 2, held_out=True)
        visible = ledger.suite_result(summary.run.id, 2)
    finally:
        ledger.close()
    assert stored is not None and visible is not None
    assert {o.case_id for o in stored.outputs} == {"held-1", "held-2"}
    assert all(SECRET in (o.output or "") for o in stored.outputs)
    assert not any(SECRET in (o.output or "") for o in visible.outputs)


def test_overfit_can_be_kept_with_a_warning_and_the_best_is_chosen_by_held_out(
    tmp_path: Path,
) -> None:
    root, _ = holdout_project(tmp_path, overfit={"action": "warn"})

    summary = overnight.run(root, experiments=2)

    assert [e.status for e in summary.experiments] == [Status.BASELINE, Status.KEEP, Status.KEEP]
    assert "warning: worse on the held-out cases" in summary.experiments[2].reason
    assert summary.best_experiment.number == 1  # held out 2/4 beats the tip's 0/4
    assert summary.best == 3.0


def test_a_tolerance_lets_a_keep_lose_a_few_held_out_checks(tmp_path: Path) -> None:
    root, _ = holdout_project(tmp_path, overfit={"tolerance": 2})

    summary = overnight.run(root, experiments=2)

    assert summary.experiments[2].status is Status.KEEP


def test_status_shows_the_held_out_score(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from overnight.cli import cli

    root, _ = holdout_project(tmp_path)
    overnight.run(root)

    status = CliRunner().invoke(cli, ["status", str(root)])

    assert status.exit_code == 0, status.output
    assert "held out: baseline 0/4 -> best 4/4" in status.output


def test_eval_measures_the_held_out_cases_apart(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from overnight.cli import cli

    root, _ = holdout_project(tmp_path)
    (root / "rules.txt").write_text("general\n")

    shown = CliRunner().invoke(cli, ["eval", str(root)])
    data = json.loads(CliRunner().invoke(cli, ["eval", str(root), "--json"]).output)

    assert "score: 3/6" in shown.output
    assert "held out (never shown to an agent): 2/4" in shown.output
    assert (data["suite"]["passed"], data["held_out"]["suite"]["passed"]) == (3, 2)


def test_the_best_before_each_experiment_agrees_with_final_best() -> None:
    """The one-pass bests of a long run's pages are ``final_best`` of every prefix, ties and
    unmeasured states included."""
    import random

    rng = random.Random(3)
    for _ in range(200):
        history = []
        for number in range(rng.randint(0, 30)):
            status = Status.BASELINE if number == 0 else rng.choice(list(Status))
            held = rng.choice([None, None, 1.0, 2.0, 3.0])
            history.append(
                Experiment(1, number, "", status, metric=rng.random(), held_out_value=held)
            )
        expected = [final_best(history[:i]) for i in range(len(history))]
        assert [e and e.number for e in bests_before(history)] == [e and e.number for e in expected]
