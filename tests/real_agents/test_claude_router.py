"""The ``claude-code`` router: ``overnight eval`` on a three-skill project through the real Claude
Code CLI against a loopback Anthropic server whose scripted model calls the Skill tool (sometimes
after another tool, sometimes by reading SKILL.md, sometimes not at all); and the transcript
reader on stream-JSON the CLI printed (tests/real_agents/outputs/claude-router-*.txt, captured
from Claude Code 2.1.332 with the router's command line; the temporary folders' paths replaced).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import git
from overnight.activation.routers import RoutingError, make_router
from overnight.activation.routers.claude_code import (
    ClaudeCodeRouter,
    SkillProjects,
    read_transcript,
)
from overnight.activation.skills import Skill
from overnight.config import ClaudeCodeRouterConfig
from real_agents.anthropic_server import SIDE_TOKENS
from real_agents.conftest import find_tool, run_overnight, tool_env
from real_agents.skill_router_server import Routes, SkillRouterMessages

OUTPUTS = Path(__file__).parent / "outputs"
NAMES = ("pdf", "xlsx", "commit")  # the skills installed when the samples were captured

SKILLS = {
    "pdf-tables": "Extract text and tables from PDF files, and fill PDF forms.",
    "sheet-formulas": "Write and fix spreadsheet formulas in Excel workbooks.",
    "commit-messages": "Write a commit message for staged changes, in the project's style.",
}
ROUTES = Routes(
    keywords={
        "pdf": "pdf-tables",
        "formula": "sheet-formulas",
        "formulas": "sheet-formulas",
        "commit": "commit-messages",
        "keybindings": "keybindings-help",  # a skill built into the CLI
    },
    alternate={"Add a spreadsheet formula that totals column D"},
)
# query -> (its label, what every run chose, what the first run's decision was read from)
QUERIES: dict[str, tuple[str | None, list[str | None], str]] = {
    "Extract the tables from invoice.pdf": (
        "pdf-tables",
        ["pdf-tables"] * 2,
        "Skill pdf-tables on turn 2 after Read",  # the false zero of a first-call detector
    ),
    "Show me the instructions for filling a pdf form": (
        "pdf-tables",
        ["pdf-tables"] * 2,
        "Read of .claude/skills/pdf-tables/SKILL.md on turn 1",
    ),
    "Fix the broken formulas in budget.xlsx": (
        "sheet-formulas",
        ["sheet-formulas"] * 2,
        "Skill sheet-formulas on turn 2 after Read",
    ),
    "Add a spreadsheet formula that totals column D": (  # 1 run of 2 reaches the 0.5 threshold
        "sheet-formulas",
        ["sheet-formulas", None],
        "",
    ),
    "Write a commit message for the staged git changes": (
        "commit-messages",
        ["commit-messages"] * 2,
        "Skill commit-messages on turn 2 after Bash",
    ),
    "Describe my change for the changelog": ("commit-messages", [None] * 2, "in 1 turn (ended)"),
    "What does PDF stand for?": (None, ["pdf-tables"] * 2, "Skill pdf-tables on turn 1"),
    "Change my keybindings please": (None, [None] * 2, "called Skill keybindings-help"),
    "Summarise notes.txt": (None, [None] * 2, "in 2 turns (ended); called Read"),
}
RUNS = 2


def _project(root: Path) -> Path:
    for name, description in SKILLS.items():
        folder = root / "skills" / name
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: {description}\n---\n\n# {name}\n\nSteps.\n"
        )
    queries = [{"query": q, "skill": label} for q, (label, *_) in QUERIES.items()]
    config = {
        "name": "real claude-code router",
        "editable": ["skills/*/SKILL.md"],
        "evaluate": {
            "kind": "triggers",
            "skills": [f"skills/{name}/SKILL.md" for name in SKILLS],
            "queries": queries,
            "router": {"kind": "claude-code", "timeout": 120},
            "runs_per_query": RUNS,
            "holdout": 0,
            "concurrency": 4,
        },
        "agent": {"kind": "phrases"},
    }
    (root / "overnight.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def test_overnight_eval_routes_every_query_through_the_real_cli(tmp_path: Path) -> None:
    tool = find_tool("claude", "claude-code")
    root = _project(tmp_path / "project")
    with SkillRouterMessages(ROUTES) as server:
        env = tool_env(
            tool,
            tmp_path / "home",
            ANTHROPIC_BASE_URL=server.base_url,
            ANTHROPIC_API_KEY="sk-ant-loopback",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",  # no telemetry to a host out of reach
        )
        done = run_overnight(root, env, str(root), "--json", command="eval")
        requests, offered, asked = list(server.requests), list(server.offered), server.asked
    assert done.returncode == 0, done.stderr[-2000:]
    score = json.loads(done.stdout)

    chose = {o["case_id"]: json.loads(o["output"]) for o in score["suite"]["outputs"]}
    assert {q: sorted(c, key=str) for q, c in chose.items()} == {
        q: sorted(runs, key=str) for q, (_, runs, _) in QUERIES.items()
    }
    assert asked == dict.fromkeys(QUERIES, RUNS)
    for check in score["suite"]["checks"]:
        assert QUERIES[check["case_id"]][2] in check["reason"], check
    # 5 right triggers, 1 missed, 1 false: precision and recall 5/6
    assert score["value"] == pytest.approx(5 / 6)
    assert score["secondary"]["precision"] == pytest.approx(5 / 6)

    # every conversation was offered the skills as the tree has them, next to the CLI's own
    assert len(offered) == len(QUERIES) * RUNS
    for listing in offered:
        assert {name: listing.get(name) for name in SKILLS} == SKILLS
        assert "keybindings-help" in listing

    (usage,) = score["usage"]
    conversation = [r for r in requests if "Read" in _tools(r.body)]
    side = len(requests) - len(conversation)
    assert (usage["purpose"], usage["model"]) == ("route", conversation[0].body["model"])
    assert usage["tokens_in"] == len(conversation) * 900 + side * SIDE_TOKENS[0]
    assert usage["tokens_out"] == len(conversation) * 40 + side * SIDE_TOKENS[1]
    assert usage["cost_usd"] > 0
    # the session ended soon after the skill: never more than max_turns (2) model calls
    assert len(conversation) <= len(QUERIES) * RUNS * 2
    assert git(root, "status", "--porcelain") == ""
    assert not (root / ".claude").exists()


def _tools(body: Any) -> set[str]:
    return {tool["name"] for tool in body.get("tools") or []} if isinstance(body, dict) else set()


# -- the transcript reader, on what the CLI printed -------------------------------------------


def _read(name: str, names: tuple[str, ...] = NAMES) -> Any:
    return read_transcript((OUTPUTS / f"claude-router-{name}.txt").read_text(), names)


@pytest.mark.parametrize(
    ("sample", "skill", "detail"),
    [
        ("skill", "pdf", "Skill pdf on turn 1"),
        ("read-then-skill", "pdf", "Skill pdf on turn 2 after Read"),
        ("bash-then-skill", "commit", "Skill commit on turn 2 after Bash"),
        ("skill-file", "pdf", "Read of .claude/skills/pdf/SKILL.md on turn 1"),
    ],
)
def test_a_skill_loaded_at_any_turn_is_a_trigger(sample: str, skill: str, detail: str) -> None:
    """Also when the turn limit ended the run (``error_max_turns``, exit code 1)."""
    transcript = _read(sample)
    assert (transcript.choice, transcript.detail, transcript.failure) == (skill, detail, None)
    assert transcript.usage is not None
    assert (transcript.usage.purpose, transcript.usage.model) == ("route", "claude-opus-5-5")
    assert (transcript.usage.tokens_in, transcript.usage.tokens_out) == (1800, 80)
    assert transcript.usage.cost_usd == pytest.approx(0.0088)


@pytest.mark.parametrize(
    ("sample", "detail"),
    [
        ("none", "no skill under test in 1 turn (ended)"),
        ("builtin-skill", "no skill under test in 2 turns (ended); called Skill keybindings-help"),
        ("out-of-turns", "no skill under test in 1 turn (ran out of turns); called Read"),
    ],
)
def test_no_skill_under_test_is_no_trigger(sample: str, detail: str) -> None:
    transcript = _read(sample)
    assert (transcript.choice, transcript.detail, transcript.failure) == (None, detail, None)
    assert transcript.usage is not None and transcript.usage.tokens_in > 0


def test_a_skill_read_from_elsewhere_is_not_a_trigger() -> None:
    """Only the skill's own file in the project's ``.claude/skills`` loads it."""
    transcript = _read("skill-file", ("xlsx", "commit"))
    assert transcript.choice is None


def test_refused_credentials_are_a_failure_with_their_reason() -> None:
    transcript = _read("auth")
    assert transcript.choice is None
    assert transcript.failure == (
        "the model provider refused the credentials (401, authentication_error): "
        "Invalid API key · Fix external API key"
    )


def test_a_skill_the_cli_did_not_load_is_an_error_not_a_miss() -> None:
    with pytest.raises(RoutingError, match="did not load the skill docx") as caught:
        _read("skill", (*NAMES, "docx"))
    assert [u.purpose for u in caught.value.usage] == ["route"]


def test_output_without_a_result_event_is_an_error() -> None:
    output = (OUTPUTS / "claude-router-skill.txt").read_text().splitlines()
    with pytest.raises(RoutingError, match="no result event"):
        read_transcript("\n".join(output[:-1]), NAMES)


# -- the router around the CLI --------------------------------------------------------------


def _fake_claude(folder: Path, sample: str, code: int) -> None:
    """A ``claude`` that prints a captured transcript and records its arguments and folder."""
    folder.mkdir()
    script = folder / "claude"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{folder}/args"; pwd > "{folder}/cwd"\n'
        f'ls .claude/skills > "{folder}/skills"; cat .claude/skills/*/SKILL.md > "{folder}/files"\n'
        f'cat "{OUTPUTS / f"claude-router-{sample}.txt"}"; exit {code}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("OTHER_API_KEY", "kept-out")
    return bin_dir


def _skills(tmp_path: Path) -> list[Skill]:
    skills = []
    for name in NAMES:
        path = tmp_path / "tree" / name / "SKILL.md"
        path.parent.mkdir(parents=True)
        path.write_bytes(f"---\nname: {name}\r\ndescription: The {name} skill.\n---\nbody".encode())
        skills.append(Skill(name, f"The {name} skill.", path))
    return skills


def test_the_router_runs_claude_in_a_project_with_the_skills_installed(
    tmp_path: Path, fake_path: Path
) -> None:
    _fake_claude(fake_path, "read-then-skill", 1)
    config = ClaudeCodeRouterConfig(kind="claude-code", model="claude-haiku-4-5", max_turns=3)
    router = make_router(config, tmp_path)
    skills = _skills(tmp_path)

    query = "--help: extract the tables from 'invoice.pdf'; then $(rm -rf x)"
    routing = router.route(query, skills)

    assert isinstance(router, ClaudeCodeRouter)
    assert (routing.choice, routing.detail) == ("pdf", "Skill pdf on turn 2 after Read")
    assert [u.purpose for u in routing.usage] == ["route"]
    args = (fake_path / "args").read_text().splitlines()
    assert args == [
        *("-p", "--output-format", "stream-json", "--verbose", "--no-session-persistence"),
        *("--setting-sources", "project", "--max-turns", "3", "--model", "claude-haiku-4-5"),
        *("--", query),
    ]
    cwd = Path((fake_path / "cwd").read_text().strip())
    assert tmp_path not in cwd.parents  # outside the workspace
    assert (fake_path / "skills").read_text().split() == sorted(NAMES)
    installed = b"".join(s.path.read_bytes() for s in sorted(skills, key=lambda s: s.name))
    assert (fake_path / "files").read_bytes() == installed  # byte for byte
    router.projects.close()
    assert not cwd.exists()


def test_refused_credentials_fail_the_routing_with_the_cost(
    tmp_path: Path, fake_path: Path
) -> None:
    _fake_claude(fake_path, "auth", 1)
    router = make_router(ClaudeCodeRouterConfig(kind="claude-code"), tmp_path)
    with pytest.raises(RoutingError, match="refused the credentials") as caught:
        router.route("Extract the tables", _skills(tmp_path))
    assert [u.cost_usd for u in caught.value.usage] == [0]


def test_the_environment_keeps_the_key_the_cli_needs_and_no_other(
    tmp_path: Path, fake_path: Path
) -> None:
    _fake_claude(fake_path, "none", 0)
    script = fake_path / "claude"
    script.write_text(script.read_text().replace("pwd >", f'env > "{fake_path}/env"; pwd >'))
    router = make_router(ClaudeCodeRouterConfig(kind="claude-code"), tmp_path)
    assert router.route("hello", _skills(tmp_path)).choice is None
    lines = (fake_path / "env").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-test"
    assert env["DISABLE_AUTOUPDATER"] == "1"
    assert "OTHER_API_KEY" not in env


def test_a_missing_cli_is_a_usage_error_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Exception, match="npm install -g @anthropic-ai/claude-code"):
        make_router(ClaudeCodeRouterConfig(kind="claude-code"), tmp_path)


def test_projects_are_shared_per_set_of_files_and_removed_once_superseded(tmp_path: Path) -> None:
    projects = SkillProjects()
    skills = _skills(tmp_path)
    with projects.installed(skills) as first, projects.installed(skills) as again:
        assert first == again
        skills[0].path.write_text("---\nname: pdf\ndescription: Changed.\n---\n")
        with projects.installed(skills) as second:
            assert second != first
            assert (second / ".claude/skills/pdf/SKILL.md").read_text().endswith("Changed.\n---\n")
        assert first.exists()  # still in use
    assert not first.exists() and second.exists()  # the newest stays for the next evaluation
    projects.close()
    assert not second.exists()
