"""Human review on real runs: verdicts checked and stored in the ledger, told to the next run's
agents (never a word about held-out cases), listed and recorded from the command line, and
rejected keeps taken out of the run branch by ``overnight review --apply``.

The project is a suite over one two-line file, ``post.txt``: every output is the case's word
followed by the file, and three checks look for GOOD, BRIGHT and VERY in it. A scripted agent
writes the lines its plan gives for each experiment and copies every brief it reads to a file."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import overnight
from conftest import git
from overnight import api
from overnight.brief import BriefInputs, ReviewNote, render_brief
from overnight.cli import cli
from overnight.config import CONFIG_NAME, Config
from overnight.errors import UsageError
from overnight.ledger import Ledger
from overnight.project import Project
from overnight.records import Experiment, Review, Score, Status
from overnight.review import ENTANGLED, REVERTED, current_reviews
from stand_ins.support import porcelain, rev, run_cli

SECRET = "zebra-secret-42"

GENERATOR = """\
from pathlib import Path

def answer(word):
    return word + " " + " ".join(Path("post.txt").read_text().split())
"""

# Experiment N writes the lines of step N of plan.json over post.txt's lines, and copies the
# brief it was given to the file named on its command line.
AGENT = """\
import json, os, sys
from pathlib import Path
number = int(os.environ["OVERNIGHT_EXPERIMENT"])
with open(sys.argv[1], "a") as briefs:
    briefs.write(Path(os.environ["OVERNIGHT_BRIEF"]).read_text() + "\\n=====\\n")
step = json.loads(Path("plan.json").read_text())[number - 1]
lines = Path("post.txt").read_text().splitlines()
for index, text in step["lines"].items():
    lines[int(index)] = text
Path("post.txt").write_text("\\n".join(lines) + "\\n")
print(step["description"])
"""

# 1 keep (3/9), 2 discard, 3 keep (6/9), 4 keep (9/9): #1 and #4 edit the first line, #3 the
# second; 5 is for a resumed run.
PLAN = [
    ("style GOOD", {0: "style: GOOD"}),
    ("style bad", {0: "style: bad"}),
    ("tone BRIGHT", {1: "tone: BRIGHT"}),
    ("style VERY GOOD", {0: "style: VERY GOOD"}),
    ("tone BRIGHT and SHINY", {1: "tone: BRIGHT SHINY"}),
]


def project(tmp_path: Path, name: str = "project") -> tuple[Path, Path]:
    """A committed repository and the file its agent copies each brief to."""
    root = tmp_path / name
    root.mkdir()
    briefs = tmp_path / f"{name}-briefs.txt"
    steps = [{"description": d, "lines": lines} for d, lines in PLAN]
    (root / "post.txt").write_text("style: plain\ntone: flat\n")
    (root / "gen.py").write_text(GENERATOR)
    (root / "agent.py").write_text(AGENT)
    (root / "plan.json").write_text(json.dumps(steps))
    visible = [{"id": f"v{i}", "vars": {"word": f"v{i}"}} for i in (1, 2, 3)]
    held = [{"id": "held-1", "vars": {"word": SECRET}, "holdout": True}]
    config = {
        "name": "review",
        "editable": ["post.txt"],
        "frozen": ["gen.py", "agent.py", "plan.json"],
        "evaluate": {
            "kind": "suite",
            "generate": {"kind": "python", "function": "gen.py:answer"},
            "cases": visible + held,
            "assert": [
                {"type": "contains", "value": "GOOD"},
                {"type": "contains", "value": "BRIGHT"},
                {"type": "contains", "value": "VERY"},
            ],
        },
        "agent": {"kind": "command", "command": f"{sys.executable} agent.py {briefs}"},
        "budget": {"experiments": 4},
    }
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root, briefs


@pytest.fixture(scope="module")
def first_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The project after run ``t``: baseline, keep, discard, keep, keep."""
    root, briefs = project(tmp_path_factory.mktemp("night"))
    summary = overnight.run(root, tag="t")
    assert [e.status for e in summary.experiments] == [
        Status.BASELINE,
        Status.KEEP,
        Status.DISCARD,
        Status.KEEP,
        Status.KEEP,
    ]
    assert [e.metric for e in summary.experiments] == [0.0, 3.0, 0.0, 6.0, 9.0]
    return root, briefs


