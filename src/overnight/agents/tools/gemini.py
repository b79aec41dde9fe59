"""Google's Gemini CLI (``gemini -p``).

Three habits of the tool shape this preset:

- It reads every ``@word`` of its prompt as a file reference, on ``-p`` and stdin alike
  (``ops@example.com`` becomes ``ops @example.com`` followed by the text of some file whose name
  matches), and has no escape that leaves the text as it was. So the prompt is never given as
  text: ``-p`` names a copy of the prompt file with ``@`` (its path escaped with backslashes,
  the tool's own quoting), which the tool appends to the message as it is (but for its file
  reader's limits: 2,000 lines, 2,000 characters a line); the copy's folder is added to its
  workspace (``--include-directories``), as it reads no file outside.
- Its settings come from ``$GEMINI_CLI_HOME/.gemini/settings.json`` (a system settings file
  would have to be owned by root). Given a base URL (``GOOGLE_GEMINI_BASE_URL``) it picks an
  auth type it then refuses unless the settings select one, so when the environment holds a
  key the preset gives the tool a home of its own in the agent folder, with settings that select
  the key and turn off usage statistics, telemetry and update checks. Without a key the user's
  own home and login are used.
- Headless, it refuses a folder it does not trust (exit 55): ``--skip-trust``.

With ``--output-format stream-json`` it prints one JSON event a line: the model's text, its tool
calls, and a last ``result`` event with the tokens of every model it called (no cost).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overnight.agents.tool import (
    PROMPT_ENV,
    Launch,
    Preset,
    ToolReport,
    auth_failure,
    model_failure,
    usage,
)
from overnight.isolation.files import remove_tree, write_fresh
from overnight.records import Usage

HOME = "gemini-home"  # in the agent folder: the tool's settings, sessions and temporary files
INCLUDED = "gemini-prompt"  # in the agent folder: the prompt's copy, the one folder it may read

SETTINGS: dict[str, Any] = {
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
}


def launch(env: Mapping[str, str], folder: Path) -> Launch:
    prompt = Path(env.get(PROMPT_ENV) or folder / "prompt.md")
    included, home = folder / INCLUDED, folder / HOME
    for made in (included, home):  # made afresh: nothing of an earlier experiment is followed
        remove_tree(made)
    copy = included / prompt.name
    write_fresh(copy, prompt.read_text(encoding="utf-8", errors="replace"))
    pointer = f"Your instructions are in this file, follow them: @{_escaped(str(copy))}"
    words = ("-p", shlex.quote(pointer), "--include-directories", shlex.quote(str(included)))
    extra = {"TMPDIR": str(home / "tmp")}  # where it writes its error reports
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    if auth := _auth_type(env):
        settings = {**SETTINGS, "security": {"auth": {"selectedType": auth}}}
        write_fresh(home / ".gemini" / "settings.json", json.dumps(settings, indent=2))
        extra["GEMINI_CLI_HOME"] = str(home)
    return Launch(words, extra)


def _escaped(path: str) -> str:
    """The path as one ``@`` reference: every character but letters, digits and ``/_-``
    after a backslash, which the tool removes."""
    return re.sub(r"([^A-Za-z0-9/_-])", r"\\\1", path)


def _auth_type(env: Mapping[str, str]) -> str | None:
    """The auth type the environment's credentials call for, as the tool's settings name it."""
    if env.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() == "true":
        return "vertex-ai"
    if env.get("GEMINI_API_KEY"):
        return "gemini-api-key"
    return None


# What it prints, before any event, when the environment gives it no usable credentials (exit 41)
_NO_CREDENTIALS = re.compile(
    r"Please set an Auth method|When using (Gemini API|Vertex AI), you must specify"
    r"|Invalid auth method selected|The enforced authentication type|auth type '[^']*' is enforced"
)


def read(output: str) -> ToolReport:
    """The model's text, the ``result`` event's tokens and error; without any event (the tool
    stopped before it began), the output itself."""
    events, other = _events(output)
    if match := _NO_CREDENTIALS.search(other):
        line = other[match.start() :].splitlines()[0]
        return ToolReport(answer=output, failure=line[:300], fatal=True)
    if not events:
        failure = model_failure(other)
        return ToolReport(answer=output, failure=failure, fatal=auth_failure(failure or ""))
    pieces: list[str] = []
    result: dict[str, Any] = {}
    for event in events:
        kind = event.get("type")
        if kind == "message" and event.get("role") == "assistant":
            pieces.append(str(event.get("content") or ""))
        elif kind == "tool_use":
            pieces.append("\n")
        elif kind == "result":
            result = event
    answer = "".join(pieces)
    failure = _error(result) if result else model_failure(other)
    fatal = failure is not None and auth_failure(failure)
    return ToolReport(answer=answer, usage=_usage(result), failure=failure, fatal=fatal)


def _events(output: str) -> tuple[list[dict[str, Any]], str]:
    """The JSON events among the lines (stdout and stderr share the log), and the other lines."""
    events, other = [], []
    for line in output.splitlines():
        text = line.strip()
        if text.startswith("{"):
            try:
                event = json.loads(text)
            except ValueError:
                event = None
            if isinstance(event, dict) and "type" in event:
                events.append(event)
                continue
        other.append(line)
    return events, "\n".join(other)


def _error(result: dict[str, Any]) -> str | None:
    if result.get("status") != "error":
        return None
    error = result.get("error") or {}
    message = error.get("message") if isinstance(error, dict) else error
    return " ".join(str(message or "the run ended with an error").split())[:300]


def _usage(result: dict[str, Any]) -> Usage | None:
    stats = result.get("stats")
    if not isinstance(stats, dict) or "input_tokens" not in stats:
        return None
    tokens_in = int(stats.get("input_tokens") or 0)
    # output_tokens leaves out the model's thoughts, billed as output: the rest of the total
    tokens_out = max(
        int(stats.get("total_tokens") or 0) - tokens_in, int(stats.get("output_tokens") or 0)
    )
    models = stats.get("models") or {}
    model = max(models, key=lambda name: models[name].get("total_tokens") or 0, default="")
    return usage(model or "gemini", tokens_in, tokens_out, None)


PRESET = Preset(
    name="gemini",
    executable="gemini",
    options=("--yolo", "--skip-trust", "--output-format", "stream-json"),
    install="npm install -g @google/gemini-cli",
    secrets=("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS"),
    settings=(
        "GOOGLE_GEMINI_BASE_URL",
        "GOOGLE_VERTEX_BASE_URL",
        "GOOGLE_GENAI_USE_VERTEXAI",
        "GOOGLE_GENAI_USE_GCA",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GEMINI_MODEL",
    ),
    launch=launch,
    read=read,
)
