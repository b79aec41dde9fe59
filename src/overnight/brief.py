"""The brief: what an agent is told before it proposes one change.

Built by code for every experiment from the config and the ledger, so an agent needs no memory of
its own. In order: the task and its rules, the scores, the instructions (``program``), what
people who reviewed the results said (their notes and rejections, from this run and earlier ones;
never a word about held-out cases), a firmer word when the last experiments kept failing, the
details of the last failures (which case failed which check and why, a crash's log tail, what a
violation touched), the history of every idea tried, and the editable files themselves.

The brief stays under ``brief.max_tokens`` (estimated at four characters a token) however long
the run: the newest experiments are listed with their reasons, older ones one line each, and the
oldest are folded into a count. Files are excerpted only when they alone would not fit.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from overnight.config import Config
from overnight.formatting import score_text
from overnight.policy import improvement
from overnight.records import Experiment, Review, Status, SuiteResult
from overnight.tally import Tally

CHARS_PER_TOKEN = 4
DETAILED_HISTORY = 10  # the newest experiments keep their reason in the history
FAILURE_DETAILS = 3  # the newest failed experiments shown in full
FAILURE_LOOKBACK = 1000  # how far back they are looked for
OUTPUT_EXCERPT = 400  # characters of a failing case's output
LOG_EXCERPT = 1200  # characters of a crash's log tail
RESERVE = 300  # characters kept for headings and the line that counts the oldest experiments
REVIEW_SHARE = 6  # the reviewers' section takes at most 1/REVIEW_SHARE of the budget
NOTE_EXCERPT = 300  # characters of one reviewer's note
FAILED = (
    Status.CRASH,
    Status.TIMEOUT,
    Status.VIOLATION,
    Status.NO_OP,
    Status.INTERRUPTED,
    Status.CHECK_FAILED,
)


@dataclass(frozen=True)
class BriefInputs:
    config: Config
    root: Path
    number: int
    editable_files: Sequence[str]
    history: Sequence[Experiment]  # oldest first, baseline included
    best_suite: SuiteResult | None = None  # the best state's matrix, for suites
    reviews: Sequence[ReviewNote] = field(default_factory=tuple)  # current verdicts, newest first
    in_flight: Sequence[Experiment] = ()  # other workers' experiments under way
    tally: Tally | None = None  # the history summed up, so a brief need not read all of it


@dataclass(frozen=True)
class ReviewNote:
    """A reviewer's current verdict on one item, with what the brief says about it."""

    review: Review
    description: str = ""  # the reviewed experiment's one line
    run_tag: str | None = None  # the run it belongs to, when not the run being briefed


