"""End-to-end runs of the loop: the real digits example, every way out of scope, crashes,
timeouts, no-ops and stopping by signal. Each test checks what a user would look at in the
morning: the ledger's rows, the run branch and its commits, and a checkout left as it was."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

import overnight
from conftest import default_config, git
from overnight.errors import EvaluationError
from overnight.examples import create_from_example
from overnight.isolation.sandbox import bubblewrap
from overnight.records import Status
from stand_ins.support import (
    BIN,
    agent_command,
    command_agent,
    ledger_rows,
    porcelain,
    processes_naming,
    rev,
    run_rows,
    start_cli,
    wait_until,
)

TAG = "t"
BRANCH = f"overnight/{TAG}"


def run(root: Path, **options: object) -> overnight.RunSummary:
    return overnight.run(root, tag=TAG, **options)  # type: ignore[arg-type]


def log_path(root: Path, number: int, tag: str = TAG) -> Path:
    return root / ".overnight" / "logs" / tag / f"{number:04d}.log"


def commits_on(root: Path, base: str, branch: str = BRANCH) -> list[tuple[str, str]]:
    """(sha, subject) of each commit on ``branch`` after ``base``, oldest first."""
    out = git(root, "log", "--reverse", "--format=%H %s", f"{base}..{branch}")
    return [tuple(line.split(" ", 1)) for line in out.splitlines()]  # type: ignore[misc]


def checkout_state(root: Path) -> dict[str, Any]:
    """Everything of the user's checkout a run must leave alone: HEAD and its branch, the
    index, every file of the working tree, git's config, hooks and info, and every ref but the
    run branches (which the runs move)."""
    git_dir = root / ".git"

    def contents(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            path.relative_to(folder).as_posix(): (
                os.readlink(path) if path.is_symlink() else path.read_bytes()
            )
            for path in sorted(folder.rglob("*"))
            if (path.is_file() or path.is_symlink())
            and path.relative_to(folder).parts[0] not in skip
        }

    info = contents(git_dir / "info")
    if "exclude" in info:  # a run adds one line there: it hides .overnight/ from git
        info["exclude"] = info["exclude"].replace(b"/.overnight/\n", b"")
    refs = git(root, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    return {
        "HEAD": (git_dir / "HEAD").read_text(),
        "head": rev(root, "HEAD"),
        "index": (git_dir / "index").read_bytes(),
        "files": contents(root, skip=(".git", ".overnight")),
        "config": (git_dir / "config").read_bytes(),
        "hooks": contents(git_dir / "hooks"),
        "info": info,
        "refs": [r for r in refs if not r.startswith("refs/heads/overnight/")],
    }


def confined(mode: str) -> bool:
    """Whether evaluations of a run with ``sandbox.mode`` ``mode`` run in the sandbox here."""
    return mode != "off" and bubblewrap() is not None


# -- the digits example, for real ---------------------------------------------------------------


def test_digits_example_short_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITS_TIME_BUDGET", "0.3")
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    root = create_from_example("digits", tmp_path / "digits")
    base = rev(root, "HEAD")
    before = checkout_state(root)
    day_before = time.strftime("%Y-%m-%d")

    summary = overnight.run(root, experiments=5)

    tag = summary.run.tag
    assert tag in {day_before, time.strftime("%Y-%m-%d")}  # the default tag is the date
    branch = f"overnight/{tag}"
    assert summary.run.branch == branch
    assert summary.stop_reason == "experiment budget spent: 5 of 5"
    experiments = summary.experiments
    assert [e.number for e in experiments] == [0, 1, 2, 3, 4, 5]

    baseline = experiments[0]
    assert baseline.status is Status.BASELINE
    assert baseline.commit == base and baseline.metric is not None
    allowed = {
        Status.KEEP,
        Status.DISCARD,
        Status.CRASH,
        Status.TIMEOUT,
        Status.VIOLATION,
        Status.NO_OP,
        Status.CHECK_FAILED,  # a lower loss that costs accuracy (the example's constraint)
    }
    assert {e.status for e in experiments[1:]} <= allowed
    keeps = [e for e in experiments if e.status is Status.KEEP]
    assert keeps, "the search agent should find at least one improvement in five tries"

    # the ledger agrees with the summary and has nothing left running
    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [
        (e.number, str(e.status)) for e in experiments
    ]
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == summary.stop_reason and run_row["ended_at"] is not None

    # every experiment has its log, and every non-baseline its diff of train.py
    for e in experiments:
        assert Path(e.log_path or "") == log_path(root, e.number, tag).resolve()
        assert log_path(root, e.number, tag).is_file()
    for e in experiments[1:]:
        assert "train.py" in e.diff and e.changed_files == ["train.py"]
        assert e.description and e.description != "baseline"

    # the search agent reads no brief, so none was written
    assert not (root / ".overnight" / "worktrees" / tag / "agent" / "brief.md").exists()

    # the branch: each keep is one commit whose message is its description, in order, each on
    # top of the previous best; its tip is the best state
    assert commits_on(root, base, branch) == [(k.commit, k.description) for k in keeps]
    previous = base
    for k in keeps:
        assert git(root, "rev-parse", f"{k.commit}^") == previous
        assert git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", k.commit) == "train.py"
        assert k.parent_commit == previous
        previous = k.commit or ""
    assert rev(root, branch) == keeps[-1].commit
    assert summary.best == keeps[-1].metric and summary.best < baseline.metric  # minimize
    for e in experiments:
        if e.status is not Status.KEEP and e.number:
            assert e.commit is None

    # the checkout was never touched: still on main at the base, every file as it was; the
    # experiments' workspace is gone
    assert checkout_state(root) == before
    assert git(root, "branch", "--show-current") == "main" and rev(root, "main") == base
    assert porcelain(root) == "" and summary.checkout == ""
    assert not (root / ".overnight" / "worktrees" / tag / "tree").exists()

    # results.tsv in .overnight/, autoresearch-style
    lines = (root / ".overnight" / "results.tsv").read_text().splitlines()
    assert lines[0].split("\t")[:4] == ["commit", "val_loss", "status", "description"]
    assert [line.split("\t")[2] for line in lines[1:]] == [str(e.status) for e in experiments]
    assert lines[1].split("\t")[0] == base[:7]

    # the user switches to the best state; a second run on the same day gets a suffixed tag,
    # starts from there, and at the end, asked to, switches the clean checkout to its branch
    git(root, "switch", "-q", branch)
    again = overnight.run(root, experiments=1, checkout=True)
    assert again.run.tag == f"{tag}-2"
    assert again.run.base_commit == keeps[-1].commit
    assert again.checkout == f"Your checkout is now on overnight/{tag}-2."
    assert git(root, "branch", "--show-current") == f"overnight/{tag}-2"
    assert rev(root, "HEAD") == rev(root, f"overnight/{tag}-2") and porcelain(root) == ""
    assert rev(root, branch) == keeps[-1].commit  # the first run's branch is untouched
    assert [r["tag"] for r in run_rows(root)] == [tag, f"{tag}-2"]


# -- out of scope -------------------------------------------------------------------------------

GITIGNORE = "*.log\n"
MADE_GIT = "made .git in the workspace"

# The workspace holds no repository: an agent's git finds none (see the next test). These make
# one there first, as an agent told "not a git repository" might, so git can write .git/...
MAKE_A_REPOSITORY = 'if [ "$OVERNIGHT_EXPERIMENT" = 1 ]; then git init -q && git add -A; fi'

VIOLATIONS = {
    # mode: (words the reason must contain, text the recorded diff must contain or None)
    "frozen": (["changed frozen file score.py"], "+# the agent was here"),
    "config": (["changed frozen file overnight.yaml"], "+# looser rules"),
    "gitignore": (["changed frozen file .gitignore"], "+score.py"),
    "newfile": (["notes/new.txt", "outside the editable globs"], "+an agent's file"),
    "hook": ([MADE_GIT], None),  # writes .git/hooks/pre-commit where it stands
    "gitconfig": ([MADE_GIT], None),
    "symlink": (["value.txt", "symbolic link"], "value.txt"),
    "commit": ([MADE_GIT], "+2.0"),
}


@pytest.mark.parametrize("mode", list(VIOLATIONS))
def test_out_of_scope_change_is_a_violation_and_the_checkout_untouched(make_repo, mode) -> None:
    command = agent_command(f"{mode},improve")
    if mode in ("gitconfig", "commit"):
        command = f"{MAKE_A_REPOSITORY} && {command}"
    root = make_repo(
        {".gitignore": GITIGNORE},
        default_config(agent={"kind": "command", "command": command}, budget={"experiments": 2}),
    )
    base = rev(root, "HEAD")
    before = checkout_state(root)

    summary = run(root)

    violation, kept = summary.experiments[1], summary.experiments[2]
    words, diff = VIOLATIONS[mode]
    assert violation.status is Status.VIOLATION, violation.reason
    for word in words:
        assert word in violation.reason
    if diff is not None:
        assert diff in violation.diff
    assert violation.commit is None
    row = ledger_rows(root)[1]
    assert row["status"] == "violation" and row["diff"] == violation.diff

    # the next experiment started afresh from the same best state: it saw value.txt as it was
    # (1.0 -> 2.0), not the violation's leftovers (a .git among them)
    assert kept.status is Status.KEEP, kept.reason
    assert kept.parent_commit == base
    assert commits_on(root, base) == [(kept.commit, "set value to 2.0")]
    assert rev(root, BRANCH) == kept.commit
    assert git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", kept.commit) == "value.txt"
    assert git(root, "show", f"{BRANCH}:value.txt") == "2.0"

    # nothing reached the checkout: HEAD, branch, index, files, .git's config, hooks and refs
    assert checkout_state(root) == before
    assert porcelain(root) == ""


@pytest.mark.parametrize("sandbox", ["off", "auto"])
def test_git_run_by_an_agent_finds_no_repository(make_repo, sandbox: str) -> None:
    """Unconfined the checkout's .git lies above the workspace on disk; git must not find it."""
    root = make_repo(
        config=default_config(
            agent=command_agent("gitconfig,commit,improve"),
            budget={"experiments": 3},
            sandbox={"mode": sandbox},
        )
    )
    base = rev(root, "HEAD")
    before = checkout_state(root)

    summary = run(root)

    statuses = [e.status for e in summary.experiments]
    assert statuses == [Status.BASELINE, Status.NO_OP, Status.NO_OP, Status.KEEP]
    for e in summary.experiments[1:3]:
        assert "exited with code 1" in e.reason and "returned non-zero exit status" in e.reason
        log = (root / ".overnight" / "logs" / TAG / f"{e.number:04d}.agent.log").read_text()
        assert "fatal: not a git repository" in log or "fatal: not in a git directory" in log
    assert summary.experiments[3].parent_commit == base
    assert checkout_state(root) == before
    assert "fsmonitor" not in (root / ".git" / "config").read_text()


