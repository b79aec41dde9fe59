"""Generalization under ``triggers``: overfit keeps rejected or flagged, held-out queries scored
in folds with their spread, the best state chosen clearly above the noise, and the run branch,
the summary, ``status`` and the report naming the same best state."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from overnight.activation.folds import fold_scores, folds
from overnight.activation.metrics import QueryResult
from overnight.activation.split import split
from overnight.config import CONFIG_NAME
from overnight.errors import ConfigError
from overnight.holdout import final_best, held_out_text
from overnight.ledger import Ledger
from overnight.overview import overview
from overnight.records import Experiment, Status
from overnight.report.data import load_run_view
from overnight.view import status_lines

# Each query is one word; a skill triggers on a query when its description holds that word.
ROUTER = """\
import sys
from pathlib import Path
query = sys.argv[1]
for skill in sorted(Path("skills").glob("*/SKILL.md")):
    description = skill.read_text().split("description:")[1].split("\\n")[0]
    if query in description.split():
        print(f"Using skill: {skill.parent.name}")
        break
else:
    print("Answered directly.")
"""

# Writes the descriptions of the plan's next step (a counter outside the repository says which).
AGENT = """\
import json, sys
from pathlib import Path
plan, counter = Path(sys.argv[1]), Path(sys.argv[2])
step = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(step + 1))
for name, description in json.loads(plan.read_text())[step].items():
    path = Path("skills") / name / "SKILL.md"
    path.write_text(SKILL.format(name=name, description=description))
