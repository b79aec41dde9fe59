"""What the stand-in coding agents in this folder (claude, codex, aider, gemini) share.

Each one parses its command line like the real tool (an unknown option is an error, exit 2),
behaves like it when a headless option is missing (no edit without the permission to edit; aider
commits unless told not to), records what it saw, then acts like a coding agent: reads the
prompt, raises the number in value.txt by one, prints the tool's kind of chatter and a line
``DESCRIPTION: ...``.

    STANDIN_CTL    a folder: ``<tool>-<N>.json`` records the arguments, prompt, working
                   folder, environment names and the API keys it was given (N is
                   $OVERNIGHT_EXPERIMENT); ``<tool>-<N>.pid`` its pid
    STANDIN_MODE   improve (default) | silent (no DESCRIPTION line) | fail (exit 1) |
                   sleep (edit, then sleep 60 s)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

KEYS = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "DEEPSEEK_API_KEY",
    "GITHUB_TOKEN",
    "STANDIN_EXTRA_SECRET",
)


@dataclass
class Spec:
    """The options one tool accepts: those taking a value, and plain switches."""

    valued: set[str]
    switches: set[str]
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    options: dict[str, str]
    positionals: list[str]


def fail_usage(tool: str, message: str) -> None:
    print(f"{tool}: error: {message}", file=sys.stderr)
    sys.exit(2)


def parse(tool: str, argv: list[str], spec: Spec) -> Call:
    options: dict[str, str] = {}
    positionals: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            positionals += list(args)
            break
        if arg.startswith("-") and len(arg) > 1:
            name, _, inline = arg.partition("=")
            name = spec.aliases.get(name, name)
            if name in spec.switches:
                options[name] = "true"
            elif name in spec.valued:
                value = inline or next(args, None)
                if value is None:
                    fail_usage(tool, f"option {name} needs a value")
                options[name] = value  # type: ignore[assignment]
            else:
                fail_usage(tool, f"unexpected argument {arg!r}")
        else:
            positionals.append(arg)
    return Call(options, positionals)


def record(tool: str, argv: list[str], prompt: str) -> None:
    ctl = os.environ.get("STANDIN_CTL")
    if not ctl:
        return
    number = os.environ.get("OVERNIGHT_EXPERIMENT", "0")
    seen = {
        "argv": argv,
        "prompt": prompt,
        "cwd": os.getcwd(),
        "env_names": sorted(os.environ),
        "keys": {name: os.environ[name] for name in KEYS if name in os.environ},
    }
    Path(ctl, f"{tool}-{number}.json").write_text(json.dumps(seen))
    Path(ctl, f"{tool}-{number}.pid").write_text(str(os.getpid()))


def raise_value(path: str = "value.txt") -> str:
    """The one change every stand-in makes; returns its description."""
    target = Path(path)
    new = float(target.read_text()) + 1
    target.write_text(f"{new}\n")
    return f"raise value to {new}"


def act(prompt: str, may_edit: bool) -> str | None:
    """Edit like the agent would, per $STANDIN_MODE; the description, or None for no edit."""
    mode = os.environ.get("STANDIN_MODE", "improve")
    if mode == "fail":
        print("the model is overloaded, try again later", file=sys.stderr)
        sys.exit(1)
    if not may_edit or "value.txt" not in prompt:
        return None
    described = raise_value()
    if mode == "sleep":
        print("thinking…", flush=True)
        time.sleep(60)
    return described


def describe(described: str, label: str = "DESCRIPTION:") -> None:
    """The line the prompt asks for; STANDIN_MODE=silent leaves it out, as a forgetful agent."""
    if os.environ.get("STANDIN_MODE") != "silent":
        print(f"{label} {described}")


def commit(message: str) -> None:
    """What aider does after every edit unless told otherwise."""
    subprocess.run(["git", "commit", "-q", "-am", message], check=True)
