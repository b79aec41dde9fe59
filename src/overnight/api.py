"""The Python API: what the CLI does, callable from a script or a notebook.

import overnight
summary = overnight.run("path/to/repo", experiments=20)
print(summary.baseline, summary.best, summary.stop_reason)

The loop, the report and the comparisons are imported by the functions that use them, so a
script (or a command) that only reads the ledger starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from overnight.config_file import layer_names
from overnight.errors import UsageError
from overnight.holdout import final_best
from overnight.ledger import Ledger, RunRecord, Unfinished
from overnight.lock import run_in_progress
from overnight.records import Experiment, Review, Score, Status
from overnight.workspace import STATE_DIR, Workspace

if TYPE_CHECKING:
    from overnight.compare import Comparison
    from overnight.evaluators.gates import Gate
    from overnight.loop import Observer
    from overnight.overview import Overview
    from overnight.project import Project
    from overnight.pruning import PruneResult, Say
    from overnight.review import ApplyResult, Pending


@dataclass(frozen=True)
class RunSummary:
    run: RunRecord
    experiments: list[Experiment]
    stop_reason: str
    checkout: str = ""  # what became of the user's checkout: one line

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
    workers: int | None = None,
    tag: str | None = None,
    resume: bool = False,
    use_cache: bool = True,
    observer: Observer | None = None,
    layer: str | None = None,
    checkout: bool = False,
) -> RunSummary:
    """Run the loop until a stop rule fires; the run branch ends at the best state and the
    checkout is left as it was, unless ``checkout`` asks to switch a clean one to the branch. A
    config with layers runs one ``layer`` at a time."""
    from overnight.launch import RunOptions, open_loop, undo_start
    from overnight.project import Project

    project = Project.open(directory, layer)
    lock = project.lock()
    lock.acquire()
    try:
        options = RunOptions(tag, resume, experiments, hours, use_cache, workers)
        loop = open_loop(project, options, observer)
        try:
            try:
                reason = loop.run_until_stopped()
            except BaseException:
                if not resume and not loop.ledger.finished(loop.run.id)[0]:
                    undo_start(project, loop.ledger, loop.run)  # not even a baseline: no run
                raise
            run = loop.ledger.run(loop.run.id) or loop.run
            where = switch_checkout(project, run.branch) if checkout else ""
            return RunSummary(run, list(loop.history), reason, where)
        finally:
            loop.ledger.close()
    finally:
        lock.release()


def switch_checkout(project: Project, branch: str) -> str:
    """Switch the checkout to ``branch`` if no tracked file has uncommitted changes (untracked
    files stay where they are); say what happened, in one line."""

    workspace = project.workspace()
    dirty = workspace.git("status", "--porcelain", "--untracked-files=no").strip()
    if dirty:
        return f"Your checkout has uncommitted changes, so it stays as it was: git switch {branch}"
    workspace.git("switch", "-q", branch)
    return f"Your checkout is now on {branch}."


def evaluate(
    directory: Path | str = ".", *, use_cache: bool = True, layer: str | None = None
) -> Score:
    """One evaluation of the tree as it is, without touching git or the ledger."""
    from overnight.project import Project

    project = Project.open(directory, layer)
    project.workspace().exclude_state_dir()
    log = project.log_dir / "eval.log"
    return project.evaluator(use_cache).evaluate(project.root, log)


def evaluate_gates(
    directory: Path | str = ".", score: Score | None = None, *, layer: str | None = None
) -> Gate:
    """The correctness gates (``evaluate.checks``, ``evaluate.constraints``) on the tree as it
    is, ``score`` being its evaluation; constraints relative to a baseline are not judged."""
    from overnight.project import Project

    project = Project.open(directory, layer)
    log = project.log_dir / "eval.log"
    secondary = score.secondary if score is not None else {}
    return project.evaluator().gate(project.root, log, secondary, None)


def evaluate_held_out(
    directory: Path | str = ".", *, use_cache: bool = True, layer: str | None = None
) -> Score | None:
    """The held-out cases of a suite, measured as ``evaluate`` measures the visible ones; None
    when there are none."""
    from overnight.project import Project

    project = Project.open(directory, layer)
    project.workspace().exclude_state_dir()
    log = project.log_dir / "eval.held-out.log"
    return project.evaluator(use_cache).held_out(project.root, log)


def prune(
    directory: Path | str = ".",
    run: str | None = None,
    dry_run: bool = False,
    *,
    progress: Say | None = None,
    layer: str | None = None,
) -> PruneResult:
    """Take each kept change of a run (the latest unless ``run`` names one) out of the best
    state in turn, and drop those whose removal does not hurt: one commit per drop on the run
    branch, and every verdict in the ledger, unless ``dry_run``. ``progress`` gets a line per
    step. With layers, the run's own layer is pruned."""
    from overnight.pruning import prune_run

    project = project_for_run(directory, run, layer)
    lock = project.lock()
    lock.acquire()
    try:
        return prune_run(project, run, dry_run, progress)
    finally:
        lock.release()


