"""Two versions of the editable files, scored by the same evaluation, side by side.

A version is a git revision (commit, branch, tag, ``HEAD~2``) or a file that stands in for one
editable file. Each is checked out in a temporary git worktree under ``.overnight/worktrees/``,
and the measurement is then put in place from the working tree: ``overnight.yaml``, the frozen
files, the suite and queries files. Only the editable files differ between the two sides, so a
difference in score is a difference between the versions, not between two ways of measuring.

The two sides are measured in turn (A, B, A, B, ...) rather than at once: a machine that drifts,
or a benchmark that times itself, then treats both alike. The verdict reuses the tests the keep
decisions use: for suites (and skill triggers), the exact sign test over the checks whose pass
rate differs between the two; for a metric, Student's t-test over the repeated measurements. The
p-value is one-sided, for the side that came out ahead.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from overnight import statistics
from overnight.cache import OutputCache
from overnight.errors import UsageError, WorkspaceError
from overnight.evaluators import make_evaluator
from overnight.formatting import number
from overnight.policy import flips, pass_rates
from overnight.project import Project
from overnight.records import Score, SuiteResult
from overnight.scope import Scope, scope_for
from overnight.workspace import STATE_DIR, Workspace

ALPHA = 0.05  # the p-value under which one side is called better
WORKTREES = "worktrees"
_OURS = re.compile(r"^compare-(\d+)-")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Side:
    """One version and every measurement of it. A failed measurement ends the side's series."""

    name: str  # "A" or "B"
    argument: str  # as the user gave it
    kind: str  # "revision" or "file"
    commit: str  # the revision's commit; for a file, HEAD's
    replaces: str | None = None  # for a file: the editable file it stands in for
    scores: tuple[Score, ...] = ()
    held_out: Score | None = None  # the held-out cases (or queries), when the evaluation has any

    @property
    def failure(self) -> Score | None:
        return next((s for s in self.scores if not s.ok), None)

    @property
    def values(self) -> list[float]:
        return [s.value for s in self.scores if s.ok and s.value is not None]

    @property
    def mean(self) -> float | None:
        return statistics.mean(self.values) if self.values else None

    @property
    def sd(self) -> float | None:
        """The sample standard deviation; None for fewer than two measurements."""
        values = self.values
        return math.sqrt(statistics.variance(values)) if len(values) > 1 else None

    @property
    def suites(self) -> list[SuiteResult]:
        return [s.suite for s in self.scores if s.ok and s.suite is not None]

    @property
    def total(self) -> float | None:
        """A suite's checks per measurement (the 25 of 23/25); None for a metric."""
        totals = [s.secondary["total"] for s in self.scores if s.ok and "total" in s.secondary]
        return totals[0] if totals else None

    def secondary(self) -> dict[str, float]:
        """Each secondary value's mean over the measurements."""
        ok = [s for s in self.scores if s.ok]
        keys = dict.fromkeys(k for s in ok for k in s.secondary)
        return {
            key: statistics.mean([s.secondary[key] for s in ok if key in s.secondary])
            for key in keys
        }

    def cases(self) -> dict[str, tuple[int, int]]:
        """Checks passed and checks run per case, over every measurement, in the suite's
        order."""
        tally: dict[str, list[int]] = {}
        for suite in self.suites:
            for check in suite.checks:
                counts = tally.setdefault(check.case_id, [0, 0])
                counts[0] += check.passed
                counts[1] += 1
        return {case: (passed, total) for case, (passed, total) in tally.items()}

    @property
    def label(self) -> str:
        """What the side is, in a few words: ``HEAD~1 (3f2a1b9)``, ``alt.md as SKILL.md``."""
        if self.kind == "file":
            return f"{self.argument} as {self.replaces}"
        short = self.commit[:7]
        return self.argument if self.argument.startswith(short) else f"{self.argument} ({short})"


@dataclass(frozen=True)
class CheckFlip:
    """A check (case and assertion) whose pass rate differs between the two sides."""

    case_id: str
    assertion: str
    a: float  # A's pass rate over its measurements
    b: float

    @property
    def better(self) -> bool:
        """B passes it more often than A."""
        return self.b > self.a


