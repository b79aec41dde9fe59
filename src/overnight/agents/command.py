"""The ``command`` agent: any program that edits the tree, e.g. a coding agent run headless.

It runs in the repository with the brief's path in ``OVERNIGHT_BRIEF``; whatever it changes is the
proposal. Its description is the last non-empty line it prints, or the content of
``description_file`` when configured.
"""

from __future__ import annotations

from pathlib import Path

from overnight.agents.base import Agent, AgentContext
from overnight.config import CommandAgentConfig
from overnight.errors import AgentError
from overnight.process import read_tail, run_logged, scrubbed_environment
from overnight.records import Proposal

MAX_DESCRIPTION = 200


class CommandAgent(Agent):
    def __init__(self, config: CommandAgentConfig, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir

    def propose(self, context: AgentContext) -> Proposal:
        env = scrubbed_environment(
            self.config.env_passthrough,
            {
                "OVERNIGHT_BRIEF": str(context.brief_path),
                "OVERNIGHT_EXPERIMENT": str(context.number),
                "OVERNIGHT_EDITABLE": "\n".join(context.editable_files),
            },
        )
        log = self.log_dir / f"{context.number:04d}.agent.log"
        done = run_logged(self.config.command, context.root, env, self.config.timeout, log)
        if done.timed_out:
            raise AgentError(f"agent command timed out after {self.config.timeout:g} s")
        if done.returncode != 0:
            raise AgentError(
                f"agent command exited with code {done.returncode}: {_last_line(done.tail())}"
            )
        return Proposal(description=self._description(context.root, log))

    def _description(self, root: Path, log: Path) -> str:
        if self.config.description_file:
            path = root / self.config.description_file
            text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
            if path.is_file():
                path.unlink()
        else:
            text = read_tail(log)
        line = _last_line(text)
        return line[:MAX_DESCRIPTION] or "(no description)"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