def review(
    directory: Path | str,
    verdict: str,
    *,
    experiment: int | None = None,
    case: str | None = None,
    note: str = "",
    run: str | None = None,
    layer: str | None = None,
) -> Review:
    """Record a reviewer's verdict on run ``run`` (the latest by default): "up" or "down" on
    the output of ``case`` in ``experiment`` (default: the best state), or "accept" or "reject"
    on kept experiment ``experiment``. A later verdict on the same item supersedes this one; the
    next run's agents are told the current ones."""
    from overnight.review import KEEP_VERDICTS, best_experiment, check_verdict, record_review

    ledger = _ledger(directory)
    try:
        record = _run_of(ledger, run, layer)
        if experiment is None:
            check_verdict(verdict)
            if case is None:
                raise UsageError(
                    "name the kept experiment to accept or reject"
                    if verdict in KEEP_VERDICTS
                    else "a thumbs up or down judges one output: name its case"
                )
            experiment = best_experiment(ledger, record).number
        return record_review(ledger, record, experiment, verdict, note, case)
    finally:
        ledger.close()


def review_pending(
    directory: Path | str = ".", run: str | None = None, *, layer: str | None = None
) -> Pending:
    """What waits for review in run ``run`` (the latest by default): kept experiments with
    neither accept nor reject, and the best state's outputs without a verdict."""
    from overnight.review import pending_reviews

    ledger = _ledger(directory)
    try:
        return pending_reviews(ledger, _run_of(ledger, run, layer))
    finally:
        ledger.close()


def review_apply(
    directory: Path | str = ".",
    run: str | None = None,
    dry_run: bool = False,
    *,
    progress: Say | None = None,
    layer: str | None = None,
) -> ApplyResult:
    """Take each rejected keep of run ``run`` (the latest by default) out of its branch tip,
    one commit each, keeping the later keeps where they still apply, and measure the new tip
    once; nothing is committed or recorded if ``dry_run``. ``progress`` gets a line per step."""
    from overnight.review import apply_reviews

    ledger = _ledger(directory)
    try:
        tag = _run_of(ledger, run, layer).tag
    finally:
        ledger.close()
    project = project_for_run(directory, tag)
    lock = project.lock()
    lock.acquire()
    try:
        return apply_reviews(project, tag, dry_run, progress)
    finally:
        lock.release()


def _run_of(ledger: Ledger, tag: str | None, layer: str | None) -> RunRecord:
    record = ledger.run(tag=tag, layer=layer)
    if record is None:
        raise UsageError(_no_run(tag, layer))
    return record


def history(
    directory: Path | str = ".",
    tag: str | None = None,
    layer: str | None = None,
    *,
    notes: bool = True,
    diffs: bool = True,
) -> tuple[RunRecord, list[Experiment]]:
    """A run (the latest, of ``layer`` if given, unless ``tag`` says) and its experiments;
    faster without ``notes`` (what each agent noted, ``agent_meta``) or ``diffs``."""
    ledger = _ledger(directory)
    try:
        record = ledger.run(tag=tag, layer=layer)
        if record is None:
            raise UsageError(_no_run(tag, layer))
        return record, ledger.experiments(record.id, notes=notes, diffs=diffs)
    finally:
        ledger.close()


def overview(
    directory: Path | str = ".", tag: str | None = None, *, newest: int = 10, live: bool = False
) -> Overview:
    """Run ``tag`` (the latest by default) summed up by the ledger: counts, costs, each
    worker's figures, its baseline and keeps, and its ``newest`` experiments; with ``live``,
    what its workers run now. It reads the same amount for a long run as for a short one."""
    from overnight.overview import overview as summed_up

    ledger = _ledger(directory)
    try:
        run_id = _run_of(ledger, tag, None).id
        return summed_up(ledger, run_id, newest, ledger.unfinished(run_id) if live else [])
    finally:
        ledger.close()