@pytest.fixture
def night(first_night: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of that project of the test's own (git, ledger and all)."""
    root, briefs = first_night
    copy = tmp_path / "project"
    shutil.copytree(root, copy, symlinks=True)
    return copy, briefs


def stored(root: Path) -> list[Review]:
    ledger = Project.open(root).ledger()
    try:
        return ledger.reviews()
    finally:
        ledger.close()


def post(root: Path) -> list[str]:
    return (root / "post.txt").read_text().splitlines()


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


# -- recording ---------------------------------------------------------------------------------


def test_verdicts_are_checked_then_stored_and_a_later_one_supersedes(night) -> None:
    root, _ = night
    run_id = overnight.history(root)[0].id

    down = api.review(root, "down", case="v2", note="  too salesy ")  # the best state's output
    assert down == Review(run_id, 4, "down", "too salesy", "v2", down.at)
    assert down.at > 0 and not down.applied

    refusals = {
        "held out": dict(verdict="down", case="held-1", experiment=4),
        "no output for case 'nope'": dict(verdict="up", case="nope"),
        r"is not a keep \(status discard\)": dict(verdict="accept", experiment=2),
        r"is the baseline \(status baseline\)": dict(verdict="reject", experiment=0),
        "has no experiment 9": dict(verdict="reject", experiment=9),
        "unknown verdict 'meh'": dict(verdict="meh", experiment=1),
        "judges one output": dict(verdict="up", experiment=1),
        "as a whole": dict(verdict="accept", experiment=1, case="v1"),
        "name the kept experiment": dict(verdict="accept"),
        "name its case": dict(verdict="down"),
        "unknown verdict 'so-so'": dict(verdict="so-so"),
    }
    for message, options in refusals.items():
        verdict = options.pop("verdict")
        with pytest.raises(UsageError, match=message) as error:
            api.review(root, verdict, **options)
        assert "\n" not in str(error.value)
    with pytest.raises(UsageError, match="no run 'nope'"):
        api.review(root, "accept", experiment=1, run="nope")

    api.review(root, "reject", experiment=1, note="too pushy")
    api.review(root, "accept", experiment=1)
    api.review(root, "up", case="v2", experiment=4)

    reviews = stored(root)
    assert [(r.number, r.case_id, r.verdict) for r in reviews] == [
        (4, "v2", "down"),
        (1, None, "reject"),
        (1, None, "accept"),
        (4, "v2", "up"),
    ]
    current = current_reviews(reviews)
    assert {key: r.verdict for key, r in current.items()} == {
        (run_id, 4, "v2"): "up",
        (run_id, 1, None): "accept",
    }
    pending = api.review_pending(root)
    assert [e.number for e in pending.keeps] == [3, 4]
    assert [o.case_id for o in pending.outputs] == ["v1", "v3"]  # never the held-out case
    assert pending.best is not None and pending.best.number == 4
    assert pending.to_apply == []


def test_an_old_ledger_gains_the_reviews_table(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE reviews")
    db.commit()
    db.close()

    ledger = Ledger(path)
    try:
        first = ledger.add_review(Review(1, 2, "down", "meh", "c1"))
        ledger.add_review(Review(2, 1, "reject", at=first.at + 1))
        assert first.at > 0
        assert [r.run_id for r in ledger.reviews()] == [1, 2]
        assert ledger.reviews(2) == [Review(2, 1, "reject", at=first.at + 1)]
    finally:
        ledger.close()


# -- the brief ---------------------------------------------------------------------------------


def test_the_next_run_is_told_the_notes_and_rejections_and_nothing_held_out(night) -> None:
    root, briefs = night
    api.review(root, "down", case="v2", note="too salesy")
    api.review(root, "up", case="v1", note="warm and short")
    api.review(root, "accept", experiment=1)  # no note: nothing to tell
    api.review(root, "up", case="v3", experiment=3, note="first idea")
    api.review(root, "down", case="v3", experiment=3, note="second thoughts")  # supersedes
    api.review(root, "reject", experiment=3, note="BRIGHT is shouting")
    ledger = Project.open(root).ledger()
    try:  # a verdict on a held-out case, slipped past the checks, must still never show
        ledger.add_review(Review(1, 4, "down", f"about {SECRET}", "held-1"))
    finally:
        ledger.close()
    briefs.write_text("")

    overnight.run(root, tag="tue", experiments=1)

    brief = briefs.read_text()
    assert brief.count("=====") == 1
    assert "## What reviewers said" in brief
    assert "- reviewer on case v2 (experiment 4 of run t): too salesy" in brief
    assert "- reviewer liked case v1 (experiment 4 of run t): warm and short" in brief
    assert "- reviewer on case v3 (experiment 3 of run t): second thoughts" in brief
    assert '- reviewer rejected experiment 3 of run t "tone BRIGHT": BRIGHT is shouting' in brief
    assert "first idea" not in brief and "accepted" not in brief
    assert brief.index("rejected experiment 3") < brief.index("too salesy")
    assert brief.index("too salesy") < brief.index("warm and short")
    for leak in (SECRET, "held-1"):
        assert leak not in brief


def review_brief(tmp_path: Path, notes: list[ReviewNote], max_tokens: int = 4000) -> str:
    (tmp_path / "post.txt").write_text("style: plain\n")
    config = Config.model_validate(
        {
            "name": "t",
            "editable": ["post.txt"],
            "evaluate": {"command": "true", "metric": "score"},
            "brief": {"max_tokens": max_tokens},
        }
    )
    history = [Experiment(1, 0, "p", Status.BASELINE, metric=1.0)]
    inputs = BriefInputs(config, tmp_path, 1, ["post.txt"], history, reviews=notes)
    return render_brief(inputs)


def test_the_reviews_section_keeps_to_its_share_of_the_budget(tmp_path: Path) -> None:
    notes = [
        ReviewNote(Review(1, n, "down", f"note {n} " + "x" * 200, f"c{n}", at=float(n)))
        for n in range(40, 0, -1)
    ]
    notes.append(ReviewNote(Review(1, 7, "reject", "no\nlists", applied=True), "add a list"))

    text = review_brief(tmp_path, notes, max_tokens=2000)

    section = text.split("## What reviewers said")[1].split("\n## ")[0]
    assert len(section) < 2000 * 4 // 6 + 400
    assert '- reviewer rejected experiment 7 "add a list" (taken out of the branch): no lists' in (
        section
    )
    assert "- reviewer on case c40 (experiment 40): note 40" in section
    assert "more verdicts not shown" in section
    assert "## What reviewers said" not in review_brief(tmp_path, [])


# -- the command line --------------------------------------------------------------------------


def test_cli_lists_what_waits_and_records_verdicts(night) -> None:
    root, _ = night

    listed = invoke("review", str(root))

    assert listed.exit_code == 0, listed.output
    out = listed.output
    assert "Run t (overnight/t): 6 items wait for review" in out
    assert "overnight review --keep N --accept|--reject" in out
    assert "1. #1 style GOOD (score 3/9)" in out and "3. #4 style VERY GOOD" in out
    assert "Outputs of experiment 4, the best state" in out
    assert "4. case v1 (3/3 checks pass)" in out and "v1 style: VERY GOOD tone: BRIGHT" in out
    assert "6. case v3" in out
    assert "held-1" not in out and SECRET not in out

    rejected = invoke("review", str(root), "--keep", "3", "--reject", "--note", "too loud")
    assert rejected.exit_code == 0, rejected.output
    assert "Recorded: experiment 3 rejected: too loud" in rejected.output
    assert "overnight review --apply" in rejected.output
    down = invoke("review", str(root), "--run", "t", "--case", "v1", "--down", "--note", "stiff")
    assert "Recorded: thumbs down on case v1 of experiment 4: stiff" in down.output
    up = invoke("review", str(root), "--case", "v2", "--up", "--experiment", "3")
    assert "Recorded: thumbs up on case v2 of experiment 3" in up.output

    listed = invoke("review", str(root)).output
    assert "4 items wait for review" in listed and "#3 tone BRIGHT" not in listed
    assert "Verdicts standing: 0 accepted, 1 rejected, 1 thumbs up, 1 thumbs down." in listed
    assert "Rejected but still in overnight/t: 1; `overnight review --apply`" in listed
    assert [(r.number, r.verdict, r.note) for r in stored(root)] == [
        (3, "reject", "too loud"),
        (4, "down", "stiff"),
        (3, "up", ""),
    ]

    # a number names the listing's item: now 1. #1, 2. #4, 3. case v2, 4. case v3
    by_number = invoke("review", str(root), "--case", "4", "--up")
    assert "Recorded: thumbs up on case v3 of experiment 4" in by_number.output
    keep = invoke("review", str(root), "--case", "1", "--up")
    assert isinstance(keep.exception, UsageError)
    assert "item 1 is kept experiment #1: judge it with --keep 1" in str(keep.exception)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--keep", "2", "--accept"], ["experiment 2 is not a keep (status discard)"]),
        (["--case", "held-1", "--down"], ["held out"]),
        (["--case", "v1", "--accept"], ["--case v1 needs --up or --down", "--keep N"]),
        (["--keep", "1", "--up", "--down"], ["give one verdict"]),
        (["--up"], ["--up needs --case ID"]),
        (["--dry-run"], ["--dry-run goes with --apply"]),
        (["--apply", "--keep", "1", "--reject"], ["--apply"]),
        (["--note", "hm"], ["go with a verdict"]),
    ],
)
def test_cli_refuses_bad_usage_in_one_line(night, args, words) -> None:
    root, _ = night

    result = invoke("review", str(root), *args)

    assert isinstance(result.exception, UsageError), result.output
    message = str(result.exception)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_the_installed_command_exits_2_without_a_traceback(night) -> None:
    root, _ = night

    result = run_cli("review", str(root), "--keep", "2", "--reject")

    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not a keep" in lines[0]


