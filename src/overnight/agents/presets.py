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
from pathlib import Path

from overnight.agents.tool import PROMPT_ENV, PROMPT_PATH, PROMPT_TEXT, Launch, Preset
from overnight.agents.tools import aider, claude_code, codex, gemini
from overnight.isolation.files import write_fresh

__all__ = ["PRESETS", "PROMPT_ENV", "PROMPT_PATH", "PROMPT_TEXT", "Launch", "Preset"]

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


PRESETS: dict[str, Preset] = {
    tool.PRESET.name: tool.PRESET for tool in (claude_code, codex, aider, gemini)
}


def command_line(
    preset: Preset,
    *,
    model: str | None = None,
    extra: str | None = None,
    files: Sequence[str] = (),
    state_dir: Path | None = None,
    launch: Launch | None = None,
) -> str:
    """``<executable> <options> [launch words] [state files] [<model flag> MODEL] [extra]
    [-- FILES]``.

    ``extra`` is the config's ``command``: shell text the user wrote, appended as it is (so it
    may quote its own arguments). The editable files come last, after ``--``, so a file named
    like an option stays a file.
    """
    words = [shlex.quote(preset.executable), *preset.options]
    if launch is not None:
        words += launch.words
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
