"""Pruning a run: take each kept change out of the best state, and drop those it does not need.

A night of keeps piles up changes. Some were luck; some mattered once and stopped mattering when
a later change did the same job better. Simpler code that measures the same is better code, so
after a run each kept change is taken out of the branch tip in turn (oldest first), the tree
without it is measured as the loop measures a candidate, and the change is dropped when its
removal does not hurt. Removals build on each other: once a change is dropped, the next one is
taken out of the tree without it. Every tree is compared with the best state itself, not with
the last pruned one, so small losses cannot add up along the way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from overnight import statistics
from overnight.config import PolicyConfig
from overnight.errors import EvaluationError, UsageError
from overnight.evaluators import Evaluator
from overnight.formatting import number
from overnight.ledger import Ablation, Ledger, RunRecord
from overnight.policy import improvement
from overnight.project import Project
from overnight.records import Experiment, Score, Status
from overnight.scope import scope_for
from overnight.signals import Interrupted, StopSignals
from overnight.workspace import Workspace

DROPPED = "dropped"  # removing it did not hurt: it is gone from the branch
KEPT = "kept"  # removing it hurt: it stays
ENTANGLED = "entangled"  # a later kept change edited the same lines: it cannot come out alone
CRASH = "crash"  # the tree without it fails its evaluation: it stays

Say = Callable[[str], None]


@dataclass(frozen=True)
class PruneResult:
    run: RunRecord
    rows: list[Ablation]  # one per kept change tried, in the order tried
    baseline: float | None  # the run's experiment 0, from the ledger
    best: float  # the branch tip as the prune found it, measured afresh
    pruned: float  # the tree without every dropped change
    dry_run: bool
    stopped: str | None = None  # why it ended before trying every change (Ctrl-C)

    @property
    def dropped(self) -> list[Ablation]:
        return [row for row in self.rows if row.verdict == DROPPED]


def removal_hurts(
    best: Sequence[float], without: Sequence[float], policy: PolicyConfig, direction: str
) -> bool:
    """Whether the tree without a change is worse than the best state by more than
    ``min_delta``: on the means for greedy; credibly for noise-aware (Student's one-sided test,
    p < alpha), so a change whose worth noise can explain is dropped."""
    if policy.kind == "noise-aware":
        sign = -1.0 if direction == "minimize" else 1.0
        test = statistics.student(
            [sign * v for v in best], [sign * v for v in without], shift=policy.min_delta
        )
        return test.p < policy.alpha
    return worth(best, without, direction) > policy.min_delta


def worth(best: Sequence[float], without: Sequence[float], direction: str) -> float:
    """How much worse the tree is without the change, on the means: what the change is worth."""
    return improvement(statistics.mean(best), statistics.mean(without), direction)


def prune_run(
    project: Project, tag: str | None = None, dry_run: bool = False, say: Say | None = None
) -> PruneResult:
    """Prune run ``tag`` (the latest by default). The caller holds the project's lock, so no
    run can start meanwhile; the tree ends at the run branch's tip, whatever happens."""
    workspace = project.workspace()
    workspace.exclude_state_dir()
    ledger = project.ledger()
    say = say or (lambda text: None)
    try:
        run = finished_run(ledger, tag, project.config.layer)
        history = ledger.experiments(run.id)
        keeps = _keeps_to_try(ledger, run, history, say)
        check_tree(project, workspace, run, say)
        baseline = next((e.metric for e in history if e.status is Status.BASELINE), None)
        pruner = _Pruner(project, run, workspace, ledger, project.evaluator(), dry_run, say)
        return pruner.prune(keeps, baseline)
    finally:
        ledger.close()


