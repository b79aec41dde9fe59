"""Human review: people judge what a score cannot (tone, fit), and their verdicts steer the loop.

A reviewer gives a thumbs up or down on one output of an experiment (a case of its visible
matrix), or accepts or rejects a kept experiment as a whole. Verdicts are never edited: a later
one on the same item supersedes the earlier, and the ledger keeps both. The loop tells the next
agents every current verdict of the project's runs (see ``brief_notes``), and ``apply_reviews``
takes rejected keeps out of the run branch with the zero-context reverse patches prune uses, so
the later keeps stay wherever they still apply.

Held-out cases are never reviewed, and no verdict on one ever reaches a brief: a note about a
case would tell the agents what it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from overnight.brief import ReviewNote
from overnight.config import Config, SuiteEvaluateConfig
from overnight.errors import UsageError
from overnight.holdout import final_best, held_out_ids
from overnight.ledger import Ledger, Revert, RunRecord
from overnight.project import Project
from overnight.pruning import DROPPED, check_tree, finished_run, undo_message
from overnight.records import CaseOutput, Experiment, Review, Status, SuiteResult
from overnight.workspace import Workspace

OUTPUT_VERDICTS = ("up", "down")  # on one output: a case of an experiment
KEEP_VERDICTS = ("accept", "reject")  # on a kept experiment as a whole
VERDICTS = (*OUTPUT_VERDICTS, *KEEP_VERDICTS)

REVERTED = "reverted"  # taken out of the branch (or, in a dry run, would be)
ENTANGLED = "entangled"  # later keeps edited the same lines: it cannot come out alone
GONE = "gone"  # an earlier prune dropped it already

Say = Callable[[str], None]
Item = tuple[int, int, str | None]  # run, experiment, case (None: the keep itself)


def record_review(
    ledger: Ledger,
    run: RunRecord,
    number: int,
    verdict: str,
    note: str = "",
    case_id: str | None = None,
) -> Review:
    """Check a verdict against the ledger and store it; UsageError (one line) when it cannot
    stand: an unknown experiment or verdict, a case that is not among the experiment's visible
    outputs (a held-out one above all), or an accept or reject on anything but a keep."""
    check_verdict(verdict)
    experiment = next((e for e in ledger.experiments(run.id) if e.number == number), None)
    if experiment is None:
        raise UsageError(f"run {run.tag!r} has no experiment {number}")
    if verdict in OUTPUT_VERDICTS:
        _check_output(ledger, run, number, case_id)
    else:
        _check_keep(ledger, run, experiment, case_id)
    review = Review(run.id, number, verdict, note.strip(), case_id, at=time.time())
    return ledger.add_review(review)


def check_verdict(verdict: str) -> None:
    if verdict not in VERDICTS:
        raise UsageError(
            f"unknown verdict {verdict!r}: up or down on an output, accept or reject on a keep"
        )


def _check_output(ledger: Ledger, run: RunRecord, number: int, case_id: str | None) -> None:
    if not case_id:
        raise UsageError("a thumbs up or down judges one output: name its case")
    if case_id in ledger.held_out_case_ids(run.id):
        raise UsageError(
            f"case {case_id!r} is held out: held-out cases are never reviewed, since a note "
            "on one would reach the agents"
        )
    suite = ledger.suite_result(run.id, number)
    if suite is None or not suite.outputs:
        raise UsageError(
            f"experiment {number} has no outputs to review (only a suite's cases have outputs)"
        )
    cases = list(dict.fromkeys(o.case_id for o in suite.outputs))
    if case_id not in cases:
        shown = ", ".join(cases[:12]) + (", …" if len(cases) > 12 else "")
        raise UsageError(f"experiment {number} has no output for case {case_id!r} ({shown})")


def _check_keep(
    ledger: Ledger, run: RunRecord, experiment: Experiment, case_id: str | None
) -> None:
    number = experiment.number
    if case_id is not None:
        raise UsageError("accept and reject judge a kept experiment as a whole: name no case")
    if experiment.status is not Status.KEEP:
        what = "the baseline" if experiment.status is Status.BASELINE else "not a keep"
        raise UsageError(
            f"experiment {number} is {what} (status {experiment.status}): only kept "
            "experiments are accepted or rejected"
        )
    current = current_reviews(ledger.reviews(run.id)).get((run.id, number, None))
    if current is not None and current.applied:
        raise UsageError(
            f"experiment {number} was rejected and taken out of {run.branch} already; "
            "a new verdict cannot bring it back"
        )


def current_reviews(reviews: Iterable[Review]) -> dict[Item, Review]:
    """The verdict that stands on each item: the latest given, from reviews oldest first."""
    return {(r.run_id, r.number, r.case_id): r for r in reviews}


def best_experiment(ledger: Ledger, run: RunRecord) -> Experiment:
    """The run's best state, whose outputs a reviewer judges by default."""
    best = final_best(ledger.experiments(run.id))
    if best is None:
        raise UsageError(f"run {run.tag!r} has no baseline yet: nothing to review")
    return best


