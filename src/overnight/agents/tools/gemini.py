"""Google's Gemini CLI (``gemini -p``)."""

from __future__ import annotations

from overnight.agents.tool import PROMPT_TEXT, Preset

PRESET = Preset(
    name="gemini",
    executable="gemini",
    options=("-p", PROMPT_TEXT, "--yolo"),
    install="npm install -g @google/gemini-cli",
    secrets=(
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_GENAI_USE_VERTEXAI",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ),
)
