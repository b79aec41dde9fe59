"""Claude Code, the real CLI, run by ``overnight run`` against a loopback Anthropic Messages
server (``ANTHROPIC_BASE_URL``); and the preset's reader on what the tool printed
(tests/real_agents/outputs/claude-code-*.txt, captured from Claude Code 2.1.332 with
``--output-format json``, its standard error in the same file as in an agent log).

The tool prices the tokens itself (``total_cost_usd``) for the models it knows, at list prices;
the scripted model answers under the tool's default model name, so a cost is reported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import git
from overnight.agents.tool import ToolReport
from overnight.agents.tools.claude_code import PRESET, read
from real_agents.anthropic_server import SIDE_TOKENS, AnthropicMessages, strings
from real_agents.conftest import (
    EDITABLE,
    TRICKY,
    assert_well_behaved,
    find_tool,
    ledger_rows,
    make_project,
    run_overnight,
    stop_reason_after_one_experiment,
    tool_env,
)

OUTPUTS = Path(__file__).parent / "outputs"


def _env(tmp_path: Path, server: AnthropicMessages, **extra: str) -> dict[str, str]:
    tool = find_tool("claude", "claude-code")
    return tool_env(
        tool,
        tmp_path / "home",
        ANTHROPIC_BASE_URL=server.base_url,
        ANTHROPIC_API_KEY="sk-ant-loopback",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",  # no telemetry to a host out of reach
        **extra,
    )


def _project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project", "claude-code", {"timeout": 60})


def _result_in_log(root: Path, number: int) -> dict[str, Any]:
    log = next((root / ".overnight" / "logs").rglob(f"{number:04d}.agent.log"))
    lines = [line for line in log.read_text().splitlines() if line.startswith('{"')]
    return json.loads(lines[-1])


def test_claude_code_improves_the_project_through_overnight(tmp_path: Path) -> None:
    with AnthropicMessages() as server:
        root = _project(tmp_path)
        done = run_overnight(root, _env(tmp_path, server), "--experiments", "2")
        requests = list(server.requests)
        seen, side = server.seen(), server.side_requests
    assert done.returncode == 0, done.stderr[-2000:]

    experiments = [row for row in ledger_rows(root, "experiments") if row["number"] > 0]
    assert [row["number"] for row in experiments] == [1, 2]
    kept = [row for row in experiments if row["status"] == "keep"]
    assert kept, [(row["status"], row["reason"]) for row in experiments]

    conversation = [r for r in requests if "Read" in _tools(r.body)]
    assert len(conversation) == 6  # read, rewrite, answer: twice
    usage = {row["number"]: row for row in ledger_rows(root, "usage")}
    for row in experiments:
        spent, printed = usage[row["number"]], _result_in_log(root, row["number"])
        assert (spent["purpose"], spent["calls"]) == ("proposal", 3)
        assert spent["model"] == next(iter(printed["modelUsage"]))
        assert spent["cost_usd"] == printed["total_cost_usd"] > 0
    tokens_in = sum(row["tokens_in"] for row in usage.values())
    tokens_out = sum(row["tokens_out"] for row in usage.values())
    assert tokens_in == len(conversation) * 1200 + side * SIDE_TOKENS[0]
    assert tokens_out == len(conversation) * 80 + side * SIDE_TOKENS[1]

    # Write made the first rewrite and Edit the second, and neither was refused by the tool
    blocks = [b for r in conversation for m in r.body["messages"] for b in _blocks(m)]
    assert {"Read", "Write", "Edit"} <= {b["name"] for b in blocks if b["type"] == "tool_use"}
    assert not any(b.get("is_error") for b in blocks if b["type"] == "tool_result")

    branch = _branch(root)
    message = git(root, "log", "-1", "--format=%s", kept[-1]["commit_sha"])
    assert message == kept[-1]["description"]
    assert re.fullmatch(rf"rewrote {EDITABLE} as rule \d", message), message
    assert "GOOD" in git(root, "show", f"{branch}:{EDITABLE}")

    prompts = [text for r in conversation for m in r.body["messages"] for text in strings(m)]
    assert any(TRICKY in text for text in prompts)
    assert_well_behaved(root, seen)


def _tools(body: Any) -> set[str]:
    return {tool["name"] for tool in body.get("tools") or []} if isinstance(body, dict) else set()


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return (
        [block for block in content if isinstance(block, dict)] if isinstance(content, list) else []
    )


def _branch(root: Path) -> str:
    refs = git(root, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    return next(ref for ref in refs if ref.startswith("overnight/"))


def test_refused_credentials_stop_the_run_after_one_experiment(tmp_path: Path) -> None:
    with AnthropicMessages() as server:
        server.refuse_auth = True
        root = _project(tmp_path)
        # the tool retries a refused key ten times over about three minutes unless told not to
        env = _env(tmp_path, server, CLAUDE_CODE_MAX_RETRIES="1")
        run_overnight(root, env, "--experiments", "2")
    reason = stop_reason_after_one_experiment(root)
    assert "refused the credentials (401, authentication_error)" in reason
    assert "Invalid API key" in reason


# -- the reader, on what the tool printed --------------------------------------------------------


def _output(name: str) -> str:
    return (OUTPUTS / f"claude-code-{name}.txt").read_text()


def test_read_takes_the_reply_tokens_and_cost() -> None:
    report = read(_output("success"))
    assert report.failure is None and not report.fatal
    assert report.answer == "Rewrote the rules.\n\nDESCRIPTION: rewrote rules.txt as rule 1"
    assert report.usage is not None
    assert (report.usage.tokens_in, report.usage.tokens_out) == (3600, 240)
    assert (report.usage.cost_usd, report.usage.calls) == (0.0192, 3)
    assert report.usage.model == "claude-opus-5-5"


def test_a_model_the_tool_has_no_prices_for_has_no_cost() -> None:
    """Its warning on standard error comes first in the log; the result line is still found,
    and the price the tool guessed for an unknown model is not recorded as a cost."""
    output = _output("gateway")
    assert output.startswith("[claude-code:unrecognized_model]")
    report = read(output)
    assert report.failure is None and report.usage is not None
    assert (report.usage.model, report.usage.tokens_in) == ("claude-loopback-1", 3600)
    assert report.usage.cost_usd is None
    assert report.answer.endswith("DESCRIPTION: rewrote rules.txt as rule 2")


def test_refused_credentials_are_fatal() -> None:
    report = read(_output("auth"))
    assert report.fatal
    assert report.failure == (
        "the model provider refused the credentials (401, authentication_error): "
        "Invalid API key · Fix external API key"
    )
    assert report.usage is not None and report.usage.cost_usd == 0


def test_an_unreachable_provider_is_a_failure_but_not_fatal() -> None:
    report = read(_output("unreachable"))
    assert not report.fatal
    assert report.failure == (
        "API Error: Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED) "
        "(connection_failed)"
    )


def test_running_out_of_turns_is_a_failure() -> None:
    report = read(_output("max-turns"))  # --max-turns 1
    assert report.failure == "Reached maximum number of turns (1)" and not report.fatal


def test_an_error_result_is_a_failure_whatever_the_exit_code() -> None:
    printed = {"type": "result", "subtype": "error_during_execution", "is_error": True}
    report = read(json.dumps(printed) + "\n")
    assert report.failure == "error_during_execution" and not report.fatal


def test_text_output_is_read_as_plain_text() -> None:
    """``command: --output-format text`` overrides the preset's json: no usage, no crash."""
    output = "Rewrote it.\nDESCRIPTION: plain text\n"
    assert read(output) == ToolReport(answer=output)


def test_cached_tokens_count_as_tokens_in() -> None:
    counts = {"inputTokens": 10, "cacheReadInputTokens": 900, "cacheCreationInputTokens": 90}
    counts |= {"outputTokens": 5, "costBasis": "list"}
    printed = {"type": "result", "is_error": False, "result": "done", "total_cost_usd": 0.5}
    report = read(json.dumps(printed | {"modelUsage": {"claude-x": counts}}))
    assert report.usage is not None
    assert (report.usage.tokens_in, report.usage.tokens_out) == (1000, 5)
    assert (report.usage.cost_usd, report.usage.calls) == (0.5, 1)


def test_launch_keeps_the_tool_from_updating_itself_unless_the_user_says(tmp_path: Path) -> None:
    assert PRESET.launch({}, tmp_path).env == {"DISABLE_AUTOUPDATER": "1"}
    assert PRESET.launch({"DISABLE_AUTOUPDATER": "0"}, tmp_path).env == {}
