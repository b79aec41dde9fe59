"""The experiment's workspace: made from git objects, emptied of everything else at each reset,
and read back as a change without trusting anything the agent left in it."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from isolation.kit import git
from overnight.errors import WorkspaceError
from overnight.isolation.tree import ExperimentTree, tree_files
from overnight.workspace import Workspace

GUARDED = ["score.py", "value.txt"]


@pytest.fixture
def repo(make_repo) -> Path:
    return make_repo({".gitignore": "*.log\n__pycache__/\n", "data/keep.txt": "kept\n"})


@pytest.fixture
def tree(repo: Path) -> ExperimentTree:
    tree = ExperimentTree(Workspace(repo), repo / ".overnight" / "worktrees" / "t")
    tree.reset(git(repo, "rev-parse", "HEAD"))
    return tree


def committed(repo: Path) -> dict[str, bytes]:
    names = git(repo, "ls-files").splitlines()
    return {name: (repo / name).read_bytes() for name in names}


def contents(tree: ExperimentTree) -> dict[str, bytes]:
    return {name: (tree.path / name).read_bytes() for name in tree_files(tree.path)}


def test_the_tree_is_the_commit_and_holds_no_repository(repo: Path, tree: ExperimentTree) -> None:
    assert contents(tree) == committed(repo)
    assert not (tree.path / ".git").exists()
    assert tree.files() == sorted(committed(repo))


def test_reset_leaves_nothing_of_an_experiment(repo: Path, tree: ExperimentTree) -> None:
    path = tree.path
    (path / "value.txt").write_text("99\n")  # tracked, modified
    (path / "data" / "keep.txt").unlink()  # tracked, deleted
    (path / "new.py").write_text("x = 1\n")  # untracked
    (path / "run.log").write_text("ignored\n")  # ignored
    (path / "__pycache__").mkdir()
    (path / "__pycache__" / "score.cpython-311.pyc").write_bytes(b"planted")
    (path / "json.py").write_text("PLANTED = True\n")  # shadows a module: untracked
    (path / ".git").mkdir()  # a repository of its own, which git never cleans away
    (path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")

    tree.reset(tree.base or "")

    assert contents(tree) == committed(repo)
    assert sorted(os.listdir(path)) == sorted({p.split("/")[0] for p in committed(repo)})


@pytest.mark.parametrize("odd", ["fifo", "directory", "locked-folder", "git-file"])
def test_reset_copes_with_whatever_is_in_the_way(repo: Path, tree: ExperimentTree, odd) -> None:
    path = tree.path
    if odd == "fifo":
        (path / "value.txt").unlink()
        os.mkfifo(path / "value.txt")
    elif odd == "directory":
        (path / "value.txt").unlink()
        (path / "value.txt").mkdir()
        (path / "value.txt" / "inside").write_text("x\n")
    elif odd == "locked-folder":  # a folder nobody may write to or list
        (path / "data" / "extra.txt").write_text("x\n")
        os.chmod(path / "data", 0)
    else:  # .git as a file pointing elsewhere, as in a linked worktree
        (path / ".git").write_text(f"gitdir: {repo / '.git'}\n")

    tree.reset(tree.base or "")

    assert contents(tree) == committed(repo)
    assert not os.path.lexists(path / ".git")


def test_change_reads_the_tree_and_sweeps_ignored_files(tree: ExperimentTree) -> None:
    path = tree.path
    (path / "value.txt").write_text("2.0\n")
    (path / "data" / "keep.txt").unlink()
    (path / "notes.txt").write_text("new\n")
    (path / "link").symlink_to("score.py")
    (path / "cache.log").write_text("ignored, so never evaluated\n")

    change = tree.change(GUARDED)

    assert change.paths == ["data/keep.txt", "link", "notes.txt", "value.txt"]
    assert change.symlinks == ["link"]
    assert change.deleted == ["data/keep.txt"]
    assert change.odd == []
    assert not (path / "cache.log").exists()  # what is evaluated is what would be committed
    assert "+2.0" in change.patch and "+new" in change.patch and "new file mode" in change.patch


def test_a_rename_names_both_paths_and_reads_as_one_in_the_patch(tree: ExperimentTree) -> None:
    (tree.path / "data" / "keep.txt").rename(tree.path / "kept elsewhere.txt")

    change = tree.change(GUARDED)

    assert change.paths == ["data/keep.txt", "kept elsewhere.txt"]
    assert change.deleted == ["data/keep.txt"]
    assert "rename from data/keep.txt" in change.patch
    assert "rename to kept elsewhere.txt" in change.patch


def test_an_untouched_tree_is_an_empty_change(tree: ExperimentTree) -> None:
    change = tree.change(GUARDED)
    assert change.empty and change.paths == []


def test_change_names_guarded_paths_that_are_no_longer_plain_files(
    tree: ExperimentTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tree.path
    monkeypatch.chdir(path)  # a socket's path must be short: bind it by a relative one
    (path / "value.txt").unlink()
    os.mkfifo(path / "value.txt")
    (path / "score.py").unlink()
    (path / "score.py").mkdir()
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("socket.sock")
        (path / ".git").mkdir()

        change = tree.change([*GUARDED, "socket.sock", "missing.txt"])

    assert change.odd == [
        "score.py was replaced by a directory",
        "value.txt was replaced by a FIFO",
        "socket.sock was replaced by a socket",
        "made .git in the workspace (git's own files are off limits)",
    ]
    assert not change.empty


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_guarded_file_is_odd(tree: ExperimentTree) -> None:
    os.chmod(tree.path / "value.txt", 0)
    assert tree.odd_paths(GUARDED) == ["value.txt was made unreadable"]


def test_the_global_ignore_file_hides_nothing(
    tree: ExperimentTree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for config in (tmp_path / "home" / ".config", tmp_path / "xdg"):
        (config / "git").mkdir(parents=True)
        (config / "git" / "ignore").write_text("sneaky.py\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    fresh = ExperimentTree(tree.repo, tree.directory)  # takes the environment as it is now
    fresh.reset(tree.base or "")
    (fresh.path / "sneaky.py").write_text("PLANTED = True\n")

    assert fresh.change(GUARDED).paths == ["sneaky.py"]


def test_exposed_paths_are_ignored_in_the_tree(tree: ExperimentTree) -> None:
    tree.exclude(["datasets/"])
    (tree.path / "datasets").mkdir()
    (tree.path / "datasets" / "big.csv").write_text("1,2\n")
    assert tree.change(GUARDED).empty


def test_a_keep_moves_only_the_run_branch(repo: Path, tree: ExperimentTree) -> None:
    base = tree.base or ""
    git(repo, "branch", "overnight/t", base)
    head, index = (repo / ".git" / "HEAD").read_text(), (repo / ".git" / "index").read_bytes()
    (tree.path / "value.txt").write_text("2.0\n")
    change = tree.change(GUARDED)

    commit = tree.commit(change, "set value to 2.0", "overnight/t")

    assert git(repo, "rev-parse", "overnight/t") == commit == tree.base
    assert git(repo, "rev-parse", f"{commit}^") == base
    assert git(repo, "show", f"{commit}:value.txt") == "2.0"
    assert git(repo, "rev-parse", "main") == base
    assert (repo / ".git" / "HEAD").read_text() == head
    assert (repo / ".git" / "index").read_bytes() == index
    assert (repo / "value.txt").read_text() == "1.0\n"


def test_a_keep_refuses_a_branch_someone_else_moved(repo: Path, tree: ExperimentTree) -> None:
    base = tree.base or ""
    git(repo, "branch", "overnight/t", base)
    git(repo, "commit", "-q", "--allow-empty", "-m", "elsewhere")
    git(repo, "branch", "-f", "overnight/t", "main")
    moved = git(repo, "rev-parse", "overnight/t")
    (tree.path / "value.txt").write_text("2.0\n")
    change = tree.change(GUARDED)

    with pytest.raises(WorkspaceError):
        tree.commit(change, "set value to 2.0", "overnight/t")
    assert git(repo, "rev-parse", "overnight/t") == moved


def test_a_keep_made_in_another_tree_is_committed_on_its_own_parent(
    repo: Path, tree: ExperimentTree
) -> None:
    """With several workers the integrator commits a winner through whichever tree is free,
    which may stand on an older state than the winner's."""
    older = tree.base or ""
    git(repo, "commit", "-q", "--allow-empty", "-m", "kept meanwhile")
    best = git(repo, "rev-parse", "HEAD")
    git(repo, "branch", "overnight/t", best)
    winner = ExperimentTree(Workspace(repo), repo / ".overnight" / "worktrees" / "w")
    winner.reset(best)
    (winner.path / "value.txt").write_text("2.0\n")
    change = winner.change(GUARDED)

    commit = tree.commit(change, "set value to 2.0", "overnight/t", parent=best)

    assert git(repo, "rev-parse", "overnight/t") == commit
    assert git(repo, "rev-parse", f"{commit}^") == best
    assert git(repo, "show", f"{commit}:value.txt") == "2.0"
    assert tree.base == older  # the free tree still holds its own state