# -- what waits for review ------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """What waits for a verdict in one run, and the verdicts that stand."""

    run: RunRecord
    keeps: list[Experiment]  # kept experiments with neither accept nor reject, oldest first
    best: Experiment | None  # the best state, whose outputs are listed
    outputs: list[CaseOutput]  # its visible outputs without a verdict, one per case
    suite: SuiteResult | None  # its visible matrix, for what each output passed
    reviews: list[Review]  # the run's current verdicts, oldest first

    @property
    def to_apply(self) -> list[Review]:
        """Rejections that ``overnight review --apply`` has not carried out yet."""
        return [r for r in self.reviews if r.verdict == "reject" and not r.applied]

    @property
    def count(self) -> int:
        return len(self.keeps) + len(self.outputs)


def pending_reviews(ledger: Ledger, run: RunRecord) -> Pending:
    history = ledger.experiments(run.id)
    current = current_reviews(ledger.reviews(run.id))
    dropped = {a.number for a in ledger.ablations(run.id) if a.verdict == DROPPED}
    keeps = [
        e
        for e in history
        if e.status is Status.KEEP
        and e.number not in dropped
        and (run.id, e.number, None) not in current
    ]
    best = final_best(history)
    suite = ledger.suite_result(run.id, best.number) if best is not None else None
    outputs: dict[str, CaseOutput] = {}
    for output in _outputs(suite):
        if best is not None and (run.id, best.number, output.case_id) not in current:
            outputs.setdefault(output.case_id, output)
    return Pending(run, keeps, best, list(outputs.values()), suite, list(current.values()))


# -- what the agents are told ---------------------------------------------------------------


def brief_notes(ledger: Ledger, run: RunRecord, config: Config | None = None) -> list[ReviewNote]:
    """The current verdicts on every run of the project that improves what ``run`` improves
    (its layer), newest first, for the brief. Whatever concerns a held-out case is left out:
    a case held out by the reviewed run, by ``run`` itself, or by ``config``."""
    runs = {r.id: r for r in ledger.runs() if r.layer == run.layer}
    hidden = ledger.held_out_case_ids(run.id)
    if config is not None and isinstance(config.evaluate, SuiteEvaluateConfig):
        hidden |= held_out_ids(config.evaluate)
    current = [r for r in current_reviews(ledger.reviews()).values() if r.run_id in runs]
    held: dict[int, set[str]] = {}  # by run
    descriptions: dict[int, dict[int, str]] = {}  # by run, then experiment
    notes = []
    for review in sorted(current, key=lambda r: r.at, reverse=True):
        run_id = review.run_id
        if review.case_id is not None:
            if run_id not in held:
                held[run_id] = hidden | ledger.held_out_case_ids(run_id)
            if review.case_id in held[run_id]:
                continue
        if run_id not in descriptions:
            descriptions[run_id] = {e.number: e.description for e in ledger.experiments(run_id)}
        description = descriptions[run_id].get(review.number, "")
        notes.append(
            ReviewNote(review, description, runs[run_id].tag if run_id != run.id else None)
        )
    return notes


# -- carrying out rejections ----------------------------------------------------------------


@dataclass(frozen=True)
class ApplyRow:
    """What became of one rejected keep."""

    number: int
    description: str
    outcome: str  # REVERTED, ENTANGLED or GONE
    detail: str
    commit: str | None = None  # the revert commit (None in a dry run, or when not reverted)


@dataclass(frozen=True)
class ApplyResult:
    run: RunRecord
    rows: list[ApplyRow]  # one per rejection waiting, oldest experiment first
    baseline: float | None  # the run's experiment 0
    before: float | None  # the branch tip before, as last measured
    after: float | None  # the tip without the rejected changes, measured once
    dry_run: bool
    failure: str | None = None  # why nothing was applied after all

    @property
    def reverted(self) -> list[ApplyRow]:
        return [row for row in self.rows if row.outcome == REVERTED]


def tip_revert(history: Sequence[Experiment], reverts: Sequence[Revert]) -> Revert | None:
    """The revert whose commit is the run branch's tip, if the tip is one: the latest made
    after the last keep (or the baseline) began."""
    if not reverts:
        return None
    advancing = [e for e in history if e.status.advances]
    since = advancing[-1].started_at if advancing else 0.0
    later = [r for r in reverts if r.at > since]
    return later[-1] if later else None


