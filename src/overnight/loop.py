"""The loop, in the order it happens:

    baseline → (reset the workspace → propose one change → guard its scope → evaluate → decide
                → record → keep)*

Every experiment happens in a disposable workspace made from git objects (``isolation/tree.py``)
and is evaluated in the sandbox (``isolation/sandbox.py``); the user's checkout is never touched.
Every experiment is recorded in the ledger before the run branch moves, and the branch's tip is
always the best state. An experiment is a step from a base commit to a patch and a score; the
loop alone owns the run branch and the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from overnight import statistics
from overnight.agents import Agent, AgentContext
from overnight.brief import BriefInputs, render_brief
from overnight.config import BudgetConfig, SuiteEvaluateConfig
from overnight.errors import AgentError, EvaluationError, SearchExhausted
from overnight.evaluators import Evaluator
from overnight.isolation.files import remove_tree, write_fresh
from overnight.isolation.guards import GitGuard, Snapshot, StatGuard
from overnight.isolation.sandbox import Sandbox
from overnight.isolation.tree import ExperimentTree, TreeChange
from overnight.layers import layer_violations, owned_descriptions
from overnight.ledger import Ledger, RunRecord
from overnight.policy import Evidence, Policy, StopRules, flips
from overnight.project import Project
from overnight.records import Experiment, Proposal, Score, Status, SuiteResult
from overnight.results import results_tsv
from overnight.review import brief_notes, tip_revert
from overnight.scope import Scope, size_violations
from overnight.signals import Interrupted, StopSignals


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
    tree: ExperimentTree
    sandbox: Sandbox
    ledger: Ledger
    scope: Scope
    agent: Agent
    evaluator: Evaluator
    policy: Policy
    stop_rules: StopRules
    git_guard: GitGuard | None = None  # watches .git where untrusted code runs unconfined
    views: dict[str, str] = field(default_factory=dict)  # held-out items removed, for agents
    observer: Observer = field(default_factory=SilentObserver)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.history = self.ledger.experiments(self.run.id)
        self.reverts = self.ledger.reverts(self.run.id)  # rejected keeps taken out on review
        self._listed: str | None = None  # the commit that editable_files and frozen_files are of
        self._prepare(self.best_commit if self.history else self.run.base_commit)
        self.owned = owned_descriptions(
            self.project.config, self.project.other_layers, self.tree.path
        )

    # -- the loop -------------------------------------------------------------------------

    def run_until_stopped(self) -> str:
        started = self.clock()
        self.observer.run_started(self.run, self.stop_rules.budget)
        with StopSignals(self.observer.message) as signals:
            if not self.history:
                self.baseline(signals)
            while True:
                reason = signals.stop_requested or self.stop_rules.reason(
                    self.history, self.clock() - started
                )
                if reason:
                    break
                try:
                    self.experiment(signals)
                except _StopRun as stop:
                    reason = stop.reason
                    break
        self.ledger.end_run(self.run.id, reason)
        self.tree.remove_files()  # the run branch holds the best; a resume makes it again
        return reason

    def baseline(self, signals: StopSignals) -> None:
        """Experiment 0 measures the unmodified tree; every later one is compared with the best."""
        head = self.run.base_commit
        self.ledger.begin(self.run.id, 0, head, {})
        self.observer.experiment_started(0, self.history)
        started = time.time()
        record = Experiment(self.run.id, 0, head, Status.RUNNING, started_at=started)
        try:
            with signals.interruptible():
                score, values = self._measure_baseline(record)
        except Interrupted:
            self.ledger.forget(self.run.id, 0)
            self.ledger.end_run(self.run.id, "stopped during the baseline")
            raise EvaluationError("stopped during the baseline; nothing was recorded") from None
        status = Status.BASELINE if score.ok else (score.status or Status.CRASH)
        if record.status is Status.VIOLATION:
            status, score = Status.VIOLATION, replace(score, log_tail=record.reason)
        held_out = (
            self._guarded(record, lambda: self._measure_held_out(0), self._guarded_paths(()))
            if status is Status.BASELINE
            else None
        )
        if held_out is not None:
            score = replace(
                score, seconds=score.seconds + held_out.seconds, usage=score.usage + held_out.usage
            )
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
        )
        self._record(experiment)
        if status is not Status.BASELINE:
            self.ledger.end_run(self.run.id, f"baseline {status}")
            raise EvaluationError(f"the baseline evaluation failed ({status}):\n{score.log_tail}")
        if problem := self.evaluator.baseline_problem(score):
            self.ledger.end_run(self.run.id, f"the evaluation looks broken: {problem}")
            raise EvaluationError(f"refusing to run: {problem}")

    def experiment(self, signals: StopSignals) -> None:
        number = self.history[-1].number + 1
        base = self.best_commit
        self._prepare(base)
        self._write_views()
        snapshot = self.git_guard.snapshot() if self.git_guard else None
        self.ledger.begin(self.run.id, number, base, self._recovery(snapshot))
        self.observer.experiment_started(number, self.history)
        record = Experiment(self.run.id, number, base, Status.RUNNING, started_at=time.time())
        change = None
        try:
            change = self._attempt(record, snapshot, signals)
        except SearchExhausted as exc:
            self.ledger.forget(self.run.id, number)
            raise _StopRun(f"nothing left to try: {exc}") from None
        except Interrupted:
            record.status = Status.INTERRUPTED
            record.reason = signals.stop_requested or "interrupted"
            self._check_git(record, snapshot)
        record.duration_s = time.time() - record.started_at
        self._settle(record, change)
        if record.status is Status.INTERRUPTED:
            raise _StopRun(record.reason)
        self._remeasure_incumbent(record, signals)

    def _attempt(
        self, record: Experiment, snapshot: Snapshot | None, signals: StopSignals
    ) -> TreeChange:
        """Propose, guard, evaluate, decide: fills in ``record``, returns the change."""
        started, failure = time.monotonic(), None
        try:
            with signals.interruptible():
                proposal = self.agent.propose(self._context(record.number))
        except SearchExhausted:
            raise
        except AgentError as exc:  # the agent's own failure: a no-op, and the run goes on
            proposal = Proposal(description="(the agent failed)", usage=exc.usage)
            failure = str(exc)
        record.agent_s = time.monotonic() - started
        _apply_proposal(record, proposal)
        problems = self._check_git(record, snapshot) + self._check_views()
        change = self.tree.change(self._guarded_paths(()))
        self.sandbox.link_exposed()
        record.changed_files = change.paths
        if failure and not problems:
            record.status, record.reason = Status.NO_OP, failure
        elif change.empty and not problems:
            record.status, record.reason = Status.NO_OP, "the agent changed nothing"
        elif problems := problems + self._scope_problems(change):
            record.diff = change.patch
            record.status, record.reason = Status.VIOLATION, "; ".join(problems)
        else:
            record.diff = change.patch
            self._guard_size_and_repeats(record, change)
        if record.status is Status.RUNNING:
            with signals.interruptible():
                self._evaluate_and_decide(record, change)
        return change

    def _scope_problems(self, change: TreeChange) -> list[str]:
        return [
            *change.odd,
            *self.scope.violations(change),
            *layer_violations(self.owned, change, self.tree.path),
        ]

    def _check_git(self, record: Experiment, snapshot: Snapshot | None) -> list[str]:
        """Unconfined only: refs or git files changed since ``snapshot`` are undone, and named
        here and in the next brief."""
        if self.git_guard is None or snapshot is None:
            return []
        changed = self.git_guard.changes(snapshot, self.git_guard.snapshot())
        if not changed:
            return []
        failed = self.git_guard.undo(snapshot, changed)
        problem = f"changed git's own files or refs: {', '.join('.git/' + n for n in changed)}"
        if failed:
            problem += f" (could not be undone: {', '.join(failed)})"
        self.observer.message(f"experiment {record.number} {problem}; undone")
        return [problem]

    def _check_views(self) -> list[str]:
        """The agent's views of the suite and query files must be as written; then the real
        files go back, so the change and the evaluation see those."""
        touched = [p for p, text in self.views.items() if _text_or_none(self.tree.path / p) != text]
        self.tree.put_back(list(self.views))
        return [f"changed frozen file {path}" for path in touched]

    def _guard_size_and_repeats(self, record: Experiment, change: TreeChange) -> None:
        """One change at a time, each tried once: too large is a violation, and the same diff
        from the same parent is not evaluated again."""
        if problems := size_violations(self.project.config.limits, record.diff, change):
            record.status, record.reason = Status.VIOLATION, "; ".join(problems)
            return
        evaluated = [e for e in self.history if e.eval_s > 0]  # not those refused unmeasured
        twin = next(
            (
                e
                for e in evaluated
                if e.parent_commit == record.parent_commit and e.diff == record.diff
            ),
            None,
        )
        if twin is not None:
            record.status = Status.NO_OP
            record.reason = f"the same change as experiment {twin.number}, from the same state"

    def _settle(self, record: Experiment, change: TreeChange | None) -> None:
        """Keep (commit to the run branch, then record) or just record: the workspace is reset
        before anything runs in it again, so there is nothing to revert."""
        if record.status is Status.KEEP:
            assert change is not None
            record.commit = self.tree.commit(
                change, _one_line(record.description, record.number), self.run.branch
            )
        self._record(record)

    # -- steps ----------------------------------------------------------------------------

    def _context(self, number: int) -> AgentContext:
        """Write the brief for experiment ``number`` and say what the agent may know."""
        agent_dir = self.tree.directory / "agent"
        if agent_dir.is_symlink() or not agent_dir.is_dir():  # unconfined agents could swap it
            remove_tree(agent_dir)
            agent_dir.mkdir(parents=True)
        brief_path = agent_dir / "brief.md"
        best_suite = self.ledger.suite_result(self.run.id, self.best.number)  # visible cases
        brief = render_brief(
            BriefInputs(
                config=self.project.config,
                root=self.project.root,
                number=number,
                editable_files=self.editable_files,
                history=self.history,
                best_suite=best_suite,
                reviews=brief_notes(self.ledger, self.run, self.project.config),
            )
        )
        write_fresh(brief_path, brief)
        return AgentContext(
            root=self.tree.path,
            number=number,
            editable_files=self.editable_files,
            editable_globs=self.project.config.editable,
            history=[replace(e, held_out=None, held_out_value=None) for e in self.history],
            best_metric=self.best.metric,
            direction=self.evaluator.direction,
            brief_path=brief_path,
            best_suite=best_suite,
            sandbox=self.sandbox,
        )

    def _evaluate_and_decide(self, record: Experiment, change: TreeChange) -> None:
        """Measure until the policy decides (once for greedy; for noise-aware, more only while
        the candidate looks better but not yet credibly so). Every measurement is guarded, and a
        failed one ends the experiment."""
        guarded = self._guarded_paths(change.paths, change.deleted)
        *others, best_tree = self._trees()
        incumbent = best_tree[-self.policy.window :]
        incumbent_suite = (  # not the tip's any more once a review took a change out
            self.ledger.suite_result(self.run.id, self.best.number)
            if tip_revert(self.history, self.reverts) is None
            else None
        )
        elsewhere = statistics.spread(others)  # the noise, as the rest of the run measured it
        suites: list[SuiteResult] = []

        def measure() -> Score:
            score = self._measure(record.number, len(record.measurements))
            _apply_score(record, score)  # recorded even when it cannot be trusted
            return score

        while True:
            score = self._guarded(record, measure, guarded)
            if score is None:
                return
            if not score.ok:
                record.status, record.reason = score.status or Status.CRASH, score.log_tail
                return
            assert score.value is not None
            record.measurements.append(score.value)
            if score.suite is not None:
                suites.append(score.suite)
            paired = flips(suites, [incumbent_suite]) if suites and incumbent_suite else None
            decision = self.policy.weigh(
                record.measurements,
                incumbent,
                self.evaluator.direction,
                Evidence(elsewhere, paired),
            )
            if not decision.more:
                break
        record.metric = statistics.mean(record.measurements)
        record.status = Status.KEEP if decision.keep else Status.DISCARD
        record.reason = decision.reason
        if decision.keep:
            held_out = self._guarded(record, lambda: self._measure_held_out(record.number), guarded)
            if record.status is Status.KEEP:
                self._judge_generality(record, held_out)

    def _guarded_paths(self, changed: Sequence[str], deleted: Sequence[str] = ()) -> list[str]:
        return sorted({*self.frozen_files, *self.editable_files, *changed} - set(deleted))

    def _guarded(
        self, record: Experiment, measure: Callable[[], Score | None], guarded: list[str]
    ) -> Score | None:
        """One measurement, guarded: None (and a violation) if it changed a guarded file (even
        one it put back), or, unconfined, git's refs or files. Frozen files are bound read-only
        in the sandbox, so there the check can only confirm it."""
        files = StatGuard.take(self.tree.path, guarded)
        snapshot = self.git_guard.snapshot() if self.git_guard else None
        score = measure()
        changed = files.changed()
        problems = self._check_git(record, snapshot)
        if changed or problems:
            record.status = Status.VIOLATION
            record.reason = "; ".join(
                [f"the evaluation changed guarded files at run time: {', '.join(changed)}"]
                * bool(changed)
                + problems
            )
            return None
        if score is not None and not score.ok and (hint := self.sandbox.hint()):
            score = replace(score, log_tail=f"{score.log_tail}\n{hint}")
        return score

    def _measure_held_out(self, number: int) -> Score | None:
        log = self._log_path(number).with_suffix(".held-out.log")
        return self.evaluator.held_out(self.tree.path, log)

    def _judge_generality(self, record: Experiment, score: Score | None) -> None:
        """A keep must hold on the cases no agent has seen. One that loses more of them than
        ``overfit.tolerance`` allows is rejected as ``overfit`` (or kept with a warning). The
        reason says so without numbers: it reaches the brief, and held-out scores must not."""
        if score is None:
            return
        record.eval_s += score.seconds
        record.usage = [*record.usage, *score.usage]
        if not score.ok or score.suite is None:
            record.reason += "; the held-out cases could not be measured"
            return
        record.held_out, record.held_out_value = score.suite, score.value
        before = self.ledger.suite_result(self.run.id, self.best.number, held_out=True)
        settings = self.project.config.evaluate
        if before is None or not isinstance(settings, SuiteEvaluateConfig):
            return
        if before.passed - score.suite.passed <= settings.overfit.tolerance:
            return
        if settings.overfit.action == "reject":
            record.status = Status.OVERFIT
            record.reason = "overfit: better on the visible cases, worse on the held-out ones"
        else:
            record.reason += "; warning: worse on the held-out cases (overfit?)"

    def _measure(self, number: int, attempt: int) -> Score:
        """One measurement of the tree as it is; repeats log beside the first, and with
        ``seeds: vary`` each gets its own seed, so no one seed can carry a change."""
        seed = attempt if self.project.config.evaluate.seeds == "vary" else 0
        log = self._log_path(number)
        if attempt:
            log = log.with_name(f"{number:04d}.{attempt}.log")
        return self.evaluator.evaluate(self.tree.path, log, seed=seed)

    def _measure_baseline(self, record: Experiment) -> tuple[Score, list[float]]:
        """The unmodified tree, measured as often as a candidate may be: the first sample the
        noise-aware policy compares with. Times and model calls add up; the first failure ends
        it."""
        values: list[float] = []
        seconds, usage = 0.0, []
        guarded = self._guarded_paths(())
        for attempt in range(self.policy.repeats):
            measured = self._guarded(record, lambda a=attempt: self._measure(0, a), guarded)
            if measured is None:  # the baseline's own code tampered: nothing to compare with
                return Score(None, Status.VIOLATION, log_tail=record.reason), values
            score = measured
            seconds, usage = seconds + score.seconds, [*usage, *score.usage]
            if not score.ok or score.value is None:
                return score, values
            values.append(score.value)
        return replace(score, value=statistics.mean(values), seconds=seconds, usage=usage), values

    def _trees(self) -> list[list[float]]:
        """Measurements grouped by the tree they measured; the best tree's come last (its own
        from when it won its place, afresh after, and every re-measurement since). A
        re-measurement after a keep measured the kept tree, after any other experiment the best."""
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
        if revert := tip_revert(self.history, self.reverts):  # a review took a change out
            since = [v for e in self.history if e.started_at > revert.at for v in e.remeasured]
            trees.append(best[: len(best) - len(since)])
            best = ([] if revert.metric is None else [revert.metric]) + since
        return [*(t for t in trees if t), best]

    def _remeasure_incumbent(self, record: Experiment, signals: StopSignals) -> None:
        """Once the experiment is settled, measure the best tree again as the policy asks, so the
        next comparisons see what the incumbent measures now (a machine drifts), and not only
        the measurements that won it its place (they came out high, or it would not have won).
        The workspace is reset to the best state first, and every re-measurement is guarded."""
        if record.status not in (Status.KEEP, Status.DISCARD):
            return
        wanted = self.policy.remeasures(
            len(record.measurements), record.status is Status.KEEP, len(self._trees()[-1])
        )
        if not wanted:
            return
        self._prepare(self.best_commit)
        guarded = self._guarded_paths(())
        for _ in range(wanted):
            attempt = len(record.measurements) + len(record.remeasured)
            probe = Experiment(self.run.id, record.number, self.best_commit, Status.RUNNING)
            try:
                with signals.interruptible():  # logs and seeds run on
                    score = self._guarded(
                        probe, lambda a=attempt: self._measure(record.number, a), guarded
                    )
            except Interrupted:
                raise _StopRun(signals.stop_requested or "interrupted") from None
            if score is None:  # the incumbent's own code tampered: trust no more of it
                self.observer.message(f"re-measuring the best state: {probe.reason}")
                record.reason += f"; re-measuring the best state: {probe.reason}"
                self.ledger.record(record)
                return
            if not score.ok or score.value is None:
                return
            record.remeasured.append(score.value)
            record.eval_s += score.seconds
            record.usage = [*record.usage, *score.usage]
            self.ledger.record(record)

    def _record(self, experiment: Experiment) -> None:
        self.ledger.record(experiment)
        self.history.append(experiment)
        results = self.project.results_path
        results.write_text(results_tsv(self.run, self.history), encoding="utf-8")
        self.observer.experiment_finished(experiment, self.history)

    # -- state ----------------------------------------------------------------------------

    @property
    def best(self) -> Experiment:
        """The experiment whose tree is the branch tip: the last baseline or keep."""
        return next(e for e in reversed(self.history) if e.status.advances)

    @property
    def best_commit(self) -> str:
        """The branch tip: the best experiment's commit, or a review's revert made on top."""
        if revert := tip_revert(self.history, self.reverts):
            return revert.commit
        return self.best.commit or self.run.base_commit

    def _prepare(self, commit: str) -> None:
        """The workspace reset to ``commit``, with the exposed data linked in. The file lists
        change only with the commit (a keep), so most experiments reuse them."""
        self.tree.reset(commit)
        self.sandbox.link_exposed()
        if self._listed != commit:
            files = self.tree.files()
            self.editable_files = self.scope.editable_files(files)
            self.frozen_files = self.scope.frozen_files(files)
            self._listed = commit

    def _write_views(self) -> None:
        """The agent's views of the suite and query files, held-out items removed."""
        for path, text in self.views.items():
            target = self.tree.path / path
            target.unlink(missing_ok=True)
            target.write_text(text, encoding="utf-8")

    def _recovery(self, snapshot: Snapshot | None) -> dict:
        """What a resume needs to undo after kill -9: unconfined, the digests of git's files."""
        return {"git": GitGuard.digests(snapshot)} if snapshot is not None else {}

    def _log_path(self, number: int) -> Path:
        return self.project.log_dir / self.run.tag / f"{number:04d}.log"


class _StopRun(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _apply_proposal(record: Experiment, proposal: Proposal) -> None:
    record.description = proposal.description
    record.agent_meta = dict(proposal.meta)
    record.usage = list(proposal.usage)
    record.tokens_in = sum(u.tokens_in for u in proposal.usage)
    record.tokens_out = sum(u.tokens_out for u in proposal.usage)
    record.cost_usd = sum(u.cost_usd or 0.0 for u in proposal.usage)


def _apply_score(record: Experiment, score: Score) -> None:
    """The latest measurement's details; times and model calls add up over repeats."""
    record.metric, record.secondary = score.value, score.secondary
    record.suite = score.suite
    record.log_path = record.log_path or score.log_path
    record.eval_s += score.seconds
    record.usage = [*record.usage, *score.usage]


def _text_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def _one_line(description: str, number: int) -> str:
    line = " ".join(description.split())
    return line[:200] or f"experiment {number}"
