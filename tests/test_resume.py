"""kill -9 at known moments, then ``overnight run --resume``: the half-done experiment is recorded
``interrupted``, its workspace is made afresh, numbering continues, the branch tip equals the
ledger's best and the run completes its budget, while the user's checkout (HEAD, branch, index,
files) stays exactly as it was throughout. A resume refuses a ledger with rows the harness did not
write, and a checkout that has the run branch checked out.

The stand-in agent hangs on request (a flag file in a control directory) and the evaluation when
``HANG_AT`` names the value it measures, each saying so first (the agent in the control directory,
the evaluation in its log), so the harness is killed at a deterministic point."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

import overnight
from conftest import default_config, git
from overnight.isolation.sandbox import bubblewrap
from overnight.ledger import Ledger
from overnight.records import Status
from stand_ins.support import (
    command_agent,
    ledger_rows,
    porcelain,
    rev,
    run_cli,
    run_rows,
    start_cli,
    wait_for_file,
    wait_until,
)

TAG = "t"
BRANCH = f"overnight/{TAG}"
WORKSPACE = Path(".overnight", "worktrees", TAG, "tree")
LOGS = Path(".overnight", "logs", TAG)

# Hangs when HANG_AT (passed through to the evaluation) is the value it measures, after a line in
# its log: the agent raises the value by one per experiment (1 is the baseline, 3 the second
# experiment's candidate). The harness writes the log, so the line shows inside the sandbox too.
HANGING_SCORE = """\
import os, time
from pathlib import Path
value = float(Path("value.txt").read_text())
if os.environ.get("HANG_AT") == f"{value:g}":
    print("hanging", flush=True)
    time.sleep(60)
