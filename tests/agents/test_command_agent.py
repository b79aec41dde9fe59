"""The ``command`` agent: an external program (a coding agent run headless) that edits the tree.
Tested with the stand-in agent in tests/stand_ins/agent.py, through the loop as a user runs it
and directly through ``CommandAgent.propose``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import overnight
from conftest import default_config, git
from overnight.agents import AgentContext, CommandAgent
from overnight.config import CommandAgentConfig
from overnight.errors import AgentError
from overnight.records import Status
from stand_ins.support import command_agent, porcelain, processes_naming, rev, wait_until

PROGRAM = "Try raising the value in value.txt, one step at a time.\n"


@pytest.fixture
def ctl(tmp_path: Path) -> Path:
    path = tmp_path / "ctl"
    path.mkdir()
    return path


def test_agent_reads_the_brief_and_its_last_line_is_the_description(
    make_repo, ctl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-do-not-leak")
    monkeypatch.setenv("STANDIN_PLAIN", "visible")
    root = make_repo(
        {"program.md": PROGRAM},
        default_config(
            program="program.md", agent=command_agent("brief", ctl), budget={"experiments": 2}
        ),
    )

    summary = overnight.run(root, tag="t")

    first, second = summary.experiments[1:]
    assert first.status is Status.KEEP and second.status is Status.KEEP
    # the last non-empty printed line, not the chatter before it
    assert first.description == "set value to 2.0 after reading the brief"
    assert (
        git(root, "log", "-1", "--format=%s", "overnight/t")
        == "set value to 3.0 after reading the brief"
    )
    assert git(root, "show", "overnight/t:value.txt") == "3.0"
    # the run moved its branch only: the checkout is still on main, as it was
    assert git(root, "branch", "--show-current") == "main"
    assert (root / "value.txt").read_text() == "1.0\n" and porcelain(root) == ""

    seen = json.loads((ctl / "brief-1.json").read_text())
    assert seen["exists"], "OVERNIGHT_BRIEF must name an existing file"
    run_dir = root / ".overnight" / "worktrees" / "t"
    assert Path(seen["path"]) == run_dir / "agent" / "brief.md"
    assert Path(seen["cwd"]) == run_dir / "tree"  # the workspace, never the checkout
    assert (run_dir / "agent" / "brief.md").is_file()  # the brief outlives the run...
    assert not (run_dir / "tree").exists()  # ...the workspace does not
    brief = seen["text"]
    assert "Make exactly ONE change" in brief and "value.txt" in brief
    assert PROGRAM.strip() in brief  # the program's instructions
    assert "score" in brief and "higher" in brief  # the metric and its direction

    later = json.loads((ctl / "brief-2.json").read_text())["text"]
    assert "#1 keep" in later and first.description in later  # what was tried so far

    env = seen["env"]
    assert env["OVERNIGHT_EXPERIMENT"] == "1" and env["OVERNIGHT_EDITABLE"] == "value.txt"
    assert env["STANDIN_PLAIN"] == "visible"
    assert "OPENAI_API_KEY" not in env and "GITHUB_TOKEN" not in env
    assert "sk-do-not-leak" not in json.dumps(env)


def test_env_passthrough_hands_a_named_secret_on(
    make_repo, ctl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wanted")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-not-wanted")
    agent = command_agent("brief", ctl, env_passthrough=["OPENAI_API_KEY"])
    root = make_repo(config=default_config(agent=agent, budget={"experiments": 1}))
    overnight.run(root, tag="t")
    env = json.loads((ctl / "brief-1.json").read_text())["env"]
    assert env["OPENAI_API_KEY"] == "sk-wanted"
    assert "ANTHROPIC_API_KEY" not in env


def test_description_file(make_repo) -> None:
    agent = command_agent("describe", description_file="DESCRIPTION.txt")
    root = make_repo(config=default_config(agent=agent, budget={"experiments": 1}))

    summary = overnight.run(root, tag="t")

    kept = summary.experiments[1]
    assert kept.status is Status.KEEP, kept.reason  # the description file is not a change
    assert kept.description == "described in a file"
    assert kept.changed_files == ["value.txt"]
    assert git(root, "log", "-1", "--format=%s", "overnight/t") == "described in a file"
    assert "DESCRIPTION.txt" not in git(root, "ls-tree", "-r", "--name-only", "overnight/t")
    assert not (root / "DESCRIPTION.txt").exists() and porcelain(root) == ""


def test_agent_timeout_is_a_no_op_and_kills_it(make_repo, ctl: Path) -> None:
    agent = command_agent("sleep", ctl, timeout=1)
    root = make_repo(config=default_config(agent=agent, budget={"experiments": 1}))
    started = time.monotonic()

    summary = overnight.run(root, tag="t")

    assert time.monotonic() - started < 20
    experiment = summary.experiments[1]
    assert experiment.status is Status.NO_OP
    assert "timed out after 1 s" in experiment.reason
    assert (ctl / "agent-1.pid").is_file()  # it did start
    wait_until(lambda: not processes_naming(str(ctl)), 5, "the timed-out agent to die")
    # its half-made edit went with the workspace: neither the branch nor the checkout has it
    assert rev(root, "overnight/t") == summary.run.base_commit == rev(root, "HEAD")
    assert (root / "value.txt").read_text() == "1.0\n" and porcelain(root) == ""


# -- CommandAgent.propose directly -------------------------------------------------------------


def context(root: Path, brief: Path) -> AgentContext:
    return AgentContext(
        root=root,
        number=3,
        editable_files=["value.txt"],
        editable_globs=["value.txt"],
        history=[],
        best_metric=1.0,
        direction="maximize",
        brief_path=brief,
    )


def test_propose_directly(make_repo, tmp_path: Path) -> None:
    root = make_repo()
    brief = tmp_path / "brief.md"
    brief.write_text("do one thing\n")
    config = CommandAgentConfig(kind="command", command=command_agent("improve")["command"])
    agent = CommandAgent(config, tmp_path / "logs")

    proposal = agent.propose(context(root, brief))

    assert proposal.description == "set value to 2.0"
    assert (root / "value.txt").read_text() == "2.0\n"
    log = tmp_path / "logs" / "0003.agent.log"
    assert "set value to 2.0" in log.read_text()


def test_propose_failing_raises_agent_error(make_repo, tmp_path: Path) -> None:
    root = make_repo()
    config = CommandAgentConfig(kind="command", command=command_agent("fail")["command"])
    agent = CommandAgent(config, tmp_path / "logs")
    with pytest.raises(AgentError, match="exited with code 1: the model refused"):
        agent.propose(context(root, tmp_path / "brief.md"))


def test_propose_without_output_has_a_placeholder_description(make_repo, tmp_path: Path) -> None:
    root = make_repo()
    config = CommandAgentConfig(kind="command", command="echo 3.0 > value.txt")
    proposal = CommandAgent(config, tmp_path / "logs").propose(context(root, tmp_path / "b.md"))
    assert proposal.description == "(no description)"
    assert (root / "value.txt").read_text() == "3.0\n"
