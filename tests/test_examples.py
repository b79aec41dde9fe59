"""The bundled examples load, validate against their own trees, and score for real."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from llm_server import prompt_of
from overnight import examples, llm
from overnight.project import Project
from overnight.scope import scope_for


@pytest.mark.parametrize("name", examples.available())
def test_example_config_fits_its_tree(tmp_path: Path, name: str) -> None:
    root = examples.create_from_example(name, tmp_path / name)

    for layer in Project.layers(root) or [None]:
        project = Project.open(root, layer)
        files = project.workspace().files()
        scope = scope_for(project.config, files, other_layers=project.other_layers)
        assert scope.editable_files(files)
    assert git(root, "status", "--porcelain") == ""


def test_available_examples() -> None:
    assert {"digits", "social-posts"} <= set(examples.available())


def good_post(body: dict) -> str:
    """A copywriter who follows every check: a hook, a figure, the brand, a firm close."""
    brand = prompt_of(body).split("Product brief for ")[1].split(":")[0]
    return (
        f"{brand} just changed the numbers.\n\n"
        f"Our customers see 30% better results with {brand} from day one.\n\n"
        "See the details on our page today."
    )


def test_social_posts_scores_25_checks_against_a_model(
    tmp_path: Path, llm_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm, "sleep", lambda seconds: None)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    root = examples.create_from_example("social-posts", tmp_path / "posts")
    suite_file = root / "suite.yaml"
    suite = yaml.safe_load(suite_file.read_text())
    suite["generate"]["api_base"] = llm_server.base_url  # the loopback model stands in
    suite_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    llm_server.script(good_post)

    score = overnight.evaluate(root)

    assert score.suite.total == 25
    assert score.value == 25.0, [c.reason for c in score.suite.checks if not c.passed]
    skill = (root / "SKILL.md").read_text()
    assert all(request.body["messages"][0]["content"] == skill for request in llm_server.requests)


def test_the_faster_example_keeps_a_faster_count_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    """The search agent's first move cuts the divisor search to a tenth: several times faster
    (so that one timing on a loaded machine cannot hide it) and wrong. The greedy policy alone
    would keep it; the check refuses it, and the sieve, right and fifty times faster, is kept."""
    root = examples.create_from_example("faster", tmp_path / "faster")
    config = yaml.safe_load((root / "overnight.yaml").read_text())
    config["evaluate"]["repeats"] = 1
    config["policy"] = {"kind": "greedy"}
    config["agent"]["knobs"]["ROOT_FRACTION"] = {"choices": [1.0, 0.1]}
    config["agent"]["sampler"] = "local"  # its moves, in order: the trap first
    (root / "overnight.yaml").write_text(yaml.safe_dump(config))
    git(root, "commit", "-qam", "one timing per change, greedy")

    summary = overnight.run(root, tag="t", experiments=2)

    by = {e.description: e for e in summary.experiments}
    wrong = by["ROOT_FRACTION 1.0 -> 0.1"]
    assert wrong.status is overnight.Status.CHECK_FAILED, (wrong.status, wrong.reason)
    assert "count_primes(10) is 5, expected 4" in wrong.reason
    assert by['METHOD "trial" -> "sieve"'].status is overnight.Status.KEEP
    tip = git(root, "show", "overnight/t:primes.py")
    assert 'METHOD = "sieve"' in tip and "ROOT_FRACTION = 1.0" in tip