PREPARE = "DATA = [1, 2, 3]\n"

TAMPERING_SCORE = """\
from pathlib import Path
value = float(Path("value.txt").read_text())
if value > 1.0:  # the code under test rewrites a frozen file while it is being measured
    target = Path({target!r})
    target.write_text(target.read_text() + "# rewritten at run time\\n")
    Path("output.txt").write_text("a new file the evaluation wrote\\n")
print(f"score: {{value}}")
"""


@pytest.mark.parametrize("sandbox", ["off", "auto"])
@pytest.mark.parametrize("target", ["score.py", "prepare.py"])
def test_evaluation_rewriting_a_frozen_file_is_a_violation(
    make_repo, target: str, sandbox: str
) -> None:
    score = TAMPERING_SCORE.format(target=target)
    root = make_repo(
        {"score.py": score, "prepare.py": PREPARE},
        default_config(
            frozen=["score.py", "prepare.py"],
            agent=command_agent("improve,set=3.0"),
            budget={"experiments": 2},
            sandbox={"mode": sandbox},
        ),
    )
    base = rev(root, "HEAD")
    before = checkout_state(root)

    summary = run(root)

    tampering = summary.experiments[1:]
    if confined(sandbox):
        # the frozen file is bound read-only: the write fails, so the code under test crashes
        # and nothing it measured counts
        assert [e.status for e in tampering] == [Status.CRASH, Status.CRASH]
        for e in tampering:
            assert "Read-only file system" in e.reason and target in e.reason
            assert e.metric is None
    else:
        # unconfined the write succeeds: caught afterwards, measured but not to be trusted
        assert [e.status for e in tampering] == [Status.VIOLATION, Status.VIOLATION]
        for e, measured in zip(tampering, (2.0, 3.0), strict=True):
            assert "the evaluation changed guarded files at run time" in e.reason
            assert target in e.reason
            assert e.metric == measured
    # nothing was kept, and the checkout saw none of it (output.txt went with the workspace)
    assert all(e.commit is None for e in tampering)
    assert rev(root, BRANCH) == base
    assert checkout_state(root) == before
    assert not (root / "output.txt").exists() and porcelain(root) == ""