print(f"step {step}")
"""

SKILL = "---\nname: {name}\ndescription: {description}\n---\n\n# {name}\n\nThe body stays.\n"
QUERIES = [
    *({"query": f"alpha{i}", "skill": "a"} for i in range(6)),
    *({"query": f"bravo{i}", "skill": "b"} for i in range(6)),
    *({"query": f"none{i}"} for i in range(4)),
]


def project(tmp_path: Path, plan: list[dict[str, str]], **evaluate: object) -> Path:
    """Skills a and b, the word router, and an agent that follows ``plan`` step by step; the
    baseline triggers the held-out queries and one training query of each skill."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "route.py").write_text(ROUTER)
    (root / "queries.yaml").write_text(yaml.safe_dump(QUERIES))
    config = {
        "name": "generalization",
        "editable": ["skills/*/SKILL.md"],
        "frozen": ["route.py"],
        "evaluate": {
            "kind": "triggers",
            "skills": ["skills/a/SKILL.md", "skills/b/SKILL.md"],
            "queries": "queries.yaml",
            "router": {
                "kind": "command",
                "command": f"{sys.executable} route.py {{query}}",
                "detect": {"kind": "regex", "pattern": r"^Using skill: (\S+)$"},
            },
            "holdout": 0.5,
            **evaluate,
        },
        "agent": {
            "kind": "command",
            "command": f"{sys.executable} {tmp_path / 'agent.py'} {tmp_path / 'plan.json'}"
            f" {tmp_path / 'counter'}",
        },
        "budget": {"experiments": len(plan)},
    }
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    for name in ("a", "b"):
        (root / "skills" / name).mkdir(parents=True)
        words = [*HELD[name], TRAIN[name][0]]
        (root / "skills" / name / "SKILL.md").write_text(
            SKILL.format(name=name, description=" ".join(words))
        )
    (tmp_path / "agent.py").write_text(f"SKILL = {SKILL!r}\n" + AGENT)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def split_of() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(held out, training) query words of each skill, as the run splits them."""
    labelled = [QueryResult(q["query"], q.get("skill"), (None,)) for q in QUERIES]
    held = {q.query for q in split(labelled, 0.5, 0)[1]}
    sides: tuple[dict[str, list[str]], dict[str, list[str]]] = ({}, {})
    for query in labelled:
        if query.expected is not None:
            side = sides[0] if query.query in held else sides[1]
            side.setdefault(query.expected, []).append(query.query)
    return sides


HELD, TRAIN = split_of()


def generalizing_then_overfitting() -> list[dict[str, str]]:
    """Step 1 adds a training query and keeps every held-out one; step 2 adds the last
    training query but drops the held-out ones: better on training, worse held out."""
    return [
        {"a": " ".join([*HELD["a"], *TRAIN["a"][:2]])},
        {"a": " ".join(TRAIN["a"])},
    ]


def test_an_overfit_keep_is_rejected_under_triggers(tmp_path: Path) -> None:
    root = project(tmp_path, generalizing_then_overfitting())

    summary = overnight.run(root)

    statuses = [e.status for e in summary.experiments]
    assert statuses == [Status.BASELINE, Status.KEEP, Status.OVERFIT], summary.experiments
    overfit = summary.experiments[2]
    assert overfit.metric is not None and overfit.metric > summary.experiments[1].metric
    assert "overfit" in overfit.reason and "0." not in overfit.reason  # no held-out numbers
    assert summary.best_experiment.number == 1
    assert git(root, "rev-parse", summary.run.branch) == summary.experiments[1].commit


def test_a_warned_overfit_is_kept_and_the_branch_ends_at_the_best_state(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        generalizing_then_overfitting(),
        overfit={"action": "warn"},
        holdout_splits=3,
    )

    summary = overnight.run(root)

    first, second = summary.experiments[1], summary.experiments[2]
    assert [first.status, second.status] == [Status.KEEP, Status.KEEP]
    assert "warning: worse on the held-out cases" in second.reason
    assert len(first.held_out_splits) == 3 and first.held_out_value == 1.0
    assert second.held_out_value is not None and second.held_out_value < 1.0
    # the summary, the branch, status and the report name experiment 1
    best = summary.best_experiment
    assert best.number == 1
    branch = summary.run.branch
    assert git(root, "rev-parse", f"{branch}^{{tree}}") == git(
        root, "rev-parse", f"{first.commit}^{{tree}}"
    )
    assert git(root, "rev-parse", f"{branch}^") == second.commit  # the keeps stay in history
    assert "experiment 1" in git(root, "log", "-1", "--format=%s", branch)
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = ledger.run(tag=summary.run.tag)
        assert run is not None
        stored = {e.number: e for e in ledger.experiments(run.id)}
        lines = status_lines(run, overview(ledger, run.id, 10), live=False)
    finally:
        ledger.close()
    assert stored[1].held_out_splits == first.held_out_splits  # read back from the ledger
    assert any("-> best" in line and "(experiment 1," in line for line in lines), lines
    assert any("over 3 folds" in line for line in lines), lines
    view = load_run_view(root)
    assert view.best is not None and view.best.number == 1


def test_a_resume_goes_on_from_the_last_keep(tmp_path: Path) -> None:
    root = project(tmp_path, [*generalizing_then_overfitting(), {}], overfit={"action": "warn"})
    first = overnight.run(root, experiments=2)

    again = overnight.run(root, resume=True, tag=first.run.tag, experiments=3)

    third = again.experiments[3]
    assert third.parent_commit == again.experiments[2].commit  # not the restore commit
    assert again.best_experiment.number == 1
    tree = git(root, "rev-parse", f"{first.run.branch}^{{tree}}")
    assert tree == git(root, "rev-parse", f"{again.experiments[1].commit}^{{tree}}")


def test_held_out_folds_are_disjoint_balanced_and_fixed_by_the_seed() -> None:
    labelled = [QueryResult(q["query"], q.get("skill"), (None,)) for q in QUERIES]

    dealt = folds(labelled, 3, seed=7)

    assert sorted(q.query for fold in dealt for q in fold) == sorted(q.query for q in labelled)
    assert [len(fold) for fold in dealt] in ([6, 5, 5], [5, 6, 5], [5, 5, 6])
    for fold in dealt:
        assert {q.expected for q in fold} == {"a", "b", None}
    again = folds(list(reversed(labelled)), 3, seed=7)  # whatever the order they come in
    assert [{q.query for q in fold} for fold in again] == [{q.query for q in f} for f in dealt]
    with pytest.raises(ValueError, match="into 17 folds"):
        folds(labelled, 17)


def test_fold_scores_count_each_fold_apart() -> None:
    results = [
        QueryResult("q1", "a", ("a",)),
        QueryResult("q2", "a", (None,)),
        QueryResult("q3", "a", ("a",)),
        QueryResult("q4", "a", ("a",)),
    ]

    scores = fold_scores(results, 2, 0, "recall", 0.5)

    assert sorted(scores) == [0.5, 1.0]


def experiment(number: int, splits: list[float], status: Status = Status.KEEP) -> Experiment:
    held = sum(splits) / len(splits)
    return Experiment(
        1, number, "x", status, commit=f"c{number}", held_out_value=held, held_out_splits=splits
    )


def test_an_earlier_state_displaces_the_last_keep_only_when_it_clearly_leads() -> None:
    baseline = experiment(0, [0.5, 0.5, 0.5], Status.BASELINE)
    tip = experiment(2, [0.6, 0.9, 0.6])
    noisy = experiment(1, [0.9, 0.6, 0.95])  # higher on the mean, within the noise
    clear = experiment(1, [0.8, 0.95, 0.75])  # higher on every fold

    assert final_best([baseline, noisy, tip]) is tip
    assert final_best([baseline, clear, tip]) is clear
    assert held_out_text(clear) == "0.8333 ± 0.1 over 3 folds"


def test_more_folds_than_held_out_queries_is_a_config_error(tmp_path: Path) -> None:
    root = project(tmp_path, [{}], holdout_splits=9)

    with pytest.raises(ConfigError, match="holdout_splits"):
        overnight.evaluate(root)


def test_a_suite_run_also_ends_with_its_branch_at_the_best_state(tmp_path: Path) -> None:
    from test_holdout import holdout_project

    root, _ = holdout_project(tmp_path, overfit={"action": "warn"})

    summary = overnight.run(root, experiments=2)

    best = summary.best_experiment
    assert best.number == 1 and summary.experiments[2].status is Status.KEEP
    assert git(root, "rev-parse", f"{summary.run.branch}^{{tree}}") == git(
        root, "rev-parse", f"{best.commit}^{{tree}}"
    )
    view = load_run_view(root)
    assert view.best is not None and view.best.number == 1
