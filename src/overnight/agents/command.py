"""The ``command`` agent: any program that edits the tree, e.g. a coding agent run headless.

It runs in the experiment's workspace with the brief's path in ``OVERNIGHT_BRIEF``; whatever it
changes there is the proposal. In the sandbox it keeps its network, its home directory and the
secrets it needs, but sees neither the user's checkout nor ``.overnight/`` nor the harness.
Its description is the last non-empty line it prints, or the content of
``description_file`` when configured.

With a ``preset`` (see ``presets.py``) the command line of a known coding agent is built here:
its prompt is the brief plus a note for unattended runs (path in ``OVERNIGHT_PROMPT``), the
secrets it needs are passed on, ``command`` adds arguments, ``model`` picks its model, and the
description is the last ``DESCRIPTION:`` line it printed (else its last non-empty line).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from overnight.agents.base import Agent, AgentContext
from overnight.agents.presets import (
    MAX_ARGUMENT_BYTES,
    PRESETS,
    PROMPT_ENV,
    Launch,
    Preset,
    command_line,
    description_from_output,
    missing_tool,
    write_prompt,
)
from overnight.agents.tool import ToolReport, auth_failure, unknown_usage
from overnight.config import CommandAgentConfig
from overnight.errors import AgentError, UsageError
from overnight.isolation.sandbox import Sandbox
from overnight.process import read_tail, scrubbed_environment
from overnight.records import Proposal, Usage

MAX_DESCRIPTION = 200
OUTPUT_BYTES = 1_000_000  # of a tool's output read back: a JSON answer may be long


class CommandAgent(Agent):
    def __init__(self, config: CommandAgentConfig, log_dir: Path) -> None:
        self.check(config)
        self.config = config
        self.log_dir = log_dir
        self.preset: Preset | None = PRESETS[config.preset] if config.preset else None

    @staticmethod
    def check(config: CommandAgentConfig) -> None:
        """Raise UsageError when a preset's tool is not installed, so a run fails at once rather
        than after the baseline with every experiment a no-op. Cheap: callable before a run
        creates its branch."""
        preset = PRESETS[config.preset] if config.preset else None
        if preset is not None and (problem := missing_tool(preset)):
            raise UsageError(problem)

    @property
    def name(self) -> str:
        """What the user calls it in messages: the tool's command, or just the agent command."""
        return self.preset.executable if self.preset else "agent command"

    def propose(self, context: AgentContext) -> Proposal:
        extra = {
            "OVERNIGHT_BRIEF": str(context.brief_path),
            "OVERNIGHT_EXPERIMENT": str(context.number),
            "OVERNIGHT_EDITABLE": "\n".join(context.editable_files),
            # git must not find the user's repository above the workspace
            "GIT_CEILING_DIRECTORIES": str(context.root.parent),
        }
        passthrough = list(self.config.env_passthrough)
        if self.preset is not None:
            extra[PROMPT_ENV] = str(self._prepare_prompt(context))
            passthrough += self.preset.passed_on
        env = scrubbed_environment(passthrough, extra)
        folder = context.brief_path.parent  # the tool's private folder, outside the workspace
        launch = self.preset.launch(env, folder) if self.preset else Launch()
        command = self._command(context, launch)
        log = self.log_dir / f"{context.number:04d}.agent.log"
        sandbox = context.sandbox or Sandbox.none(context.root)
        done = sandbox.run_tool(
            command, log, self.config.timeout, {**env, **launch.env}, writable=[folder]
        )
        output = read_tail(log, OUTPUT_BYTES)
        report = self.preset.read(output) if self.preset else ToolReport(answer=output)
        spent = self._usage(report)
        if done.timed_out:
            timed_out = f"{self.name} timed out after {self.config.timeout:g} s"
            if report.failure:
                timed_out += f": {report.failure}"
            raise AgentError(timed_out, spent, fatal=report.fatal)
        if done.returncode != 0:
            fatal = report.fatal or auth_failure(_last_lines(output))
            raise AgentError(self._failure(done.returncode, report, output), spent, fatal=fatal)
        if report.failure:
            raise AgentError(f"{self.name} failed: {report.failure}", spent, fatal=report.fatal)
        meta = {"preset": self.preset.name, "command": command} if self.preset else {}
        description = self._description(context.root, report.answer)
        return Proposal(description=description, meta=meta, usage=spent)

    def _usage(self, report: ToolReport) -> list[Usage]:
        """A preset's run always leaves a usage row: the tool's own account, or one that says
        its tokens and cost are unknown. A plain command is not assumed to call a model."""
        if self.preset is None:
            return []
        row = report.usage or unknown_usage(self.preset.name)
        if self.config.model and row.model in (self.preset.name, "unknown"):
            row = replace(row, model=self.config.model)  # the tool did not name its model
        return [row]

    def _command(self, context: AgentContext, launch: Launch) -> str:
        if self.preset is None:
            assert self.config.command is not None  # the config requires command or preset
            return self.config.command
        return command_line(
            self.preset,
            model=self.config.model,
            extra=self.config.command,
            files=context.editable_files,
            state_dir=context.brief_path.parent,
            launch=launch,
        )

    def _prepare_prompt(self, context: AgentContext) -> Path:
        """Write this experiment's prompt beside the brief, where the tool can read it, and a copy
        beside its log for a reviewer in the morning; refuse one too long to pass as a single
        argument."""
        assert self.preset is not None
        path = context.brief_path.parent / "prompt.md"
        text = write_prompt(context.brief_path, path)
        copy = self.log_dir / f"{context.number:04d}.prompt.md"
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
        size = len(text.encode("utf-8"))
        if self.preset.prompt_in_argument and size > MAX_ARGUMENT_BYTES:
            raise AgentError(
                f"the prompt for {self.preset.executable} is {size // 1000} kB, more than one "
                f"command-line argument may hold ({MAX_ARGUMENT_BYTES // 1000} kB); "
                "shorten the program file"
            )
        return path

    def _failure(self, returncode: int | None, report: ToolReport, output: str) -> str:
        if self.preset is not None and (problem := missing_tool(self.preset)):
            return problem
        why = report.failure or _last_line(output)
        return f"{self.name} exited with code {returncode}: {why}"

    def _description(self, root: Path, answer: str) -> str:
        if self.config.description_file:
            path = root / self.config.description_file
            text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
            if path.is_file():
                path.unlink()
        else:
            text = answer
        line = description_from_output(text) if self.preset else _last_line(text)
        return line[:MAX_DESCRIPTION] or "(no description)"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _last_lines(text: str, count: int = 5) -> str:
    """The end of a failed tool's output, where its reason is; earlier lines may quote code."""
    return "\n".join(text.strip().splitlines()[-count:])
