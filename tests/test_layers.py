"""Two layers over one repository: activation and quality keep their own scores, runs, stop rules
and ledger views, and neither may move what the other measures."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from overnight import examples, llm
from overnight.agents.llm import SYSTEM_PROMPT
from overnight.config import CONFIG_NAME, load_layers
from overnight.errors import ConfigError, UsageError
from overnight.ledger import Ledger
from overnight.project import Project
from overnight.records import Status
from overnight.scope import scope_for
from stand_ins.support import run_cli

needs_embed = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason='the embed extra is not installed: pip install "overnight[embed]"',
)

SKILL = "skills/commit-messages/SKILL.md"
RULES = (
    "Keep the subject under 50 characters.",
    "Never end the subject with a full stop.",
    "Write the subject in the imperative: Raise, Fix, Add.",
    "Leave a blank line between the subject and the body.",
    "Keep the whole message under 80 words.",
)


def writer(skill: str) -> str:
    """Writes the commit message the skill asks for, no better: each rule fixes one check."""
    subject = "Raise the timeout" if RULES[2] in skill else "Updated the timeout"
    if RULES[0] not in skill:
        subject += " that the client waits for on every request it sends"
    if RULES[1] not in skill:
        subject += "."
    body = "Slow servers need more time." + ("" if RULES[4] in skill else " More." * 90)
    return subject + ("\n\n" if RULES[3] in skill else "\n") + body


def agent():
    """First rewrites the description (which the quality layer may not), then adds every rule."""
    calls = []

    def propose(brief: str) -> str:
        calls.append(brief)
        if len(calls) == 1:
            return (
                "DESCRIPTION: say what the skill does\n\n"
                f"<<<<<<< SEARCH {SKILL}\ndescription: Git helper.\n=======\n"
                f"description: Writes commit messages.\n>>>>>>> REPLACE\n"
            )
        last = "and a body that says why."
        rules = "\n".join(RULES)
        return (
            "DESCRIPTION: add the five rules\n\n"
            f"<<<<<<< SEARCH {SKILL}\n{last}\n=======\n{last}\n\n{rules}\n>>>>>>> REPLACE\n"
        )

    return propose


@pytest.fixture
def skills(tmp_path: Path, llm_server, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The skill-trigger example, its quality layer's model on loopback."""
    monkeypatch.setattr(llm, "sleep", lambda seconds: None)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    root = examples.create_from_example("skill-trigger", tmp_path / "skills")
    config = yaml.safe_load((root / CONFIG_NAME).read_text())
    config["layers"]["quality"]["agent"]["api_base"] = llm_server.base_url
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    suite = yaml.safe_load((root / "quality.yaml").read_text())
    suite["generate"]["api_base"] = llm_server.base_url
    (root / "quality.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    git(root, "commit", "-q", "-am", "use the loopback model")
    propose = agent()

    def model(body: dict) -> str:
        messages = body["messages"]
        if messages[0]["content"] == SYSTEM_PROMPT:
            return propose(messages[-1]["content"])
        return writer(messages[0]["content"])

    llm_server.script(model)
    return root


@needs_embed
def test_two_layers_keep_their_own_runs_scores_and_stop_rules(skills: Path) -> None:
    activation = overnight.run(skills, layer="activation", experiments=2)
    quality = overnight.run(skills, layer="quality")

    assert activation.run.layer == "activation" and quality.run.layer == "quality"
    assert activation.run.branch.startswith("overnight/activation-")
    assert quality.run.branch.startswith("overnight/quality-")
    assert activation.run.metric == "f1" and quality.run.metric == "score"
    assert activation.stop_reason == "experiment budget spent: 2 of 2"
    assert quality.stop_reason == "target reached: 25 (target 25)"
    assert [e.metric for e in quality.experiments if e.status.advances] == [0.0, 25.0]
    refused = quality.experiments[1]
    assert refused.status is Status.VIOLATION
    assert "description" in refused.reason and "layer activation" in refused.reason
    assert "description: Git helper." in (skills / SKILL).read_text()  # reverted
    state = skills / ".overnight"
    assert (state / "results-activation.tsv").read_text().count("\n") == 1 + 3
    assert (state / "results-quality.tsv").read_text().count("\n") == 1 + 3

    status = run_cli("status", str(skills))
    assert status.returncode == 0, status.stderr
    activation_part, quality_part = status.stdout.split("quality layer")
    assert "activation layer" in activation_part
    assert f"run {activation.run.tag}" in activation_part and "f1: baseline" in activation_part
    assert f"run {quality.run.tag}" in quality_part
    assert "score: baseline 0/25 -> best 25/25" in quality_part
    assert "target reached" in quality_part and "budget spent" in activation_part

    log = run_cli("log", str(skills), "--layer", "activation", "--tsv")
    assert log.returncode == 0 and log.stdout.startswith("commit\tf1\tstatus")
    assert log.stdout.count("\n") == 1 + 3
    one = run_cli("status", str(skills), "--layer", "quality")
    assert "quality layer" in one.stdout and "activation" not in one.stdout


@needs_embed
def test_a_layer_resumes_its_own_run(skills: Path) -> None:
    first = overnight.run(skills, layer="activation", experiments=1)
    overnight.run(skills, layer="quality", experiments=0)

    resumed = overnight.run(skills, layer="activation", resume=True, experiments=2)

    assert resumed.run.tag == first.run.tag
    assert [e.number for e in resumed.experiments] == [0, 1, 2]
    with pytest.raises(UsageError, match="resume it with --layer activation"):
        overnight.run(skills, layer="quality", resume=True, tag=first.run.tag)


def test_what_the_other_layer_measures_is_frozen(skills: Path) -> None:
    project = Project.open(skills, "quality")
    files = project.workspace().files()

    scope = scope_for(project.config, files, other_layers=project.other_layers)

    assert scope.is_frozen("queries.yaml") and scope.is_frozen("quality.yaml")
    assert scope.editable_files(files) == [SKILL]


# -- the config ---------------------------------------------------------------------------------


def write(root: Path, data: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / CONFIG_NAME).write_text(yaml.safe_dump(data, sort_keys=False))
    return root / CONFIG_NAME


LAYERED = {
    "name": "two",
    "editable": ["a.py"],
    "budget": {"experiments": 7},
    "layers": {
        "fast": {"evaluate": {"command": "python a.py", "metric": "loss"}},
        "slow": {
            "editable": ["b.py"],
            "evaluate": {"command": "python b.py", "metric": "acc", "direction": "maximize"},
            "budget": {"experiments": 3},
            "stop": {"patience": 2},
        },
    },
}


def test_each_layer_is_the_shared_fields_with_its_own_on_top(tmp_path: Path) -> None:
    configs = load_layers(write(tmp_path, LAYERED))

    assert list(configs) == ["fast", "slow"]
    fast, slow = configs["fast"], configs["slow"]
    assert (fast.layer, fast.editable, fast.budget.experiments) == ("fast", ["a.py"], 7)
    assert (slow.layer, slow.editable, slow.budget.experiments) == ("slow", ["b.py"], 3)
    assert fast.stop.patience is None and slow.stop.patience == 2
    assert slow.evaluate.direction == "maximize"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"layers": {"fast": {"evaluate": {"command": "x"}}}},
            "layers.fast.evaluate.metric",
            "required",
        ),
        (
            {"layers": {"fast": {"evaluate": {"command": "x", "metric": "m"}, "nmae": 1}}},
            "layers.fast.nmae",
            "unknown field",
        ),
        ({"layers": {"fast": {"agent": {"kind": "search"}}}}, "layers.fast.evaluate", "required"),
        (
            {"layers": {"Fast Layer": {"evaluate": {"command": "x", "metric": "m"}}}},
            "layers.Fast Layer",
            "lower-case",
        ),
        ({"layers": []}, "layers", "mapping"),
        ({"evaluate": {"command": "x", "metric": "m"}}, "evaluate", "each layer has its own"),
        ({"layer": "fast"}, "layer", "unknown field"),
        (
            {"layers": {"fast": {"evaluate": {"command": "x", "metric": "m", "timeout": "soon"}}}},
            "layers.fast.evaluate.timeout",
            "expected a number",
        ),
    ],
)
def test_a_mistake_in_a_layer_names_the_layer(
    tmp_path: Path, change: dict, field: str, words: str
) -> None:
    data = {**LAYERED, **change}
    with pytest.raises(ConfigError) as caught:
        load_layers(write(tmp_path, data))
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_shared_field_mistake_is_named_as_the_user_wrote_it(tmp_path: Path) -> None:
    data = {**LAYERED, "budget": {"experiments": "many"}}
    with pytest.raises(ConfigError) as caught:
        load_layers(write(tmp_path, data))
    assert caught.value.field == "budget.experiments"


