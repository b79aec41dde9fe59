"""The Python API: what the CLI does, callable from a script or a notebook.

import overnight
summary = overnight.run("path/to/repo", experiments=20)
print(summary.baseline, summary.best, summary.stop_reason)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from overnight.errors import UsageError
from overnight.holdout import final_best
from overnight.launch import RunOptions, open_loop
from overnight.ledger import RunRecord
from overnight.loop import Observer
from overnight.project import Project
from overnight.prune import PruneResult, Say, prune_run
from overnight.records import Experiment, Score, Status


@dataclass(frozen=True)
class RunSummary:
    run: RunRecord
    experiments: list[Experiment]
    stop_reason: str

    @property
    def baseline(self) -> float | None:
        return next((e.metric for e in self.experiments if e.status is Status.BASELINE), None)

    @property
    def best(self) -> float | None:
        return self.best_experiment.metric

    @property
    def best_experiment(self) -> Experiment:
        """The best state: the run branch's tip, unless held-out cases rank an earlier one
        higher."""
        best = final_best(self.experiments)
        assert best is not None  # a run has a baseline
        return best

    @property
    def kept(self) -> list[Experiment]:
        return [e for e in self.experiments if e.status is Status.KEEP]


def run(
    directory: Path | str = ".",
    *,
    experiments: int | None = None,
    hours: float | None = None,
    tag: str | None = None,
    resume: bool = False,
    use_cache: bool = True,
    observer: Observer | None = None,
) -> RunSummary:
    """Run the loop until a stop rule fires; the run branch ends at the best state."""
    project = Project.open(directory)
    lock = project.lock()
    lock.acquire()
    try:
        loop = open_loop(project, RunOptions(tag, resume, experiments, hours, use_cache), observer)
        try:
            reason = loop.run_until_stopped()
            return RunSummary(loop.ledger.run(loop.run.id) or loop.run, list(loop.history), reason)
        finally:
            loop.ledger.close()
    finally:
        lock.release()


def evaluate(directory: Path | str = ".", *, use_cache: bool = True) -> Score:
    """One evaluation of the tree as it is, without touching git or the ledger."""
    project = Project.open(directory)
    project.workspace().exclude_state_dir()
    log = project.log_dir / "eval.log"
    return project.evaluator(use_cache).evaluate(project.root, log)


def evaluate_held_out(directory: Path | str = ".", *, use_cache: bool = True) -> Score | None:
    """The held-out cases of a suite, measured as ``evaluate`` measures the visible ones; None
    when there are none."""
    project = Project.open(directory)
    project.workspace().exclude_state_dir()
    log = project.log_dir / "eval.held-out.log"
    return project.evaluator(use_cache).held_out(project.root, log)


def prune(
    directory: Path | str = ".",
    run: str | None = None,
    dry_run: bool = False,
    *,
    progress: Say | None = None,
) -> PruneResult:
    """Take each kept change of a run (the latest unless ``run`` names one) out of the best
    state in turn, and drop those whose removal does not hurt: one commit per drop on the run
    branch, and every verdict in the ledger, unless ``dry_run``. ``progress`` gets a line per
    step."""
    project = Project.open(directory)
    lock = project.lock()
    lock.acquire()
    try:
        return prune_run(project, run, dry_run, progress)
    finally:
        lock.release()


def history(
    directory: Path | str = ".", tag: str | None = None
) -> tuple[RunRecord, list[Experiment]]:
    """A run (the latest unless ``tag`` says) and its experiments, from the ledger."""
    project = Project.open(directory)
    ledger = project.ledger()
    try:
        record = ledger.run(tag=tag)
        if record is None:
            raise UsageError(
                f"no run {tag!r} in the ledger" if tag else "no run yet: try `overnight run`"
            )
        return record, ledger.experiments(record.id)
    finally:
        ledger.close()
