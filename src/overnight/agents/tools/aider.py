"""aider, the pair programmer in a terminal, run with one message and no git of its own.

Aider prints its model (``Model: NAME with whole edit format``), the reply, and after every
model call a line ``Tokens: 1.2k sent, 80 received.`` followed, for a model with known prices,
by ``Cost: $0.0012 message, $0.0024 session.`` (its console wraps long lines at 80 columns).
When the provider fails, it prints ``litellm.<Kind>Error: ...``, retries for about 90 s
when the error may pass, and still exits 0: a run whose last model call failed is a failure
here, and refused credentials stop the run.
"""

from __future__ import annotations

import re

from overnight.agents.tool import PROMPT_PATH, Preset, ToolReport, auth_failure, usage
from overnight.records import Usage

_COUNT = r"(\d+(?:\.\d+)?[kKmM]?)"
_TOKENS = re.compile(
    rf"^Tokens:\s+{_COUNT}\s+sent,(?:\s+{_COUNT}\s+cache\s+write,)?"
    rf"(?:\s+{_COUNT}\s+cache\s+hit,)?\s+{_COUNT}\s+received\.",
    re.MULTILINE,
)
_COST = re.compile(r"Cost:\s+\$(\d+(?:\.\d+)?)\s+message,\s+\$(\d+(?:\.\d+)?)\s+session\.")
_MODEL = re.compile(r"^(?:Main model|Model):\s+(\S+)\s+with\s", re.MULTILINE)
_ERROR = re.compile(r"^litellm\.(\w+):", re.MULTILINE)
_NO_MODEL = "No LLM model was specified and no API keys were provided."
_FATAL_ERRORS = {"AuthenticationError"}
_SCALE = {"k": 1_000, "m": 1_000_000}


def read(output: str) -> ToolReport:
    """The answer is everything aider printed; its tokens are those of every model call of this
    run, its cost the session's (absent for a model aider has no prices for)."""
    spent = _usage(output)
    if _NO_MODEL in output:
        why = "no model was given and no API key is set: " + _NO_MODEL
        return ToolReport(answer=output, usage=spent, failure=why, fatal=True)
    errors = list(_ERROR.finditer(output))
    last_call = max((match.end() for match in _TOKENS.finditer(output)), default=-1)
    if errors and errors[-1].start() > last_call:  # the last model call failed for good
        error = errors[-1]
        why = _paragraph(output, error.start())
        fatal = error.group(1) in _FATAL_ERRORS or auth_failure(why)
        return ToolReport(answer=output, usage=spent, failure=why, fatal=fatal)
    return ToolReport(answer=output, usage=spent)


def _usage(output: str) -> Usage | None:
    calls = list(_TOKENS.finditer(output))
    costs = list(_COST.finditer(output))
    if not calls and not costs:
        return None
    tokens_in = sum(_count(call.group(1)) for call in calls) if calls else None
    tokens_out = sum(_count(call.group(4)) for call in calls) if calls else None
    cost = float(costs[-1].group(2)) if costs else None  # the session so far: this whole run
    model = _MODEL.search(output)
    return usage(model.group(1) if model else "aider", tokens_in, tokens_out, cost, len(calls))


def _count(text: str) -> int:
    """Aider's rounded counts: ``674``, ``1.2k``, ``12k``."""
    scale = _SCALE.get(text[-1].lower(), 1)
    number = text[:-1] if scale > 1 else text
    return round(float(number) * scale)


def _paragraph(output: str, start: int) -> str:
    """The error and the lines aider wrapped it onto, up to the next empty line, as one line."""
    end = output.find("\n\n", start)
    return " ".join(output[start : end if end >= 0 else len(output)].split())[:300]


PRESET = Preset(
    name="aider",
    executable="aider",
    options=(
        "--message-file",
        PROMPT_PATH,
        "--yes-always",
        "--no-auto-commits",
        "--no-git",
        "--no-check-update",
        "--no-show-model-warnings",
        "--no-pretty",
        # --yes-always would also accept the analytics opt-in that some installs ask for, and
        # sending the events then costs seconds per experiment where nothing can be reached
        "--no-analytics",
        "--no-detect-urls",  # an address in the brief is no page to fetch
        "--no-show-release-notes",
    ),
    install="python -m pip install aider-install && aider-install",
    secrets=(
        "OPENAI_API_KEY",
        "OPENAI_API_BASE",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "DEEPSEEK_API_KEY",
        "OPENROUTER_API_KEY",
    ),
    takes_files=True,
    state_files=(
        ("--chat-history-file", "aider.chat.history.md"),
        ("--input-history-file", "aider.input.history"),
    ),
    read=read,
)