# -- --apply -----------------------------------------------------------------------------------


def test_apply_reverts_a_rejected_keep_and_keeps_the_later_one(night) -> None:
    root, _ = night
    tip = rev(root, "overnight/t")
    (root / "notes.txt").write_text("the user's own, untracked\n")
    api.review(root, "reject", experiment=3, note="BRIGHT is shouting")

    dry = api.review_apply(root, dry_run=True)

    assert [(r.number, r.outcome, r.commit) for r in dry.rows] == [(3, REVERTED, None)]
    assert (dry.baseline, dry.before, dry.after) == (0.0, 9.0, 6.0)
    assert rev(root, "overnight/t") == tip and porcelain(root) == "?? notes.txt"
    assert not stored(root)[0].applied

    result = api.review_apply(root)

    assert [(r.number, r.outcome) for r in result.rows] == [(3, REVERTED)]
    assert (result.baseline, result.before, result.after) == (0.0, 9.0, 6.0)
    assert git(root, "rev-parse", "overnight/t~1") == tip
    assert rev(root, "overnight/t") == result.rows[0].commit
    subject = git(root, "log", "-1", "--format=%s", "overnight/t")
    assert subject == "review: revert experiment 3 (tone BRIGHT)"
    assert post(root) == ["style: VERY GOOD", "tone: flat"]  # #4's line stays
    assert porcelain(root) == "?? notes.txt"
    assert stored(root)[-1].applied
    ledger = Project.open(root).ledger()
    try:
        (revert,) = ledger.reverts(overnight.history(root)[0].id)
    finally:
        ledger.close()
    assert (revert.number, revert.commit, revert.metric) == (3, rev(root, "HEAD"), 6.0)

    assert api.review_apply(root).rows == []  # nothing waits any more
    with pytest.raises(UsageError, match="taken out of overnight/t already"):
        api.review(root, "accept", experiment=3)
    messages: list[str] = []
    pruned = overnight.prune(root, dry_run=True, progress=messages.append)
    assert [row.number for row in pruned.rows] == [1, 4]
    assert "skipping #3: taken out on review" in messages

    # --apply left the checkout on the run branch, which a resume moves: it asks to switch away.
    with pytest.raises(UsageError, match="your checkout is on overnight/t"):
        overnight.run(root, tag="t", resume=True, experiments=5)
    git(root, "switch", "-q", "main")

    # Resumed, the run builds on the reverted tip, and a candidate is compared with what that
    # tip measured (6), not with the best before the review (9).
    summary = overnight.run(root, tag="t", resume=True, experiments=5)

    fifth = summary.experiments[-1]
    assert (fifth.number, fifth.parent_commit, fifth.status) == (5, revert.commit, Status.KEEP)
    assert git(root, "rev-parse", "overnight/t~1") == revert.commit
    shown = git(root, "show", "overnight/t:post.txt").splitlines()
    assert shown == ["style: VERY GOOD", "tone: BRIGHT SHINY"]
    assert post(root) == ["style: plain", "tone: flat"]  # the checkout stayed on main
    assert porcelain(root) == "?? notes.txt"