def finished_run(ledger: Ledger, tag: str | None, layer: str | None) -> RunRecord:
    """Run ``tag`` (the latest of ``layer`` by default), refused if it stopped mid-experiment."""
    run = ledger.run(tag=tag, layer=layer)
    if run is None:
        raise UsageError(
            f"no run {tag!r} in the ledger" if tag else "no run yet: try `overnight run`"
        )
    if run.layer != layer:
        raise UsageError(f"run {run.tag!r} is not a run of layer {layer}")
    if ledger.running(run.id):
        raise UsageError(
            f"run {run.tag!r} stopped in the middle of an experiment: "
            f"`overnight run --resume --tag {run.tag}` puts it in order first"
        )
    return run


def _keeps_to_try(
    ledger: Ledger, run: RunRecord, history: list[Experiment], say: Say
) -> list[Experiment]:
    """The run's keeps, oldest first, less those an earlier prune dropped already."""
    keeps = [e for e in history if e.status is Status.KEEP]
    if not keeps:
        raise UsageError(f"run {run.tag!r} kept no change: nothing to prune")
    gone = {a.number for a in ledger.ablations(run.id) if a.verdict == DROPPED}
    reverted = {r.number for r in ledger.reverts(run.id)}  # rejected on review
    left = [e for e in keeps if e.number not in gone | reverted]
    if not left:
        raise UsageError(
            f"every change run {run.tag!r} kept was dropped by an earlier prune "
            "or taken out on review"
        )
    if skipped := sorted(gone & {e.number for e in keeps}):
        say(f"skipping {', '.join(f'#{n}' for n in skipped)}: dropped by an earlier prune")
    if skipped := sorted(reverted - gone):
        say(f"skipping {', '.join(f'#{n}' for n in skipped)}: taken out on review")
    return left


def check_tree(project: Project, workspace: Workspace, run: RunRecord, say: Say) -> None:
    """Refuse a tree with uncommitted editable or frozen files (a prune or a review's revert
    would measure them, and could not put them back); then make sure the run branch is checked
    out."""
    scope = scope_for(project.config, workspace.files())
    dirty = sorted(
        p for p in workspace.changed_files() if scope.is_editable(p) or scope.is_frozen(p)
    )
    if dirty:
        raise UsageError(
            f"uncommitted changes in editable or frozen files: {', '.join(dirty)} "
            "(commit or stash them first)"
        )
    if workspace.current_branch() != run.branch:
        if not workspace.branch_exists(run.branch):
            raise UsageError(f"the run branch {run.branch} does not exist any more")
        workspace.switch(run.branch)
        say(f"switched to {run.branch}")


