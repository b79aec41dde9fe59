"""Claude Code (``claude -p``), Anthropic's coding agent."""

from __future__ import annotations

from overnight.agents.tool import PROMPT_TEXT, Preset

PRESET = Preset(
    name="claude-code",
    executable="claude",
    options=("-p", PROMPT_TEXT, "--output-format", "text", "--permission-mode", "acceptEdits"),
    install="npm install -g @anthropic-ai/claude-code",
    secrets=(
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "CLAUDE_CODE_OAUTH_TOKEN",
    ),
)