def notes(directory: Path | str = ".", tag: str | None = None) -> dict[int, str]:
    """What each agent noted of its experiments in run ``tag`` (the latest by default), as the
    ledger stores it: JSON text, by experiment number."""
    ledger = _ledger(directory)
    try:
        return ledger.notes(_run_of(ledger, tag, None).id)
    finally:
        ledger.close()


def in_flight(directory: Path | str = ".", tag: str | None = None) -> list[Unfinished]:
    """The experiments of run ``tag`` (the latest by default) that have started and not
    finished: what a live run is doing now, one per busy worker."""
    ledger = _ledger(directory)
    try:
        return ledger.unfinished(_run_of(ledger, tag, None).id)
    finally:
        ledger.close()


def latest_runs(directory: Path | str = ".") -> dict[str | None, RunRecord | None]:
    """Each layer's latest run (``{None: ...}`` for a config without layers)."""
    layers: list[str | None] = [*layer_names(directory)] or [None]
    ledger = _ledger(directory)
    try:
        return {layer: ledger.run(layer=layer) for layer in layers}
    finally:
        ledger.close()


def active_run(directory: Path | str = ".") -> int | None:
    """The id of the run a harness is working on right now, if one is."""
    ledger = _ledger(directory)
    try:
        return run_in_progress(Path(directory).resolve(), ledger.runs())
    finally:
        ledger.close()


def project_for_run(
    directory: Path | str = ".", tag: str | None = None, layer: str | None = None
) -> Project:
    """The project opened for the layer of run ``tag`` (the latest run by default), or for
    ``layer``, so that a command about a past run measures it the way the run did."""
    from overnight.project import Project

    if layer is None and layer_names(directory):
        ledger = _ledger(directory)
        try:
            record = ledger.run(tag=tag)
        finally:
            ledger.close()
        if record is None:
            raise UsageError(_no_run(tag, layer))
        layer = record.layer
    return Project.open(directory, layer)


def _ledger(directory: Path | str) -> Ledger:
    """The ledger of the project in ``directory``, once its config is known to be there."""
    layer_names(directory)  # a missing or unreadable config is reported as such
    path = Path(directory).resolve() / STATE_DIR / "ledger.db"
    if not path.is_file():  # no run yet: and outside a repository, `overnight run` cannot start
        Workspace(Path(directory))
    return Ledger(path)


def _no_run(tag: str | None, layer: str | None) -> str:
    if tag:
        return f"no run {tag!r} in the ledger"
    if layer:
        return f"no run of layer {layer} yet: try `overnight run --layer {layer}`"
    return "no run yet: try `overnight run`"


def compare(
    a: str | Path,
    b: str | Path,
    directory: Path | str = ".",
    *,
    repeats: int | None = None,
    as_path: str | None = None,
    use_cache: bool = True,
    layer: str | None = None,
    progress: Say | None = None,
) -> Comparison:
    """Score two versions on the project's current evaluation, side by side: each a git
    revision (commit, branch, tag, ``HEAD~2``) or a file (a ``Path``, or a string naming an
    existing file) that replaces the editable file ``as_path`` in a worktree of HEAD.
    ``repeats`` measurements of each (default: ``evaluate.repeats``); git and the ledger are
    not touched. ``progress`` gets a line per measurement."""
    from overnight.compare import compare as compare_versions
    from overnight.project import Project

    project = Project.open(directory, layer)
    return compare_versions(
        project, a, b, repeats, as_path=as_path, use_cache=use_cache, progress=progress
    )


def report(
    directory: Path | str = ".",
    output: Path | str | None = None,
    *,
    run: str | None = None,
    pair: tuple[int, int] | None = None,
    png: Path | str | None = None,
    layer: str | None = None,
) -> Path:
    """Write the morning review of run ``run`` (the latest, of ``layer`` if given) as one HTML
    file that works offline, with no script and no link out (default:
    ``.overnight/report.html``); ``pair`` picks the two experiments whose outputs and trees are
    compared (default: the baseline and the best state); ``png`` also draws the progress chart
    as an image (needs the ``png`` extra). Returns the HTML file's path."""
    from overnight.report import write_report

    root = Path(directory).resolve()
    layer_names(root)  # a missing or unreadable config is reported as such
    return write_report(
        root,
        Path(output) if output else None,
        run,
        pair,
        Path(png) if png else None,
        layer,
    )
