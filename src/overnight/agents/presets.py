"""Presets of the ``command`` agent: known coding agents run headless, one change per call.

Each entry says how to call one tool without a terminal: the executable, the flags that let it
edit files without asking (and, for aider, never commit: the harness commits), where the prompt
goes, its model flag, and which secret environment variables it needs (the harness scrubs
secrets from child environments, so a preset names what its tool cannot run without).

The prompt is the brief plus a short note for unattended runs, written to a file whose path is
in ``OVERNIGHT_PROMPT``. The shell reads it (``"$(cat "$OVERNIGHT_PROMPT")"``) or the tool does
(aider's ``--message-file``), so no brief text is ever pasted into a command line; the paths and
file names that are pasted are quoted with ``shlex.quote``.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from overnight.isolation.files import write_fresh

PROMPT_ENV = "OVERNIGHT_PROMPT"
PROMPT_TEXT = f'"$(cat "${PROMPT_ENV}")"'  # the prompt as one argument, read by the shell
PROMPT_PATH = f'"${PROMPT_ENV}"'  # the prompt file's path, for tools that read it themselves

# Linux refuses a single argument longer than this (MAX_ARG_STRLEN); keep a margin under it.
MAX_ARGUMENT_BYTES = 120_000

HEADLESS_NOTE = """
## Running unattended

You are run headless by overnight, one experiment of an automatic loop, with nobody to answer
questions. Edit the files in this repository directly and change only the files listed above.
Do not commit, stash, reset or switch branches: overnight measures your change, then commits
or reverts it itself. When you are done, end your reply with the line "DESCRIPTION: <what you
changed, in a few words>"; it becomes the commit message.
"""


@dataclass(frozen=True)
class Preset:
    """How to run one coding agent headless; see ``command_line`` for the shape."""

    name: str
    executable: str
    options: tuple[str, ...]  # shell words after the executable; PROMPT_* mark the prompt
    install: str  # how a user gets the executable
    secrets: tuple[str, ...]  # environment variables the tool reads its credentials from
    model_flag: str = "--model"
    takes_files: bool = False  # the editable files go on the command line (after "--")
    state_files: tuple[tuple[str, str], ...] = ()  # (flag, file name): kept in the log folder

    @property
    def prompt_in_argument(self) -> bool:
        return PROMPT_TEXT in self.options


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="claude-code",
            executable="claude",
            options=(
                "-p",
                PROMPT_TEXT,
                "--output-format",
                "text",
                "--permission-mode",
                "acceptEdits",
            ),
            install="npm install -g @anthropic-ai/claude-code",
            secrets=(
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_AUTH_TOKEN",
                "ANTHROPIC_BASE_URL",
                "CLAUDE_CODE_OAUTH_TOKEN",
            ),
        ),
        Preset(
            name="codex",
            executable="codex",
            options=("exec", PROMPT_TEXT, "--sandbox", "workspace-write", "--skip-git-repo-check"),
            install="npm install -g @openai/codex",
            secrets=("OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL"),
        ),
        Preset(
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
        ),
        Preset(
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
        ),
    )
}


def command_line(
    preset: Preset,
    *,
    model: str | None = None,
    extra: str | None = None,
    files: Sequence[str] = (),
    state_dir: Path | None = None,
) -> str:
    """``<executable> <options> [state files] [<model flag> MODEL] [extra] [-- FILES]``.

    ``extra`` is the config's ``command``: shell text the user wrote, appended as it is (so it
    may quote its own arguments). The editable files come last, after ``--``, so a file named
    like an option stays a file.
    """
    words = [shlex.quote(preset.executable), *preset.options]
    if state_dir is not None:
        for flag, name in preset.state_files:
            words += [flag, shlex.quote(str(state_dir / name))]
    if model:
        words += [preset.model_flag, shlex.quote(model)]
    if extra and extra.strip():
        words.append(extra.strip())
    if preset.takes_files and files:
        words += ["--", *(shlex.quote(path) for path in files)]
    return " ".join(words)


def missing_tool(preset: Preset) -> str | None:
    """Why the preset cannot run here, or None when its executable is on PATH."""
    if shutil.which(preset.executable):
        return None
    return (
        f"agent preset {preset.name!r} needs the {preset.executable!r} command, which is not on "
        f"PATH; install it with `{preset.install}` (see docs/agents.md)"
    )


def write_prompt(brief_path: Path, target: Path) -> str:
    """The brief plus the note for unattended runs, written to ``target``; returns the text."""
    try:
        brief = brief_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        brief = ""
    text = brief.rstrip("\n") + "\n" + HEADLESS_NOTE
    write_fresh(target, text)
    return text


_DESCRIPTION_LINE = re.compile(r"^[\s*_#>-]*description[*_]*\s*:[\s*_]*(.*?)[\s*]*$", re.IGNORECASE)


def description_from_output(text: str) -> str:
    """The last ``DESCRIPTION: ...`` line, else the last non-empty line.

    Coding agents end with chatter (applied edits, token counts), so the line the prompt asks
    for wins over whatever came last; markdown emphasis around the label is tolerated.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        match = _DESCRIPTION_LINE.match(line)
        if match and match.group(1):
            return match.group(1)
    return lines[-1] if lines else ""
