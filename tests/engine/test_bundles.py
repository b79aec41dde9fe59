"""How steps travel to Ray workers: a git bundle of what the receiver lacks. Plain git, no Ray."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import git
from overnight.engine.cluster import HistoryFeed, receive, ship
from overnight.errors import UsageError
from overnight.records import Experiment, Status


def commit_file(root: Path, text: str) -> str:
    (root / "f.txt").write_text(text)
    git(root, "add", "f.txt")
    git(root, "commit", "-qm", text)
    return git(root, "rev-parse", "HEAD").strip()


def empty_repo(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path / ".git"


def has(git_dir: Path, commit: str) -> bool:
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
    )
    return done.returncode == 0


def test_a_bundle_brings_a_commit_and_only_what_the_receiver_lacks(make_repo, tmp_path) -> None:
    root = make_repo({"f.txt": "0\n"})
    first = git(root, "rev-parse", "HEAD").strip()
    second = commit_file(root, "1\n")
    receiver = empty_repo(tmp_path / "worker")

    whole = ship(root / ".git", first, set())
    receive(receiver, whole)
    increment = ship(root / ".git", second, {first})
    receive(receiver, increment)

    assert has(receiver, first) and has(receiver, second)
    assert len(increment.bundle) < len(whole.bundle) + 200  # one commit, one file
    assert (
        b"refs/heads"
        not in subprocess.run(  # no ref moved on the receiver
            ["git", "--git-dir", str(receiver), "for-each-ref"], capture_output=True
        ).stdout
    )


def test_a_bundle_whose_base_the_receiver_lacks_is_refused(make_repo, tmp_path) -> None:
    root = make_repo({"f.txt": "0\n"})
    first = git(root, "rev-parse", "HEAD").strip()
    second = commit_file(root, "1\n")
    receiver = empty_repo(tmp_path / "worker")

    with pytest.raises(UsageError, match="bundle"):
        receive(receiver, ship(root / ".git", second, {first}))
    assert not has(receiver, second)


def test_a_worker_is_sent_only_the_history_it_lacks() -> None:
    """Each step to a remote worker carries the rows finished since that worker's last step,
    not the whole run: what a step weighs stays the same at experiment 10,000 as at 10."""
    history = [Experiment(1, number, "", Status.DISCARD) for number in range(5)]
    feed = HistoryFeed()
    first = feed.news(history[:3])
    assert (first.start, [e.number for e in first.rows]) == (0, [0, 1, 2])
    second = feed.news(history)
    assert (second.start, [e.number for e in second.rows]) == (3, [3, 4])
    assert feed.news(history).rows == []
    again = feed.news(history[:2])  # shorter than what was sent: all of it again
    assert (again.start, len(again.rows)) == (0, 2)

    received: list[Experiment] = []
    for news in (first, second, again):
        news.apply_to(received)
    assert received == history[:2]