def test_a_layered_project_opens_one_layer_at_a_time(tmp_path: Path) -> None:
    write(tmp_path, LAYERED)

    assert Project.layers(tmp_path) == ["fast", "slow"]
    project = Project.open(tmp_path, "slow")
    assert project.config.layer == "slow"
    assert [other.layer for other in project.other_layers] == ["fast"]
    assert project.results_path.name == "results-slow.tsv"
    with pytest.raises(UsageError, match="has layers fast, slow: choose one with --layer"):
        Project.open(tmp_path)
    with pytest.raises(UsageError, match="no layer 'quick'"):
        Project.open(tmp_path, "quick")


def test_layer_on_a_config_without_layers_is_a_usage_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"name": "one", "editable": ["a.py"], "evaluate": LAYERED["layers"]["fast"]["evaluate"]},
    )

    assert Project.layers(tmp_path) == []
    assert Project.open(tmp_path).config.layer is None
    with pytest.raises(UsageError, match="has no layers"):
        Project.open(tmp_path, "fast")


def test_the_cli_asks_for_a_layer_in_one_line(tmp_path: Path) -> None:
    write(tmp_path, LAYERED)

    result = run_cli("eval", str(tmp_path))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "choose one with --layer" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_an_older_ledger_gains_the_layer_column(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, tag TEXT NOT NULL UNIQUE, branch TEXT NOT NULL,"
        " name TEXT NOT NULL, metric TEXT NOT NULL, direction TEXT NOT NULL, base_commit TEXT NOT"
        " NULL, config TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL, stop_reason TEXT)"
    )
    db.execute(
        "INSERT INTO runs VALUES (1, 'old', 'overnight/old', 'n', 'm', 'minimize', 'abc', '{}',"
        " 0, NULL, NULL)"
    )
    db.commit()
    db.close()

    ledger = Ledger(path)
    try:
        old = ledger.run(tag="old")
        new = ledger.create_run("new", "overnight/new", "n", "m", "minimize", "abc", {}, "fast")
        assert old is not None and old.layer is None
        assert new.layer == "fast"
        assert ledger.run(layer="fast") == new
        assert ledger.run() == new
    finally:
        ledger.close()