def test_an_entangled_rejection_is_reported_and_left(night) -> None:
    root, _ = night
    tip = rev(root, "overnight/t")
    api.review(root, "reject", experiment=1, note="GOOD is bland")
    api.review(root, "reject", experiment=3)

    result = invoke("review", str(root), "--apply")

    assert result.exit_code == 0, result.output
    out = result.output
    assert "#1 entangled: later keep #4 edited the same lines in post.txt; left" in out
    assert "#3 reverted: review: revert experiment 3 (tone BRIGHT)" in out
    assert "score: baseline 0 -> best 9 -> after review 6" in out
    assert "Branch overnight/t is at the reviewed state" in out
    assert git(root, "rev-parse", "overnight/t~1") == tip
    assert post(root) == ["style: VERY GOOD", "tone: flat"]
    assert porcelain(root) == ""
    assert [(r.number, r.applied) for r in stored(root)] == [(1, False), (3, True)]
    assert [r.number for r in api.review_pending(root).to_apply] == [1]

    again = api.review_apply(root)  # still entangled: reported again, still left
    assert [(r.number, r.outcome) for r in again.rows] == [(1, ENTANGLED)]
    reverted_tip = rev(root, "overnight/t")
    assert again.after is None and rev(root, "HEAD") == reverted_tip

    # The next night starts from the reverted tip.
    summary = overnight.run(root, tag="wed", experiments=1)
    assert summary.run.base_commit == reverted_tip


