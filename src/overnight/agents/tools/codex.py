"""OpenAI's Codex CLI (``codex exec``)."""

from __future__ import annotations

from overnight.agents.tool import PROMPT_TEXT, Preset

PRESET = Preset(
    name="codex",
    executable="codex",
    options=("exec", PROMPT_TEXT, "--sandbox", "workspace-write", "--skip-git-repo-check"),
    install="npm install -g @openai/codex",
    secrets=("OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL"),
)
