"""The guards: StatGuard sees any write to a guarded file, even one put back; GitGuard names and
undoes any change to refs and git's own files, from a snapshot kept in memory only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from isolation.kit import git
from overnight.isolation.guards import GitGuard, StatGuard

OWN = "refs/heads/overnight/t"


# -- StatGuard ------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "score.py").write_text("print('score: 1')\n")
    (tmp_path / "value.txt").write_text("1.0\n")
    return tmp_path


def guard(root: Path) -> StatGuard:
    return StatGuard.take(root, ["score.py", "value.txt", "absent.txt"])


def test_nothing_touched_is_nothing_changed(files: Path) -> None:
    before = guard(files)
    (files / "score.py").read_text()
    (files / "other.txt").write_text("not guarded\n")
    assert before.changed() == []


def test_a_file_rewritten_and_put_back_is_caught(files: Path) -> None:
    before = guard(files)
    original = (files / "score.py").read_bytes()
    stamp = os.stat(files / "score.py")
    (files / "score.py").write_text("print('score: 1000')\n")
    (files / "score.py").write_bytes(original)
    os.utime(files / "score.py", ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # mtime put back too

    assert (files / "score.py").read_bytes() == original
    assert before.changed() == ["score.py"]  # the ctime moved, and no one can set it back


def test_a_file_replaced_by_a_copy_is_caught(files: Path) -> None:
    before = guard(files)
    copy = files / "copy"
    copy.write_bytes((files / "value.txt").read_bytes())
    os.replace(copy, files / "value.txt")
    assert before.changed() == ["value.txt"]


@pytest.mark.parametrize("how", ["chmod", "fifo", "directory", "symlink", "deleted", "created"])
def test_every_kind_of_change_is_caught(files: Path, how: str) -> None:
    before = guard(files)
    target = files / "value.txt"
    if how == "chmod":
        os.chmod(target, 0o600)
    elif how == "created":
        target = files / "absent.txt"
        target.write_text("new\n")
    else:
        target.unlink()
        if how == "fifo":
            os.mkfifo(target)  # seen without ever being opened
        elif how == "directory":
            target.mkdir()
        elif how == "symlink":
            target.symlink_to("score.py")
    assert before.changed() == [target.name]


# -- GitGuard -------------------------------------------------------------------------------------


@pytest.fixture
def repo(make_repo) -> Path:
    root = make_repo()
    git(root, "branch", "side")
    git(root, "branch", "overnight/t")
    git(root, "tag", "v1")
    return root


def git_files(root: Path) -> dict[str, bytes]:
    """Every file under .git that GitGuard watches, by content (objects and logs aside)."""
    found = {}
    for name in ("HEAD", "packed-refs", "config", "refs", "hooks", "info"):
        path = root / ".git" / name
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.is_file() or file.is_symlink():
                found[file.relative_to(root / ".git").as_posix()] = (
                    os.readlink(file).encode() if file.is_symlink() else file.read_bytes()
                )
    return found


def tamper(root: Path) -> None:
    """What hostile code does to a repository it can reach."""
    git(root, "commit", "-q", "--allow-empty", "-m", "moved")  # main
    git(root, "branch", "-f", "side", "HEAD")
    git(root, "tag", "-d", "v1")
    git(root, "tag", "planted")
    git(root, "symbolic-ref", "HEAD", "refs/heads/side")
    git(root, "config", "core.fsmonitor", "touch /tmp/owned")
    git(
        root,
        "replace",
        git(root, "rev-parse", "HEAD:score.py"),
        git(root, "rev-parse", "HEAD:value.txt"),
    )
    hook = root / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\ntouch /tmp/owned\n")
    hook.chmod(0o755)
    (root / ".git" / "info" / "attributes").write_text("* filter=evil\n")
    (root / ".git" / "objects" / "info" / "alternates").write_text("/tmp/elsewhere\n")


def test_every_change_is_named_and_undone(repo: Path) -> None:
    watched = GitGuard(repo / ".git")
    before_files = git_files(repo)
    before = watched.snapshot()

    tamper(repo)
    changed = watched.changes(before, watched.snapshot())
    failed = watched.undo(before, changed)

    named = {
        "HEAD",
        "config",
        "hooks/post-checkout",
        "info/attributes",
        "objects/info/alternates",
        "refs/heads/main",
        "refs/heads/side",
        "refs/tags/planted",
        "refs/tags/v1",
    }
    assert named <= set(changed)
    assert set(changed) - named - {"packed-refs"} == {
        n for n in changed if n.startswith("refs/replace/")
    }
    assert any(n.startswith("refs/replace/") for n in changed)
    assert failed == []
    assert watched.changes(before, watched.snapshot()) == []
    assert git_files(repo) == before_files
    assert not (repo / ".git" / "objects" / "info" / "alternates").exists()
    assert git(repo, "branch", "--show-current") == "main"
    assert git(repo, "tag") == "v1"
    assert git(repo, "for-each-ref", "refs/replace") == ""


def test_packed_refs_are_watched(repo: Path) -> None:
    git(repo, "pack-refs", "--all")
    watched = GitGuard(repo / ".git")
    before = watched.snapshot()
    main = git(repo, "rev-parse", "main")

    git(repo, "commit", "-q", "--allow-empty", "-m", "moved")
    git(repo, "pack-refs", "--all")
    changed = watched.changes(before, watched.snapshot())
    watched.undo(before, changed)

    assert "packed-refs" in changed
    assert git(repo, "rev-parse", "main") == main


def test_the_run_branch_is_watched_too(repo: Path) -> None:
    start = git(repo, "rev-parse", OWN)
    watched = GitGuard(repo / ".git")
    before = watched.snapshot()
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    fake = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "not a keep")
    git(repo, "update-ref", OWN, fake)  # only the harness may move it, between windows

    changed = watched.changes(before, watched.snapshot())
    watched.undo(before, changed)

    assert changed == [OWN]
    assert git(repo, "rev-parse", OWN) == start


def test_a_planted_link_is_removed(repo: Path) -> None:
    watched = GitGuard(repo / ".git")
    before = watched.snapshot()
    (repo / ".git" / "refs" / "heads" / "evil").symlink_to(
        repo / ".git" / "refs" / "heads" / "main"
    )

    changed = watched.changes(before, watched.snapshot())
    watched.undo(before, changed)

    assert changed == ["refs/heads/evil"]
    assert not os.path.lexists(repo / ".git" / "refs" / "heads" / "evil")


def test_a_file_that_was_a_link_cannot_be_put_back(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-push").symlink_to("/bin/true")
    watched = GitGuard(repo / ".git")
    before = watched.snapshot()
    (hooks / "pre-push").unlink()
    (hooks / "pre-push").write_text("#!/bin/sh\n")

    changed = watched.changes(before, watched.snapshot())

    assert changed == ["hooks/pre-push"]
    assert watched.undo(before, changed) == ["hooks/pre-push"]  # said, not silently lost


def test_a_deleted_ref_comes_back(repo: Path) -> None:
    watched = GitGuard(repo / ".git")
    before = watched.snapshot()
    side = git(repo, "rev-parse", "side")
    git(repo, "branch", "-D", "side")

    watched.undo(before, watched.changes(before, watched.snapshot()))

    assert git(repo, "rev-parse", "side") == side


def test_digests_are_short_and_change_with_the_content(repo: Path) -> None:
    watched = GitGuard(repo / ".git")
    before = GitGuard.digests(watched.snapshot())
    assert GitGuard.digests(watched.snapshot()) == before
    git(repo, "tag", "planted")
    after = GitGuard.digests(watched.snapshot())
    assert set(after) - set(before) == {"refs/tags/planted"}
    assert all(len(d) == 32 for d in after.values())


def test_the_ref_the_integrator_moves_itself_can_be_left_unwatched(repo: Path) -> None:
    """With several workers the integrator moves the run branch while windows are open; it
    checks that ref itself, so the guard must not undo its keeps."""
    watched = GitGuard(repo / ".git", unwatched=OWN)
    before = watched.snapshot()
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    keep = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "a keep")
    git(repo, "update-ref", OWN, keep)
    git(repo, "update-ref", "refs/heads/side", keep)

    assert watched.changes(before, watched.snapshot()) == ["refs/heads/side"]
