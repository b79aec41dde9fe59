"""The ``claude-code`` router: the real Claude Code CLI, asked each query headless in a temporary
project where the skills under test are installed, and the skill it used read from its
transcript.

Per query it runs::

    claude -p --output-format stream-json --verbose --no-session-persistence
        --setting-sources project --max-turns <max_turns> [--model <model>] -- <query>

in a folder outside the workspace whose ``.claude/skills/<name>/SKILL.md`` are the skills as the
measured tree has them (one folder per distinct set of files, shared by the concurrent runs of an
evaluation, removed once superseded). Only ``SKILL.md`` is copied: the CLI offers a skill by its
front matter alone. ``--setting-sources project`` keeps the user's own settings and skills out,
so that a copy of a skill installed in ``~/.claude/skills`` cannot shadow the version measured;
the skills built into the CLI still compete, as they do for every user.

A query triggered a skill under test when the transcript shows the model calling the ``Skill``
tool with its name, or reading its ``SKILL.md``, at any point: a model often looks around first
(``git status``, reading a file the query names) and only then loads the skill, and a detector
that stops at the first tool call reads that as "no skill". A skill built into the CLI being
called first is not a decision either. The turn limit ends the session soon after (a skill
loaded on the last turn allowed is not sent back to the model, one loaded earlier is, once), and
a query that reaches the limit without loading one triggered none.

The environment is the coding-agent preset's: the user's, scrubbed of secrets except the
variables the CLI reads its key and endpoint from, without self-updates. The tokens and cost the
CLI reports in its final ``result`` event are recorded with purpose ``route``; a run that ends
without a result event, or with an error other than the turn limit before any skill was loaded,
is a ``RoutingError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import shlex
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overnight.activation.routers.base import Router, Routing, RoutingError
from overnight.activation.skills import Skill
from overnight.agents.tools import claude_code
from overnight.config import ClaudeCodeRouterConfig
from overnight.errors import UsageError
from overnight.isolation.sandbox import Sandbox
from overnight.process import read_tail, scrubbed_environment
from overnight.records import Usage

PURPOSE = "route"
SKILL_TOOL = "Skill"
READ_TOOL = "Read"
OUT_OF_TURNS = "error_max_turns"
SKILLS_FOLDER = (".claude", "skills")


@dataclass(frozen=True)
class Transcript:
    """What one run's stream-JSON output says about the skills."""

    choice: str | None  # the first skill under test the model loaded
    detail: str
    usage: Usage | None
    failure: str | None  # why the run failed, when it did and no skill was loaded first


def read_transcript(output: str, names: Sequence[str]) -> Transcript:
    """The skill of ``names`` the model loaded first, from Claude Code's stream-JSON ``output``.
    A ``RoutingError`` when the output has no result event, or when the CLI did not load a skill
    under test (a malformed ``SKILL.md`` it skipped would otherwise read as "never triggers")."""
    events = [value for value in _json_values(output) if isinstance(value, dict)]
    result = next((e for e in reversed(events) if e.get("type") == "result"), None)
    if result is None:
        raise RoutingError(f"no result event in {len(events)} events of stream-JSON output")
    report = claude_code.read(json.dumps(result))
    spent = dataclasses.replace(report.usage, purpose=PURPOSE) if report.usage else None
    if missing := _not_loaded(events, names):
        raise RoutingError(
            f"Claude Code did not load the skill {', '.join(missing)} (it lists the skills it"
            " loaded when it starts): check the front matter of its SKILL.md",
            (spent,) if spent else (),
        )
    turns: dict[str, int] = {}  # assistant message id -> its turn, from 1
    called: list[str] = []  # tools called before the skill, and skills not under test
    for event in events:
        if event.get("type") != "assistant" or not isinstance(event.get("message"), dict):
            continue
        message = event["message"]
        turn = turns.setdefault(str(message.get("id", len(turns))), len(turns) + 1)
        for block in message.get("content") or []:
            if not isinstance(block, dict) or block.get("type") != "tool_use":
                continue
            skill, how = _loaded_skill(block, names)
            if skill is not None:
                after = f" after {', '.join(called)}" if called else ""
                return Transcript(skill, f"{how} on turn {turn}{after}", spent, None)
            called.append(how)
    failure = report.failure if result.get("subtype") != OUT_OF_TURNS else None
    tried = f"; called {', '.join(called)}" if called else ""
    ended = "ran out of turns" if result.get("subtype") == OUT_OF_TURNS else "ended"
    detail = f"no skill under test in {len(turns)} turn{'s' * (len(turns) != 1)} ({ended}){tried}"
    return Transcript(None, detail, spent, failure)


def _loaded_skill(block: dict[str, Any], names: Sequence[str]) -> tuple[str | None, str]:
    """(the skill under test this tool call loads or None, the call in a few words)."""
    tool = str(block.get("name"))
    given = block.get("input") if isinstance(block.get("input"), dict) else {}
    if tool == SKILL_TOOL:
        name = str(given.get("skill", "")).strip().lstrip("/")
        return (name if name in names else None), f"{SKILL_TOOL} {name}"
    if tool == READ_TOOL:
        parts = Path(str(given.get("file_path", ""))).parts
        for name in names:
            if parts[-4:] == (*SKILLS_FOLDER, name, "SKILL.md"):
                return name, f"{READ_TOOL} of {'/'.join(parts[-4:])}"
    return None, tool


