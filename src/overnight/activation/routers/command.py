"""The ``command`` router: a real agent CLI, run headless on the query, and the skill it used
read back from what it printed.

The command is a shell template, run in ``cwd``: the folder where the agent finds the skills
under test (``.claude/skills/`` for Claude Code), since a real agent sees what is installed, not
the list ``route`` is given. ``{query}`` in the template becomes the query as one shell word,
already quoted, so write it bare and never inside quotes of your own::

    claude -p {query} --output-format stream-json --verbose

It runs like an evaluation: in its own process group, killed with all its children at the
timeout, with the user's environment minus anything that looks like a secret. An agent CLI
usually needs its API key: name the variable in ``env_passthrough``.

The skill is read from stdout by one of two rules (``{...}`` is the shape a config gives):

- ``JsonLinesRule(tool="Skill", field="skill")``, ``{kind: json-lines, tool: Skill, field:
  skill}``: stdout is JSON, one value per line, like Claude Code's ``stream-json``. The first
  object, at any depth, whose ``name`` is ``tool`` and whose ``input`` is an object is a skill
  invocation, and ``input[field]`` names the skill. A line that is not JSON, an invocation that
  names no skill, and a ``{"type": "result", "is_error": true}`` line (how Claude Code reports a
  failed run) are errors.
- ``RegexRule(pattern)``, ``{kind: regex, pattern: 'Using skill: (\\S+)'}``: the first match in
  stdout (``^`` and ``$`` match at every line) of a pattern with one group captures the skill's
  name. For agents that print the skill they load, or whose transcript shows them reading
  ``skills/<name>/SKILL.md``.

With either rule, output that cannot be read is a ``RoutingError``, never "no skill": a non-zero
exit, a timeout, nothing on stdout. Well-formed output without a skill invocation is
``Routing(None)``.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overnight.activation.routers.base import Router, Routing, RoutingError
from overnight.activation.skills import Skill
from overnight.isolation.sandbox import Sandbox
from overnight.process import read_tail, scrubbed_environment

QUERY = "{query}"
DEFAULT_TIMEOUT_S = 300.0
MAX_QUOTE = 120  # characters of output quoted in an error or a detail


@dataclass(frozen=True)
class RegexRule:
    """The first match of ``pattern`` in stdout; its one group is the skill's name."""

    pattern: str

    def __post_init__(self) -> None:
        try:
            groups = re.compile(self.pattern).groups
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        if groups != 1:
            raise ValueError(f"needs exactly one capture group for the skill name, has {groups}")

    def read(self, stdout: str) -> tuple[str | None, str]:
        """(the skill or None, what it was read from)."""
        match = re.search(self.pattern, stdout, re.MULTILINE)
        if match is None:
            return None, f"no match in {len(stdout.splitlines())} lines"
        name = (match.group(1) or "").strip()
        if not name:
            raise RoutingError(f"the pattern matched {_quote(match.group(0))} but captured no name")
        return name, f"matched {_quote(match.group(0))}"


@dataclass(frozen=True)
class JsonLinesRule:
    """The first ``{"name": tool, "input": {field: <skill>}}`` object in JSON-lines stdout."""

    tool: str = "Skill"
    field: str = "skill"

    def __post_init__(self) -> None:
        if not self.tool or not self.field:
            raise ValueError("tool and field must both be non-empty")

    def read(self, stdout: str) -> tuple[str | None, str]:
        """(the skill or None, what it was read from)."""
        values = _json_lines(stdout)
        for _, value in values:
            if isinstance(value, dict) and value.get("type") == "result" and value.get("is_error"):
                reason = value.get("result") or value.get("subtype") or "no reason given"
                raise RoutingError(f"the agent reported an error: {_quote(str(reason))}")
        for number, value in values:
            for call in self._calls(value):
                name = call["input"].get(self.field)
                if not isinstance(name, str) or not name.strip():
                    raise RoutingError(
                        f"line {number}: a {self.tool} call without a {self.field!r} name: "
                        f"{_quote(json.dumps(call['input']))}"
                    )
                return name.strip(), f"{self.tool} call on line {number}"
        return None, f"no {self.tool} call in {len(values)} lines"

    def _calls(self, value: Any) -> Iterator[dict[str, Any]]:
        """Every invocation of ``tool`` in ``value``, outermost and earliest first."""
        if isinstance(value, dict):
            if value.get("name") == self.tool and isinstance(value.get("input"), dict):
                yield value
            for child in value.values():
                yield from self._calls(child)
        elif isinstance(value, list):
            for child in value:
                yield from self._calls(child)


Rule = RegexRule | JsonLinesRule


class CommandRouter(Router):
    """Runs an agent CLI on each query and reads which skill it used."""

    def __init__(
        self,
        command: str,
        detect: Rule,
        cwd: Path,
        timeout: float = DEFAULT_TIMEOUT_S,
        env_passthrough: Sequence[str] = (),
        sandbox: Sandbox | None = None,
    ) -> None:
        if QUERY not in command:
            raise ValueError(f"the command needs {QUERY} where the query goes")
        self.command = command
        self.detect = detect
        self.cwd = cwd
        self.timeout = timeout
        self.env_passthrough = tuple(env_passthrough)
        self.sandbox = sandbox or Sandbox.none(cwd)

    def route(self, query: str, skills: Sequence[Skill]) -> Routing:
        command = self.command.replace(QUERY, shlex.quote(query))
        env = scrubbed_environment(self.env_passthrough)
        with tempfile.TemporaryDirectory(prefix="overnight-route-") as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            done = self.sandbox.run_tool(
                command, out, self.timeout, env, cwd=self.cwd, stderr_path=err
            )
            stdout = out.read_text(encoding="utf-8", errors="replace")
            if done.timed_out:
                raise RoutingError(f"timed out after {self.timeout:g} s")
            if done.returncode != 0:
                raise RoutingError(_with_last_line(f"exited with code {done.returncode}", err, out))
            if not stdout.strip():
                raise RoutingError(_with_last_line("printed nothing on stdout", err))
        choice, detail = self.detect.read(stdout)
        return Routing(choice, detail=detail)


def _json_lines(stdout: str) -> list[tuple[int, Any]]:
    """Each non-blank line parsed, with its number; any line that is not JSON is an error."""
    values = []
    for number, line in enumerate(stdout.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append((number, json.loads(line)))
        except ValueError:
            raise RoutingError(f"line {number} is not JSON: {_quote(line)}") from None
    return values


def _with_last_line(reason: str, *paths: Path) -> str:
    """``reason``, then the last non-blank line of the first of ``paths`` that has one: what
    the agent said last before it failed."""
    for path in paths:
        lines = read_tail(path, 400).strip().splitlines()
        if lines:
            return f"{reason}: {_clip(lines[-1])}"
    return reason


def _quote(text: str) -> str:
    return repr(_clip(text))


def _clip(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_QUOTE else line[: MAX_QUOTE - 1] + "…"
