"""The records that cross module boundaries: what an evaluation measured, what an agent proposed,
and what the ledger remembers about one experiment."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

AGENT_FAILED = "(the agent failed)"  # the description of an experiment whose agent failed
# How the reason of a measurement voided by an unreachable model provider begins: the change
# is not counted as tried, so it may be measured again once the provider is back.
PROVIDER_DOWN = "model provider unreachable"


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
    OVERFIT = "overfit"  # better on the visible cases, worse on the held-out ones
    CHECK_FAILED = "check-failed"  # better, but a correctness check or a constraint failed
    STALE = "stale"  # won on a state the run had moved past: measured again on the best
    CONFLICT = "conflict"  # won on a state the run had moved past, and clashes with the best
    RUNNING = "running"

    @property
    def advances(self) -> bool:
        return self in (Status.BASELINE, Status.KEEP)


@dataclass(frozen=True)
class Usage:
    """Model calls of one purpose ("generation", "judge", "proposal") and what they cost."""

    purpose: str
    model: str
    tokens_in: int | None  # None when unknown: a coding-agent CLI that reports nothing
    tokens_out: int | None
    cost_usd: float | None  # None when unknown or unpriced (not in litellm's price map)
    calls: int = 1


@dataclass(frozen=True)
class CaseOutput:
    """What the generator produced for one case (and repeat), or why it could not."""

    case_id: str
    repeat: int
    output: str | None
    error: str | None = None
    seconds: float = 0.0
    cached: bool = False
    cost_usd: float | None = None  # what generating it cost, when this run generated it
    finish_reason: str | None = None  # why the model stopped, when a model wrote it


@dataclass(frozen=True)
class Check:
    """One cell of the matrix: one assertion on one output."""

    case_id: str
    repeat: int
    assertion: str
    passed: bool
    reason: str
    deterministic: bool = True
    weight: float = 1.0  # what a pass adds to the suite's score
    metric: str | None = None  # the named score it also counts towards


@dataclass(frozen=True)
class SuiteResult:
    outputs: list[CaseOutput]
    checks: list[Check]

    @property
    def passed(self) -> int:
        return sum(check.passed for check in self.checks)

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def score(self) -> float:
        """The weighted passes: ``passed`` when every weight is 1."""
        return float(sum(check.weight for check in self.checks if check.passed))

    @property
    def weighted(self) -> bool:
        return any(check.weight != 1 for check in self.checks)

    def metrics(self) -> dict[str, float]:
        """Each named metric's weighted share of passes, 0 to 1."""
        totals: dict[str, list[float]] = {}
        for check in self.checks:
            if check.metric is not None:
                tally = totals.setdefault(check.metric, [0.0, 0.0])
                tally[0] += check.weight * check.passed
                tally[1] += check.weight
        return {name: won / total if total else 1.0 for name, (won, total) in totals.items()}


@dataclass(frozen=True)
class Score:
    """One evaluation of a tree. ``value`` is None when the evaluation crashed or timed out."""

    value: float | None
    status: Status | None = None  # CRASH or TIMEOUT when the evaluation itself failed
    secondary: dict[str, float] = field(default_factory=dict)
    log_path: str | None = None
    log_tail: str = ""
    seconds: float = 0.0
    suite: SuiteResult | None = None  # for suites: every output and the full matrix
    usage: list[Usage] = field(default_factory=list)  # model calls the evaluation made
    splits: list[float] = field(default_factory=list)  # held out in folds: each one's score

    @property
    def ok(self) -> bool:
        return self.value is not None and self.status is None


@dataclass(frozen=True)
class Proposal:
    """What an agent returns after changing the tree; the harness derives the diff itself."""

    description: str
    meta: dict[str, Any] = field(default_factory=dict)  # the agent's own notes, kept in the ledger
    usage: list[Usage] = field(default_factory=list)  # the agent's model calls (purpose "proposal")


@dataclass(frozen=True)
class Review:
    """A person's verdict on one output of an experiment ("up" or "down", with its ``case_id``)
    or on one kept experiment ("accept" or "reject", ``case_id`` None). Verdicts are never
    edited: a later one on the same item supersedes it, and the ledger keeps both."""

    run_id: int
    number: int  # the experiment reviewed
    verdict: str  # "up" | "down" on an output; "accept" | "reject" on a kept experiment
    note: str = ""
    case_id: str | None = None  # the output's case; None for a verdict on a kept experiment
    at: float = 0.0  # time.time() when recorded
    applied: bool = False  # a rejected keep reverted by `overnight review --apply`


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
    tokens_in: int = 0  # the agent's (proposal's) tokens and cost, also among ``usage``
    tokens_out: int = 0
    cost_usd: float = 0.0
    agent_meta: dict[str, Any] = field(default_factory=dict)
    usage: list[Usage] = field(default_factory=list)  # every model call: proposal and evaluation
    suite: SuiteResult | None = None  # stored in the ledger; read back with Ledger.suite_result
    held_out: SuiteResult | None = None  # the cases no agent sees, measured on baseline and keeps
    held_out_value: float | None = None  # their score, as the evaluation scores the visible ones
    held_out_splits: list[float] = field(default_factory=list)  # per fold; the value: their mean
    measurements: list[float] = field(default_factory=list)  # each value; ``metric`` is the mean
    remeasured: list[float] = field(default_factory=list)  # the incumbent's, measured after it
    worker: int = 0  # the lane that ran it, 0 to workers - 1; the baseline is worker 0's

    @property
    def replay_of(self) -> int | None:
        """For a stale winner played again on the best: the winner's number. Such a row
        completes an experiment already counted, so budgets do not count it again."""
        return (self.agent_meta or {}).get("replay_of")

    @property
    def total_cost_usd(self) -> float:
        """Proposal plus evaluation spending; calls of unknown price count as zero."""
        return sum(u.cost_usd or 0.0 for u in self.usage)