def test_users_untracked_file_survives_violation_discard_and_keep(make_repo) -> None:
    root = make_repo(
        config=default_config(
            agent=command_agent("user-file,worse,improve"), budget={"experiments": 3}
        )
    )
    notes = root / "notes.txt"
    notes.write_text("my own notes, never committed\n")
    base = rev(root, "HEAD")

    summary = run(root)

    assert [e.status for e in summary.experiments] == [
        Status.BASELINE,
        Status.VIOLATION,
        Status.DISCARD,
        Status.KEEP,
    ]
    assert "notes.txt" in summary.experiments[1].reason
    assert notes.read_text() == "my own notes, never committed\n"
    assert porcelain(root) == "?? notes.txt"
    for sha, _ in commits_on(root, base):
        changed = git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", sha)
        assert changed == "value.txt"


# -- crashes, timeouts, no-ops ------------------------------------------------------------------

CRASHY_SCORE = """\
import sys
from pathlib import Path
text = Path("value.txt").read_text().strip()
print("scoring", text)
if text == "silent":
    print("finished without a metric")
    sys.exit(0)
print(f"score: {float(text)}")
"""


def test_crash_and_missing_metric(make_repo) -> None:
    root = make_repo(
        {"score.py": CRASHY_SCORE},
        default_config(
            agent=command_agent("set=crash,set=silent,improve"), budget={"experiments": 3}
        ),
    )
    summary = run(root)

    crash, silent, kept = summary.experiments[1:]
    assert crash.status is Status.CRASH and crash.metric is None
    assert "exited with code 1" in crash.reason
    assert "ValueError" in crash.reason and "scoring crash" in crash.reason  # the log's tail
    log = log_path(root, 1)
    assert log.is_file() and "ValueError" in log.read_text()
    assert Path(crash.log_path or "") == log.resolve()

    assert silent.status is Status.CRASH and silent.metric is None
    assert "printed no score" in silent.reason and "finished without a metric" in silent.reason
    assert log_path(root, 2).is_file()

    # neither was kept: the third experiment started from 1.0, and only it reached the branch
    assert kept.status is Status.KEEP and kept.metric == 2.0
    assert git(root, "show", f"{BRANCH}:value.txt") == "2.0"
    assert (root / "value.txt").read_text() == "1.0\n" and porcelain(root) == ""


