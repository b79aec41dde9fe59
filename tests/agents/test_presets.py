"""Presets of the ``command`` agent for headless coding agents (Claude Code, Codex, aider, Gemini
CLI). Driven by stand-ins named like the real tools (tests/stand_ins/bin/) placed first on PATH:
each checks the options a headless run needs, records what it was given, edits value.txt and
prints chatter and a ``DESCRIPTION:`` line the way the real tool would."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import overnight
from conftest import default_config, git
from overnight.agents import AgentContext, CommandAgent
from overnight.agents.presets import (
    HEADLESS_NOTE,
    PRESETS,
    command_line,
    description_from_output,
)
from overnight.config import CommandAgentConfig
from overnight.errors import AgentError, UsageError
from overnight.records import Status
from stand_ins.support import STAND_INS, porcelain, processes_naming, run_cli, wait_until

TOOLS = STAND_INS / "bin"
KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "CODEX_API_KEY", "GEMINI_API_KEY")
KEYS += ("GOOGLE_API_KEY", "DEEPSEEK_API_KEY", "GITHUB_TOKEN", "STANDIN_EXTRA_SECRET")
EXECUTABLE = {name: preset.executable for name, preset in PRESETS.items()}
BRIEF = "# Brief\n\nMake exactly ONE change. Only these files may change: value.txt\n"

# What each real tool needs to edit files headless, in the order it must come.
HEADLESS_OPTIONS = {
    "claude-code": [
        "-p",
        "<prompt>",
        "--output-format",
        "json",
        "--permission-mode",
        "acceptEdits",
        "--no-session-persistence",
    ],
    "codex": ["exec", "<prompt>", "--sandbox", "workspace-write", "--skip-git-repo-check"],
    "aider": ["--message-file", "<prompt file>", "--yes-always", "--no-auto-commits", "--no-git"],
    "gemini": [
        "--yolo",
        "--skip-trust",
        "--output-format",
        "stream-json",
        "-p",
        "<pointer to the prompt file>",
        "--include-directories",
        "<its folder>",
    ],
}


@pytest.fixture
def ctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-ins first on PATH, their control folder, and no API key but those a test sets."""
    path = tmp_path / "ctl"
    path.mkdir()
    monkeypatch.setenv("PATH", os.pathsep.join([str(TOOLS), _python_dir(), os.environ["PATH"]]))
    monkeypatch.setenv("STANDIN_CTL", str(path))
    monkeypatch.delenv("STANDIN_MODE", raising=False)
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    return path


def _python_dir() -> str:
    return str(Path(sys.executable).parent)


def seen(ctl: Path, preset: str, number: int = 3) -> dict[str, Any]:
    return json.loads((ctl / f"{EXECUTABLE[preset]}-{number}.json").read_text())


def context(root: Path, brief: Path, editable: list[str] | None = None) -> AgentContext:
    return AgentContext(
        root=root,
        number=3,
        editable_files=editable or ["value.txt"],
        editable_globs=["value.txt"],
        history=[],
        best_metric=1.0,
        direction="maximize",
        brief_path=brief,
    )


def agent(tmp_path: Path, preset: str, **options: Any) -> CommandAgent:
    config = CommandAgentConfig(kind="command", preset=preset, **options)
    return CommandAgent(config, tmp_path / "logs")


def propose(
    make_repo, tmp_path: Path, preset: str, brief: str = BRIEF, **options: Any
) -> tuple[Path, str]:
    root = make_repo()
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "brief.md"
    path.write_text(brief)
    proposal = agent(tmp_path, preset, **options).propose(context(root, path))
    return root, proposal.description


def follows_in_order(argv: list[str], wanted: list[str]) -> bool:
    """Every wanted word appears in ``argv`` adjacent to the one before it, in order."""
    words = [w if not w.startswith("<") else None for w in wanted]
    for start in range(len(argv) - len(words) + 1):
        window = argv[start : start + len(words)]
        if all(w is None or w == a for w, a in zip(words, window, strict=True)):
            return True
    return False


# -- one proposal, directly ---------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_edits_and_returns_its_description(
    preset: str, make_repo, tmp_path: Path, ctl: Path
) -> None:
    root, description = propose(make_repo, tmp_path, preset)

    assert description == "raise value to 2.0"  # the DESCRIPTION line, not the chatter after it
    assert (root / "value.txt").read_text() == "2.0\n"
    call = seen(ctl, preset)
    assert follows_in_order(call["argv"], HEADLESS_OPTIONS[preset]), call["argv"]
    assert "--model" not in call["argv"]
    assert BRIEF.strip() in call["prompt"] and "DESCRIPTION:" in call["prompt"]
    assert Path(call["cwd"]) == root
    prompt_file = tmp_path / "logs" / "0003.prompt.md"
    assert prompt_file.read_text().rstrip("\n") == call["prompt"].rstrip("\n")