def apply_reviews(
    project: Project, tag: str | None = None, dry_run: bool = False, say: Say | None = None
) -> ApplyResult:
    """Take every rejected keep of run ``tag`` (the latest by default) that is still in the
    branch out of its tip, one commit each, then measure the new tip once. A change that no
    longer comes out cleanly is reported and left. If the new tip fails its evaluation, or
    anything goes wrong, the branch and the tree go back to where they were and nothing is
    marked applied. The caller holds the project's lock."""
    say = say or (lambda text: None)
    workspace = project.workspace()
    workspace.exclude_state_dir()
    ledger = project.ledger()
    try:
        run = finished_run(ledger, tag, project.config.layer)
        history = ledger.experiments(run.id)
        waiting = sorted(
            (
                r
                for r in current_reviews(ledger.reviews(run.id)).values()
                if r.verdict == "reject" and not r.applied
            ),
            key=lambda r: r.number,
        )
        baseline = next((e.metric for e in history if e.status is Status.BASELINE), None)
        revert = tip_revert(history, ledger.reverts(run.id))
        advancing = [e for e in history if e.status.advances]
        before = revert.metric if revert else advancing[-1].metric if advancing else None
        if not waiting:
            return ApplyResult(run, [], baseline, before, None, dry_run)
        check_tree(project, workspace, run, say)
        reverter = _Reverter(project, run, workspace, ledger, history, dry_run, say)
        rows, after, failure = reverter.apply(waiting)
        return ApplyResult(run, rows, baseline, before, after, dry_run, failure)
    finally:
        ledger.close()


@dataclass
class _Reverter:
    project: Project
    run: RunRecord
    workspace: Workspace
    ledger: Ledger
    history: list[Experiment]
    dry_run: bool
    say: Say

    def apply(self, waiting: list[Review]) -> tuple[list[ApplyRow], float | None, str | None]:
        start = self.workspace.head()
        touched: set[str] = set()
        settled = False
        try:
            rows = [self._take_out(review, touched) for review in waiting]
            reverted = [row for row in rows if row.outcome == REVERTED]
            after, failure = self._measure() if reverted else (None, None)
            if failure is not None:
                rows = [
                    replace(row, detail="not applied: " + failure, commit=None)
                    if row.outcome == REVERTED
                    else row
                    for row in rows
                ]
            elif not self.dry_run:
                for row in rows:
                    if row.outcome != ENTANGLED:
                        self.ledger.mark_applied(self.run.id, row.number, row.commit, after)
                settled = True
            return rows, after, failure
        finally:
            if not settled:
                self._put_back(start, touched)

    def _take_out(self, review: Review, touched: set[str]) -> ApplyRow:
        keep = next(e for e in self.history if e.number == review.number)
        description = " ".join(keep.description.split())
        dropped = {a.number for a in self.ledger.ablations(self.run.id) if a.verdict == DROPPED}
        if keep.number in dropped:
            self.say(f"#{keep.number}: an earlier prune dropped it already")
            return ApplyRow(keep.number, description, GONE, "an earlier prune dropped it already")
        assert keep.commit is not None  # a keep is always a commit
        paths = self.workspace.changed_paths(keep.commit)
        if not self.workspace.take_out(keep.commit):
            detail = f"{self._entangled_with(keep)}; left in the branch, not applied"
            self.say(f"#{keep.number} {ENTANGLED}: {detail}")
            return ApplyRow(keep.number, description, ENTANGLED, detail)
        touched.update(paths)
        commit = None
        message = undo_message("review: revert", keep)
        if not self.dry_run:
            commit = self.workspace.commit(paths, message)
        self.say(f"#{keep.number} {REVERTED}: {message}")
        return ApplyRow(keep.number, description, REVERTED, message, commit)

    def _entangled_with(self, keep: Experiment) -> str:
        """The first later keep whose tree the change no longer comes out of: the one that
        edited the same lines."""
        gone = {r.number for r in self.ledger.reverts(self.run.id)}
        assert keep.commit is not None
        for other in self.history:
            if other.status is not Status.KEEP or other.number <= keep.number:
                continue
            if other.number in gone or other.commit is None:
                continue
            if not self.workspace.comes_out_of(keep.commit, other.commit):
                shared = set(self.workspace.changed_paths(keep.commit))
                paths = sorted(shared & set(self.workspace.changed_paths(other.commit)))
                where = f" in {', '.join(paths)}" if paths else ""
                return f"later keep #{other.number} edited the same lines{where}"
        return "it no longer comes out cleanly"

    def _measure(self) -> tuple[float | None, str | None]:
        """The new tip, measured once as the loop measures a candidate's first time."""
        self.say(f"measuring the tip of {self.run.branch} without the rejected changes")
        log = self.project.log_dir / self.run.tag / "review.log"
        score = self.project.evaluator().evaluate(self.project.root, log)
        if not score.ok or score.value is None:
            failure = (
                f"the tree without them fails its evaluation ({score.status or Status.CRASH}; "
                f"log: {score.log_path})"
            )
            self.say(failure)
            return None, failure
        return score.value, None

    def _put_back(self, start: str, touched: set[str]) -> None:
        """The branch and every path a revert touched, as they were at ``start``."""
        if self.workspace.head() != start:
            self.workspace.reset_branch(self.run.branch, start)
        self.workspace.put_back(touched, start)


def _outputs(suite: SuiteResult | None) -> list[CaseOutput]:
    return suite.outputs if suite is not None else []