def test_baseline_crash_fails_the_run(make_repo) -> None:
    root = make_repo(
        {"value.txt": "crash\n", "score.py": CRASHY_SCORE},
        default_config(agent=command_agent("improve")),
    )
    base = rev(root, "HEAD")
    with pytest.raises(EvaluationError, match="baseline"):
        run(root)
    (row,) = ledger_rows(root)
    assert row["number"] == 0 and row["status"] == "crash"
    assert "ValueError" in row["reason"]
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == "baseline crash"
    assert rev(root, "HEAD") == base and porcelain(root) == ""


@pytest.mark.parametrize("sandbox", ["off", "auto"])
def test_timeout_kills_the_evaluations_grandchildren(make_repo, sandbox: str) -> None:
    marker = f"grandchild-{uuid.uuid4().hex}"
    score = f"""\
import subprocess, sys, time
from pathlib import Path
value = float(Path("value.txt").read_text())
if value > 1.0:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # {marker}"])
    print("started a grandchild", flush=True)
    time.sleep(60)
print(f"score: {{value}}")
"""
    config = default_config(
        agent=command_agent("improve"), budget={"experiments": 1}, sandbox={"mode": sandbox}
    )
    config["evaluate"]["timeout"] = 1.5
    root = make_repo({"score.py": score}, config)
    started = time.monotonic()

    summary = run(root)

    assert time.monotonic() - started < 20
    timed_out = summary.experiments[1]
    assert timed_out.status is Status.TIMEOUT and timed_out.metric is None
    assert "started a grandchild" in log_path(root, 1).read_text()
    wait_until(lambda: not processes_naming(marker), 5, "the evaluation's grandchild to die")
    assert (root / "value.txt").read_text() == "1.0\n"
    assert rev(root, BRANCH) == summary.run.base_commit and porcelain(root) == ""


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("nothing", ["the agent changed nothing"]),
        ("fail", ["exited with code 1", "the model refused"]),
        ("edit-fail", ["exited with code 1", "edited, then gave up"]),
    ],
)
def test_no_op(make_repo, mode: str, words: list[str]) -> None:
    root = make_repo(config=default_config(agent=command_agent(mode), budget={"experiments": 2}))
    summary = run(root)
    assert [e.status for e in summary.experiments] == [Status.BASELINE, Status.NO_OP, Status.NO_OP]
    for e in summary.experiments[1:]:
        for word in words:
            assert word in e.reason
        assert e.metric is None and e.commit is None
    assert (root / "value.txt").read_text() == "1.0\n"  # an edit before failing is reverted
    assert rev(root, BRANCH) == summary.run.base_commit and porcelain(root) == ""


