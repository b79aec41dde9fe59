"""The activation loop: the triggers evaluator, the phrases agent, the sanity check, the guards,
and the offline example end to end."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from overnight.activation.skills import read_skill
from overnight.config import CONFIG_NAME, TriggersEvaluateConfig, load_config
from overnight.errors import ConfigError, EvaluationError
from overnight.evaluators.triggers import TriggersEvaluator
from overnight.records import Status

# A stand-in agent CLI: it "uses" the skill whose description shares the most words with the
# query, reading the skills installed in the repository, as a real agent would.
ROUTER = """\
import re, sys
from pathlib import Path
words = lambda text: set(re.findall(r"[a-z]+", text.lower())) - {"the", "a", "of", "my", "for"}
query = words(sys.argv[1])
best, overlap = None, 0
for skill in sorted(Path("skills").glob("*/SKILL.md")):
    front = skill.read_text().split("---")[1]
    description = front.split("description:")[1].split("\\n")[0]
    shared = len(query & words(description))
    if shared > overlap:
        best, overlap = skill.parent.name, shared
print(f"Using skill: {best}" if best else "Answered directly.")
"""

SKILL = "---\nname: {name}\ndescription: {description}\n---\n\n# {name}\n\nThe body stays.\n"

QUERIES = [
    {"query": "fill the pdf form fields", "skill": "pdf"},
    {"query": "extract pdf form values", "skill": "pdf"},
    {"query": "flatten a filled pdf form", "skill": "pdf"},
    {"query": "write a commit message for staged changes", "skill": "commit"},
    {"query": "commit message subject for this diff", "skill": "commit"},
    {"query": "reword the last commit message", "skill": "commit"},
    {"query": "translate this paragraph"},
    {"query": "write a haiku about autumn"},
]


def activation_project(tmp_path: Path, agent: dict | None = None, **evaluate) -> Path:
    root = tmp_path / "skills-repo"
    for name, description in (("pdf", "Works with pdf files."), ("commit", "Git helper.")):
        (root / "skills" / name).mkdir(parents=True)
        (root / "skills" / name / "SKILL.md").write_text(
            SKILL.format(name=name, description=description)
        )
    (root / "route.py").write_text(ROUTER)
    (root / "queries.yaml").write_text(yaml.safe_dump(QUERIES))
    config = {
        "name": "activation",
        "editable": ["skills/*/SKILL.md"],
        "frozen": ["route.py"],
        "evaluate": {
            "kind": "triggers",
            "skills": ["skills/pdf/SKILL.md", "skills/commit/SKILL.md"],
            "queries": "queries.yaml",
            "router": {
                "kind": "command",
                "command": f"{sys.executable} route.py {{query}}",
                "detect": {"kind": "regex", "pattern": r"^Using skill: (\S+)$"},
            },
            "holdout": 0.34,
            **evaluate,
        },
        "agent": agent or {"kind": "phrases"},
        "budget": {"experiments": 12},
        "stop": {"target": 1.0},
    }
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def test_evaluation_scores_f1_and_keeps_the_matrix(tmp_path: Path) -> None:
    root = activation_project(tmp_path, holdout=0)
    (root / "skills/pdf/SKILL.md").write_text(
        SKILL.format(name="pdf", description="Fill, extract and flatten pdf form fields.")
    )

    score = overnight.evaluate(root)

    assert score.ok and score.suite is not None
    assert score.value == pytest.approx(score.secondary["f1"])
    assert score.suite.total == len(QUERIES)
    by_query = {c.case_id: c for c in score.suite.checks}
    assert by_query["fill the pdf form fields"].passed
    assert by_query["write a haiku about autumn"].passed  # none chosen, none expected
    assert not by_query["reword the last commit message"].passed  # "Git helper." says too little
    assert by_query["reword the last commit message"].assertion == "triggers commit"
    assert 0 < score.secondary["recall"] < 1


def test_phrases_agent_and_the_router_improve_descriptions_offline(tmp_path: Path) -> None:
    root = activation_project(tmp_path)

    summary = overnight.run(root)

    kept = summary.kept
    assert kept, [(e.status, e.description, e.reason) for e in summary.experiments]
    assert summary.best > summary.baseline
    assert all(e.description.startswith(("add ", "remove ")) for e in kept)
    branch = summary.run.branch
    for name in ("pdf", "commit"):  # the bodies are untouched
        assert git(root, "show", f"{branch}:skills/{name}/SKILL.md").endswith("The body stays.")
    best = summary.best_experiment
    assert best.held_out_value is not None and summary.experiments[0].held_out_value is not None
    improved = tmp_path / "best-SKILL.md"
    improved.write_text(git(root, "show", f"{branch}:skills/commit/SKILL.md") + "\n")
    assert read_skill(improved).description != "Git helper."
    assert read_skill(root / "skills/commit/SKILL.md").description == "Git helper."  # checkout


def held_out_queries(root: Path) -> list[str]:
    config = load_config(root / CONFIG_NAME).evaluate
    assert isinstance(config, TriggersEvaluateConfig)
    return [q.query for q in TriggersEvaluator(config, root).held_out_queries]


def test_held_out_queries_never_reach_the_brief(tmp_path: Path) -> None:
    """The brief a coding agent reads (this one reads it and changes nothing)."""
    idle = {"kind": "command", "command": f"{sys.executable} -c pass"}
    root = activation_project(tmp_path, agent=idle, holdout=0.5)
    summary = overnight.run(root, experiments=2)

    held_out = held_out_queries(root)
    brief = (root / ".overnight" / "worktrees" / summary.run.tag / "agent" / "brief.md").read_text()

    assert held_out
    assert any(q["query"] in brief for q in QUERIES if q["query"] not in held_out)  # failures
    for query in held_out:
        assert query not in brief


# A coding agent run as a command: it copies the queries file it finds in its workspace out,
# then gives the commit skill a description that names what its queries ask for.
READING_AGENT = """\
import sys
from pathlib import Path
Path(sys.argv[1]).write_text(Path("queries.yaml").read_text())
skill = Path("skills/commit/SKILL.md")
skill.write_text(skill.read_text().replace("Git helper.", "Writes and rewords commit messages."))
print("describe what the commit skill writes")
"""


def test_held_out_queries_are_removed_from_the_file_a_command_agent_reads(
    tmp_path: Path,
) -> None:
    agent, seen = tmp_path / "agent.py", tmp_path / "seen.yaml"
    agent.write_text(READING_AGENT)
    command = {"kind": "command", "command": f"{sys.executable} {agent} {seen}"}
    root = activation_project(tmp_path, holdout=0.5, agent=command)
    original = (root / "queries.yaml").read_text()

    summary = overnight.run(root, experiments=1)

    changed = summary.experiments[1]
    assert changed.status is Status.KEEP, changed.reason  # the view it read is no change
    assert changed.changed_files == ["skills/commit/SKILL.md"]
    held_out = held_out_queries(root)
    visible = [q["query"] for q in yaml.safe_load(seen.read_text())]
    assert held_out and visible
    assert sorted(visible + held_out) == sorted(q["query"] for q in QUERIES)
    assert not set(visible) & set(held_out)
    # the evaluation measured the held-out queries from the real file, which stays whole
    assert changed.held_out_value is not None
    assert (root / "queries.yaml").read_text() == original
    assert git(root, "show", f"{summary.run.branch}:queries.yaml") == original.strip()


def test_a_router_that_never_triggers_is_refused_at_the_baseline(tmp_path: Path) -> None:
    root = activation_project(
        tmp_path,
        router={
            "kind": "command",
            "command": "echo {query} > /dev/null; echo nothing",
            "detect": {"kind": "regex", "pattern": r"^Using skill: (\S+)$"},
        },
    )

    with pytest.raises(EvaluationError, match="chose no skill in any of"):
        overnight.run(root)


def test_a_change_outside_the_description_is_a_violation(tmp_path: Path) -> None:
    from overnight.project import Project

    root = activation_project(tmp_path)
    evaluator = Project.open(root).evaluator()  # as a run does: made from the clean tree
    skill = root / "skills/pdf/SKILL.md"

    skill.write_text(skill.read_text().replace("The body stays.", "The body changed."))
    changed = evaluator.evaluate(root, tmp_path / "a.log")
    skill.write_text(SKILL.format(name="pdf", description="x" * 1100))
    too_long = evaluator.evaluate(root, tmp_path / "b.log")

    assert changed.status is Status.VIOLATION and "outside its description" in changed.log_tail
    assert too_long.status is Status.VIOLATION and "1100 characters" in too_long.log_tail


def test_a_label_naming_no_skill_is_a_config_error(tmp_path: Path) -> None:
    root = activation_project(tmp_path)
    (root / "queries.yaml").write_text(yaml.safe_dump([*QUERIES, {"query": "x", "skill": "pfd"}]))

    with pytest.raises(ConfigError, match=r"queries\[8\]\.skill.*no skill is named 'pfd'"):
        overnight.evaluate(root)


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason='the embed extra is not installed: pip install "overnight[embed]"',
)
def test_the_skill_trigger_example_improves_offline_and_holds_out_as_well(tmp_path: Path) -> None:
    from overnight.examples import create_from_example

    root = create_from_example("skill-trigger", tmp_path / "st")

    summary = overnight.run(root, layer="activation")

    baseline, best = summary.experiments[0], summary.best_experiment
    assert summary.best > summary.baseline
    assert baseline.held_out_value is not None and best.held_out_value is not None
    # with a calibrated router the baseline's held-out F1 is already 0.857: it must not fall
    assert best.held_out_value >= baseline.held_out_value