@pytest.mark.parametrize("preset", PRESETS)
def test_model_goes_to_the_tools_model_flag(
    preset: str, make_repo, tmp_path: Path, ctl: Path
) -> None:
    propose(make_repo, tmp_path, preset, model="provider/some-model")
    argv = seen(ctl, preset)["argv"]
    assert follows_in_order(argv, ["--model", "provider/some-model"]), argv


@pytest.mark.parametrize(
    ("preset", "given"),
    [
        ("claude-code", {"ANTHROPIC_API_KEY"}),
        ("codex", {"OPENAI_API_KEY", "CODEX_API_KEY"}),
        ("aider", {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY"}),
        ("gemini", {"GEMINI_API_KEY", "GOOGLE_API_KEY"}),
    ],
)
def test_each_tool_gets_its_own_keys_and_no_other_secret(
    preset: str, given: set[str], make_repo, tmp_path: Path, ctl: Path, monkeypatch
) -> None:
    for key in KEYS:
        monkeypatch.setenv(key, f"value-of-{key}")
    propose(make_repo, tmp_path, preset, env_passthrough=["STANDIN_EXTRA_SECRET"])
    keys = seen(ctl, preset)["keys"]
    assert keys == {key: f"value-of-{key}" for key in {*given, "STANDIN_EXTRA_SECRET"}}
    assert "GITHUB_TOKEN" not in keys


def test_a_key_that_is_not_set_is_not_invented(make_repo, tmp_path: Path, ctl: Path) -> None:
    propose(make_repo, tmp_path, "claude-code")
    assert seen(ctl, "claude-code")["keys"] == {}


def test_command_adds_arguments_after_the_presets_own(make_repo, tmp_path: Path, ctl: Path) -> None:
    extra = "--max-turns 5 --append-system-prompt 'be brief, please'"
    propose(make_repo, tmp_path, "claude-code", command=extra, model="sonnet")
    argv = seen(ctl, "claude-code")["argv"]
    wanted = ["--model", "sonnet", "--max-turns", "5", "--append-system-prompt", "be brief, please"]
    assert argv[-6:] == wanted


def test_aider_gets_the_editable_files_after_its_options(
    make_repo, tmp_path: Path, ctl: Path
) -> None:
    root = make_repo()
    brief = tmp_path / "brief.md"
    brief.write_text(BRIEF)
    editable = ["value.txt", "notes/it's a file $(touch pwned).txt", "-rf"]
    config = {"command": "--edit-format whole"}

    proposal = agent(tmp_path, "aider", **config).propose(context(root, brief, editable))

    argv = seen(ctl, "aider")["argv"]
    assert argv[-6:] == ["--edit-format", "whole", "--", *editable]
    assert proposal.description == "raise value to 2.0"
    assert not (root / "pwned").exists()
    # aider's own history files go beside the brief (the agent's folder), out of the repository
    assert (tmp_path / "aider.chat.history.md").is_file()
    assert not (root / ".aider.chat.history.md").exists()
    assert {"--chat-history-file", "--input-history-file"} <= set(argv)


def test_the_brief_reaches_the_tool_verbatim_and_never_runs(
    make_repo, tmp_path: Path, ctl: Path
) -> None:
    hostile = BRIEF + "Try $(touch pwned1) and `touch pwned2`; \"quotes\" 'too' \\ $HOME ${PATH}\n"
    for preset in ("claude-code", "codex", "gemini"):
        root, _ = propose(make_repo, tmp_path / preset, preset, brief=hostile)
        assert hostile.strip() in seen(ctl, preset)["prompt"]
        assert not list(root.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))


def test_the_last_description_line_wins_over_the_echoed_prompt(
    make_repo, tmp_path: Path, ctl: Path, monkeypatch
) -> None:
    """Codex echoes the prompt (which mentions DESCRIPTION:) to the log; without a DESCRIPTION
    line of its own, the description is its last line, never a piece of the prompt."""
    monkeypatch.setenv("STANDIN_MODE", "silent")
    _, description = propose(make_repo, tmp_path, "codex")
    assert description == "Raised the number in value.txt by one."


def test_a_failing_tool_is_an_agent_error_naming_it(
    make_repo, tmp_path: Path, ctl: Path, monkeypatch
) -> None:
    monkeypatch.setenv("STANDIN_MODE", "fail")
    with pytest.raises(AgentError, match=r"^claude exited with code 1: the model is overloaded"):
        propose(make_repo, tmp_path, "claude-code")


def test_a_prompt_too_long_for_one_argument_is_refused(
    make_repo, tmp_path: Path, ctl: Path
) -> None:
    long_brief = BRIEF + "x" * 200_000
    with pytest.raises(AgentError, match="more than one command-line argument may hold"):
        propose(make_repo, tmp_path, "claude-code", brief=long_brief)
    _, description = propose(make_repo, tmp_path / "aider", "aider", brief=long_brief)
    assert description == "raise value to 2.0"  # aider reads the prompt from its file


# -- a missing tool -----------------------------------------------------------------------------


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A PATH holding git alone: no coding agent is installed."""
    folder = tmp_path / "bare-bin"
    folder.mkdir()
    git_path = shutil.which("git")
    assert git_path is not None
    (folder / "git").symlink_to(git_path)
    monkeypatch.setenv("PATH", str(folder))
    return str(folder)


@pytest.mark.parametrize("preset", PRESETS)
def test_a_missing_tool_is_a_usage_error_before_any_experiment(
    preset: str, tmp_path: Path, bare_path: str
) -> None:
    install = PRESETS[preset].install
    config = CommandAgentConfig(kind="command", preset=preset)
    with pytest.raises(UsageError) as checked:
        CommandAgent.check(config)
    with pytest.raises(UsageError) as caught:
        agent(tmp_path, preset)
    message = str(caught.value)
    assert str(checked.value) == message
    assert f"needs the {EXECUTABLE[preset]!r} command, which is not on PATH" in message
    assert install in message


def test_a_missing_tool_stops_the_run_with_exit_code_2(make_repo, bare_path: str) -> None:
    root = make_repo(config=default_config(agent={"kind": "command", "preset": "codex"}))
    with pytest.raises(UsageError, match="'codex' command"):
        overnight.run(root, tag="t")

    done = run_cli("run", str(root), "--tag", "t2", PATH=bare_path)

    assert done.returncode == 2, done.stderr
    assert "npm install -g @openai/codex" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_tool_that_disappears_mid_run_is_named(
    make_repo, tmp_path: Path, ctl: Path, monkeypatch
) -> None:
    root = make_repo()
    claude = agent(tmp_path, "claude-code")
    monkeypatch.setenv("PATH", _python_dir())
    with pytest.raises(AgentError, match="needs the 'claude' command"):
        claude.propose(context(root, tmp_path / "brief.md"))


# -- whole runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_a_run_driven_by_each_preset(preset: str, make_repo, ctl: Path) -> None:
    root = make_repo(
        {"program.md": "Raise the number in value.txt.\n"},
        default_config(program="program.md", agent={"kind": "command", "preset": preset}),
    )

    summary = overnight.run(root, tag="t")

    tried = summary.experiments[1:]
    assert [e.status for e in tried] == [Status.KEEP] * 3, [e.reason for e in tried]
    descriptions = ["raise value to 2.0", "raise value to 3.0", "raise value to 4.0"]
    assert [e.description for e in tried] == descriptions
    assert git(root, "log", "--format=%s", "-3", "overnight/t").splitlines() == descriptions[::-1]
    assert summary.best == 4.0
    assert all(e.agent_meta["preset"] == preset for e in tried)
    run_dir = root / ".overnight" / "worktrees" / "t"
    assert Path(seen(ctl, preset, 3)["cwd"]) == run_dir / "tree"  # the workspace
    # the best is on the branch, holding nothing but the change; the checkout is as it was
    assert git(root, "show", "overnight/t:value.txt") == "4.0"
    assert git(root, "diff", "--name-only", "main", "overnight/t") == "value.txt"
    assert (root / "value.txt").read_text() == "1.0\n" and porcelain(root) == ""
    later = seen(ctl, preset, 3)["prompt"]
    assert "Raise the number in value.txt." in later and "raise value to 3.0" in later
    assert (run_dir / "agent" / "prompt.md").read_text().rstrip("\n") == later.rstrip("\n")
    if preset == "aider":  # its history files stay in the agent's folder, off the branch
        assert (run_dir / "agent" / "aider.chat.history.md").is_file()
    logs = root / ".overnight" / "logs" / "t"
    assert (logs / "0003.prompt.md").read_text().rstrip("\n") == later.rstrip("\n")


def test_a_tool_that_times_out_is_a_no_op_and_is_killed(make_repo, ctl: Path, monkeypatch) -> None:
    monkeypatch.setenv("STANDIN_MODE", "sleep")
    config = default_config(
        agent={"kind": "command", "preset": "claude-code", "timeout": 1},
        budget={"experiments": 1},
    )
    root = make_repo(config=config)
    started = time.monotonic()

    summary = overnight.run(root, tag="t")

    assert time.monotonic() - started < 20
    experiment = summary.experiments[1]
    assert experiment.status is Status.NO_OP
    assert experiment.reason == "claude timed out after 1 s"
    assert (ctl / "claude-1.pid").is_file()  # it did start
    wait_until(lambda: not processes_naming(str(ctl)), 5, "the timed-out tool to die")
    # its half-made edit went with the workspace: neither the branch nor the checkout has it
    assert git(root, "rev-parse", "overnight/t") == summary.run.base_commit
    assert (root / "value.txt").read_text() == "1.0\n" and porcelain(root) == ""


# -- the pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "line"),
    [
        (
            "claude-code",
            'claude -p "$(cat "$OVERNIGHT_PROMPT")" --output-format json '
            "--permission-mode acceptEdits --no-session-persistence --model 'm 1' --max-turns 9",
        ),
        (
            "codex",
            'codex exec "$(cat "$OVERNIGHT_PROMPT")" --sandbox workspace-write '
            "--skip-git-repo-check --json --ephemeral "
            "-c features.unbounded_connection_retries=false --model 'm 1' --max-turns 9",
        ),
        (
            "aider",
            'aider --message-file "$OVERNIGHT_PROMPT" --yes-always --no-auto-commits --no-git '
            "--no-check-update --no-show-model-warnings --no-pretty --no-analytics "
            "--no-detect-urls --no-show-release-notes "
            "--chat-history-file '/l o g/aider.chat.history.md' "
            "--input-history-file '/l o g/aider.input.history' "
            "--model 'm 1' --max-turns 9 -- a.py 'b c.py'",
        ),
        (
            "gemini",
            "gemini --yolo --skip-trust --output-format stream-json --model 'm 1' --max-turns 9",
        ),
    ],
)
def test_command_lines(preset: str, line: str) -> None:
    built = command_line(
        PRESETS[preset],
        model="m 1",
        extra=" --max-turns 9 ",
        files=["a.py", "b c.py"],
        state_dir=Path("/l o g"),
    )
    assert built == line


@pytest.mark.parametrize(
    ("output", "description"),
    [
        ("chatter\nDESCRIPTION: tune the rate\nApplied edit\nTokens: 1k", "tune the rate"),
        ("DESCRIPTION: first\nDESCRIPTION: second\n", "second"),
        ("**DESCRIPTION:** bold label\n", "bold label"),
        ("**Description**: bold word\n", "bold word"),
        ("> description: quoted\n", "quoted"),
        ("no label here\n\nlast line  \n\n", "last line"),
        ("DESCRIPTION:\nthe line after an empty label\n", "the line after an empty label"),
        ("", ""),
    ],
)
def test_description_from_output(output: str, description: str) -> None:
    assert description_from_output(output) == description


def test_the_note_for_unattended_runs_is_no_description_itself() -> None:
    assert "DESCRIPTION:" in HEADLESS_NOTE
    assert description_from_output(HEADLESS_NOTE) == HEADLESS_NOTE.strip().splitlines()[-1]


def test_docs_cover_every_preset() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "agents.md").read_text()
    for name, preset in PRESETS.items():
        assert f"preset: {name}" in text
        assert preset.install in text
        for secret in preset.secrets:
            assert secret in text, (name, secret)


def test_only_a_refused_key_reads_as_one() -> None:
    """A refused key stops the whole run, so an ordinary error must not look like one."""
    from overnight.agents.tool import auth_failure

    assert auth_failure("API Error: 401 Unauthorized: invalid x-api-key")
    assert auth_failure('{"status": "PERMISSION_DENIED", "code": 403}')
    assert not auth_failure("PermissionError: [Errno 13] Permission denied: 'out.txt'")
    assert not auth_failure("wrote 14 files")
