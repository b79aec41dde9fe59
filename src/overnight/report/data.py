"""What the morning review shows, read once from the ledger and git into one immutable view.

The static report and the live dashboard render the same ``RunView``; loading it opens the
ledger, reads, and closes again, so a dashboard can load a fresh view per request from any
thread while a run keeps writing (WAL lets readers in).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from overnight.errors import UsageError, WorkspaceError
from overnight.holdout import held_out_score, held_out_text
from overnight.ledger import Ledger, RunRecord, Unfinished
from overnight.lock import run_in_progress
from overnight.policy import improvement
from overnight.records import Experiment, Review, SuiteResult
from overnight.report.history import History, HistoryCache
from overnight.workers_view import WorkerFigures, worker_figures
from overnight.workspace import STATE_DIR, Workspace


@dataclass(frozen=True)
class Side:
    """One experiment of the compared pair, with its suite's outputs and matrix if it has one."""

    experiment: Experiment
    suite: SuiteResult | None


@dataclass(frozen=True)
class DiffSection:
    """A titled piece of a diff between two states; ``note`` says why it is missing, if it is."""

    title: str
    diff: str
    note: str = ""


@dataclass(frozen=True)
class RunView:
    run: RunRecord
    runs: list[RunRecord]
    history: History  # the finished experiments, with what is computed from them
    reviews: list[Review]
    a: Side | None  # the compared pair: by default the baseline and the best state
    b: Side | None
    pair_diff: list[DiffSection]
    cumulative_diff: DiffSection | None  # baseline -> best over the whole run
    loaded_at: float
    in_flight: tuple[Unfinished, ...] = ()  # what a harness runs now, while the run is live

    @property
    def experiments(self) -> list[Experiment]:
        """The finished ones, oldest first; empty while the baseline runs."""
        return self.history.experiments

    @property
    def baseline(self) -> Experiment | None:
        return self.history.tally.baseline

    @property
    def best(self) -> Experiment | None:
        return self.history.tally.best

    @property
    def tried(self) -> int:
        return self.history.tally.tried

    @property
    def kept(self) -> int:
        return self.history.tally.kept

    @property
    def keep_rate(self) -> float | None:
        return self.kept / self.tried if self.tried else None

    @property
    def duration_s(self) -> float:
        """Wall-clock time of the run: to its end, or to now while it has none."""
        if self.run.ended_at is not None:
            return self.run.ended_at - self.run.started_at
        return self.loaded_at - self.run.started_at

    @property
    def total_cost(self) -> float:
        return self.history.tally.total_cost

    @property
    def unpriced(self) -> int:
        """Experiments whose agent or evaluation made model calls of unknown cost."""
        return self.history.tally.unpriced

    @property
    def gain(self) -> float | None:
        """How much better the best state is than the baseline, positive whatever the
        direction."""
        baseline, best = self.baseline, self.best
        if baseline is None or best is None or baseline.metric is None or best.metric is None:
            return None
        return improvement(best.metric, baseline.metric, self.run.direction)

    @property
    def cost_per_point(self) -> float | None:
        """Dollars spent per unit of metric gained: what a kept point of improvement cost."""
        gain = self.gain
        return self.total_cost / gain if gain and gain > 0 and self.total_cost else None

    @property
    def held_out(self) -> tuple[str, str] | None:
        """(baseline, best) held-out scores as text, when the run has held-out cases."""
        baseline, best = self.baseline, self.best
        if baseline is None or best is None or held_out_score(baseline) is None:
            return None
        return held_out_text(baseline), held_out_text(best)

    @cached_property
    def workers(self) -> list[WorkerFigures]:
        """Per-worker figures, for a run with several workers (none for one)."""
        return worker_figures(self.experiments, self.in_flight)

    @property
    def chosen_pair(self) -> bool:
        """Whether A and B are two different experiments other than the baseline and the best
        state, whose diff the cumulative one already shows."""
        if self.a is None or self.b is None or self.best is None:
            return False
        a, b = self.a.experiment.number, self.b.experiment.number
        return a != b and (a, b) != (self.experiments[0].number, self.best.number)

    @cached_property
    def version(self) -> str:
        last = self.experiments[-1].number if self.experiments else -1
        return ledger_version(self.run, (len(self.experiments), last), self.reviews)

    @property
    def state(self) -> str:
        return self.run.stop_reason or "no stop recorded yet: running, or interrupted"

    def experiment(self, number: int) -> Experiment | None:
        index = self.index(number)
        return None if index is None else self.experiments[index]

    def index(self, number: int) -> int | None:
        """Where experiment ``number`` is among the finished ones."""
        return _position(self.experiments, number)

    def reviews_of(self, number: int, case_id: str | None = None) -> list[Review]:
        """The verdict that stands on one experiment (``case_id`` None) or on one of its
        outputs: the latest given, as a list of at most one."""
        return [r for r in self.reviews if r.number == number and r.case_id == case_id][-1:]


