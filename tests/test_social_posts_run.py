"""The social-posts example, end to end through the loopback model: a scripted model plays both
the copywriter (it follows the rules SKILL.md holds) and the agent (it reads the brief's failing
checks and adds the rule that fixes the first one). Five experiments take the example from its
baseline to 25/25, and the run stops on its target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from llm_server import prompt_of
from overnight import examples, llm
from overnight.agents.llm import SYSTEM_PROMPT
from overnight.ledger import Ledger
from overnight.records import Status

RULES = {  # the check a rule fixes -> the rule
    "first-line": "Open with a one-sentence hook on a line of its own.",
    "contains-statistic": "Quote at least one figure from the brief.",
    "word-count": "Keep the post under 150 words.",
    "last-line": "Close with a statement, never a question.",
    "icontains": "Name the brand.",
}


def copywriter(skill: str, brand: str) -> str:
    """Writes the post the skill asks for, no better."""
    hook = (
        "Today we launch something new."
        if RULES["first-line"] in skill
        else ("Hello everyone, big news today. We are thrilled to share it")
    )
    subject = brand if RULES["icontains"] in skill else "our product"
    figure = (
        "It delivers 30% more than before."
        if RULES["contains-statistic"] in skill
        else ("It is better than before.")
    )
    filler = "" if RULES["word-count"] in skill else " ".join(["We love it."] * 110)
    close = "See it on our website." if RULES["last-line"] in skill else "What do you think?"
    return f"{hook}\n\nMeet {subject}. {figure} {filler}\n\n{close}"


def agent(brief: str) -> str:
    """Adds the rule for the first check the best state still fails."""
    failing = re.search(r"^- case \S+: (\S+)", brief, re.MULTILINE)
    assert failing, "the brief names no failing check"
    rule = next(rule for check, rule in RULES.items() if failing.group(1).startswith(check))
    skill = brief.split("### FILE: SKILL.md\n```\n")[1].split("\n```")[0]
    last = skill.splitlines()[-1]
    return (
        f"DESCRIPTION: add the rule '{rule}'\n\n"
        f"<<<<<<< SEARCH SKILL.md\n{last}\n=======\n{last}\n{rule}\n>>>>>>> REPLACE\n"
    )


def model(body: dict) -> str:
    messages = body["messages"]
    if messages[0]["content"] == SYSTEM_PROMPT:
        return agent(messages[-1]["content"])
    brand = prompt_of(body).split("Product brief for ")[1].split(":")[0]
    return copywriter(messages[0]["content"], brand)


@pytest.fixture
def posts(tmp_path: Path, llm_server, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(llm, "sleep", lambda seconds: None)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    root = examples.create_from_example("social-posts", tmp_path / "posts")
    for name, section in (("overnight.yaml", "agent"), ("suite.yaml", "generate")):
        data = yaml.safe_load((root / name).read_text())
        data[section]["api_base"] = llm_server.base_url
        (root / name).write_text(yaml.safe_dump(data, sort_keys=False))
    git(root, "commit", "-q", "-am", "use the loopback model")
    llm_server.script(model)
    return root


def test_the_llm_agent_takes_social_posts_from_baseline_to_25(posts: Path, llm_server) -> None:
    summary = overnight.run(posts)

    scores = [e.metric for e in summary.experiments]
    assert scores == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert [e.status for e in summary.experiments[1:]] == [Status.KEEP] * 5
    assert summary.stop_reason == "target reached: 25 (target 25)"
    skill = git(posts, "show", f"{summary.run.branch}:SKILL.md")  # the best, on the branch
    assert all(rule in skill for rule in RULES.values())
    assert skill.startswith("---\nname: linkedin-post")  # the front matter survived
    assert not any(rule in (posts / "SKILL.md").read_text() for rule in RULES.values())
    for kept in summary.kept:
        assert kept.description.startswith("add the rule")
        assert {u.purpose for u in kept.usage} == {"proposal", "generation"}
    ledger = Ledger(posts / ".overnight" / "ledger.db")
    try:
        best = ledger.suite_result(summary.run.id, 5)
    finally:
        ledger.close()
    assert best.passed == best.total == 25
