"""Claude Code (``claude -p``), Anthropic's coding agent.

With ``--output-format json`` it prints one JSON object when it is done: the final reply in
``result``, the tokens of every model it called in ``modelUsage``, its own price estimate in
``total_cost_usd``, and ``is_error`` with ``api_error_status`` when the model could not be used
(it exits 1 then, after retrying for up to a few minutes). Anything else it prints (warnings)
goes to standard error, into the same log, so the object is looked for line by line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overnight.agents.tool import (
    PROMPT_TEXT,
    Launch,
    Preset,
    ToolReport,
    usage,
)
from overnight.records import Usage

_REFUSED = {401, 403}
_REFUSED_TYPES = {"authentication_error", "permission_error"}


def read(output: str) -> ToolReport:
    """The reply, usage and failure from the result object; an output without one (another
    ``--output-format`` given in ``command``) is plain text, whose failures the exit code
    tells."""
    result = _result(output)
    if result is None:
        return ToolReport(answer=output)
    answer = result.get("result")
    answer = answer if isinstance(answer, str) else ""
    spent = _usage(result)
    if not result.get("is_error"):
        return ToolReport(answer=answer, usage=spent)
    status = result.get("api_error_status")
    kind = result.get("api_error_type") or result.get("api_error")
    refused = status in _REFUSED or kind in _REFUSED_TYPES
    detail = ", ".join(str(part) for part in (status, kind) if part)
    errors = result.get("errors")
    said = "; ".join(map(str, errors)) if isinstance(errors, list) else ""
    why = " ".join((answer or said or str(result.get("subtype") or "error")).split())[:300]
    if refused:
        why = f"the model provider refused the credentials ({detail}): {why}"
    elif detail:
        why = f"{why} ({detail})"
    return ToolReport(answer=answer, usage=spent, failure=why, fatal=refused)


def _result(output: str) -> dict[str, Any] | None:
    """The last ``{"type": "result", ...}`` line."""
    for line in reversed(output.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("type") == "result":
            return value
    return None


def _usage(result: Mapping[str, Any]) -> Usage | None:
    """Tokens in count cached ones too (the API reports them apart). The cost is the tool's own
    estimate at list prices, left unknown when it had no prices for a model (a gateway's)."""
    models = result.get("modelUsage") or {}
    if models:
        rows = list(models.values())
        tokens_in = sum(
            _int(row, "inputTokens", "cacheReadInputTokens", "cacheCreationInputTokens")
            for row in rows
        )
        tokens_out = sum(_int(row, "outputTokens") for row in rows)
        name = max(models, key=lambda m: _int(models[m], "inputTokens", "outputTokens"))
        priced = all(row.get("costBasis") != "unknown" for row in rows)
    elif isinstance(result.get("usage"), dict):
        counts = result["usage"]
        tokens_in = _int(counts, "input_tokens", "cache_read_input_tokens")
        tokens_in += _int(counts, "cache_creation_input_tokens")
        tokens_out = _int(counts, "output_tokens")
        name, priced = "", True
    else:
        return None
    cost = result.get("total_cost_usd")
    cost = float(cost) if priced and isinstance(cost, int | float) else None
    turns = result.get("num_turns")
    calls = turns if isinstance(turns, int) and turns > 0 else 1
    return usage(name or "claude-code", tokens_in, tokens_out, cost, calls)


def _int(row: Mapping[str, Any], *keys: str) -> int:
    return sum(value for key in keys if isinstance(value := row.get(key), int))


def launch(env: Mapping[str, str], folder: Path) -> Launch:
    """Keep one version of the tool for the whole run: no update is fetched mid-run."""
    return Launch(env={} if "DISABLE_AUTOUPDATER" in env else {"DISABLE_AUTOUPDATER": "1"})


PRESET = Preset(
    name="claude-code",
    executable="claude",
    options=(
        "-p",
        PROMPT_TEXT,
        "--output-format",
        "json",
        "--permission-mode",
        "acceptEdits",
        # an experiment's workspace is thrown away: its session is nothing to resume
        "--no-session-persistence",
    ),
    install="npm install -g @anthropic-ai/claude-code",
    secrets=(
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "CLAUDE_CODE_OAUTH_TOKEN",
    ),
    settings=(
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_MODEL",
        "ANTHROPIC_SMALL_FAST_MODEL",
        "ANTHROPIC_DEFAULT_OPUS_MODEL",
        "ANTHROPIC_DEFAULT_SONNET_MODEL",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    ),
    launch=launch,
    read=read,
)