def render_brief(inputs: BriefInputs) -> str:
    budget = inputs.config.brief.max_tokens * CHARS_PER_TOKEN
    head = [
        _task(inputs),
        _scores(inputs),
        _instructions(inputs),
        _reviews(inputs, budget // REVIEW_SHARE),
        _in_flight(inputs),
        _stall(inputs),
        _failures(inputs),
    ]
    text = "\n\n".join(part for part in head if part)
    files = _files(inputs, max(budget // 2, budget - len(text) - 2000))
    history = _history(inputs, budget - len(text) - len(files) - RESERVE)
    return "\n\n".join(part for part in (text, history, files) if part) + "\n"


def _task(inputs: BriefInputs) -> str:
    config = inputs.config
    metric = config.evaluate.metric
    goal = "lower" if config.evaluate.direction == "minimize" else "higher"
    limits = []
    if config.limits.max_changed_lines:
        limits.append(f"at most {config.limits.max_changed_lines} changed lines")
    if config.limits.max_files:
        limits.append(f"at most {config.limits.max_files} files")
    rules = f" Keep the change small: {' and '.join(limits)}." if limits else ""
    return (
        f"# Brief for {config.name}, experiment {inputs.number}\n\n"
        f"Make exactly ONE change that should make `{metric}` {goal}. Only these files may "
        f"change: {', '.join(inputs.editable_files)} (globs: {', '.join(config.editable)}); any "
        f"other change is rejected and reverted.{rules} Do not repeat an idea that was already "
        "tried (see the history). End your answer with one line:\n"
        "DESCRIPTION: <what you changed and why, in one line>"
    )


def _in_flight(inputs: BriefInputs) -> str:
    """What the other workers are trying right now, so that no two spend an experiment on the
    same idea."""
    if not inputs.in_flight:
        return ""
    lines = [
        f"- experiment {e.number}: {' '.join(e.description.split())[:200] or '(still deciding)'}"
        for e in inputs.in_flight
    ]
    return "## In flight now (other workers: do not duplicate these)\n\n" + "\n".join(lines)


def _advancing(inputs: BriefInputs) -> list[Experiment]:
    """The baseline and every keep, in the order they advanced."""
    if inputs.tally is not None:
        return inputs.tally.advancing
    return [e for e in inputs.history if e.status.advances]


def _scores(inputs: BriefInputs) -> str:
    advancing = _advancing(inputs)
    if not advancing:
        return ""
    best, baseline = advancing[-1], advancing[0]
    return (
        f"## Scores\n\nBest {inputs.config.evaluate.metric}: {_score(best)} "
        f"(experiment {best.number}); baseline: {_score(baseline)}."
    )


def _instructions(inputs: BriefInputs) -> str:
    program = inputs.config.program
    path = inputs.root / program if program else None
    if path is None or not path.is_file():
        return ""
    return f"## Instructions ({program})\n\n{path.read_text(encoding='utf-8').strip()}"


def _reviews(inputs: BriefInputs, budget: int) -> str:
    """Rejections first, then what reviewers disliked, then what they liked; newest first within
    each, and the rest counted when the share of the budget runs out."""
    order = {"reject": 0, "down": 1, "up": 2, "accept": 2}
    notes = sorted(
        (n for n in inputs.reviews if n.review.verdict != "accept" or n.review.note.strip()),
        key=lambda n: order.get(n.review.verdict, 3),
    )
    if not notes:
        return ""
    lines: list[str] = []
    used = 0
    for index, note in enumerate(notes):
        line = _review_line(note)
        if used + len(line) > budget and lines:
            lines.append(f"- … {len(notes) - index} more verdicts not shown")
            break
        lines.append(line)
        used += len(line) + 1
    return (
        "## What reviewers said\n\nPeople reviewed the results. Their verdicts count beside the "
        "score: address their notes, keep what they liked, and never bring back a change they "
        "rejected.\n\n" + "\n".join(lines)
    )


def _review_line(note: ReviewNote) -> str:
    review = note.review
    experiment = f"experiment {review.number}"
    if note.run_tag:
        experiment += f" of run {note.run_tag}"
    text = " ".join(review.note.split())
    if len(text) > NOTE_EXCERPT:
        text = text[:NOTE_EXCERPT] + "…"
    said = f": {text}" if text else ""
    if review.case_id is None:
        verb = "rejected" if review.verdict == "reject" else "accepted"
        description = " ".join(note.description.split()) or "(no description)"
        done = " (taken out of the branch)" if review.applied else ""
        return f'- reviewer {verb} {experiment} "{description[:200]}"{done}{said}'
    if review.verdict == "up":
        return f"- reviewer liked case {review.case_id} ({experiment}){said}"
    if text:
        return f"- reviewer on case {review.case_id} ({experiment}){said}"
    return f"- reviewer disliked case {review.case_id} ({experiment})"


def _stall(inputs: BriefInputs) -> str:
    streak = 0
    for experiment in reversed(inputs.history):
        if experiment.status not in FAILED:
            break
        streak += 1
    if streak < inputs.config.brief.stall_after:
        return ""
    kinds = Counter(str(e.status) for e in inputs.history[-streak:])
    what = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    return (
        f"## You are stuck\n\nThe last {streak} experiments all failed ({what}); their details "
        "are below. Do something clearly different: another file or part of a file, another "
        "idea, a smaller edit that certainly applies. Stay inside the editable files."
    )


def _failures(inputs: BriefInputs) -> str:
    parts = []
    recent = itertools.islice(reversed(inputs.history), FAILURE_LOOKBACK)
    failed = list(itertools.islice((e for e in recent if e.status in FAILED), FAILURE_DETAILS))
    for experiment in failed:
        reason = experiment.reason.strip() or "(no reason recorded)"
        if experiment.status in (Status.CRASH, Status.TIMEOUT, Status.CHECK_FAILED):
            reason = "log tail:\n```\n" + reason[-LOG_EXCERPT:] + "\n```"
        parts.append(
            f"### Experiment {experiment.number}: {experiment.status} — "
            f"{experiment.description or '(no description)'}\n{reason}"
        )
    if inputs.best_suite is not None:
        parts.append(_failing_checks(inputs.best_suite))
    parts = [part for part in parts if part]
    return "## Last failures\n\n" + "\n\n".join(parts) if parts else ""


def _failing_checks(suite: SuiteResult) -> str:
    failing = [c for c in suite.checks if not c.passed]
    if not failing:
        return ""
    outputs = {(o.case_id, o.repeat): o for o in suite.outputs}
    lines = [f"### Checks the best state still fails ({len(failing)} of {suite.total})"]
    shown: set[tuple[str, int]] = set()
    for check in failing:
        lines.append(f"- case {check.case_id}: {check.assertion} — {check.reason}")
        key = (check.case_id, check.repeat)
        output = outputs.get(key)
        if output is not None and output.output and key not in shown:
            shown.add(key)
            excerpt = output.output.strip()[:OUTPUT_EXCERPT]
            lines.append("  output:\n" + "\n".join(f"    {line}" for line in excerpt.splitlines()))
    return "\n".join(lines)


def _history(inputs: BriefInputs, budget: int) -> str:
    """The experiments newest first, as many as the budget holds, then the rest counted; read
    from the end of the history, so a long run costs no more than a short one."""
    direction = inputs.config.evaluate.direction
    # each experiment against the state it started from (with several workers, not always the
    # last keep numbered before it), found by its commit or else by its number
    advancing = sorted(_advancing(inputs), key=lambda e: e.number)
    states = {e.commit: e for e in advancing if e.commit}
    numbers = [e.number for e in advancing]
    lines: list[str] = []
    shown: list[Experiment] = []
    used = 0
    tried = (e for e in reversed(inputs.history) if e.status is not Status.BASELINE)
    for index, experiment in enumerate(tried):
        at = bisect.bisect_left(numbers, experiment.number)
        before = states.get(experiment.parent_commit) or (advancing[at - 1] if at else None)
        line = _history_line(experiment, before, direction, detailed=index < DETAILED_HISTORY)
        if used + len(line) > budget and lines:
            older = _older(inputs, shown)
            summary = ", ".join(f"{n} {status}" for status, n in older.most_common())
            lines.append(f"- … {older.total()} older experiments ({summary})")
            break
        lines.append(line)
        shown.append(experiment)
        used += len(line) + 1
    if not lines:
        return ""
    return "## Tried so far (newest first)\n\n" + "\n".join(lines)


def _older(inputs: BriefInputs, shown: Sequence[Experiment]) -> Counter[str]:
    """The statuses of the experiments too old to be listed one by one."""
    if inputs.tally is None:
        every = Counter(str(e.status) for e in inputs.history if e.status is not Status.BASELINE)
    else:
        statuses = inputs.tally.statuses.items()
        every = Counter({str(s): n for s, n in statuses if s is not Status.BASELINE})
    every.subtract(str(e.status) for e in shown)
    return +every  # without the statuses that are all listed


def _history_line(
    experiment: Experiment, before: Experiment | None, direction: str, detailed: bool
) -> str:
    delta = ""
    if experiment.metric is not None and before is not None and before.metric is not None:
        delta = f" ({improvement(experiment.metric, before.metric, direction):+.4g})"
    line = (
        f"- #{experiment.number} {experiment.status}{delta}: "
        f"{experiment.description or '(no description)'}"
    )
    if detailed and experiment.reason and experiment.status is not Status.KEEP:
        line += f" — {experiment.reason.strip().splitlines()[0][:200]}"
    return line


def _files(inputs: BriefInputs, budget: int) -> str:
    if not inputs.editable_files:
        return ""
    share = max(400, budget // len(inputs.editable_files))
    parts = ["## Editable files"]
    for path in inputs.editable_files:
        try:
            text = (inputs.root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            parts.append(f"### FILE: {path}\n(not shown: not a readable text file)")
            continue
        if len(text) > share:
            text = text[:share] + f"\n… ({len(text) - share} more characters not shown)\n"
        fence = "````" if "```" in text else "```"
        parts.append(f"### FILE: {path}\n{fence}\n{text.rstrip()}\n{fence}")
    return "\n\n".join(parts)


def _score(experiment: Experiment) -> str:
    return score_text(experiment.metric, experiment.secondary)