# -- stopping by signal -------------------------------------------------------------------------

# The first experiment's evaluation (value 2.0) says so in its log and waits for the test to let
# it go: ``go`` in the control folder, which the sandbox shows read-only.
GATED_SCORE = """\
import time
from pathlib import Path
value = float(Path("value.txt").read_text())
if value > 1.0:
    print("waiting for the gate", flush=True)
    deadline = time.monotonic() + 30
    while not Path({go!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
print(f"score: {{value}}")
"""


@pytest.fixture
def gated_repo(make_repo, tmp_path: Path) -> tuple[Path, Path, str]:
    """(the repository, the control folder, a marker on the evaluation's command line)."""
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    marker = f"gated-{uuid.uuid4().hex}"
    config = default_config(
        agent=command_agent("improve"),
        budget={"experiments": 5},
        sandbox={"expose": [str(ctl)]},
    )
    config["evaluate"]["command"] = f"{sys.executable} score.py {marker}"
    root = make_repo({"score.py": GATED_SCORE.format(go=str(ctl / "go"))}, config)
    return root, ctl, marker


def waiting_at_the_gate(root: Path) -> bool:
    log = log_path(root, 1)
    return log.is_file() and "waiting for the gate" in log.read_text()


STOPPING = "stopping after this experiment"


def test_sigint_finishes_the_experiment_then_stops(gated_repo, tmp_path: Path) -> None:
    root, ctl, _ = gated_repo
    base = rev(root, "HEAD")
    before = checkout_state(root)
    out = tmp_path / "out.txt"
    proc = start_cli(["run", str(root), "--tag", TAG], out)
    try:
        wait_until(lambda: waiting_at_the_gate(root), 30, "the first experiment's evaluation")
        proc.send_signal(signal.SIGINT)
        wait_until(lambda: STOPPING in out.read_text(), 20, "the stop message")
        (ctl / "go").write_text("")
        assert proc.wait(timeout=30) == 0, out.read_text()
    finally:
        proc.kill()
    text = out.read_text()
    assert "Traceback" not in text and "stopped by SIGINT" in text

    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [(0, "baseline"), (1, "keep")]
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == "stopped by SIGINT"
    assert rev(root, BRANCH) == rows[1]["commit_sha"] != base
    assert git(root, "show", f"{BRANCH}:value.txt") == "2.0"
    assert checkout_state(root) == before and porcelain(root) == ""
    assert not log_path(root, 2).exists()  # no further experiment started


