"""One coding-agent CLI as overnight knows it: how to call it headless, what it needs in its
environment, and how to read what it printed (its answer, its tokens and cost, its failures).

A preset is data plus two small functions, so that everything about one tool lives in one module
of ``overnight.agents.tools`` and the command agent needs no per-tool branches:

- ``launch(env, folder)`` adds what the tool must be given per experiment: more command-line
  words derived from the environment the tool will get (Codex reads its base URL from ``-c``, not
  from ``OPENAI_BASE_URL``) and more environment (a settings file Gemini CLI reads, written in a
  private ``folder`` outside the workspace);
- ``read(output)`` turns the tool's standard output into a ``ToolReport``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from overnight.records import Usage

PROMPT_ENV = "OVERNIGHT_PROMPT"
PROMPT_TEXT = f'"$(cat "${PROMPT_ENV}")"'  # the prompt as one argument, read by the shell
PROMPT_PATH = f'"${PROMPT_ENV}"'  # the prompt file's path, for tools that read it themselves

PROPOSAL = "proposal"  # the purpose of an agent's model calls in the usage table


@dataclass(frozen=True)
class ToolReport:
    """What one run of a tool said about itself."""

    answer: str  # the text the ``DESCRIPTION:`` line is looked for in
    usage: Usage | None = None  # None when the tool reported neither tokens nor cost
    failure: str | None = None  # why the run failed, also when the tool exited 0
    fatal: bool = False  # a failure that will not fix itself (credentials): the run stops


@dataclass(frozen=True)
class Launch:
    """What one experiment's call adds to the preset's command line and environment."""

    words: tuple[str, ...] = ()  # shell words, already quoted
    env: dict[str, str] = field(default_factory=dict)


def plain_output(output: str) -> ToolReport:
    """A tool that prints text and reports no usage: the text is the answer, and only its exit
    code tells a failure."""
    return ToolReport(answer=output)


def no_launch(env: Mapping[str, str], folder: Path) -> Launch:
    return Launch()


@dataclass(frozen=True)
class Preset:
    """How to run one coding agent headless; see ``presets.command_line`` for the shape."""

    name: str
    executable: str
    options: tuple[str, ...]  # shell words after the executable; PROMPT_* mark the prompt
    install: str  # how a user gets the executable
    secrets: tuple[str, ...]  # environment variables the tool reads its credentials from
    model_flag: str = "--model"
    takes_files: bool = False  # the editable files go on the command line (after "--")
    state_files: tuple[tuple[str, str], ...] = ()  # (flag, file name): kept in the agent folder
    # variables the tool reads whose names look secret but are not (a base URL, a trust switch)
    settings: tuple[str, ...] = ()
    launch: Callable[[Mapping[str, str], Path], Launch] = no_launch
    read: Callable[[str], ToolReport] = plain_output

    @property
    def prompt_in_argument(self) -> bool:
        return PROMPT_TEXT in self.options

    @property
    def passed_on(self) -> tuple[str, ...]:
        """Every variable of the user's environment the tool is handed despite the scrub."""
        return self.secrets + self.settings


def usage(
    model: str,
    tokens_in: int | None,
    tokens_out: int | None,
    cost_usd: float | None,
    calls: int = 1,
) -> Usage:
    """A tool's own account of one run, as a usage row of purpose "proposal"."""
    return Usage(PROPOSAL, model or "unknown", tokens_in, tokens_out, cost_usd, calls)


def unknown_usage(tool: str) -> Usage:
    """The row of a run whose tool reported nothing: its tokens and cost are unknown, not 0."""
    return Usage(PROPOSAL, tool, None, None, None, calls=1)


_AUTH = re.compile(
    r"\b401\b|\b403\b|unauthori[sz]ed|authentication[_ ](error|failed)|invalid[_ ]api[_ ]key"
    r"|incorrect api key|api key not valid|invalid x-api-key|permission_denied",
    re.IGNORECASE,
)
_UNREACHABLE = re.compile(
    r"connection (error|refused|reset)|connecterror|apiconnectionerror|failed to connect"
    r"|could not connect|couldn't connect|cannot connect|econnrefused|enotfound|etimedout"
    r"|network error|fetch failed|name or service not known|stream disconnected"
    r"|error sending request",
    re.IGNORECASE,
)


def auth_failure(text: str) -> bool:
    """Whether a tool's output says its credentials were refused."""
    return bool(_AUTH.search(text))


def model_failure(text: str) -> str | None:
    """Why the tool could not use its model, when its output says so (credentials refused, the
    provider unreachable); None when it shows no such failure."""
    for pattern in (_AUTH, _UNREACHABLE):
        if match := pattern.search(text):
            return _line_around(text, match.start())
    return None


def _line_around(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return " ".join(text[start : end if end >= 0 else len(text)].split())[:300]