def _not_loaded(events: list[dict[str, Any]], names: Sequence[str]) -> list[str]:
    """The skills under test missing from the list the CLI says it loaded (in its first event),
    if it says."""
    init = next((e for e in events if e.get("type") == "system" and "skills" in e), None)
    offered = init.get("skills") if init is not None else None
    return [name for name in names if name not in offered] if isinstance(offered, list) else []


def _json_values(output: str) -> Iterator[Any]:
    """Each line that is JSON, decoded; anything else a tool prints on stdout is passed over."""
    for line in output.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                yield json.loads(line)


class ClaudeCodeRouter(Router):
    """Runs ``claude -p`` on each query in a project with the skills installed."""

    def __init__(self, config: ClaudeCodeRouterConfig, sandbox: Sandbox | None = None) -> None:
        executable = claude_code.PRESET.executable
        if shutil.which(executable) is None:
            raise UsageError(
                f"the claude-code router needs the {executable!r} command on PATH: "
                f"{claude_code.PRESET.install}"
            )
        self.config = config
        self.sandbox = sandbox
        self.projects = SkillProjects()

    def route(self, query: str, skills: Sequence[Skill]) -> Routing:
        names = [skill.name for skill in skills]
        env = scrubbed_environment([*claude_code.PRESET.passed_on, *self.config.env_passthrough])
        env.update(claude_code.launch(env, Path()).env)
        with (
            self.projects.installed(skills) as folder,
            tempfile.TemporaryDirectory(prefix="overnight-route-") as scratch,
        ):
            out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
            sandbox = self.sandbox or Sandbox.none(folder)
            done = sandbox.run_tool(
                self.command(query), out, self.config.timeout, env, cwd=folder, stderr_path=err
            )
            output = out.read_text(encoding="utf-8", errors="replace")
            last = _last_line(err) or _last_line(out)
        if done.timed_out:
            raise RoutingError(f"claude timed out after {self.config.timeout:g} s")
        try:
            transcript = read_transcript(output, names)
        except RoutingError as exc:
            reason = f"{exc} (claude exited with code {done.returncode}{last})"
            raise RoutingError(reason, exc.usage) from None
        usage = (transcript.usage,) if transcript.usage else ()
        if transcript.failure is not None:
            raise RoutingError(f"claude failed: {transcript.failure}", usage)
        return Routing(transcript.choice, usage, transcript.detail)

    def command(self, query: str) -> str:
        """The command line; the query comes last, after ``--``, so that one that starts with a
        dash is not read as an option."""
        words = [claude_code.PRESET.executable, "-p", "--output-format", "stream-json"]
        words += ["--verbose", "--no-session-persistence", "--setting-sources", "project"]
        words += ["--max-turns", str(self.config.max_turns)]
        if self.config.model:
            words += ["--model", self.config.model]
        return shlex.join([*words, "--", query])


@dataclass
class _Project:
    folder: Path
    users: int = 0


class SkillProjects:
    """Temporary projects with skills installed, one per distinct set of ``SKILL.md`` files: the
    concurrent runs of one evaluation share one, and a project is removed once no run uses it and
    a newer one exists. Whatever is left goes when the router does."""

    def __init__(self) -> None:
        self._base = Path(tempfile.mkdtemp(prefix="overnight-skills-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._base, True)
        self._projects: dict[tuple[tuple[str, bytes], ...], _Project] = {}
        self._latest: tuple[tuple[str, bytes], ...] = ()
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self, skills: Sequence[Skill]) -> Iterator[Path]:
        """A project folder whose ``.claude/skills`` holds ``skills`` as their files are now."""
        files = tuple((skill.name, _skill_file(skill)) for skill in skills)
        with self._lock:
            project = self._projects.get(files)
            if project is None:
                project = self._projects[files] = _Project(self._install(files))
            project.users += 1
            self._latest = files
        try:
            yield project.folder
        finally:
            with self._lock:
                project.users -= 1
                for key, old in list(self._projects.items()):
                    if old.users == 0 and key != self._latest:
                        shutil.rmtree(old.folder, ignore_errors=True)
                        del self._projects[key]

    def _install(self, files: tuple[tuple[str, bytes], ...]) -> Path:
        folder = self._base / f"project-{next(self._numbers)}"
        for name, text in files:
            path = folder.joinpath(*SKILLS_FOLDER, name, "SKILL.md")
            path.parent.mkdir(parents=True)
            path.write_bytes(text)
        return folder

    def close(self) -> None:
        self._finalizer()


def _skill_file(skill: Skill) -> bytes:
    """The skill's ``SKILL.md`` as it is now; one written from its name and description when it
    was not read from a file."""
    if skill.path is not None:
        return skill.path.read_bytes()
    front = f"---\nname: {skill.name}\ndescription: {json.dumps(skill.description)}\n---\n"
    return front.encode()


def _last_line(path: Path) -> str:
    lines = read_tail(path, 400).strip().splitlines()
    return f": {' '.join(lines[-1].split())[:200]}" if lines else ""