@dataclass(frozen=True)
class Comparison:
    """Two versions on the same evaluation, and which one is better, if either credibly is."""

    metric: str
    direction: str  # "minimize" or "maximize"
    kind: str  # the evaluation's kind: command, suite or triggers
    repeats: int
    a: Side
    b: Side
    measured: tuple[str, ...]  # the measurement's files, taken from the working tree
    test: str | None  # "sign" (checks), "student" (measurements), or None when none applies
    p: float | None  # one-sided, for the side ahead
    winner: str | None  # "A", "B", or None: no clear difference (or a side failed)
    verdict: str  # one line
    flipped: tuple[CheckFlip, ...] = ()
    alpha: float = ALPHA

    @property
    def failed(self) -> bool:
        return self.a.failure is not None or self.b.failure is not None

    @property
    def difference(self) -> float | None:
        """B's mean minus A's, as measured (not adjusted for the direction)."""
        if self.a.mean is None or self.b.mean is None:
            return None
        return self.b.mean - self.a.mean

    @property
    def better(self) -> int:
        """Checks B passes more often than A."""
        return sum(flip.better for flip in self.flipped)

    @property
    def worse(self) -> int:
        return len(self.flipped) - self.better

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "direction": self.direction,
            "kind": self.kind,
            "repeats": self.repeats,
            "measured_from_working_tree": list(self.measured),
            "a": _side_json(self.a),
            "b": _side_json(self.b),
            "difference": self.difference,
            "test": self.test,
            "p": self.p,
            "alpha": self.alpha,
            "flips": [
                {
                    "case": f.case_id,
                    "assertion": f.assertion,
                    "a": f.a,
                    "b": f.b,
                    "better": f.better,
                }
                for f in self.flipped
            ],
            "better": self.better,
            "worse": self.worse,
            "winner": self.winner,
            "verdict": self.verdict,
        }


def compare(
    project: Project,
    a: str | Path,
    b: str | Path,
    repeats: int | None = None,
    *,
    as_path: str | None = None,
    use_cache: bool = True,
    alpha: float = ALPHA,
    progress: Progress | None = None,
) -> Comparison:
    """Measure ``a`` and ``b`` ``repeats`` times each (default: ``evaluate.repeats``) and
    compare them. Each is a git revision of the project, or a file (a ``Path``, or a string
    naming an existing file, relative to the current directory) that replaces the editable file
    ``as_path`` (needed only when there are several) in a worktree of HEAD. The worktrees are
    removed before this returns, whatever happens (SIGTERM unwinds like Ctrl-C meanwhile)."""
    workspace = project.workspace()
    workspace.exclude_state_dir()
    files = workspace.files()
    scope = scope_for(project.config, files, other_layers=project.other_layers)
    measured = tuple(scope.frozen_files(files))
    plans = [_plan(workspace, "A", a), _plan(workspace, "B", b)]
    if as_path is not None and all(plan.content is None for plan in plans):
        raise UsageError("--as names the file a FILE argument replaces, but A and B are revisions")
    plans = [_with_target(plan, scope, files, as_path) for plan in plans]
    repeats = repeats or project.config.evaluate.repeats
    cache = OutputCache(project.state_dir / "cache", enabled=use_cache)
    _remove_abandoned(workspace)
    with contextlib.ExitStack() as stack:
        stack.enter_context(_terminate_as_interrupt())
        trees = []
        for plan in plans:
            tree = stack.enter_context(_worktree(workspace, plan.commit, plan.name))
            _put_measurement_in_place(project.root, tree, scope, measured)
            if plan.content is not None and plan.target is not None:
                (tree / plan.target).parent.mkdir(parents=True, exist_ok=True)
                (tree / plan.target).write_bytes(plan.content)
            trees.append(tree)
        side_a, side_b = _measure(project, plans, trees, repeats, cache, progress)
    return _judge(project, side_a, side_b, repeats, measured, alpha)


def _measure(
    project: Project,
    plans: Sequence[_Plan],
    trees: Sequence[Path],
    repeats: int,
    cache: OutputCache,
    progress: Progress | None,
) -> list[Side]:
    """Each side in turn, ``repeats`` rounds (a side stops at its first failure), then the
    held-out cases of each side that did not fail."""
    evaluate = project.config.evaluate
    evaluators = [make_evaluator(evaluate, tree, cache) for tree in trees]
    logs = project.log_dir / "compare"
    logs.mkdir(parents=True, exist_ok=True)
    scores: list[list[Score]] = [[] for _ in plans]
    for attempt in range(repeats):
        seed = attempt if evaluate.seeds == "vary" else 0
        for plan, tree, evaluator, done in zip(plans, trees, evaluators, scores, strict=True):
            if all(s.ok for s in done):
                if progress is not None:
                    progress(
                        f"{plan.name} ({plan.argument}): measurement {attempt + 1} of {repeats}"
                    )
                log = logs / (f"{plan.name}.{attempt}.log" if attempt else f"{plan.name}.log")
                done.append(evaluator.evaluate(tree, log, seed=seed))
    sides = []
    for plan, tree, evaluator, done in zip(plans, trees, evaluators, scores, strict=True):
        failed = not all(s.ok for s in done)
        held_out = None if failed else evaluator.held_out(tree, logs / f"{plan.name}.held-out.log")
        kind = "revision" if plan.content is None else "file"
        sides.append(
            Side(plan.name, plan.argument, kind, plan.commit, plan.target, tuple(done), held_out)
        )
    return sides