print(f"score: {value}")
"""

# moment: (the number of the half-done experiment, HANG_AT for the first run)
MOMENTS = {"agent": (2, None), "evaluation": (2, "3"), "baseline": (0, "1")}

# how experiments run: unconfined (what is left running must be ended by the resume), or in
# bubblewrap (everything in the sandbox dies with the harness)
ISOLATION = [
    "off",
    pytest.param(
        "required",
        marks=pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not usable here"),
    ),
]


@pytest.fixture
def ctl(tmp_path: Path) -> Path:
    path = tmp_path / "ctl"
    path.mkdir()
    return path


def make_counting_repo(make_repo, ctl: Path, experiments: int = 4, sandbox: str = "auto") -> Path:
    config = default_config(
        agent=command_agent("improve", ctl),
        budget={"experiments": experiments},
        sandbox={"mode": sandbox},
    )
    config["evaluate"]["env_passthrough"] = ["HANG_AT"]
    return make_repo({"score.py": HANGING_SCORE}, config)


def checkout(root: Path) -> dict[str, object]:
    """What a run must never touch: HEAD, the branch checked out, the index and every file
    outside ``.git`` and ``.overnight`` (read before any ``git status`` could refresh the index)."""
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).parts[0] not in (".git", ".overnight")
    }
    return {
        "head": rev(root, "HEAD"),
        "branch": git(root, "symbolic-ref", "-q", "HEAD"),
        "index": (root / ".git" / "index").read_bytes(),
        "files": files,
    }


def check_completed(root: Path, interrupted: int | None, before: dict[str, object]) -> None:
    """After the resumed run: numbers 0..4, the interrupted one recorded as such, every other one
    kept (1.0 -> 2.0 -> 3.0 ...), the run branch agreeing with the ledger, the workspace gone and
    the checkout as it was before the first run."""
    assert checkout(root) == before
    base = git(root, "rev-list", "--max-parents=0", BRANCH)
    assert before["head"] == base
    rows = ledger_rows(root)
    assert [r["number"] for r in rows] == [0, 1, 2, 3, 4]
    expected = ["baseline"] + ["keep"] * 4
    if interrupted:
        expected[interrupted] = "interrupted"
    assert [r["status"] for r in rows] == expected
    keeps = [r for r in rows if r["status"] == "keep"]
    # if the interrupted change had survived in the workspace, the value would have gone one
    # step further
    values = [float(n) for n in range(2, len(keeps) + 2)]
    assert [r["metric"] for r in keeps] == values
    assert git(root, "show", f"{BRANCH}:value.txt") == f"{values[-1]}"
    assert rev(root, BRANCH) == keeps[-1]["commit_sha"]
    log = git(root, "log", "--reverse", "--format=%H %s", f"{base}..{BRANCH}").splitlines()
    assert log == [f"{r['commit_sha']} {r['description']}" for r in keeps]
    parents = [base] + [r["commit_sha"] for r in keeps[:-1]]
    assert [r["parent_commit"] for r in keeps] == parents
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == "experiment budget spent: 4 of 4"
    assert run_row["ended_at"] is not None
    assert not (root / WORKSPACE).exists()  # made again by the resume, removed at its end
    assert porcelain(root) == ""


@pytest.mark.parametrize("isolation", ISOLATION)
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_then_resume(
    make_repo, ctl: Path, tmp_path: Path, moment: str, isolation: str
) -> None:
    number, hang_at = MOMENTS[moment]
    root = make_counting_repo(make_repo, ctl, sandbox=isolation)
    before = checkout(root)
    if moment == "agent":
        (ctl / f"hang-agent-{number}").write_text("")
    env = {"HANG_AT": hang_at} if hang_at else {}
    proc = start_cli(["run", str(root), "--tag", TAG], tmp_path / "first.txt", **env)
    groups: list[int] = []
    try:
        _wait_until_hanging(root, ctl, moment, number)
        groups = _running_groups(root)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        _check_killed_mid_experiment(root, moment, number, before)
        if isolation == "off":
            # the agent or evaluation outlived the harness...
            assert all(_group_alive(g) for g in groups)
        else:  # the sandbox dies with the harness
            wait_until(lambda: not any(_group_alive(g) for g in groups), what="the sandbox")

        resumed = run_cli("run", str(root), "--resume")

        assert not any(_group_alive(g) for g in groups)  # ...until the resume ended it
    finally:
        proc.kill()
        for group in filter(_group_alive, groups):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Traceback" not in resumed.stdout + resumed.stderr
    left_running = "left running by the interrupted run" in resumed.stdout
    assert left_running == (isolation == "off")

    check_completed(root, number or None, before)
    if number:
        rows = ledger_rows(root)
        assert "its workspace was discarded" in rows[number]["reason"]
        assert rows[number]["parent_commit"] == rows[number - 1]["commit_sha"]
        # killed while measuring, the agent had already said what it changed: it is kept
        assert bool(rows[number]["description"]) == (moment == "evaluation"), rows[number]
    calls = (ctl / "agent-calls").read_text().split()
    assert calls == ["1", "2", "3", "4"]  # each experiment's agent ran once, numbering continued


def _wait_until_hanging(root: Path, ctl: Path, moment: str, number: int) -> None:
    if moment == "agent":
        wait_for_file(ctl / f"agent-{number}-hanging")
        return
    log = root / LOGS / f"{number:04d}.log"
    wait_until(lambda: log.is_file() and "hanging" in log.read_text(), what=f"{log}")


def _running_groups(root: Path) -> list[int]:
    """The process groups the harness runs now, from the ``.pgid`` files beside their logs."""
    files = wait_until(lambda: list((root / LOGS).rglob("*.pgid")), what="a .pgid file")
    return [int(path.read_text()) for path in files]


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (a zombie counts as dead)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


def _check_killed_mid_experiment(
    root: Path, moment: str, number: int, before: dict[str, object]
) -> None:
    rows = ledger_rows(root)
    assert rows[-1]["number"] == number and rows[-1]["status"] == "running"
    assert [r["status"] for r in rows[:-1]] == ["baseline", "keep"][:number]
    assert checkout(root) == before  # the half-done change is in the workspace only
    value = (root / WORKSPACE / "value.txt").read_text()
    assert value == ("1.0\n" if moment == "baseline" else "3.0\n")


def test_kill_after_keep_commit_before_ledger_write(
    make_repo, ctl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The harness dies between committing a keep and recording it: the branch has a commit
    the ledger does not know. Resume must move the branch back to the ledger's best."""
    root = make_counting_repo(make_repo, ctl)
    before = checkout(root)
    record = Ledger.record

    def dying_record(self: Ledger, experiment: overnight.Experiment) -> None:
        if experiment.status is Status.KEEP and experiment.number == 2:
            raise SystemExit("killed between the commit and the ledger write")
        record(self, experiment)

    with monkeypatch.context() as patch:
        patch.setattr(Ledger, "record", dying_record)
        with pytest.raises(SystemExit):
            overnight.run(root, tag=TAG)

    orphan = rev(root, BRANCH)
    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [
        (0, "baseline"),
        (1, "keep"),
        (2, "running"),
    ]
    assert orphan != rows[1]["commit_sha"]  # the unrecorded keep's commit is the tip
    assert git(root, "show", f"{orphan}:value.txt") == "3.0"
    assert checkout(root) == before

    # a resume with no experiments left only repairs and records: the branch is back at the
    # ledger's best, the unrecorded commit is off it, the checkout untouched
    summary = overnight.run(root, resume=True, experiments=2)
    assert summary.run.tag == TAG
    assert [e.status for e in summary.experiments] == [
        Status.BASELINE,
        Status.KEEP,
        Status.INTERRUPTED,
    ]
    assert summary.stop_reason == "experiment budget spent: 2 of 2"
    assert rev(root, BRANCH) == rows[1]["commit_sha"]
    assert git(root, "branch", "--contains", orphan) == ""
    assert checkout(root) == before

    overnight.run(root, resume=True)
    check_completed(root, 2, before)


