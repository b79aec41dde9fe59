"""A run over a suite: a stand-in agent rewrites the skill one rule at a time, a scripted model
follows the skill, and the loop keeps each gain until every check passes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from llm_server import prompt_of
from overnight import llm
from overnight.config import CONFIG_NAME
from overnight.ledger import Ledger
from overnight.records import Status

RULES = ["Name the brand.", "Include one number.", "Do not end with a question."]

# The agent adds the next missing rule to the skill, so each experiment fixes one check.
AGENT = f"""\
from pathlib import Path
skill = Path("SKILL.md")
text = skill.read_text()
for rule in {RULES!r}:
    if rule not in text:
        skill.write_text(text + rule + "\\n")
        print("add rule: " + rule)
        break
"""


def follow_the_skill(body: dict) -> str:
    """A model that obeys exactly the rules its system prompt holds."""
    prompt = prompt_of(body)
    brand = prompt.split("Brand: ")[-1].split("\n")[0]
    words = ["A", "fine", "post"]
    if "Name the brand." in prompt:
        words.append(f"about {brand}")
    if "Include one number." in prompt:
        words.append("with 40% more")
    ending = "Try it now." if "Do not end with a question." in prompt else "Agreed?"
    return " ".join(words) + ".\n" + ending


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm, "sleep", lambda seconds: None)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def make_project(tmp_path: Path, server, **extra) -> Path:
    root = tmp_path / "posts"
    root.mkdir()
    (root / "SKILL.md").write_text("Write a LinkedIn post.\n")
    (root / "agent.py").write_text(AGENT)
    config = {
        "name": "posts",
        "editable": ["SKILL.md"],
        "frozen": ["agent.py"],
        "evaluate": {
            "kind": "suite",
            "generate": {
                "kind": "llm",
                "model": "openai/gpt-4o-mini",
                "api_base": server.base_url,
                "system": "{{ file('SKILL.md') }}",
                "prompt": "Brand: {{ brand }}\nWrite it.",
            },
            "cases": [{"id": b, "vars": {"brand": b}} for b in ("Helio", "Tally", "Crew")],
            "assert": [
                {"type": "icontains", "value": "{{ brand }}"},
                "contains-statistic",
                "last-line-not-question",
            ],
        },
        "agent": {"kind": "command", "command": f"{sys.executable} agent.py"},
        "budget": {"experiments": 10},
        "stop": {"target": 9},
        **extra,
    }
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def test_run_improves_the_skill_to_a_full_score_and_stops_on_target(tmp_path, llm_server):
    llm_server.script(follow_the_skill)
    root = make_project(tmp_path, llm_server)

    summary = overnight.run(root)

    assert [e.status for e in summary.experiments] == [Status.BASELINE] + [Status.KEEP] * 3
    assert [e.metric for e in summary.experiments] == [0.0, 3.0, 6.0, 9.0]
    assert summary.stop_reason.startswith("target reached")
    assert git(root, "show", f"{summary.run.branch}:SKILL.md").splitlines()[1:] == RULES
    assert (root / "SKILL.md").read_text() == "Write a LinkedIn post.\n"  # checkout untouched
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        best = ledger.suite_result(summary.run.id, 3)
        baseline = ledger.suite_result(summary.run.id, 0)
        history = ledger.experiments(summary.run.id)
    finally:
        ledger.close()
    assert best.passed == best.total == 9
    assert baseline.passed == 0 and len(baseline.outputs) == 3
    assert all("Agreed?" in o.output for o in baseline.outputs)
    assert all(e.usage and e.usage[0].purpose == "generation" for e in history)
    assert all(e.total_cost_usd > 0 for e in history)


def test_cost_budget_stops_the_run(tmp_path, llm_server):
    llm_server.script(follow_the_skill)
    root = make_project(tmp_path, llm_server, budget={"experiments": 10, "cost_usd": 1e-9})

    summary = overnight.run(root)

    assert len(summary.experiments) == 1  # the baseline alone spent the budget
    assert summary.stop_reason.startswith("cost budget spent")


def test_a_provider_down_voids_the_measurement_but_not_the_change(tmp_path, llm_server):
    """Experiment 1's outputs cannot be generated (the connection drops): its measurement does
    not count, and the same change from the same state is measured again by experiment 2
    rather than refused as already tried."""
    baseline_calls = 3

    def model(body: dict) -> str:
        if len(llm_server.requests) == baseline_calls:  # the baseline's last case: then drop
            llm_server.fail("truncated", times=baseline_calls)
        return follow_the_skill(body)

    llm_server.script(model)
    root = make_project(tmp_path, llm_server, budget={"experiments": 2})
    config = yaml.safe_load((root / CONFIG_NAME).read_text())
    config["evaluate"]["generate"]["retries"] = 0
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "commit", "-qam", "no retries")

    summary = overnight.run(root)

    first, second = summary.experiments[1:]
    assert first.status is Status.CRASH
    assert first.reason.startswith("model provider unreachable for 3 of 3 outputs")
    assert second.diff == first.diff and second.parent_commit == first.parent_commit
    assert second.status is Status.KEEP and second.metric == 3.0
