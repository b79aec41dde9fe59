"""The ``llm`` agent through litellm against the loopback server: one answer applied, a repair
round-trip, failures that become no-ops with their cost, and whole runs through the loop."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import overnight
from conftest import default_config, git
from llm_server import LLMServer
from overnight import llm
from overnight.agents.base import AgentContext
from overnight.agents.llm import SYSTEM_PROMPT, LLMAgent
from overnight.config import LLMAgentConfig
from overnight.errors import AgentError
from overnight.records import Status

MODEL = "openai/gpt-4o-mini"
TRAIN = "import math\n\nLEARNING_RATE = 0.01\nEPOCHS = 3\n\n\ndef train():\n    return 1\n"
GOOD = """\
I will lower the learning rate.

DESCRIPTION: lower the learning rate to 0.003 for a smoother descent

```python
<<<<<<< SEARCH train.py
LEARNING_RATE = 0.01
=======
LEARNING_RATE = 0.003
>>>>>>> REPLACE
```
"""
MALFORMED = "I would lower the learning rate a little."


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm, "sleep", lambda seconds: None)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def agent_for(server: LLMServer, **overrides: Any) -> LLMAgent:
    settings = {"kind": "llm", "model": MODEL, "api_base": server.base_url, "timeout": 5}
    return LLMAgent(LLMAgentConfig.model_validate({**settings, **overrides}))


def brief_with_files(root: Path, files: Sequence[str]) -> str:
    sections = [f"### FILE: {path}\n\n```\n{(root / path).read_text()}```" for path in files]
    return "# Brief for test\n\nMake exactly ONE change.\n\n" + "\n\n".join(sections) + "\n"


def context_for(
    tmp_path: Path, files: dict[str, str] | None = None, brief: str | None = None
) -> AgentContext:
    root = tmp_path / "repo"
    root.mkdir()
    for path, text in (files or {"train.py": TRAIN}).items():
        (root / path).write_text(text)
    editable = sorted(files or {"train.py": TRAIN})
    brief_path = tmp_path / "brief.md"
    brief_path.write_text(brief_with_files(root, editable) if brief is None else brief)
    return AgentContext(
        root=root,
        number=1,
        editable_files=editable,
        editable_globs=["*.py"],
        history=[],
        best_metric=1.0,
        direction="minimize",
        brief_path=brief_path,
    )


def messages_of(server: LLMServer, index: int) -> list[dict[str, str]]:
    body = server.requests[index].body
    assert body is not None
    return body["messages"]


def test_a_good_answer_edits_the_file_and_returns_description_and_usage(
    tmp_path: Path, llm_server: LLMServer
) -> None:
    llm_server.script(GOOD)
    context = context_for(tmp_path)

    proposal = agent_for(llm_server).propose(context)

    assert (context.root / "train.py").read_text() == TRAIN.replace("0.01", "0.003")
    assert proposal.description == "lower the learning rate to 0.003 for a smoother descent"
    (usage,) = proposal.usage
    assert usage.purpose == "proposal" and usage.model == MODEL
    assert usage.tokens_in > 0 and usage.tokens_out > 0
    assert usage.cost_usd is not None and usage.cost_usd > 0
    assert proposal.meta == {
        "model": MODEL,
        "edits": [{"path": "train.py", "lines_removed": 1, "lines_added": 1}],
        "repairs": 0,
        "whitespace_tolerance_used": False,
    }
    system, user = messages_of(llm_server, 0)
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert user == {"role": "user", "content": context.brief_path.read_text()}


def test_files_the_brief_does_not_quote_are_appended_and_cut_to_size(
    tmp_path: Path, llm_server: LLMServer
) -> None:
    llm_server.script(GOOD)
    long = "".join(f"line {n}\n" for n in range(100))
    files = {"train.py": TRAIN, "notes.md": long, "fence.md": "```\ncode\n```\n"}
    context = context_for(tmp_path, files, brief="# Brief\n\n### FILE: train.py\n\n(quoted)\n")

    agent_for(llm_server, max_file_chars=100).propose(context)

    user = messages_of(llm_server, 0)[1]["content"]
    assert user.count("### FILE: train.py") == 1
    assert "### FILE: notes.md\n\n```\nline 0\n" in user
    assert "line 12\n[… 696 more characters not shown: quote only the lines above]\n```" in user
    assert "line 13" not in user
    assert "### FILE: fence.md\n\n````\n```\ncode\n```\n````" in user


def test_a_malformed_answer_is_repaired_in_a_second_turn(
    tmp_path: Path, llm_server: LLMServer
) -> None:
    llm_server.script(MALFORMED, GOOD)
    context = context_for(tmp_path)

    proposal = agent_for(llm_server).propose(context)

    assert llm_server.request_count == 2
    assert len(proposal.usage) == 2 and all(u.purpose == "proposal" for u in proposal.usage)
    assert proposal.meta["repairs"] == 1
    assert "LEARNING_RATE = 0.003" in (context.root / "train.py").read_text()
    messages = messages_of(llm_server, 1)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == MALFORMED
    repair = messages[3]["content"]
    assert repair.startswith("Your answer could not be applied: the answer has no DESCRIPTION")
    assert "Answer again with the whole change in the format" in repair


def test_an_edit_that_does_not_apply_is_repaired_with_the_closest_lines(
    tmp_path: Path, llm_server: LLMServer
) -> None:
    wrong = GOOD.replace("LEARNING_RATE = 0.01\n=", "LEARNING_RATE = 0.1\n=")
    llm_server.script(wrong, GOOD)
    context = context_for(tmp_path)

    agent_for(llm_server).propose(context)

    repair = messages_of(llm_server, 1)[3]["content"]
    assert "the SEARCH text was not found in train.py" in repair
    assert "The closest lines are 3-3:\nLEARNING_RATE = 0.01" in repair


def test_two_bad_answers_fail_with_the_reason_and_the_usage(
    tmp_path: Path, llm_server: LLMServer
) -> None:
    wrong = GOOD.replace("LEARNING_RATE = 0.01\n=", "EPOCHS = 99\n=")
    llm_server.script(MALFORMED, wrong)
    context = context_for(tmp_path)

    with pytest.raises(AgentError) as excinfo:
        agent_for(llm_server).propose(context)

    message = str(excinfo.value)
    assert message.startswith("the model's answer could not be applied (also after 1 repair):")
    assert "the SEARCH text was not found in train.py" in message
    assert len(excinfo.value.usage) == 2
    assert all(u.cost_usd and u.cost_usd > 0 for u in excinfo.value.usage)
    assert (context.root / "train.py").read_text() == TRAIN


def test_whitespace_tolerance_is_recorded(tmp_path: Path, llm_server: LLMServer) -> None:
    sloppy = GOOD.replace("    return 1", "").replace(
        "LEARNING_RATE = 0.01\n=======\nLEARNING_RATE = 0.003",
        "  def train():\n      return 1\n=======\n  def train():\n      return 2",
    )
    llm_server.script(sloppy)
    context = context_for(tmp_path)

    proposal = agent_for(llm_server).propose(context)

    assert (context.root / "train.py").read_text().endswith("def train():\n    return 2\n")
    assert proposal.meta["whitespace_tolerance_used"] is True


def test_a_provider_failure_is_an_agent_error(tmp_path: Path, llm_server: LLMServer) -> None:
    llm_server.fail(401)
    context = context_for(tmp_path)

    with pytest.raises(AgentError, match=r"the model call failed: .*401 unauthorized"):
        agent_for(llm_server).propose(context)

    assert llm_server.request_count == 1
    assert (context.root / "train.py").read_text() == TRAIN


def test_a_provider_failure_during_the_repair_keeps_the_first_usage(
    tmp_path: Path, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_complete = llm.complete

    def fail_on_repair(messages: list[dict[str, str]], config: Any, purpose: str) -> Any:
        if len(messages) > 2:  # the repair turn reaches a server that now refuses it
            llm_server.fail(400)
        return real_complete(messages, config, purpose)

    monkeypatch.setattr(llm, "complete", fail_on_repair)
    llm_server.script(MALFORMED)
    context = context_for(tmp_path)

    with pytest.raises(AgentError, match=r"the model call failed: .*400") as excinfo:
        agent_for(llm_server).propose(context)

    assert llm_server.request_count == 2
    assert len(excinfo.value.usage) == 1  # the malformed answer was paid for all the same


def test_an_edit_outside_the_repository_is_refused(tmp_path: Path, llm_server: LLMServer) -> None:
    escape = GOOD.replace("SEARCH train.py", "SEARCH ../outside.txt")
    llm_server.script(escape)
    (tmp_path / "outside.txt").write_text("LEARNING_RATE = 0.01\n")
    context = context_for(tmp_path)

    with pytest.raises(AgentError, match=r"\.\./outside\.txt is outside the repository"):
        agent_for(llm_server, repairs=0).propose(context)

    assert llm_server.request_count == 1
    assert (tmp_path / "outside.txt").read_text() == "LEARNING_RATE = 0.01\n"


def test_a_file_that_cannot_be_written_fails_without_a_repair(
    tmp_path: Path, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path, data: bytes) -> int:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_bytes", refuse)
    llm_server.script(GOOD)
    context = context_for(tmp_path)

    with pytest.raises(AgentError, match=r"cannot write the model's edits: .*Permission denied"):
        agent_for(llm_server).propose(context)

    assert llm_server.request_count == 1


# -- through the loop -----------------------------------------------------------------------


def answer(path: str, search: str, replace: str, description: str) -> str:
    return (
        f"DESCRIPTION: {description}\n<<<<<<< SEARCH {path}\n{search}\n=======\n{replace}\n"
        ">>>>>>> REPLACE\n"
    )


def llm_config(server: LLMServer, **overrides: Any) -> dict[str, Any]:
    agent = {"kind": "llm", "model": MODEL, "api_base": server.base_url, "timeout": 5}
    return default_config(agent=agent, **overrides)


def test_a_run_keeps_a_gain_rejects_a_frozen_edit_and_records_a_failed_answer(
    make_repo, llm_server: LLMServer
) -> None:
    llm_server.script(
        answer("value.txt", "1.0", "2.0", "raise the value to 2.0"),
        answer("score.py", 'print(f"score: {value}")', 'print("score: 99")', "print a high score"),
        MALFORMED,
        MALFORMED,
    )
    root = make_repo(config=llm_config(llm_server))

    summary = overnight.run(root, tag="t")

    baseline, kept, violation, failed = summary.experiments
    assert [e.status for e in summary.experiments] == [
        Status.BASELINE,
        Status.KEEP,
        Status.VIOLATION,
        Status.NO_OP,
    ]
    assert kept.metric == 2.0 and kept.description == "raise the value to 2.0"
    assert git(root, "log", "-1", "--format=%s", "overnight/t") == "raise the value to 2.0"
    assert "score.py" in violation.reason and "score.py" in violation.changed_files
    assert "no DESCRIPTION line" in failed.reason and "after 1 repair" in failed.reason
    assert git(root, "show", "overnight/t:value.txt") == "2.0"  # the best, on the branch
    assert git(root, "show", "overnight/t:score.py") == git(root, "show", "main:score.py")
    assert (root / "value.txt").read_text() == "1.0\n"  # the checkout is never touched
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""
    assert baseline.usage == []
    for experiment, calls in ((kept, 1), (violation, 1), (failed, 2)):
        assert [u.purpose for u in experiment.usage] == ["proposal"] * calls
        assert experiment.cost_usd > 0 and experiment.tokens_in > 0
        assert experiment.cost_usd == pytest.approx(experiment.total_cost_usd)
    assert kept.agent_meta["edits"] == [{"path": "value.txt", "lines_removed": 1, "lines_added": 1}]
    first_brief = messages_of(llm_server, 0)[1]["content"]
    assert "### FILE: value.txt" in first_brief and "1.0" in first_brief


def test_proposal_cost_counts_toward_the_cost_budget(make_repo, llm_server: LLMServer) -> None:
    llm_server.script(lambda body: answer("value.txt", "1.0", "0.5", "lower the value"))
    root = make_repo(config=llm_config(llm_server, budget={"experiments": 5, "cost_usd": 1e-9}))

    summary = overnight.run(root)

    assert len(summary.experiments) == 2  # the baseline costs nothing, the first proposal spends
    assert summary.stop_reason.startswith("cost budget spent")