def test_frozen_copies_come_from_git_objects_and_are_read_only(
    repo: Path, tree: ExperimentTree
) -> None:
    (tree.path / "score.py").write_text("print('score: 1000')\n")
    store = tree.directory / "frozen"
    (store / "stale").mkdir(parents=True)

    tree.export(tree.base or "", ["score.py", "data/keep.txt"], store)

    assert (store / "score.py").read_bytes() == (repo / "score.py").read_bytes()
    assert (store / "data" / "keep.txt").read_text() == "kept\n"
    assert not (store / "stale").exists()  # made afresh
    for name in ("score.py", "data/keep.txt"):
        assert stat.S_IMODE(os.stat(store / name).st_mode) & 0o222 == 0


def test_remove_files_deletes_a_tree_made_unwritable(tree: ExperimentTree) -> None:
    os.chmod(tree.path / "data", 0o500)
    os.chmod(tree.path, 0o500)
    tree.remove_files()
    assert not tree.path.exists() and not tree.index.exists()


def test_tree_files_of_a_workspace_are_its_plain_files(tree: ExperimentTree) -> None:
    (tree.path / "link").symlink_to("score.py")
    (tree.path / "data" / "deeper").mkdir()
    (tree.path / "data" / "deeper" / "new.txt").write_text("x\n")
    assert tree_files(tree.path) == sorted([*tree.files(), "data/deeper/new.txt"])
