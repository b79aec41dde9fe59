"""Scope: what an experiment may touch, checked by code after the agent acted."""

import os
import time
from pathlib import Path

import pytest

from overnight.isolation.tree import ExperimentTree, TreeChange
from overnight.scope import Fingerprints, Scope
from overnight.workspace import Workspace

SCOPE = Scope(editable=("value.txt", "src/**/*.py"), frozen=("score.py", "data/*.csv"))


def tree_change(
    paths: list[str], symlinks: list[str] | None = None, deleted: list[str] | None = None
) -> TreeChange:
    return TreeChange(paths, symlinks or [], deleted or [], odd=[], tree="", patch="")


def test_an_editable_change_has_no_violation():
    change = tree_change(paths=["value.txt", "src/model.py", "src/deep/layer.py"])

    assert SCOPE.violations(change) == []


def test_deleting_an_editable_file_is_allowed():
    assert SCOPE.violations(tree_change(paths=["src/model.py"], deleted=["src/model.py"])) == []


@pytest.mark.parametrize("path", ["score.py", "data/train.csv"])
def test_changing_a_frozen_file(path):
    assert SCOPE.violations(tree_change(paths=[path])) == [f"changed frozen file {path}"]


@pytest.mark.parametrize(
    "path",
    [
        "overnight.yaml",
        ".gitignore",
        "src/.gitignore",
        ".gitattributes",
        ".gitmodules",
        ".overnight/ledger.db",
    ],
)
def test_always_frozen_files(path):
    scope = Scope(editable=("**",), frozen=())

    assert scope.violations(tree_change(paths=[path])) == [f"changed frozen file {path}"]


def test_a_path_outside_the_editable_globs():
    violations = SCOPE.violations(tree_change(paths=["value.txt", "README.md", "sub/value.txt"]))

    assert violations == [
        "changed README.md, which is outside the editable globs",
        "changed sub/value.txt, which is outside the editable globs",
    ]


def test_an_editable_path_made_a_symlink():
    change = tree_change(paths=["value.txt"], symlinks=["value.txt"])

    assert SCOPE.violations(change) == ["made value.txt a symbolic link"]


def test_every_problem_is_listed():
    change = tree_change(paths=["score.py", "notes.md", "value.txt"], symlinks=["value.txt"])

    assert SCOPE.violations(change) == [
        "changed frozen file score.py",
        "changed notes.md, which is outside the editable globs",
        "made value.txt a symbolic link",
    ]


def test_editable_and_frozen_file_lists():
    files = [
        "overnight.yaml",
        "score.py",
        "value.txt",
        "src/model.py",
        "notes.md",
        ".overnight/logs/1.log",
    ]

    assert SCOPE.editable_files(files) == ["value.txt", "src/model.py"]
    assert SCOPE.frozen_files(files) == ["overnight.yaml", "score.py"]
    assert SCOPE.is_frozen(".overnight/logs/1.log")
    assert not SCOPE.is_editable("overnight.yaml")


def test_frozen_wins_over_editable():
    scope = Scope(editable=("src/*.py",), frozen=("src/metric.py",))

    assert scope.violations(tree_change(paths=["src/metric.py"])) == [
        "changed frozen file src/metric.py"
    ]


def experiment_tree(repo: Path) -> ExperimentTree:
    """A workspace of ``repo`` at HEAD, as an experiment starts from."""
    workspace = Workspace(repo)
    tree = ExperimentTree(workspace, repo / ".overnight" / "worktrees" / "t")
    tree.reset(workspace.head())
    return tree


def test_violations_from_a_real_symlink_swap(make_repo):
    tree = experiment_tree(make_repo())
    (tree.path / "value.txt").unlink()
    os.symlink("score.py", tree.path / "value.txt")

    change = tree.change(["value.txt", "score.py"])

    assert Scope(("value.txt",), ("score.py",)).violations(change) == [
        "made value.txt a symbolic link"
    ]


@pytest.mark.parametrize("planted", ["config", "hooks/pre-commit", "HEAD"])
def test_git_files_made_in_the_workspace_are_named(make_repo, planted: str):
    """The workspace has no ``.git``; one made there (git's own files, a hook, a HEAD to move)
    is reported whatever it holds, and git does not record it as a change of the tree."""
    tree = experiment_tree(make_repo())
    base = tree.base
    assert base is not None
    (tree.path / ".git" / planted).parent.mkdir(parents=True, exist_ok=True)
    (tree.path / ".git" / planted).write_text("planted\n")

    change = tree.change(["value.txt", "score.py"])

    assert change.odd == ["made .git in the workspace (git's own files are off limits)"]
    assert change.paths == [] and not change.empty
    tree.reset(base)
    assert not (tree.path / ".git").exists()  # the next experiment starts without it


def test_fingerprints_see_content_symlink_and_deletion(tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "b.txt").write_text("two\n")
    prints = Fingerprints(tmp_path)
    before = prints.take(["a.txt", "b.txt", "c.txt"])

    assert before["c.txt"] == "missing"
    assert prints.take(["a.txt", "b.txt", "c.txt"]) == before

    (tmp_path / "a.txt").write_text("uno\n")
    (tmp_path / "b.txt").unlink()
    os.symlink("a.txt", tmp_path / "b.txt")
    (tmp_path / "c.txt").write_text("new\n")
    after = prints.take(["a.txt", "b.txt", "c.txt"])

    assert after["b.txt"] == "link:a.txt"
    assert [p for p in before if before[p] != after[p]] == ["a.txt", "b.txt", "c.txt"]


def test_fingerprints_catch_a_same_size_rewrite_with_old_mtime(tmp_path):
    target = tmp_path / "score.py"
    target.write_text("THRESHOLD = 1\n")
    stat = target.stat()
    prints = Fingerprints(tmp_path)
    before = prints.take(["score.py"])
    time.sleep(0.05)  # past the file system's timestamp granularity, as a real evaluation is

    target.write_text("THRESHOLD = 9\n")
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert prints.take(["score.py"]) != before
