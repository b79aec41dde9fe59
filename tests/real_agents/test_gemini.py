"""Gemini CLI, the real one, driven by ``overnight run`` against a loopback Gemini API; and its
preset's ``read`` on output captured from it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from conftest import git
from overnight.agents.tools.gemini import PRESET, launch, read
from real_agents.conftest import (
    TRICKY,
    Tool,
    assert_well_behaved,
    find_tool,
    ledger_rows,
    make_project,
    run_overnight,
    stop_reason_after_one_experiment,
    tool_env,
)
from real_agents.gemini_server import SIDE_TOKENS_IN, SIDE_TOKENS_OUT, GeminiProvider

OUTPUTS = Path(__file__).parent / "outputs"
KEY = "loopback-gemini-key"


def gemini_env(tool: Tool, home: Path, provider: GeminiProvider) -> dict[str, str]:
    return tool_env(tool, home, GEMINI_API_KEY=KEY, GOOGLE_GEMINI_BASE_URL=provider.base_url)


def test_two_experiments_with_the_real_gemini(tmp_path: Path) -> None:
    tool = find_tool("gemini", "gemini")
    root = make_project(tmp_path / "project", "gemini", {"timeout": 60})
    with GeminiProvider() as provider:
        done = run_overnight(
            root, gemini_env(tool, tmp_path / "home", provider), "--experiments", "2"
        )
        seen = provider.seen()
        requests = list(provider.requests)

    assert done.returncode == 0, done.stderr
    experiments = [row for row in ledger_rows(root, "experiments") if row["number"] > 0]
    assert [row["number"] for row in experiments] == [1, 2]
    kept = [row for row in experiments if row["status"] == "keep"]
    assert kept, experiments
    usage = [row for row in ledger_rows(root, "usage") if row["purpose"] == "proposal"]
    assert [row["number"] for row in usage] == [1, 2]
    # every call the server answered is counted: the three turns of each experiment (read,
    # write, done) and the side calls (its model router, as no model is configured)
    tokens_in = sum(row["tokens_in"] for row in usage)
    tokens_out = sum(row["tokens_out"] for row in usage)
    script = provider.script
    assert provider.calls == 6
    assert tokens_in == script.tokens_in * provider.calls + SIDE_TOKENS_IN * provider.side_calls
    assert tokens_out == script.tokens_out * provider.calls + SIDE_TOKENS_OUT * provider.side_calls
    assert all(row["cost_usd"] is None for row in usage)  # Gemini CLI reports no cost
    assert all(row["model"].startswith("gemini-") for row in usage)
    message = git(root, "log", "-1", "--format=%s", kept[-1]["commit_sha"])
    assert message == kept[-1]["description"] == f"rewrote rules.txt as rule {kept[-1]['number']}"
    assert_well_behaved(root, seen)
    # the program, @ signs and all, reached the model as it is
    texts = [
        part.get("text", "")
        for request in requests
        if isinstance(request.body, dict)
        for content in request.body.get("contents") or []
        for part in content.get("parts") or []
    ]
    assert any(TRICKY.strip() in text for text in texts)
    assert all(request.headers.get("x-goog-api-key") == KEY for request in requests)
    # the tool wrote nothing in the home it was given (its own is in the agent folder)
    assert not list((tmp_path / "home").iterdir())


def test_a_refused_key_stops_the_run(tmp_path: Path) -> None:
    tool = find_tool("gemini", "gemini")
    root = make_project(tmp_path / "project", "gemini", {"timeout": 60})
    with GeminiProvider() as provider:
        provider.refuse_auth = True
        done = run_overnight(
            root, gemini_env(tool, tmp_path / "home", provider), "--experiments", "2"
        )

    assert "the agent cannot work:" in done.stdout + done.stderr
    assert "API key not valid" in stop_reason_after_one_experiment(root)


# -- read, on output captured from gemini 0.61.0 ------------------------------------------------


def captured(name: str) -> str:
    return (OUTPUTS / f"gemini-{name}.txt").read_text()


def test_read_a_finished_run() -> None:
    report = read(captured("done"))
    assert report.failure is None and not report.fatal
    assert report.answer.endswith("DESCRIPTION: rewrote rules.txt as rule 1")
    assert "I'll read rules.txt first.\n" in report.answer
    assert report.usage is not None
    # the main model's three turns and the router's one call, all counted; the main model named
    assert report.usage.model == "gemini-3.8-flash"
    assert (report.usage.tokens_in, report.usage.tokens_out) == (3640, 246)
    assert report.usage.cost_usd is None


def test_read_counts_thoughts_as_output_and_names_the_main_model() -> None:
    """With its model router on, two models answer; thoughts are in the total, not the output."""
    stats = {
        "total_tokens": 5000,
        "input_tokens": 4000,
        "output_tokens": 300,
        "models": {
            "gemini-3.5-flash-lite": {"total_tokens": 46},
            "gemini-3-pro": {"total_tokens": 4954},
        },
    }
    output = json.dumps({"type": "result", "status": "success", "stats": stats})
    report = read(output)
    assert report.usage is not None
    assert (report.usage.model, report.usage.tokens_in, report.usage.tokens_out) == (
        "gemini-3-pro",
        4000,
        1000,
    )


def test_read_a_refused_key_is_fatal() -> None:
    report = read(captured("refused"))
    assert report.fatal
    assert report.failure is not None and "API key not valid" in report.failure


def test_read_an_unreachable_model_is_a_failure() -> None:
    report = read(captured("unreachable"))
    assert report.failure is not None and "fetch failed" in report.failure
    assert not report.fatal


def test_read_missing_credentials_is_fatal() -> None:
    """Without a key (exit 41) it says so in plain text, before any event."""
    report = read(captured("no-key"))
    assert report.fatal
    assert report.failure is not None and report.failure.startswith("Please set an Auth method")


def test_read_output_without_events() -> None:
    """Before its first event (a bad flag, an untrusted folder) it prints plain text."""
    text = "Gemini CLI is not running in a trusted directory. To proceed, use `--skip-trust`\n"
    report = read(text)
    assert report.answer == text and report.usage is None and report.failure is None


# -- launch ---------------------------------------------------------------------------------------


def test_launch_points_at_a_copy_of_the_prompt_and_writes_settings(tmp_path: Path) -> None:
    folder = tmp_path / "agent folder"
    folder.mkdir()
    prompt = folder / "prompt.md"
    prompt.write_text("Write to ops@example.com; " + TRICKY)
    env = {"OVERNIGHT_PROMPT": str(prompt), "GEMINI_API_KEY": "k"}

    started = launch(env, folder)

    copy = folder / "gemini-prompt" / "prompt.md"
    assert copy.read_text() == prompt.read_text()
    flag, pointer, *_ = shlex.split(" ".join(started.words))
    reference = pointer.split("@", 1)[1]
    assert flag == "-p" and "agent\\ folder" in reference  # the space escaped, as gemini wants
    assert re.sub(r"\\(.)", r"\1", reference) == str(copy)
    home = Path(started.env["GEMINI_CLI_HOME"])
    settings = json.loads((home / ".gemini" / "settings.json").read_text())
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert home.parent == folder and Path(started.env["TMPDIR"]).is_dir()


def test_without_a_key_the_users_own_login_is_used(tmp_path: Path) -> None:
    (tmp_path / "prompt.md").write_text("brief\n")
    started = launch({"OVERNIGHT_PROMPT": str(tmp_path / "prompt.md")}, tmp_path)
    assert "GEMINI_CLI_HOME" not in started.env


@pytest.mark.parametrize("name", ["GOOGLE_GEMINI_BASE_URL", "GEMINI_MODEL"])
def test_settings_that_look_secret_are_passed_on(name: str) -> None:
    assert name in PRESET.passed_on