# -- what each argument is ------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    name: str
    argument: str
    commit: str
    content: bytes | None = None  # a file's bytes; None for a revision
    target: str | None = None  # the editable file it replaces


def _plan(workspace: Workspace, name: str, argument: str | Path) -> _Plan:
    """A file when the argument names an existing file (read now, so later edits do not
    count); a git revision otherwise."""
    path = Path(argument)
    if isinstance(argument, Path) or path.is_file():
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{name}: cannot read {argument} ({exc.strerror})") from None
        return _Plan(name, str(argument), workspace.head(), content)
    text = str(argument)
    commit = None
    if text and not text.startswith("-"):
        with contextlib.suppress(WorkspaceError):
            commit = workspace.git("rev-parse", "--verify", "-q", f"{text}^{{commit}}").strip()
    if not commit:
        raise UsageError(
            f"{name}: {text!r} is neither a file nor a git revision of {workspace.root}"
        )
    return _Plan(name, text, commit)


def _with_target(plan: _Plan, scope: Scope, files: Sequence[str], as_path: str | None) -> _Plan:
    """The editable file a file argument replaces: ``as_path``, or the only editable file."""
    if plan.content is None:
        return plan
    editable = scope.editable_files(files)
    if as_path is None:
        if len(editable) != 1:
            listed = ", ".join(editable[:6]) + (", ..." if len(editable) > 6 else "")
            raise UsageError(
                f"{plan.name}: the project has {len(editable)} editable files ({listed}); "
                "say which one the file replaces with --as PATH"
            )
        return _Plan(plan.name, plan.argument, plan.commit, plan.content, editable[0])
    target = Path(as_path).as_posix().removeprefix("./")
    if not scope.is_editable(target):
        raise UsageError(f"--as {as_path}: not an editable file of the project")
    return _Plan(plan.name, plan.argument, plan.commit, plan.content, target)


# -- worktrees ------------------------------------------------------------------------------


@contextlib.contextmanager
def _worktree(workspace: Workspace, commit: str, name: str) -> Iterator[Path]:
    """A detached worktree of ``commit``, removed on the way out, on error and Ctrl-C too."""
    parent = workspace.root / STATE_DIR / WORKTREES
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"compare-{os.getpid()}-{name}-", dir=parent))
    try:
        workspace.git("worktree", "add", "--detach", str(path), commit)
        yield path
    finally:
        _remove_worktree(workspace, path)


def _remove_worktree(workspace: Workspace, path: Path) -> None:
    with contextlib.suppress(WorkspaceError):
        workspace.git("worktree", "remove", "--force", "--force", str(path))
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(WorkspaceError):
        workspace.git("worktree", "prune")


def _remove_abandoned(workspace: Workspace) -> None:
    """Worktrees of a comparison whose process is gone (killed with -9)."""
    parent = workspace.root / STATE_DIR / WORKTREES
    if not parent.is_dir():
        return
    for path in parent.iterdir():
        match = _OURS.match(path.name)
        if match and not _alive(int(match.group(1))):
            _remove_worktree(workspace, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C while worktrees exist, so they are removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _put_measurement_in_place(
    root: Path, tree: Path, scope: Scope, measured: Sequence[str]
) -> None:
    """The working tree's measurement files over the revision's, and the revision's frozen
    files that the working tree no longer has taken away."""
    keep = set(measured)
    for path in scope.frozen_files(Workspace(tree).files()):
        if path not in keep:
            (tree / path).unlink()
    for path in measured:
        target = tree / path
        if target.is_symlink() or target.is_file():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, target, follow_symlinks=False)


# -- the verdict ----------------------------------------------------------------------------


