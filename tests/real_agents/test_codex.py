"""Codex CLI, the real one, run by ``overnight run`` against a loopback OpenAI Responses API
(``OPENAI_BASE_URL``, which the preset turns into a provider of Codex's own); the preset's
launch step; and its reader on outputs Codex printed (tests/real_agents/outputs/codex-*.txt,
captured from codex-cli 0.171.0 with ``--json``, standard error included).

The model is named ``gpt-5.5`` so that Codex offers it its usual tools: the scripted model
reads the file through ``exec_command`` and rewrites it through ``apply_patch``, both run in
Codex's own sandbox. Codex counts a turn's tokens from the server's usage and reports no cost.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import git
from overnight.agents.tools.codex import launch, read
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
from real_agents.loopback import Request
from real_agents.responses_server import ResponsesServer

MODEL = "gpt-5.5"
KEY = "sk-loopback"
OUTPUTS = Path(__file__).parent / "outputs"


def _project(tmp_path: Path, sandbox: str = "auto") -> Path:
    # Codex gives an unreachable provider about 25 s of retries
    agent = {"model": MODEL, "timeout": 90}
    root = make_project(tmp_path / "project", "codex", agent)
    if sandbox != "auto":
        path = root / "overnight.yaml"
        config = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**config, "sandbox": {"mode": sandbox}}, sort_keys=False))
        git(root, "commit", "-q", "-a", "--amend", "--no-edit")
    return root


def _env(tmp_path: Path, server: ResponsesServer) -> dict[str, str]:
    tool = find_tool("codex", "codex")
    return tool_env(
        tool, tmp_path / "home", OPENAI_BASE_URL=f"{server.base_url}/v1", OPENAI_API_KEY=KEY
    )


def _texts(requests: list[Request]) -> list[str]:
    """Every text of every input item the model was sent, decoded from the request JSON."""
    return [
        part["text"]
        for request in requests
        if isinstance(request.body, dict)
        for item in request.body.get("input") or []
        if isinstance(item, dict)
        for part in item.get("content") or []
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]


@pytest.mark.parametrize("sandbox", ["auto", "off"])
def test_codex_improves_the_project_through_overnight(tmp_path: Path, sandbox: str) -> None:
    """Codex's own sandbox works inside overnight's (bubblewrap, where installed) and alone."""
    with ResponsesServer() as server:
        root = _project(tmp_path, sandbox)
        done = run_overnight(root, _env(tmp_path, server), "--experiments", "2")
        seen = server.seen()
        calls = server.model_calls()
        requests = list(server.requests)
    assert done.returncode == 0, done.stderr[-2000:]
    if sandbox == "off":
        assert "isolation: none" in done.stdout
    assert len(calls) == len(requests) == 6  # three model calls per experiment, nothing else
    assert {call.headers.get("authorization") for call in calls} == {f"Bearer {KEY}"}
    assert {call.body["model"] for call in calls} == {MODEL}

    experiments = [row for row in ledger_rows(root, "experiments") if row["number"] > 0]
    assert [row["number"] for row in experiments] == [1, 2]
    kept = [row for row in experiments if row["status"] == "keep"]
    assert kept, [(row["status"], row["reason"]) for row in experiments]

    usage = {row["number"]: row for row in ledger_rows(root, "usage")}
    for row in experiments:
        spent = usage[row["number"]]
        assert (spent["model"], spent["purpose"], spent["calls"]) == (
            MODEL,
            "proposal",
            1,
        )  # codex names no model: the configured one
        tokens = (spent["tokens_in"], spent["tokens_out"])
        assert tokens == (3 * server.script.tokens_in, 3 * server.script.tokens_out)
        assert spent["cost_usd"] is None

    branch = next(
        ref
        for ref in git(root, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
        if ref.startswith("overnight/")
    )
    message = git(root, "log", "-1", "--format=%s", kept[-1]["commit_sha"])
    assert message == kept[-1]["description"]
    assert re.fullmatch(rf"rewrote {EDITABLE} as rule \d", message), message
    assert "GOOD" in git(root, "show", f"{branch}:{EDITABLE}")

    assert any(TRICKY in text for text in _texts(requests))
    # the rewrite went through apply_patch, whose result came back to the model
    outputs = [
        item
        for call in calls
        for item in call.body["input"]
        if item.get("type") == "custom_tool_call_output"
    ]
    assert outputs and all("Success" in json.dumps(item) for item in outputs), outputs
    # Codex kept its state in the agent's private folder, not in the home directory
    assert not (tmp_path / "home" / ".codex").exists()
    assert_well_behaved(root, seen)


def test_refused_credentials_stop_the_run_after_one_experiment(tmp_path: Path) -> None:
    with ResponsesServer() as server:
        server.refuse_auth = True
        root = _project(tmp_path)
        run_overnight(root, _env(tmp_path, server), "--experiments", "2")
    reason = stop_reason_after_one_experiment(root)
    assert "401 Unauthorized" in reason


# -- the launch step ----------------------------------------------------------------------------


def _settings(words: tuple[str, ...]) -> dict[str, Any]:
    """The ``-c key=value`` overrides among the launch words, their values read as TOML."""
    split = shlex.split(" ".join(words))
    pairs = [split[i + 1] for i, word in enumerate(split) if word == "-c"]
    settings = (pair.split("=", 1) for pair in pairs)
    return {key: tomllib.loads(f"v = {value}")["v"] for key, value in settings}


@pytest.mark.parametrize(
    ("keys", "env_key"),
    [
        ({"OPENAI_API_KEY": "sk-1"}, "OPENAI_API_KEY"),
        ({"CODEX_API_KEY": "sk-2"}, "CODEX_API_KEY"),
        ({"OPENAI_API_KEY": "sk-1", "CODEX_API_KEY": "sk-2"}, "CODEX_API_KEY"),
    ],
)
def test_a_base_url_becomes_a_provider_reading_the_key_that_is_set(
    tmp_path: Path, keys: dict[str, str], env_key: str
) -> None:
    url = "http://proxy.example:8080/v1?team='a b'"
    done = launch({"OPENAI_BASE_URL": url, **keys}, tmp_path)
    assert _settings(done.words) == {
        "model_provider": "overnight",
        "model_providers.overnight.name": "overnight",
        "model_providers.overnight.base_url": url,
        "model_providers.overnight.wire_api": "responses",
        "model_providers.overnight.supports_websockets": False,
        "model_providers.overnight.env_key": env_key,
    }
    assert "CODEX_API_KEY" not in done.env  # the provider reads the user's own variable
    assert done.env["CODEX_HOME"] == str(tmp_path / "codex-home")
    assert done.env["TMPDIR"] == str(tmp_path / "tmp")
    assert (tmp_path / "codex-home").is_dir() and (tmp_path / "tmp").is_dir()


def test_a_base_url_without_a_key_is_a_provider_without_one(tmp_path: Path) -> None:
    done = launch({"OPENAI_BASE_URL": "http://localhost:11434/v1"}, tmp_path)
    settings = _settings(done.words)
    assert settings["model_providers.overnight.base_url"] == "http://localhost:11434/v1"
    assert "model_providers.overnight.env_key" not in settings
    assert "CODEX_HOME" not in done.env  # a login, if any, is in Codex's own home


def test_without_a_base_url_codex_keeps_its_provider_and_gets_the_openai_key(
    tmp_path: Path,
) -> None:
    done = launch({"OPENAI_API_KEY": "sk-1"}, tmp_path)
    assert done.words == ()
    assert done.env["CODEX_API_KEY"] == "sk-1"
    assert launch({"CODEX_API_KEY": "sk-2"}, tmp_path).env.get("CODEX_API_KEY") is None


def test_a_codex_home_the_user_chose_is_kept(tmp_path: Path) -> None:
    done = launch({"CODEX_API_KEY": "sk-2", "CODEX_HOME": "/elsewhere"}, tmp_path)
    assert "CODEX_HOME" not in done.env


# -- the reader, on what Codex printed ----------------------------------------------------------


def _output(name: str) -> str:
    return (OUTPUTS / f"codex-{name}.txt").read_text()


@pytest.mark.parametrize("name", ["patch", "unknown-model"])
def test_read_takes_the_answer_and_the_tokens_of_the_turn(name: str) -> None:
    report = read(_output(name))
    assert report.failure is None and not report.fatal
    assert report.answer.startswith("DESCRIPTION: rewrote rules.txt as rule")
    assert report.usage is not None
    assert (report.usage.tokens_in, report.usage.tokens_out) == (3600, 240)
    assert (report.usage.model, report.usage.cost_usd, report.usage.calls) == ("codex", None, 1)


def test_refused_credentials_are_fatal() -> None:
    report = read(_output("auth"))
    assert report.fatal
    assert report.failure is not None
    assert report.failure.startswith("unexpected status 401 Unauthorized: Incorrect API key")
    assert report.usage is None


def test_an_unreachable_provider_is_a_failure_that_is_not_fatal() -> None:
    report = read(_output("unreachable"))
    assert report.failure == "Connection failed: error sending request"
    assert not report.fatal


def test_a_turn_that_never_ends_is_a_failure_even_when_codex_exits_0() -> None:
    truncated = "\n".join(_output("patch").splitlines()[:4])
    assert read(truncated).failure == "codex completed no turn"


def test_output_without_events_is_read_as_text() -> None:
    report = read("Error: Unknown feature flag: x\n")
    assert report.answer == "Error: Unknown feature flag: x\n"
    assert report.usage is None and report.failure is None


def test_a_sandbox_that_cannot_start_is_fatal_and_names_the_way_out() -> None:
    """Codex inside a container that allows no nested namespaces: every command fails."""
    report = read(_output("sandbox"))
    assert report.fatal
    assert report.failure is not None
    assert report.failure.startswith("its sandbox cannot run commands here (bwrap: Creating new")
    assert "--dangerously-bypass-approvals-and-sandbox" in report.failure
    assert report.usage is not None and report.usage.tokens_in == 3600
