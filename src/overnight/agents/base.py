"""The Agent interface: make exactly one change in the working tree, say what it was.

The harness derives the diff from git, checks its scope, evaluates and decides. An agent never
commits, reverts or judges; it only proposes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from overnight.isolation.sandbox import Sandbox
from overnight.records import Experiment, Proposal, SuiteResult


@dataclass(frozen=True)
class AgentContext:
    """What an agent may know when it proposes experiment ``number``."""

    root: Path  # the experiment's workspace (never the user's checkout); the agent edits here
    number: int
    editable_files: Sequence[str]  # paths relative to root that currently match the editable globs
    editable_globs: Sequence[str]  # new files matching these are allowed too
    history: Sequence[Experiment]  # this run's experiments so far, oldest first, baseline included
    best_metric: float | None
    direction: str  # "minimize" or "maximize"
    brief_path: Path  # the brief (program, files, history), in a folder the agent may write to
    best_suite: SuiteResult | None = None  # the best state's visible matrix, for suites
    sandbox: Sandbox | None = None  # where a tool the agent runs is confined, if anywhere
    in_flight: Sequence[Experiment] = ()  # other workers' experiments under way (proposed or not)


class Agent(ABC):
    """One kind of agent; each is registered under its config ``kind`` in ``agents/__init__``."""

    reads_brief: ClassVar[bool] = True  # the harness writes a brief only for agents that read it

    @abstractmethod
    def propose(self, context: AgentContext) -> Proposal:
        """Change the tree once and describe the change in one line.

        Raise ``AgentError`` when the agent itself failed (it will be recorded as a no-op) and
        ``SearchExhausted`` when there is nothing left to try (the run stops).
        """
