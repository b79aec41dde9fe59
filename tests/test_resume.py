"""kill -9 at known moments, then ``overnight run --resume``: the half-done experiment is recorded
``interrupted`` and reverted, numbering continues, the branch tip equals the ledger's best and the
run completes its budget.

The stand-in agent and evaluation hang on request (a flag file in a control directory), writing a
marker with their pid first, so the harness is killed at a deterministic point."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import overnight
from conftest import default_config, git
from overnight.ledger import Ledger
from overnight.records import Status
from stand_ins.support import (
    command_agent,
    kill_quietly,
    ledger_rows,
    pid_alive,
    porcelain,
    rev,
    run_cli,
    run_rows,
    start_cli,
    wait_for_file,
)

TAG = "t"
BRANCH = f"overnight/{TAG}"

# Hangs once when DIR/hang-eval-<value> exists: the agent raises the value by one per experiment
# (1.0 is the baseline, 3.0 the second experiment's candidate).
HANGING_SCORE = """\
import os, time
from pathlib import Path
ctl = Path({ctl!r})
value = float(Path("value.txt").read_text())
flag = ctl / f"hang-eval-{{value:g}}"
if flag.exists():
    flag.unlink()
    (ctl / f"eval-{{value:g}}-hanging").write_text(str(os.getpid()))
    time.sleep(60)
print(f"score: {{value}}")
"""

# moment: (the flag that makes it hang, the marker it writes, the number of the half-done one)
MOMENTS = {
    "agent": ("hang-agent-2", "agent-2-hanging", 2),
    "evaluation": ("hang-eval-3", "eval-3-hanging", 2),
    "baseline": ("hang-eval-1", "eval-1-hanging", 0),
}


@pytest.fixture
def ctl(tmp_path: Path) -> Path:
    path = tmp_path / "ctl"
    path.mkdir()
    return path


def make_counting_repo(make_repo, ctl: Path, experiments: int = 4) -> Path:
    return make_repo(
        {"score.py": HANGING_SCORE.format(ctl=str(ctl))},
        default_config(agent=command_agent("improve", ctl), budget={"experiments": experiments}),
    )


def check_completed(root: Path, interrupted: int | None) -> None:
    """After the resumed run: numbers 0..4, the interrupted one reverted, every other one kept
    (1.0 -> 2.0 -> 3.0 ...), and git agreeing with the ledger."""
    base = git(root, "rev-list", "--max-parents=0", BRANCH)
    rows = ledger_rows(root)
    assert [r["number"] for r in rows] == [0, 1, 2, 3, 4]
    expected = ["baseline"] + ["keep"] * 4
    if interrupted:
        expected[interrupted] = "interrupted"
    assert [r["status"] for r in rows] == expected
    keeps = [r for r in rows if r["status"] == "keep"]
    # if the interrupted change had survived, the value would have gone one step further
    values = [float(n) for n in range(2, len(keeps) + 2)]
    assert [r["metric"] for r in keeps] == values
    assert (root / "value.txt").read_text() == f"{values[-1]}\n"
    assert rev(root, BRANCH) == keeps[-1]["commit_sha"] == rev(root, "HEAD")
    log = git(root, "log", "--reverse", "--format=%H %s", f"{base}..{BRANCH}").splitlines()
    assert log == [f"{r['commit_sha']} {r['description']}" for r in keeps]
    parents = [base] + [r["commit_sha"] for r in keeps[:-1]]
    assert [r["parent_commit"] for r in keeps] == parents
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == "experiment budget spent: 4 of 4"
    assert run_row["ended_at"] is not None
    assert porcelain(root) == ""


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_then_resume(make_repo, ctl: Path, tmp_path: Path, moment: str) -> None:
    flag, marker, number = MOMENTS[moment]
    root = make_counting_repo(make_repo, ctl)
    (ctl / flag).write_text("")
    proc = start_cli(["run", str(root), "--tag", TAG], tmp_path / "first.txt")
    hanging = None
    try:
        hanging = int(wait_for_file(ctl / marker).read_text())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        _check_killed_mid_experiment(root, moment, number)
        assert pid_alive(hanging)  # the agent or evaluation outlived the harness...

        resumed = run_cli("run", str(root), "--resume")

        assert not pid_alive(hanging)  # ...until the resume ended it
    finally:
        proc.kill()
        if hanging is not None:
            kill_quietly(hanging)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Traceback" not in resumed.stdout + resumed.stderr
    assert "left running by the interrupted run" in resumed.stdout

    check_completed(root, number or None)
    if number:
        row = ledger_rows(root)[number]
        assert "reverted on resume" in row["reason"]
        assert "value.txt" in row["changed_files"]
    calls = (ctl / "agent-calls").read_text().split()
    assert calls == ["1", "2", "3", "4"]  # each experiment's agent ran once, numbering continued


def _check_killed_mid_experiment(root: Path, moment: str, number: int) -> None:
    rows = ledger_rows(root)
    assert rows[-1]["number"] == number and rows[-1]["status"] == "running"
    assert [r["status"] for r in rows[:-1]] == ["baseline", "keep"][:number]
    if moment != "baseline":
        assert (root / "value.txt").read_text() == "3.0\n"  # the half-done change is in the tree


def test_kill_after_keep_commit_before_ledger_write(
    make_repo, ctl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The harness dies between committing a keep and recording it: the branch has a commit
    the ledger does not know. Resume must move the branch back to the ledger's best."""
    root = make_counting_repo(make_repo, ctl)
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

    # a resume with no experiments left only repairs and records: the branch is back at the
    # ledger's best, the unrecorded commit is off it, the tree matches
    summary = overnight.run(root, resume=True, experiments=2)
    assert summary.run.tag == TAG
    assert [e.status for e in summary.experiments] == [
        Status.BASELINE,
        Status.KEEP,
        Status.INTERRUPTED,
    ]
    assert summary.stop_reason == "experiment budget spent: 2 of 2"
    assert rev(root, BRANCH) == rows[1]["commit_sha"] == rev(root, "HEAD")
    assert git(root, "branch", "--contains", orphan) == ""
    assert (root / "value.txt").read_text() == "2.0\n" and porcelain(root) == ""

    overnight.run(root, resume=True)
    check_completed(root, 2)


def test_resume_without_a_run_is_refused(make_repo) -> None:
    root = make_repo()
    result = run_cli("run", str(root), "--resume")
    assert result.returncode == 2
    assert "no run to resume" in result.stderr and "Traceback" not in result.stderr