def _judge(
    project: Project,
    a: Side,
    b: Side,
    repeats: int,
    measured: tuple[str, ...],
    alpha: float,
) -> Comparison:
    evaluate = project.config.evaluate
    metric, direction = evaluate.metric, evaluate.direction
    done = {
        "metric": metric,
        "direction": direction,
        "kind": evaluate.kind,
        "repeats": repeats,
        "a": a,
        "b": b,
        "measured": measured,
        "alpha": alpha,
    }
    failed = [side for side in (a, b) if side.failure is not None]
    if failed:
        verdict = "; ".join(_failure_text(side) for side in failed)
        return Comparison(**done, test=None, p=None, winner=None, verdict=verdict)
    sign = -1.0 if direction == "minimize" else 1.0
    ours, theirs = [sign * v for v in b.values], [sign * v for v in a.values]
    gain = statistics.mean(ours) - statistics.mean(theirs)
    ahead = "B" if gain > 0 else "A" if gain < 0 else None
    flipped: tuple[CheckFlip, ...] = ()
    p: float | None
    if a.suites and b.suites:  # suites, and the queries of skill triggers: paired checks
        test = "sign"
        flipped = tuple(_flipped(a.suites, b.suites))
        changed = flips(b.suites, a.suites)
        wins, losses = changed.better, changed.worse
        if ahead == "A":
            wins, losses = losses, wins
        p = statistics.sign_test(wins, losses)
    else:
        test = "student"
        leader, other = (theirs, ours) if ahead == "A" else (ours, theirs)
        try:
            p = statistics.student(leader, other).p
        except ValueError:  # one measurement each: nothing is known about the noise
            p = None
    winner = ahead if ahead is not None and p is not None and p < alpha else None
    verdict = _verdict(a, b, evaluate.kind, metric, ahead, winner, flipped, p)
    return Comparison(**done, test=test, p=p, winner=winner, verdict=verdict, flipped=flipped)


def _verdict(
    a: Side,
    b: Side,
    kind: str,
    metric: str,
    ahead: str | None,
    winner: str | None,
    flipped: Sequence[CheckFlip],
    p: float | None,
) -> str:
    """One line: "B is better: 23/25 vs 19/25, p = 0.008", or why no side is."""
    numbers = {"A": _score_text(a, kind), "B": _score_text(b, kind)}
    subject = "" if kind == "suite" else f"{metric} "
    if winner is not None:
        loser = "A" if winner == "B" else "B"
        return f"{winner} is better: {subject}{numbers[winner]} vs {numbers[loser]}, {_p_text(p)}"
    both = f"{subject}A {numbers['A']} vs B {numbers['B']}"
    if ahead is None and not flipped:
        same = "; the same checks pass" if a.suites else ""
        return f"no difference: {both}{same}"
    if p is None:
        return (
            f"no clear difference: {both}; one measurement each cannot tell a difference from "
            "noise (measure each at least twice)"
        )
    return f"no clear difference: {both}, {_p_text(p)}"


def _flipped(a: Sequence[SuiteResult], b: Sequence[SuiteResult]) -> list[CheckFlip]:
    """Every check whose pass rate differs, in the suite's order."""
    ours, theirs = pass_rates(a), pass_rates(b)
    order = dict.fromkeys((c.case_id, c.assertion) for suite in (*a, *b) for c in suite.checks)
    return [
        CheckFlip(case, assertion, ours[(case, assertion)], theirs[(case, assertion)])
        for case, assertion in order
        if (case, assertion) in ours
        and (case, assertion) in theirs
        and ours[(case, assertion)] != theirs[(case, assertion)]
    ]


def _score_text(side: Side, kind: str) -> str:
    """The mean: 23/25 for a suite, a number for a metric."""
    mean = side.mean
    if mean is None:
        return "-"
    if kind == "suite" and side.total is not None:
        return f"{mean:.4g}/{side.total:g}"
    return number(mean)


def _failure_text(side: Side) -> str:
    failure = side.failure
    assert failure is not None
    lines = [line for line in failure.log_tail.splitlines() if line.strip()]
    detail = lines[0].strip() if lines else "no output"
    where = f" (log: {failure.log_path})" if failure.log_path else ""
    return f"{side.name} failed ({failure.status}): {detail}{where}"


def _p_text(p: float | None) -> str:
    if p is None:
        return "no p-value"
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _side_json(side: Side) -> dict[str, Any]:
    failure = side.failure
    data: dict[str, Any] = {
        "argument": side.argument,
        "kind": side.kind,
        "commit": side.commit,
        "replaces": side.replaces,
        "status": "ok" if failure is None else str(failure.status),
        "values": side.values,
        "mean": side.mean,
        "sd": side.sd,
        "secondary": side.secondary(),
        "logs": [s.log_path for s in side.scores],
        "error": None if failure is None else failure.log_tail,
    }
    if side.suites:
        data["suite"] = {
            "passed": sum(s.passed for s in side.suites),
            "total": sum(s.total for s in side.suites),
            "cases": {
                case: {"passed": passed, "total": total}
                for case, (passed, total) in side.cases().items()
            },
        }
    held = side.held_out
    data["held_out"] = (
        None
        if held is None
        else {
            "status": "ok" if held.ok else str(held.status),
            "value": held.value,
            "passed": held.suite.passed if held.suite else None,
            "total": held.suite.total if held.suite else None,
        }
    )
    return data