def ledger_version(run: RunRecord, finished: tuple[int, int], reviews: Sequence[Review]) -> str:
    """Changes whenever what the pages show changes: an experiment finished (``finished``: how
    many, and the last one's number), a review was given, the run stopped. A live page compares
    it to decide whether to fetch its sections again."""
    count, last = finished
    reviewed = max((r.at for r in reviews), default=0.0)
    return f"{run.id}:{count}:{last}:{len(reviews)}:{reviewed}:{run.stop_reason or ''}"


def load_run_view(
    root: Path,
    tag: str | None = None,
    a: int | None = None,
    b: int | None = None,
    layer: str | None = None,
    history: HistoryCache | None = None,
) -> RunView:
    """The run ``tag`` of the project at ``root`` (default: the latest, of ``layer`` if given),
    comparing experiments ``a`` and ``b`` (default: the baseline and the best state). Raises
    UsageError when there is no such run or experiment. Only the ledger and git are read, so a
    run of any layer shows the same way; a live page passes its ``history`` to read only what
    finished since its last look."""
    path = root / STATE_DIR / "ledger.db"
    if not path.is_file():
        raise UsageError("no run yet: try `overnight run`")
    ledger = Ledger(path)
    try:
        run = ledger.run(tag=tag, layer=layer)
        if run is None:
            raise UsageError(f"no run {tag!r} in the ledger" if tag else "no run yet")
        read = (
            history.read(ledger, run.id)
            if history
            else History.of(run.id, ledger.experiments(run.id, notes=False))
        )
        experiments, best = read.experiments, read.tally.best
        sides: list[Side | None] = []
        for number, default in ((a, experiments[0] if experiments else None), (b, best)):
            chosen = default if number is None else _find(experiments, number, run.tag)
            suite = ledger.suite_result(run.id, chosen.number) if chosen else None
            sides.append(Side(chosen, suite) if chosen else None)
        reviews = ledger.reviews(run.id)
        runs = ledger.runs()
        live = run_in_progress(root, runs) == run.id
        in_flight = tuple(ledger.unfinished(run.id)) if live else ()
    finally:
        ledger.close()
    side_a, side_b = sides
    pair: list[DiffSection] = []
    cumulative = None
    if side_a and side_b and best:
        workspace = _workspace(root)
        pair = pair_diff(workspace, side_a.experiment, side_b.experiment)
        cumulative = _git_diff(
            workspace,
            run.base_commit,
            best.commit or run.base_commit,
            f"baseline -> best (#{best.number})",
        )
    return RunView(
        run, runs, read, reviews, side_a, side_b, pair, cumulative, time.time(), in_flight
    )


def pair_diff(workspace: Workspace | None, a: Experiment, b: Experiment) -> list[DiffSection]:
    """What separates A's tree from B's. Only baselines and keeps are commits; any other
    experiment's tree is its parent plus its own recorded change, so the answer comes in up to
    three titled pieces rather than one diff that git could not produce."""
    if a.number == b.number:
        return []
    start, end = a.commit or a.parent_commit, b.commit or b.parent_commit
    sections = []
    if a.commit is None and a.diff:
        sections.append(DiffSection(f"#{a.number}'s own change, which was not kept", a.diff))
    if start != end:
        what = (
            f"#{a.number} -> #{b.number}"
            if a.commit and b.commit
            else "the kept changes between the states they started from"
        )
        sections.append(_git_diff(workspace, start, end, what))
    if b.commit is None and b.diff:
        sections.append(DiffSection(f"#{b.number}'s own change, which was not kept", b.diff))
    return sections


def _find(experiments: Sequence[Experiment], number: int, tag: str) -> Experiment:
    at = _position(experiments, number)
    if at is None:
        raise UsageError(f"run {tag} has no finished experiment {number}")
    return experiments[at]


def _position(experiments: Sequence[Experiment], number: int) -> int | None:
    """A binary search: the ledger gives experiments in number order."""
    at = bisect_left(experiments, number, key=lambda e: e.number)
    return at if at < len(experiments) and experiments[at].number == number else None


def _workspace(root: Path) -> Workspace | None:
    try:
        return Workspace(root)
    except WorkspaceError:
        return None


def _git_diff(workspace: Workspace | None, start: str, end: str, title: str) -> DiffSection:
    title = f"{title}: git diff {start[:7]} {end[:7]}"
    if workspace is None:
        return DiffSection(title, "", note="not available: the project is not a git repository")
    try:
        return DiffSection(title, _diff_between(workspace, start, end))
    except WorkspaceError as exc:
        return DiffSection(title, "", note=f"not available: {exc}")


_DIFFS: dict[tuple[Path, str, str], str] = {}
_KEPT_DIFFS = 32


def _diff_between(workspace: Workspace, start: str, end: str) -> str:
    """Two commits' diff never changes: a live page asks git once per pair, not per update."""
    key = (workspace.root, start, end)
    if key not in _DIFFS:
        if len(_DIFFS) >= _KEPT_DIFFS:
            _DIFFS.clear()
        _DIFFS[key] = workspace.git("diff", start, end)
    return _DIFFS[key]