def test_a_tip_that_fails_its_evaluation_puts_everything_back(night, monkeypatch) -> None:
    root, _ = night
    tip = rev(root, "overnight/t")
    api.review(root, "reject", experiment=3)
    original = Project.evaluator

    def failing(self, use_cache: bool = True):
        evaluator = original(self, use_cache)
        evaluator.evaluate = lambda root, log, seed=0: Score(  # type: ignore[method-assign]
            None, Status.CRASH, log_path=str(log)
        )
        return evaluator

    monkeypatch.setattr(Project, "evaluator", failing)

    result = api.review_apply(root)

    assert result.failure is not None and "fails its evaluation" in result.failure
    assert result.rows[0].detail.startswith("not applied") and result.rows[0].commit is None
    assert rev(root, "overnight/t") == tip
    assert porcelain(root) == ""
    assert post(root) == ["style: VERY GOOD", "tone: BRIGHT"]
    assert not stored(root)[0].applied


def test_apply_refuses_while_a_run_is_active_or_files_are_uncommitted(night) -> None:
    root, _ = night
    api.review(root, "reject", experiment=3)
    tip = rev(root, "overnight/t")
    lock = Project.open(root).lock()
    lock.acquire()
    try:
        with pytest.raises(UsageError, match="another overnight run is active"):
            api.review_apply(root)
    finally:
        lock.release()
    (root / "post.txt").write_text("style: mine\ntone: mine\n")

    with pytest.raises(UsageError, match=r"uncommitted changes .*post\.txt"):
        api.review_apply(root)

    assert rev(root, "overnight/t") == tip
    assert post(root) == ["style: mine", "tone: mine"]
    assert not stored(root)[0].applied
