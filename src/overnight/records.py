"""The records that cross module boundaries: what an evaluation measured, what an agent proposed,
and what the ledger remembers about one experiment."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """How an experiment ended. Only ``baseline`` and ``keep`` move the best state."""

    BASELINE = "baseline"
    KEEP = "keep"
    DISCARD = "discard"
    CRASH = "crash"
    TIMEOUT = "timeout"
    VIOLATION = "violation"
    NO_OP = "no-op"
    INTERRUPTED = "interrupted"
    RUNNING = "running"

    @property
    def advances(self) -> bool:
        return self in (Status.BASELINE, Status.KEEP)


@dataclass(frozen=True)
class Score:
    """One evaluation of a tree. ``value`` is None when the evaluation crashed or timed out."""

    value: float | None
    status: Status | None = None  # CRASH or TIMEOUT when the evaluation itself failed
    secondary: dict[str, float] = field(default_factory=dict)
    log_path: str | None = None
    log_tail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.value is not None and self.status is None


@dataclass(frozen=True)
class Proposal:
    """What an agent returns after changing the tree; the harness derives the diff itself."""

    description: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)  # the agent's own notes, kept in the ledger


@dataclass
class Experiment:
    """One row of the ledger."""

    run_id: int
    number: int
    parent_commit: str
    status: Status
    commit: str | None = None
    metric: float | None = None
    secondary: dict[str, float] = field(default_factory=dict)
    description: str = ""
    diff: str = ""
    changed_files: list[str] = field(default_factory=list)
    reason: str = ""
    log_path: str | None = None
    started_at: float = 0.0
    duration_s: float = 0.0
    agent_s: float = 0.0
    eval_s: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    agent_meta: dict[str, Any] = field(default_factory=dict)