# -- refusals ----------------------------------------------------------------------------------


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single line of a refusal: exit ``code``, no traceback."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_resume_without_a_run_is_refused(make_repo) -> None:
    root = make_repo()
    result = run_cli("run", str(root), "--resume")
    assert "no run to resume" in one_line_error(result, 2)


FORGERIES = {
    "a forged keep": "INSERT INTO experiments (run_id, number, parent_commit, commit_sha, status,"
    " metric, started_at) VALUES (1, 3, 'x', 'deadbeef', 'keep', 99.0, 0)",
    "an easier baseline": "UPDATE experiments SET metric = 0.5 WHERE number = 0",
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_resume_refuses_a_ledger_row_it_did_not_write(
    make_repo, ctl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forgery: str
) -> None:
    """A row written with plain sqlite3 (what code under test could do) carries no valid seal:
    the resume stops before it touches anything, in one line."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the key that seals
    root = make_counting_repo(make_repo, ctl, experiments=2)
    overnight.run(root, tag=TAG)
    db = sqlite3.connect(root / ".overnight" / "ledger.db")
    try:
        with db:
            db.execute(FORGERIES[forgery])
    finally:
        db.close()
    tip, before, rows, runs = rev(root, BRANCH), checkout(root), ledger_rows(root), run_rows(root)

    result = run_cli("run", str(root), "--resume", "--experiments", "4")

    line = one_line_error(result, 1)
    number = 3 if forgery == "a forged keep" else 0
    assert f"experiment {number} of run {TAG!r} was not written by overnight" in line
    assert rev(root, BRANCH) == tip and checkout(root) == before
    assert ledger_rows(root) == rows and run_rows(root) == runs  # not reopened, nothing added
    assert (ctl / "agent-calls").read_text().split() == ["1", "2"]


def test_resume_refuses_a_checkout_on_the_run_branch(make_repo, ctl: Path) -> None:
    """A resume moves the run branch: with the branch checked out, the user's HEAD would move
    under their feet, so it asks them to switch away first; then it goes on."""
    root = make_counting_repo(make_repo, ctl, experiments=1)
    overnight.run(root, tag=TAG)
    git(root, "switch", "-q", BRANCH)
    tip, before, rows = rev(root, BRANCH), checkout(root), ledger_rows(root)

    result = run_cli("run", str(root), "--resume", "--experiments", "2")

    line = one_line_error(result, 2)
    assert f"your checkout is on {BRANCH}" in line and "git switch" in line
    assert rev(root, BRANCH) == tip and checkout(root) == before and ledger_rows(root) == rows

    git(root, "switch", "-q", "main")
    before = checkout(root)
    resumed = run_cli("run", str(root), "--resume", "--experiments", "2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert [r["status"] for r in ledger_rows(root)] == ["baseline", "keep", "keep"]
    assert checkout(root) == before and rev(root, BRANCH) == ledger_rows(root)[-1]["commit_sha"]


def test_resume_refuses_a_linked_worktree_on_the_run_branch(
    make_repo, ctl: Path, tmp_path: Path
) -> None:
    """The same for a second working tree of the repository (``git worktree add``): its HEAD
    would move too."""
    root = make_counting_repo(make_repo, ctl, experiments=1)
    overnight.run(root, tag=TAG)
    linked = tmp_path / "linked"
    git(root, "worktree", "add", "-q", str(linked), BRANCH)
    tip, rows = rev(root, BRANCH), ledger_rows(root)

    result = run_cli("run", str(root), "--resume", "--experiments", "2")

    line = one_line_error(result, 2)
    assert f"{linked} is on {BRANCH}" in line and "git switch" in line
    assert rev(root, BRANCH) == tip and ledger_rows(root) == rows
