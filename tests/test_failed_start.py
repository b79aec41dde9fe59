"""A run whose start fails leaves nothing behind: no branch, no run in the ledger for status to
show or --resume to find, no workspace, no log folder, and no lock held."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

import overnight
import overnight.isolation.sandbox as sandbox_module
from conftest import default_config, git
from overnight.errors import EvaluationError, UsageError
from overnight.ledger import Ledger
from overnight.loop import Loop
from stand_ins.support import run_cli


def assert_nothing_left(root: Path) -> None:
    assert git(root, "branch", "--list", "overnight/*").strip() == ""
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        assert ledger.runs() == []
    finally:
        ledger.close()
    assert not any((root / ".overnight" / "worktrees").glob("*"))
    assert not any((root / ".overnight" / "logs").glob("*"))
    with (root / ".overnight" / "lock").open("a+") as lock:  # nobody holds it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_sandbox_that_cannot_start_leaves_nothing(make_repo, monkeypatch) -> None:
    root = make_repo(config=default_config(sandbox={"mode": "required"}))
    monkeypatch.setattr(sandbox_module, "bubblewrap", lambda: None)
    for _ in range(2):  # each failed try as clean as the first
        with pytest.raises(UsageError, match="bubblewrap is not usable"):
            overnight.run(root, experiments=1, tag="t")
        assert_nothing_left(root)


def test_a_baseline_that_cannot_be_measured_leaves_nothing(make_repo, monkeypatch) -> None:
    root = make_repo()

    def broken(self: Loop, signals: object) -> None:
        raise EvaluationError("the evaluation could not start")

    monkeypatch.setattr(Loop, "baseline", broken)
    with pytest.raises(EvaluationError):
        overnight.run(root, experiments=1)
    assert_nothing_left(root)
    monkeypatch.undo()
    assert overnight.run(root, experiments=1).run.tag  # the next start is an ordinary one


def test_a_failed_start_is_not_offered_for_resume(make_repo, monkeypatch) -> None:
    root = make_repo(config=default_config(sandbox={"mode": "required"}))
    monkeypatch.setattr(sandbox_module, "bubblewrap", lambda: None)
    with pytest.raises(UsageError):
        overnight.run(root, experiments=1)
    status = run_cli("status", str(root))
    assert status.returncode == 2 and "no run yet" in status.stderr
    assert "--resume" not in status.stdout + status.stderr
