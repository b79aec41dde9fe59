"""aider, the pair programmer in a terminal, run with one message and no git of its own."""

from __future__ import annotations

from overnight.agents.tool import PROMPT_PATH, Preset

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
)