@pytest.mark.parametrize(
    "signals", [[signal.SIGTERM], [signal.SIGINT, signal.SIGINT]], ids=["sigterm", "second-sigint"]
)
def test_sigterm_abandons_the_experiment_at_once(
    gated_repo, tmp_path: Path, signals: list[int]
) -> None:
    root, _, marker = gated_repo
    base = rev(root, "HEAD")
    before = checkout_state(root)
    out = tmp_path / "out.txt"
    proc = start_cli(["run", str(root), "--tag", TAG], out)
    try:
        wait_until(lambda: waiting_at_the_gate(root), 30, "the first experiment's evaluation")
        assert processes_naming(marker)
        for number, signum in enumerate(signals):
            if number:
                wait_until(lambda: STOPPING in out.read_text(), 20, "the stop message")
            proc.send_signal(signum)
        started = time.monotonic()
        assert proc.wait(timeout=20) == 0, out.read_text()  # well before the gate's 30 s
        assert time.monotonic() - started < 15
    finally:
        proc.kill()
    name = signal.Signals(signals[-1]).name
    text = out.read_text()
    assert "Traceback" not in text

    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [(0, "baseline"), (1, "interrupted")]
    assert rows[1]["reason"] == f"stopped by {name}"
    assert json.loads(rows[1]["changed_files"]) == ["value.txt"]
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == f"stopped by {name}"
    wait_until(lambda: not processes_naming(marker), 5, "the evaluation to be killed")
    assert rev(root, BRANCH) == base
    assert checkout_state(root) == before and porcelain(root) == ""


def test_an_agent_that_keeps_failing_stops_the_run(make_repo) -> None:
    """Five agent failures in a row end the run with the last one's reason, rather than a night
    of no-ops; an agent that merely changes nothing does not count."""
    root = make_repo(config=default_config(agent=command_agent("fail"), budget={"experiments": 20}))
    summary = run(root)
    assert [e.status for e in summary.experiments[1:]] == [Status.NO_OP] * 5
    assert summary.stop_reason.startswith("the agent failed 5 times in a row; the last: ")
    assert "the model refused" in summary.stop_reason

    idle = make_repo(
        config=default_config(agent=command_agent("nothing"), budget={"experiments": 7})
    )
    assert run(idle).stop_reason == "experiment budget spent: 7 of 7"


def test_a_resumed_run_gives_a_failing_agent_a_fresh_start(make_repo) -> None:
    """Whoever resumes has had the chance to fix what made the agent fail: the old failures
    in a row do not stop the resumed run at once."""
    root = make_repo(config=default_config(agent=command_agent("fail"), budget={"experiments": 20}))
    run(root)
    config = yaml.safe_load((root / "overnight.yaml").read_text())
    config["agent"] = command_agent("improve")
    config["budget"] = {"experiments": 7}
    (root / "overnight.yaml").write_text(yaml.safe_dump(config))
    git(root, "commit", "-qam", "fixed the agent")

    summary = run(root, resume=True)

    assert [e.status for e in summary.experiments[6:]] == [Status.KEEP] * 2
    assert summary.stop_reason == "experiment budget spent: 7 of 7"


def test_an_agent_whose_key_is_refused_stops_the_run_at_once(make_repo) -> None:
    """A refused key will not fix itself: one experiment records it, and the run stops with
    one line saying so instead of trying again and again."""
    root = make_repo(config=default_config(agent=command_agent("auth"), budget={"experiments": 20}))
    summary = run(root)
    assert [e.status for e in summary.experiments[1:]] == [Status.NO_OP]
    assert summary.stop_reason.startswith("the agent cannot work: agent command exited with")
    assert "401 Unauthorized" in summary.stop_reason
