"""OpenAI's Codex CLI (``codex exec``), read through the JSON events it prints with ``--json``.

Codex takes its model provider from its own configuration, never from ``OPENAI_BASE_URL``, and
``codex exec`` authenticates with ``CODEX_API_KEY`` (or a ``codex login``), never with
``OPENAI_API_KEY``. So ``launch`` turns the user's base URL into a provider of its own, given on
the command line with ``-c``, that reads whichever key variable is set; without a base URL it
keeps Codex's own provider and hands it ``OPENAI_API_KEY`` as ``CODEX_API_KEY``.

Codex keeps its sandbox for the commands its model runs (``workspace-write``: the workspace and
the temporary directory writable, ``.git`` read-only), also inside overnight's. That sandbox runs
through helper links Codex makes in its home folder, which it refuses to make under the
temporary directory; the tool's ``TMPDIR`` is therefore a folder of its own beside that home.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overnight.agents.tool import (
    PROMPT_TEXT,
    Launch,
    Preset,
    ToolReport,
    auth_failure,
    model_failure,
    usage,
)
from overnight.records import Usage

BASE_URL = "OPENAI_BASE_URL"
KEYS = ("CODEX_API_KEY", "OPENAI_API_KEY")  # the first one set is the key a base URL gets
PROVIDER = "overnight"  # the provider made from the user's base URL


def launch(env: Mapping[str, str], folder: Path) -> Launch:
    key = next((name for name in KEYS if env.get(name)), None)
    words: list[str] = []
    extra = {"TMPDIR": str(_folder(folder / "tmp"))}
    if base_url := env.get(BASE_URL):
        words = _provider(base_url, key)
    elif key == "OPENAI_API_KEY":
        extra["CODEX_API_KEY"] = env[key]
    # with a key Codex needs nothing from the user's ~/.codex (a login without one lives there)
    if key is not None and "CODEX_HOME" not in env:
        extra["CODEX_HOME"] = str(_folder(folder / "codex-home"))
    return Launch(tuple(words), extra)


def _provider(base_url: str, key: str | None) -> list[str]:
    """``-c`` words for a Responses API provider at ``base_url``, over plain HTTP streaming
    (its websocket transport would cost seconds of failed attempts first)."""
    table = f"model_providers.{PROVIDER}"
    settings = [
        f"model_provider={_toml(PROVIDER)}",
        f"{table}.name={_toml(PROVIDER)}",
        f"{table}.base_url={_toml(base_url)}",
        f"{table}.wire_api={_toml('responses')}",
        f"{table}.supports_websockets=false",
    ]
    if key is not None:
        settings.append(f"{table}.env_key={_toml(key)}")
    return [word for setting in settings for word in ("-c", shlex.quote(setting))]


def _toml(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(text)


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def read(output: str) -> ToolReport:
    """The agent's messages, the tokens of its turn and why it failed, from Codex's JSON events
    (one per line; its other lines are progress on stderr). Codex reports neither cost nor
    model; an output without events is read as plain text."""
    events = _events(output)
    if not events:
        return ToolReport(answer=output, failure=model_failure(output))
    answer = "\n".join(
        item.get("text", "")
        for event in events
        if event.get("type") == "item.completed"
        and (item := event.get("item") or {}).get("type") == "agent_message"
    )
    turns = [event for event in events if event.get("type") == "turn.completed"]
    spent = _usage(turns)
    if trouble := _sandbox_failure(events):
        return ToolReport(answer, spent, trouble, fatal=True)
    failure = None if turns else _failure(events, output)
    fatal = failure is not None and auth_failure(failure)
    return ToolReport(answer, spent, failure, fatal)


def _events(output: str) -> list[dict[str, Any]]:
    events = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "type" in event:
            events.append(event)
    return events


def _usage(turns: list[dict[str, Any]]) -> Usage | None:
    """The turn's tokens as Codex counts them: input includes the cached part, output the
    reasoning; one call per turn, as Codex does not say how many requests a turn made."""
    counts = [turn.get("usage") or {} for turn in turns]
    if not any(counts):
        return None
    tokens_in = sum(int(count.get("input_tokens") or 0) for count in counts)
    tokens_out = sum(int(count.get("output_tokens") or 0) for count in counts)
    return usage("codex", tokens_in, tokens_out, None, calls=len(turns))


def _failure(events: list[dict[str, Any]], output: str) -> str:
    """A run that completed no turn: its ``turn.failed`` error, else its last error event (the
    ones before are retries), else what its other output says."""
    for event in reversed(events):
        if event.get("type") == "turn.failed":
            return _message((event.get("error") or {}).get("message"))
        if event.get("type") == "error":
            return _message(event.get("message"))
    return model_failure(output) or "codex completed no turn"


def _sandbox_failure(events: list[dict[str, Any]]) -> str | None:
    """Why Codex's sandbox could not start a command (no user namespaces inside a container;
    its helper missing), which every later experiment would meet too."""
    for event in events:
        item = event.get("item") or {}
        printed = str(item.get("aggregated_output") or "")
        if item.get("type") == "command_execution" and printed.startswith("bwrap: "):
            return (
                f"its sandbox cannot run commands here ({_message(printed)[:120]}); where "
                "overnight's sandbox confines the tool, give the preset `command: "
                "--dangerously-bypass-approvals-and-sandbox`"
            )
    return None


def _message(text: object) -> str:
    return " ".join(str(text or "unknown error").split())[:300]


PRESET = Preset(
    name="codex",
    executable="codex",
    options=(
        "exec",
        PROMPT_TEXT,
        "--sandbox",
        "workspace-write",
        "--skip-git-repo-check",
        "--json",
        "--ephemeral",
        # an unreachable provider fails the experiment after a few retries instead of waiting
        # for the network until the agent's timeout
        "-c",
        "features.unbounded_connection_retries=false",
    ),
    install="npm install -g @openai/codex",
    secrets=("OPENAI_API_KEY", "CODEX_API_KEY"),
    settings=(BASE_URL,),
    launch=launch,
    read=read,
)
