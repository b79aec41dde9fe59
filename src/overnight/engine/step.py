"""The step: one experiment's own work on its lane, ``(base, brief) -> (change, scores, logs)``.

Propose a change, guard its scope, evaluate it, weigh it against the best as it was when the step
started. A step reads nothing the integrator writes and writes nothing shared (the one exception
is the registry of changes already tried, which every worker asks), so several run at once, in
threads on this machine or in processes on other machines (``engine/cluster.py``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from overnight import statistics
from overnight.agents import Agent, AgentContext
from overnight.config import Config, SuiteEvaluateConfig, TriggersEvaluateConfig
from overnight.engine.lane import Lane
from overnight.errors import AgentError, SearchExhausted
from overnight.evaluators.gates import Gate
from overnight.isolation.guards import Snapshot
from overnight.isolation.tree import TreeChange
from overnight.layers import OwnedDescription, layer_violations
from overnight.policy import Evidence, Policy, flips
from overnight.records import (
    AGENT_FAILED,
    PROVIDER_DOWN,
    Experiment,
    Proposal,
    Score,
    Status,
    SuiteResult,
)
from overnight.scope import Scope, size_violations

Interruptible = Callable[[], ContextManager[object]]


@dataclass(frozen=True)
class Incumbent:
    """The best state as a step starts: what its candidate is weighed against."""

    commit: str
    values: list[float]  # its latest measurements, as many as the policy's window
    elsewhere: statistics.Spread  # the noise, as the rest of the run measured it
    suite: SuiteResult | None  # its visible cases, for the check-by-check comparison
    held_out: SuiteResult | None  # its held-out cases, which a keep must not lose
    baseline: dict[str, float] = field(default_factory=dict)  # the baseline's secondary metrics


@dataclass
class Step:
    """One experiment in flight, on its own lane."""

    record: Experiment
    lane: Lane
    context: AgentContext | None  # None for a winner played again: no agent takes part
    snapshot: Snapshot | None  # unconfined: git's files as the step began
    incumbent: Incumbent
    change: TreeChange | None = None
    messages: list[str] = field(default_factory=list)  # said by the integrator, in order


class Registry(Protocol):
    """Changes already tried, shared by every worker: the same change from the same state is
    measured once in a run."""

    def claim(self, key: str, number: int) -> int:
        """``number`` if ``key`` is new (and now claimed by it), else the experiment that has it."""
        ...

    def release(self, key: str, number: int) -> None:
        """``number`` gives up ``key``: its measurement did not count."""
        ...


class TriedChanges:
    """The registry for workers in threads of one process."""

    def __init__(self, claimed: dict[str, int] | None = None) -> None:
        self._claimed = dict(claimed or {})
        self._lock = threading.Lock()

    def claim(self, key: str, number: int) -> int:
        with self._lock:
            return self._claimed.setdefault(key, number)

    def release(self, key: str, number: int) -> None:
        with self._lock:
            if self._claimed.get(key) == number:
                del self._claimed[key]


def description_file(log_dir: Path, number: int) -> Path:
    return log_dir / f"{number:04d}.description"


def change_key(base: str, diff: str) -> str:
    return hashlib.sha256(f"{base}\0{diff}".encode()).hexdigest()


@dataclass
class StepRunner:
    """What every step needs besides its lane: the agent, the policy, the rules it is held to
    and where its logs go."""

    config: Config
    agent: Agent
    policy: Policy
    scope: Scope
    owned: list[OwnedDescription]  # descriptions other layers measure, as they are now
    log_dir: Path
    tried: Registry

    def attempt(self, step: Step, interruptible: Interruptible) -> None:
        """Propose, guard, evaluate, weigh: fills in the step's record and change."""
        record, lane = step.record, step.lane
        assert step.context is not None
        started, failure = time.monotonic(), None
        try:
            with interruptible():
                proposal = self.agent.propose(step.context)
        except SearchExhausted:
            raise
        except AgentError as exc:  # the agent's own failure: a no-op, and the run goes on
            meta = {"fatal": True} if exc.fatal else {}
            proposal = Proposal(description=AGENT_FAILED, meta=meta, usage=exc.usage)
            failure = str(exc)
        record.agent_s = time.monotonic() - started
        _apply_proposal(record, proposal)
        # kept beside the logs at once, so that a harness killed during the evaluation leaves
        # the description for the resume to record
        described = description_file(self.log_dir, record.number)
        described.parent.mkdir(parents=True, exist_ok=True)
        described.write_text(record.description, "utf-8")
        problems = self.check_git(step, step.snapshot) + lane.check_views()
        change = step.change = lane.tree.change(lane.guarded_paths())
        lane.sandbox.link_exposed()
        record.changed_files = change.paths
        if failure and not problems:
            record.status, record.reason = Status.NO_OP, failure
        elif change.empty and not problems:
            record.status, record.reason = Status.NO_OP, "the agent changed nothing"
        elif problems := problems + self._scope_problems(lane, change):
            record.diff = change.patch
            record.status, record.reason = Status.VIOLATION, "; ".join(problems)
        else:
            record.diff = change.patch
            self._guard_size_and_repeats(record, change)
        if record.status is Status.RUNNING:
            self.evaluate_and_weigh(step, change, interruptible)

    def weigh_replay(self, step: Step, interruptible: Interruptible) -> None:
        """The step of a replay: no agent, only the measurements on the best."""
        assert step.change is not None
        self.evaluate_and_weigh(step, step.change, interruptible)

    def check_git(self, step: Step, snapshot: Snapshot | None) -> list[str]:
        """Unconfined only: changes to refs or git's files are undone, and named in the record,
        the next brief and (through the integrator) the live view."""
        problems = step.lane.check_git(snapshot)
        step.messages += [f"experiment {step.record.number} {p}; undone" for p in problems]
        return problems

    def _scope_problems(self, lane: Lane, change: TreeChange) -> list[str]:
        return [
            *change.odd,
            *self.scope.violations(change),
            *layer_violations(self.owned, change, lane.tree.path),
        ]

    def _guard_size_and_repeats(self, record: Experiment, change: TreeChange) -> None:
        """One change at a time, each tried once: too large is a violation, and the same diff
        from the same parent is not evaluated again, by this worker or any other."""
        if problems := size_violations(self.config.limits, record.diff, change):
            record.status, record.reason = Status.VIOLATION, "; ".join(problems)
            return
        twin = self.tried.claim(change_key(record.parent_commit, record.diff), record.number)
        if twin != record.number:
            record.status = Status.NO_OP
            record.reason = f"the same change as experiment {twin}, from the same state"

    def evaluate_and_weigh(
        self, step: Step, change: TreeChange, interruptible: Interruptible
    ) -> None:
        """Measure until the policy decides (once for greedy; for noise-aware, more only while
        the candidate looks better but not yet credibly so). Every measurement is guarded, and a
        failed one ends the experiment."""
        record, lane, incumbent = step.record, step.lane, step.incumbent
        guarded = lane.guarded_paths(change.paths, change.deleted)
        suites: list[SuiteResult] = []

        def measure() -> Score:
            score = self.measure(lane, record.number, len(record.measurements))
            _apply_score(record, score)  # recorded even when it cannot be trusted
            return score

        while True:
            with interruptible():
                score = lane.guarded(record, measure, guarded)
            if score is None:
                return
            if not score.ok:
                record.status, record.reason = score.status or Status.CRASH, score.log_tail
                if record.reason.startswith(PROVIDER_DOWN):
                    self.tried.release(change_key(record.parent_commit, record.diff), record.number)
                return
            assert score.value is not None
            record.measurements.append(score.value)
            if score.suite is not None:
                suites.append(score.suite)
            paired = flips(suites, [incumbent.suite]) if suites and incumbent.suite else None
            decision = self.policy.weigh(
                record.measurements,
                incumbent.values,
                lane.evaluator.direction,
                Evidence(incumbent.elsewhere, paired),
            )
            if not decision.more:
                break
        record.metric = statistics.mean(record.measurements)
        record.status = Status.KEEP if decision.keep else Status.DISCARD
        record.reason = decision.reason
        if decision.keep and not self._passes_gates(step, guarded, interruptible):
            return
        if decision.keep:
            with interruptible():
                held_out = lane.guarded(
                    record, lambda: self.measure_held_out(lane, record.number), guarded
                )
            if record.status is Status.KEEP:
                self._judge_generality(record, held_out, incumbent)

    def _passes_gates(self, step: Step, guarded: list[str], interruptible: Interruptible) -> bool:
        """A winner is kept only if its correctness checks pass and its secondary metrics keep
        their constraints; one that fails them is ``check-failed``, with the check's output."""
        record, lane = step.record, step.lane
        if not lane.evaluator.gated:
            return True

        def gate() -> Gate:
            log = self.log_path(record.number)
            return lane.evaluator.gate(
                lane.tree.path, log, record.secondary, step.incumbent.baseline
            )

        with interruptible():
            verdict = lane.guarded(record, gate, guarded)
        if verdict is None:  # a violation, recorded by the guard
            return False
        record.eval_s += verdict.seconds
        if verdict.passed:
            return True
        hint = lane.sandbox.hint() if verdict.log_path else ""
        record.status = Status.CHECK_FAILED
        record.reason = f"{verdict.failure}\n{hint}".strip()
        return False

    def _judge_generality(
        self, record: Experiment, score: Score | None, incumbent: Incumbent
    ) -> None:
        """A keep must hold on the cases no agent has seen. One that loses more of them than
        ``overfit.tolerance`` allows is rejected as ``overfit`` (or kept with a warning); for
        triggers a check is a held-out query routed as labelled. The reason says so without
        numbers: it reaches the brief, and held-out scores must not."""
        if score is None:
            return
        record.eval_s += score.seconds
        record.usage = [*record.usage, *score.usage]
        if not score.ok or score.suite is None:
            record.reason += "; the held-out cases could not be measured"
            return
        record.held_out, record.held_out_value = score.suite, score.value
        record.held_out_splits = list(score.splits)
        before = incumbent.held_out
        settings = self.config.evaluate
        if before is None or not isinstance(settings, SuiteEvaluateConfig | TriggersEvaluateConfig):
            return
        if before.passed - score.suite.passed <= settings.overfit.tolerance:
            return
        if settings.overfit.action == "reject":
            record.status = Status.OVERFIT
            record.reason = "overfit: better on the visible cases, worse on the held-out ones"
        else:
            record.reason += "; warning: worse on the held-out cases (overfit?)"

    def measure(self, lane: Lane, number: int, attempt: int) -> Score:
        """One measurement of the lane's tree as it is; repeats log beside the first, and with
        ``seeds: vary`` each gets its own seed, so no one seed can carry a change."""
        seed = attempt if self.config.evaluate.seeds == "vary" else 0
        log = self.log_path(number)
        if attempt:
            log = log.with_name(f"{number:04d}.{attempt}.log")
        return lane.evaluator.evaluate(lane.tree.path, log, seed=seed)

    def measure_held_out(self, lane: Lane, number: int) -> Score | None:
        log = self.log_path(number).with_suffix(".held-out.log")
        return lane.evaluator.held_out(lane.tree.path, log)

    def log_path(self, number: int) -> Path:
        return self.log_dir / f"{number:04d}.log"


def _apply_proposal(record: Experiment, proposal: Proposal) -> None:
    record.description = proposal.description
    record.agent_meta = dict(proposal.meta)
    record.usage = list(proposal.usage)
    record.tokens_in = sum(u.tokens_in or 0 for u in proposal.usage)
    record.tokens_out = sum(u.tokens_out or 0 for u in proposal.usage)
    record.cost_usd = sum(u.cost_usd or 0.0 for u in proposal.usage)


def _apply_score(record: Experiment, score: Score) -> None:
    """The latest measurement's details; times and model calls add up over repeats."""
    record.metric, record.secondary = score.value, score.secondary
    record.suite = score.suite
    record.log_path = record.log_path or score.log_path
    record.eval_s += score.seconds
    record.usage = [*record.usage, *score.usage]