@dataclass
class _Pruner:
    project: Project
    run: RunRecord
    workspace: Workspace
    ledger: Ledger
    evaluator: Evaluator
    dry_run: bool
    say: Say

    def prune(self, keeps: list[Experiment], baseline: float | None) -> PruneResult:
        """Measure the best state, then take each change out in turn. However it ends, every
        path a change touched goes back to the branch tip (with the drops committed so far)."""
        touched = {p for keep in keeps for p in self.workspace.changed_paths(_commit(keep))}
        stopping = "stopping after this measurement; press Ctrl-C again to stop at once"
        with StopSignals(lambda _: self.say(stopping)) as signals:
            try:
                best = self._measure_best(signals)
                rows, stopped = self._take_out_each(keeps, best, signals)
            finally:
                self._put_back(touched)
        best_mean = statistics.mean(best)
        pruned = next((r.metric_without for r in reversed(rows) if r.verdict == DROPPED), None)
        return PruneResult(
            self.run,
            rows,
            baseline,
            best_mean,
            best_mean if pruned is None else pruned,
            self.dry_run,
            stopped,
        )

    def _measure_best(self, signals: StopSignals) -> list[float]:
        repeats = self.project.config.evaluate.repeats
        self.say(f"measuring the best state ({self.run.branch}) {_times(repeats)}")
        try:
            values, failure = self._measure("best", signals)
        except Interrupted:
            raise KeyboardInterrupt from None
        if failure is not None:
            raise EvaluationError(
                f"the best state ({self.run.branch}) fails its evaluation now "
                f"({failure.status or Status.CRASH}); log: {failure.log_path}"
            )
        self.say(f"best: {number(statistics.mean(values))}")
        return values

    def _take_out_each(
        self, keeps: list[Experiment], best: list[float], signals: StopSignals
    ) -> tuple[list[Ablation], str | None]:
        """Every change, or those before a Ctrl-C (a second one abandons the current one)."""
        rows: list[Ablation] = []
        for keep in keeps:
            if signals.stop_requested is not None:
                break
            try:
                rows.append(self._take_out(keep, best, signals))
            except Interrupted:
                break
        else:
            return rows, None
        reason = signals.stop_requested or "interrupted"
        return rows, f"{reason} after {len(rows)} of {len(keeps)} changes"

    def _take_out(self, keep: Experiment, best: list[float], signals: StopSignals) -> Ablation:
        """Take one change out of the pruned state so far, measure, and decide; a drop is
        committed (unless a dry run), anything else is put back as it was."""
        commit = _commit(keep)
        paths = self.workspace.changed_paths(commit)
        snapshot = self.workspace.index_tree()
        without: list[float] = []
        if not self.workspace.take_out(commit):
            verdict, note = ENTANGLED, "later kept changes edited the same lines"
        else:
            without, failure = self._measure(f"{keep.number:04d}", signals)
            if failure is not None:
                verdict, without = CRASH, []
                note = f"the tree without it fails its evaluation (log: {failure.log_path})"
            else:
                hurts = removal_hurts(
                    best, without, self.project.config.policy, self.evaluator.direction
                )
                verdict = KEPT if hurts else DROPPED
                loss = worth(best, without, self.evaluator.direction)
                mean = number(statistics.mean(without))
                note = f"{self.run.metric} without it {mean} (worth {loss:+.4g})"
        description = " ".join(keep.description.split())
        if verdict in (KEPT, CRASH):
            self.workspace.restore(paths, snapshot)
        elif verdict == DROPPED and not self.dry_run:
            self.workspace.commit(paths, undo_message("prune: drop", keep))
        row = Ablation(
            keep.number,
            description,
            statistics.mean(without) if without else None,
            worth(best, without, self.evaluator.direction) if without else None,
            verdict,
            time.time(),
        )
        if not self.dry_run:
            self.ledger.record_ablation(self.run.id, row)
        self.say(f"#{keep.number} {verdict}: {note}")
        return row

    def _measure(self, name: str, signals: StopSignals) -> tuple[list[float], Score | None]:
        """The tree as it is, ``evaluate.repeats`` times with the seeds the loop gives (the n-th
        measurement gets seed n with ``seeds: vary``), so every tree is measured alike. Stops
        at the first failed measurement and returns it."""
        config = self.project.config.evaluate
        values: list[float] = []
        for attempt in range(config.repeats):
            seed = attempt if config.seeds == "vary" else 0
            log = self._log_dir / (f"{name}.{attempt}.log" if attempt else f"{name}.log")
            with signals.interruptible():
                score = self.evaluator.evaluate(self.project.root, log, seed=seed)
            if not score.ok or score.value is None:
                return values, score
            values.append(score.value)
        return values, None

    def _put_back(self, touched: set[str]) -> None:
        """Every path a change touched, as it is at the branch tip: in a dry run that undoes the
        drops, after an error or a Ctrl-C the change half taken out."""
        self.workspace.put_back(touched, self.workspace.head())

    @property
    def _log_dir(self) -> Path:
        return self.project.log_dir / self.run.tag / "prune"


def undo_message(action: str, keep: Experiment) -> str:
    """The commit message of a kept change taken out again: ``prune: drop experiment 4 (...)``."""
    description = " ".join(keep.description.split())
    return f"{action} experiment {keep.number}" + (f" ({description[:200]})" if description else "")


def _commit(keep: Experiment) -> str:
    assert keep.commit is not None  # a keep is always a commit
    return keep.commit


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"
