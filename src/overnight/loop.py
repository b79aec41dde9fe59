"""The loop, in the order it happens:

    baseline → (dispatch: reset a workspace, write the brief → the step: propose one change,
                guard its scope, evaluate, weigh → integrate: decide, record, keep)*

Every experiment happens in a lane of its own: a disposable workspace made from git objects,
evaluated in the sandbox (``engine/lane.py``); the user's checkout is never touched. The step
(``engine/step.py``) reads nothing shared and writes nothing shared, so with ``workers: N`` up
to N steps run at once, in threads here or on a Ray cluster (``engine/executor.py``). The loop
alone, the integrator, writes the ledger and moves the run branch. A winner whose base is no
longer the best is played again on the best and measured there before it may be kept; every
experiment is recorded before the branch moves, and the branch's tip is always the best state.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from overnight import statistics
from overnight.agents import Agent, AgentContext
from overnight.brief import BriefInputs, render_brief
from overnight.config import BudgetConfig
from overnight.engine.executor import Executor, ThreadExecutor, WorkerLost
from overnight.engine.lane import Lane
from overnight.engine.step import Incumbent, Step, StepRunner, change_key
from overnight.errors import EvaluationError, SearchExhausted, WorkspaceError
from overnight.evaluators.gates import Gate
from overnight.holdout import final_best
from overnight.isolation.files import write_fresh
from overnight.isolation.guards import GitGuard, Snapshot
from overnight.isolation.tree import TreeChange
from overnight.layers import owned_descriptions
from overnight.ledger import Ledger, Revert, RunRecord
from overnight.policy import Policy, StopRules
from overnight.project import Project
from overnight.records import PROVIDER_DOWN, Experiment, Score, Status
from overnight.results import ResultsFile
from overnight.review import brief_notes
from overnight.scope import Scope
from overnight.signals import Interrupted, StopSignals
from overnight.tally import Tally

ABANDON_WAIT_S = 2.0  # how long an abandon waits for worker threads to notice
STOPPING = "not measured again: the run was stopping"  # what became of a winner left stale
PACK_EVERY = 200  # experiments between two looks at git's loose objects
PACK_LOOSE = 1000  # about how many loose objects git may keep before it packs them


class Observer(Protocol):
    """Live progress: the CLI draws it; the Python API can pass its own or none."""

    def run_started(self, run: RunRecord, budget: BudgetConfig) -> None: ...
    def experiment_started(self, number: int, history: list[Experiment]) -> None: ...
    def experiment_finished(self, experiment: Experiment, history: list[Experiment]) -> None: ...
    def message(self, text: str) -> None: ...


class SilentObserver:
    def run_started(self, run: RunRecord, budget: BudgetConfig) -> None:
        pass

    def experiment_started(self, number: int, history: list[Experiment]) -> None:
        pass

    def experiment_finished(self, experiment: Experiment, history: list[Experiment]) -> None:
        pass

    def message(self, text: str) -> None:
        pass


@dataclass
class Loop:
    project: Project
    run: RunRecord
    lanes: list[Lane]
    ledger: Ledger
    scope: Scope
    agent: Agent
    policy: Policy
    stop_rules: StopRules
    observer: Observer = field(default_factory=SilentObserver)
    clock: Callable[[], float] = time.monotonic
    executor: Executor | None = None  # where steps run: threads of this process by default

    def __post_init__(self) -> None:
        self.history = self.ledger.experiments(self.run.id)
        self.tally = Tally.of(self.history)
        self.tally.resumed()
        # the history agents read, held-out scores left out; grown as experiments end
        self._agent_history = [_for_agents(e) for e in self.history]
        self.results = ResultsFile(self.project.results_path, self.run, self.history)
        self.reverts = self.ledger.reverts(self.run.id)  # rejected keeps taken out on review
        self.lanes[0].prepare(self.best_commit if self.history else self.run.base_commit)
        self._next = max((e.number for e in self.history), default=-1) + 1
        self._in_flight: dict[int, Step] = {}
        self.executor = self.executor or ThreadExecutor(self._log_path(0).parent)
        # (base, diff) of every change evaluated or being evaluated: no change is measured twice
        tried = {change_key(e.parent_commit, e.diff): e.number for e in self._evaluated()}
        self.steps = StepRunner(
            config=self.project.config,
            agent=self.agent,
            policy=self.policy,
            scope=self.scope,
            owned=owned_descriptions(
                self.project.config, self.project.other_layers, self.lanes[0].tree.path
            ),
            log_dir=self._log_path(0).parent,
            tried=self.executor.registry(tried),
        )

    # -- the loop -------------------------------------------------------------------------

    def run_until_stopped(self) -> str:
        started = self.clock()
        self.observer.run_started(self.run, self.stop_rules.budget)
        with StopSignals(self.observer.message) as signals:
            if not self.history:
                self.baseline(signals)
            try:
                if len(self.lanes) == 1 and not self.executor.remote:
                    reason = self._one_at_a_time(signals, started)
                else:
                    reason = self._in_parallel(signals, started)
            except _StopRun as stop:
                reason = stop.reason
            finally:
                self.executor.close()
        self._branch_to_best()
        self.ledger.end_run(self.run.id, reason)
        for lane in self.lanes:  # the run branch holds the best; a resume makes them again
            lane.tree.remove_files()
        return reason

    def _one_at_a_time(self, signals: StopSignals, started: float) -> str:
        while True:
            if reason := signals.stop_requested or self._stop_reason(started):
                return reason
            self.experiment(signals)

    def experiment(self, signals: StopSignals) -> None:
        """One experiment on the first lane, start to end."""
        step = self._dispatch(self.lanes[0])
        try:
            self.steps.attempt(step, signals.interruptible)
        except SearchExhausted as exc:
            self.ledger.forget(self.run.id, step.record.number)
            raise _StopRun(f"nothing left to try: {exc}") from None
        except Interrupted:
            self._interrupted(step, signals.stop_requested)
        while True:
            again = self._integrate(step, signals)
            if step.record.status is Status.INTERRUPTED:
                raise _StopRun(step.record.reason)
            if again is None:
                return
            try:
                self.steps.weigh_replay(again, signals.interruptible)
            except Interrupted:
                self._interrupted(again, signals.stop_requested)
            step = again

    def _in_parallel(self, signals: StopSignals, started: float) -> str:
        """Keep every lane busy while the rules allow; integrate each step as it ends. Steps run
        in threads and touch nothing shared; a stop lets those in flight finish, an abandon ends
        their processes and records them as interrupted.

        Winners take turns: while a winner found on an older state is measured again on the
        best (a replay), the winners that end meanwhile wait, so no keep makes that replay
        stale in turn; then they are taken in the order they ended, on the best as it is."""
        idle = list(reversed(self.lanes))
        running: dict[Future[None], Step] = {}
        held: list[Step] = []  # winners waiting for their turn
        reason: str | None = None
        unless_aborted = _unless_aborted(signals)
        while True:
            try:
                self._take_turns(held, idle, running, signals, unless_aborted)
            except _StopRun as stop:
                self._abandon(running, held, stop.reason)
                return stop.reason
            reason = reason or signals.stop_requested or self._stop_reason(started)
            while idle and reason is None and self._budget_left() > 0:
                step = self._dispatch(idle.pop())
                running[self.executor.attempt(self.steps, step, unless_aborted)] = step
            if not running:
                return reason or "nothing left to run"
            try:
                with signals.interruptible():
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
            except Interrupted:
                self._abandon(running, held, signals.stop_requested or "interrupted")
                return signals.stop_requested or "interrupted"
            for future in done:
                step = running.pop(future)
                idle.append(step.lane)
                try:
                    future.result()
                except SearchExhausted as exc:
                    self.ledger.forget(self.run.id, step.record.number)
                    self._in_flight.pop(step.record.number, None)
                    reason = reason or f"nothing left to try: {exc}"
                    continue
                except Interrupted:  # it saw the abort before its signal reached us
                    self._interrupted(step, signals.stop_requested)
                    self._settle(step)
                    continue
                except WorkerLost as lost:  # its machine went away
                    self.observer.message(f"experiment {step.record.number}: {lost}")
                    self._interrupted(step, str(lost))
                    self._settle(step)
                    if not lost.replaced:
                        idle.remove(step.lane)
                        if not idle and not running:
                            reason = reason or "every worker was lost"
                    continue
                held.append(step)  # integrated in turn, just below

    def _take_turns(
        self,
        held: list[Step],
        idle: list[Lane],
        running: dict[Future[None], Step],
        signals: StopSignals,
        unless_aborted: Callable[[], ContextManager[object]],
    ) -> None:
        """Integrate the steps that ended, in order, each on a free lane; a winner waits while a
        replay is in flight. A replay started here is left running."""
        while idle and (step := self._next_in_turn(held, running)) is not None:
            held.remove(step)
            step.lane = idle.pop()  # its own lane may be measuring something else by now
            again = self._integrate(step, signals)
            if again is None:
                idle.append(step.lane)
            else:  # a stale winner, measured again on the best
                running[self.executor.weigh_replay(self.steps, again, unless_aborted)] = again

    @staticmethod
    def _next_in_turn(held: list[Step], running: dict[Future[None], Step]) -> Step | None:
        """The first step that ended and may be integrated now: a replay, or anything but a
        winner while a replay is measured or waits (the winner comes after its verdict)."""
        replaying = any(s.record.replay_of is not None for s in [*running.values(), *held])
        for step in held:
            record = step.record
            if not (record.status is Status.KEEP and record.replay_of is None and replaying):
                return step
        return None

    def _abandon(self, running: dict[Future[None], Step], held: list[Step], reason: str) -> None:
        """A second Ctrl-C or SIGTERM with steps in flight: their processes end now (a step
        starts no new one once the abort is known), and each is recorded as interrupted, after
        a short wait for its thread to notice. A winner still waiting for its turn is kept if
        the best is still the state it won on, and otherwise recorded as stale."""
        self.executor.abandon()
        wait(running, timeout=ABANDON_WAIT_S)
        self.executor.abandon()  # anything started between the first kill and the abort check
        for step in running.values():
            self._interrupted(step, reason)
            self._settle(step)
        for step in held:
            record = step.record
            if record.status is Status.KEEP and record.parent_commit != self.best_commit:
                _mark_stale(record, STOPPING)
            self._settle(step)

    def _branch_to_best(self) -> None:
        """While the run goes on, the branch is where the search stands (the last keep); when
        it stops, the branch goes to the run's best state, so that it, the summary, ``status``
        and the report name the same one. An earlier state that the held-out cases rank first
        comes back as a commit on top, the later keeps staying in the branch's history; a
        resume takes that commit off and goes on from the last keep. The message holds no
        held-out score, since a later agent may read the history."""
        best = final_best(self.history)
        if best is None or best is self.best or best.commit is None or self._revert():
            return
        repo, tree = self.lanes[0].tree, f"{best.commit}^{{tree}}"
        message = (
            f"Back to the state of experiment {best.number}: the held-out cases rank it above"
            f" the last keep, experiment {self.best.number}"
        )
        commit = repo.git("commit-tree", tree, "-p", self.best_commit, stdin=message).strip()
        repo.git("update-ref", f"refs/heads/{self.run.branch}", commit, self.best_commit)
        self.observer.message(f"{self.run.branch}, at its end: {message}")

    def _stop_reason(self, started: float) -> str | None:
        return self.stop_rules.reason(self.tally, self.clock() - started)

    def _budget_left(self) -> float:
        """Experiments the budget still allows, counting those in flight."""
        limit = self.stop_rules.budget.experiments
        if limit is None:
            return float("inf")
        proposed = sum(s.record.replay_of is None for s in self._in_flight.values())
        return limit - self.tally.proposed - proposed

    def baseline(self, signals: StopSignals) -> None:
        """Experiment 0 measures the unmodified tree; every later one is compared with the best."""
        lane = self.lanes[0]
        head = self.run.base_commit
        self.ledger.begin(self.run.id, 0, head, {})
        self.observer.experiment_started(0, self.history)
        started = time.time()
        record = Experiment(self.run.id, 0, head, Status.RUNNING, started_at=started)
        try:
            with signals.interruptible():
                score, values = self._measure_baseline(lane, record)
        except Interrupted:
            self.ledger.forget(self.run.id, 0)
            self.ledger.end_run(self.run.id, "stopped during the baseline")
            raise EvaluationError("stopped during the baseline; nothing was recorded") from None
        status = Status.BASELINE if score.ok else (score.status or Status.CRASH)
        if record.status is Status.VIOLATION:
            status, score = Status.VIOLATION, replace(score, log_tail=record.reason)
        held_out = (
            lane.guarded(record, lambda: self.steps.measure_held_out(lane, 0), lane.guarded_paths())
            if status is Status.BASELINE
            else None
        )
        if held_out is not None:
            score = replace(
                score, seconds=score.seconds + held_out.seconds, usage=score.usage + held_out.usage
            )
        if status is Status.BASELINE and lane.evaluator.gated:  # failing them, nothing can be kept
            measured = score
            gate = lane.guarded(
                record, lambda: self._baseline_gate(lane, measured), lane.guarded_paths()
            )
            if gate is None:
                status, score = Status.VIOLATION, replace(score, log_tail=record.reason)
            elif not gate.passed:
                failure = f"the baseline does not pass its gates: {gate.failure}"
                status, score = Status.CHECK_FAILED, replace(score, log_tail=failure)
        experiment = Experiment(
            suite=score.suite,
            usage=score.usage,
            run_id=self.run.id,
            number=0,
            parent_commit=head,
            commit=head if score.ok else None,
            status=status,
            metric=score.value,
            secondary=score.secondary,
            description="baseline",
            reason=score.log_tail if status is not Status.BASELINE else "",
            log_path=score.log_path,
            started_at=started,
            duration_s=time.time() - started,
            eval_s=score.seconds,
            measurements=values,
            held_out=held_out.suite if held_out is not None and held_out.ok else None,
            held_out_value=held_out.value if held_out is not None else None,
            held_out_splits=list(held_out.splits) if held_out is not None else [],
        )
        self._record(experiment)
        self._next = 1
        if status is not Status.BASELINE:
            self.ledger.end_run(self.run.id, f"baseline {status}")
            raise EvaluationError(f"the baseline evaluation failed ({status}):\n{score.log_tail}")
        if problem := lane.evaluator.baseline_problem(score):
            self.ledger.end_run(self.run.id, f"the evaluation looks broken: {problem}")
            raise EvaluationError(f"refusing to run: {problem}")
        for warning in lane.evaluator.baseline_warnings(score):
            self.observer.message(f"warning: {warning}")

    def _baseline_gate(self, lane: Lane, score: Score) -> Gate:
        log = self.steps.log_path(0)
        return lane.evaluator.gate(lane.tree.path, log, score.secondary, None)

    # -- dispatch: on the integrator, before a step -----------------------------------------

    def _dispatch(self, lane: Lane) -> Step:
        """Number the next experiment, reset its lane to the best state and brief its agent."""
        number, self._next = self._next, self._next + 1
        base = self.best_commit
        lane.prepare(base)
        lane.write_views()
        snapshot = lane.snapshot()
        self.ledger.begin(self.run.id, number, base, self._recovery(snapshot), lane.worker)
        self.observer.experiment_started(number, self.history)
        record = Experiment(
            self.run.id, number, base, Status.RUNNING, started_at=time.time(), worker=lane.worker
        )
        step = Step(record, lane, self._context(lane, number), snapshot, self._incumbent())
        self._in_flight[number] = step
        return step

    def _context(self, lane: Lane, number: int) -> AgentContext:
        """Write the brief for experiment ``number`` and say what the agent may know."""
        brief_path = lane.agent_dir() / "brief.md"
        in_flight = [replace(s.record) for s in self._in_flight.values()]  # as they stand now
        best_suite = self.ledger.suite_result(self.run.id, self.best.number)  # visible cases
        if self.agent.reads_brief:
            brief = render_brief(
                BriefInputs(
                    config=self.project.config,
                    root=self.project.root,
                    number=number,
                    editable_files=lane.editable_files,
                    history=self.history,
                    best_suite=best_suite,
                    reviews=brief_notes(self.ledger, self.run, self.project.config),
                    in_flight=in_flight,
                    tally=self.tally,
                )
            )
            write_fresh(brief_path, brief)
        return AgentContext(
            root=lane.tree.path,
            number=number,
            editable_files=lane.editable_files,
            editable_globs=self.project.config.editable,
            history=self._agent_history,
            best_metric=self.best.metric,
            direction=lane.evaluator.direction,
            brief_path=brief_path,
            best_suite=best_suite,
            sandbox=lane.sandbox,
            in_flight=in_flight,
        )

    def _incumbent(self) -> Incumbent:
        elsewhere, best_tree = self._trees()
        reviewed = self._revert() is not None
        return Incumbent(
            commit=self.best_commit,
            values=best_tree[-self.policy.window :],
            elsewhere=elsewhere,
            # not the tip's any more once a review took a change out
            suite=None if reviewed else self.ledger.suite_result(self.run.id, self.best.number),
            held_out=self.ledger.suite_result(self.run.id, self.best.number, held_out=True),
            baseline=self.history[0].secondary if self.history else {},
        )

    # -- integration: on the integrator, after a step ----------------------------------------

    def _integrate(self, step: Step, signals: StopSignals) -> Step | None:
        """Decide what the step's result means for the run now. A winner whose base is no
        longer the best is not kept: the step that measures it again on the best is returned,
        for its lane to run."""
        for text in step.messages:
            self.observer.message(text)
        record = step.record
        if problem := self._branch_moved(step.lane):
            record.status = Status.VIOLATION
            record.reason = f"{record.reason}; {problem}".lstrip("; ")
        stale = record.status is Status.KEEP and record.parent_commit != self.best_commit
        if stale:
            return self._replay(step, signals)
        self._settle(step)
        if record.status is not Status.INTERRUPTED:
            self._remeasure_incumbent(step, signals)
        return None

    def _replay(self, step: Step, signals: StopSignals) -> Step | None:
        """A winner found on a state the run has since moved past: its change is merged onto
        the best (three-way, from its own base) and, unless that conflicts, the best already
        holds it or another experiment measures that very change, becomes a new experiment on
        the best (returned), which must win again to be kept. The winner itself is recorded as
        ``stale``, with what it measured on its base."""
        record, lane = step.record, step.lane
        assert step.change is not None
        best = self.best_commit
        merged = lane.tree.replay(step.change, record.parent_commit, best)
        if merged.tree is None:
            record.status = Status.CONFLICT
            record.reason = (
                f"won on the state it started from, but conflicts with what was kept since "
                f"(in {', '.join(merged.conflicts)})"
            )
            self._settle(step)
            return None
        number = self._next
        if signals.stop_requested:
            then, again = STOPPING, None
        elif not merged.paths:
            then, again = "the best already holds its change", None
        else:
            lane.prepare(best)
            change = lane.tree.reset_to_tree(merged.tree, best)
            twin = self.steps.tried.claim(change_key(best, change.patch), number)
            if twin == number:
                then, again = f"measured again on the best as experiment {number}", change
            else:
                then, again = f"its change on the best is experiment {twin}'s", None
        _mark_stale(record, then)
        self._settle(step)
        return None if again is None else self._dispatch_replay(lane, record, again)

    def _dispatch_replay(self, lane: Lane, winner: Experiment, change: TreeChange) -> Step:
        """The replay as an experiment of its own, on ``lane``, which already holds its files."""
        number, self._next = self._next, self._next + 1
        base = self.best_commit
        self.ledger.begin(self.run.id, number, base, {}, lane.worker)
        self.observer.experiment_started(number, self.history)
        record = Experiment(
            self.run.id,
            number,
            base,
            Status.RUNNING,
            started_at=time.time(),
            worker=lane.worker,
            description=winner.description,
            diff=change.patch,
            changed_files=change.paths,
            agent_meta={**winner.agent_meta, "replay_of": winner.number},  # see replay_of
        )
        step = Step(record, lane, None, None, self._incumbent(), change)
        self._in_flight[number] = step
        return step

    def _branch_moved(self, lane: Lane) -> str | None:
        """Unconfined, with several workers: the run branch must still point at the best state,
        which only the integrator moves; if untrusted code moved it, it goes back, and the step
        just ended is held to account."""
        if lane.git_guard is None or lane.git_guard.unwatched is None:
            return None  # confined, or the guard watches the branch itself
        ref = f"refs/heads/{self.run.branch}"
        tip = lane.tree.git("rev-parse", "--verify", "-q", ref, check=False).strip()
        if tip == self.best_commit:
            return None
        lane.tree.git("update-ref", ref, self.best_commit)
        problem = f"moved the run branch {ref}, which only the harness moves; put back"
        self.observer.message(problem)
        return problem

    def _interrupted(self, step: Step, reason: str | None) -> None:
        step.record.status = Status.INTERRUPTED
        step.record.reason = reason or "interrupted"
        self.steps.check_git(step, step.snapshot)

    def _settle(self, step: Step) -> None:
        """Keep (commit to the run branch, then record) or just record: the lane is reset before
        anything runs in it again, so there is nothing to revert."""
        record = step.record
        record.duration_s = time.time() - record.started_at
        if record.status is Status.KEEP:
            assert step.change is not None
            record.commit = step.lane.tree.commit(
                step.change,
                _one_line(record.description, record.number),
                self.run.branch,
                record.parent_commit,
            )
        self._in_flight.pop(record.number, None)
        self._record(record)

    def _remeasure_incumbent(self, step: Step, signals: StopSignals) -> None:
        """Once the experiment is settled, measure the best tree again as the policy asks, so the
        next comparisons see what the incumbent measures now (a machine drifts), and not only
        the measurements that won it its place (they came out high, or it would not have won).
        The lane is reset to the best state first, and every re-measurement is guarded."""
        record, lane = step.record, step.lane
        if record.status not in (Status.KEEP, Status.DISCARD):
            return
        wanted = self.policy.remeasures(
            len(record.measurements), record.status is Status.KEEP, len(self._trees()[1])
        )
        if not wanted:
            return
        lane.prepare(self.best_commit)
        guarded = lane.guarded_paths()
        for _ in range(wanted):
            attempt = len(record.measurements) + len(record.remeasured)
            probe = Experiment(self.run.id, record.number, self.best_commit, Status.RUNNING)
            try:
                with signals.interruptible():  # logs and seeds run on
                    score = lane.guarded(
                        probe, lambda a=attempt: self.steps.measure(lane, record.number, a), guarded
                    )
            except Interrupted:
                raise _StopRun(signals.stop_requested or "interrupted") from None
            if moved := self._branch_moved(lane):
                probe.reason, score = moved, None
            if score is None:  # the incumbent's own code tampered: trust no more of it
                self.observer.message(f"re-measuring the best state: {probe.reason}")
                record.reason += f"; re-measuring the best state: {probe.reason}"
                self.ledger.record(record)
                return
            if not score.ok or score.value is None:
                return
            record.remeasured.append(score.value)
            self.tally.remeasured(score.value)
            record.eval_s += score.seconds
            record.usage = [*record.usage, *score.usage]
            self.ledger.record(record)

    def _record(self, experiment: Experiment) -> None:
        self.ledger.record(experiment)
        self.history.append(experiment)
        self.tally.add(experiment)
        self._agent_history.append(_for_agents(experiment))
        self.results.add(experiment, self.history)
        self.observer.experiment_finished(experiment, self.history)
        if self.tally.experiments and self.tally.experiments % PACK_EVERY == 0:
            self._pack_objects()

    def _pack_objects(self) -> None:
        """Every experiment leaves a few git objects (its tree, a keep's commit, mostly trees
        of discarded changes that nothing refers to); once there are many loose ones, git packs
        them all, the unreferenced into a cruft pack that keeps them for git's usual two weeks
        (a step in flight may still need its own). In this process, never in the background."""
        repo = self.lanes[0].tree.repo
        try:
            counted = dict(
                line.split(": ", 1)
                for line in repo.git("count-objects", "-v").split("\n")
                if ": " in line
            )
            if int(counted.get("count", 0)) > PACK_LOOSE:
                repo.git("gc", "--quiet", "--cruft", "--prune=2.weeks.ago")
        except (WorkspaceError, ValueError) as exc:  # the run goes on with loose objects
            self.observer.message(f"could not pack git's objects: {exc}")

    # -- measurements -----------------------------------------------------------------------

    def _measure_baseline(self, lane: Lane, record: Experiment) -> tuple[Score, list[float]]:
        """The unmodified tree, measured as often as a candidate may be: the first sample the
        noise-aware policy compares with. Times and model calls add up; the first failure ends
        it."""
        values: list[float] = []
        seconds, usage = 0.0, []
        guarded = lane.guarded_paths()
        for attempt in range(self.policy.repeats):
            measured = lane.guarded(
                record, lambda a=attempt: self.steps.measure(lane, 0, a), guarded
            )
            if measured is None:  # the baseline's own code tampered: nothing to compare with
                return Score(None, Status.VIOLATION, log_tail=record.reason), values
            score = measured
            seconds, usage = seconds + score.seconds, [*usage, *score.usage]
            if not score.ok or score.value is None:
                return score, values
            values.append(score.value)
        return replace(score, value=statistics.mean(values), seconds=seconds, usage=usage), values

    # -- state ----------------------------------------------------------------------------

    def _trees(self) -> tuple[statistics.Spread, list[float]]:
        """The noise seen on every tree measured more than once but the best, and the best
        tree's measurements (its own from when it won its place, afresh after, and every
        re-measurement since): from the tally, unless a review took a change out of the tip."""
        revert = self._revert()
        if revert is None:
            return self.tally.others, self.tally.best_tree
        trees: list[list[float]] = []
        best: list[float] = []
        for experiment in self.history:
            if experiment.status.advances:
                trees.append(best)
                metric = [] if experiment.metric is None else [experiment.metric]
                best = list(experiment.measurements) or metric
            elif len(experiment.measurements) > 1:
                trees.append(list(experiment.measurements))
            best += experiment.remeasured
        since = [v for e in self.history if e.started_at > revert.at for v in e.remeasured]
        trees.append(best[: len(best) - len(since)])
        best = ([] if revert.metric is None else [revert.metric]) + since
        return statistics.spread(trees), best

    def _revert(self) -> Revert | None:
        """The review's revert that is the run branch's tip, if any (see ``tip_revert``)."""
        later = [r for r in self.reverts if r.at > self.tally.last_advance_at]
        return later[-1] if later else None

    def _evaluated(self) -> Iterator[Experiment]:
        """Experiments whose change was measured (not those refused unmeasured, nor those whose
        measurement was void because a model provider was unreachable)."""
        return (
            e
            for e in self.history
            if e.eval_s > 0 and e.diff and not e.reason.startswith(PROVIDER_DOWN)
        )

    @property
    def best(self) -> Experiment:
        """The experiment whose tree is the branch tip: the last baseline or keep."""
        return next(e for e in reversed(self.history) if e.status.advances)

    @property
    def best_commit(self) -> str:
        """The branch tip: the best experiment's commit, or a review's revert made on top."""
        if revert := self._revert():
            return revert.commit
        return self.best.commit or self.run.base_commit

    def _recovery(self, snapshot: Snapshot | None) -> dict:
        """What a resume needs to undo after kill -9: unconfined, the digests of git's files."""
        return {"git": GitGuard.digests(snapshot)} if snapshot is not None else {}

    def _log_path(self, number: int) -> Path:
        return self.project.log_dir / self.run.tag / f"{number:04d}.log"


class _StopRun(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unless_aborted(signals: StopSignals) -> Callable[[], ContextManager[object]]:
    """What a worker thread waits inside: signals reach only the main thread, so before each
    model call or measurement the thread looks whether the run is being abandoned."""

    @contextlib.contextmanager
    def check() -> Iterator[None]:
        if signals.abort:
            raise Interrupted("abort requested")
        yield

    return check


def _mark_stale(record: Experiment, then: str) -> None:
    """A winner on a state the run has moved past, and what became of it."""
    record.status = Status.STALE
    record.reason = (
        f"{record.reason}; won on the state it started from, which was no longer the best: {then}"
    )


def _for_agents(experiment: Experiment) -> Experiment:
    """What agents may know of an experiment: not how the held-out cases scored."""
    if experiment.held_out is None and experiment.held_out_value is None:
        return experiment
    return replace(experiment, held_out=None, held_out_value=None)


def _one_line(description: str, number: int) -> str:
    line = " ".join(description.split())
    return line[:200] or f"experiment {number}"
