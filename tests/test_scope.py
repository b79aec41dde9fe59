"""Scope: what an experiment may touch, checked by code after the agent acted."""

import os
import time

import pytest

from overnight.scope import Fingerprints, Scope, tampered
from overnight.workspace import Change, Workspace

SCOPE = Scope(editable=("value.txt", "src/**/*.py"), frozen=("score.py", "data/*.csv"))


def test_an_editable_change_has_no_violation():
    change = Change(paths=["value.txt", "src/model.py", "src/deep/layer.py"])

    assert SCOPE.violations(change) == []


def test_deleting_an_editable_file_is_allowed():
    assert SCOPE.violations(Change(paths=["src/model.py"], deleted=["src/model.py"])) == []


@pytest.mark.parametrize("path", ["score.py", "data/train.csv"])
def test_changing_a_frozen_file(path):
    assert SCOPE.violations(Change(paths=[path])) == [f"changed frozen file {path}"]


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

    assert scope.violations(Change(paths=[path])) == [f"changed frozen file {path}"]


def test_a_path_outside_the_editable_globs():
    violations = SCOPE.violations(Change(paths=["value.txt", "README.md", "sub/value.txt"]))

    assert violations == [
        "changed README.md, which is outside the editable globs",
        "changed sub/value.txt, which is outside the editable globs",
    ]


def test_an_editable_path_made_a_symlink():
    change = Change(paths=["value.txt"], symlinks=["value.txt"])

    assert SCOPE.violations(change) == ["made value.txt a symbolic link"]


def test_head_moved():
    violations = SCOPE.violations(Change(paths=["value.txt"], head_moved=True))

    assert len(violations) == 1
    assert violations[0].startswith("moved HEAD")


def test_changed_internals():
    change = Change(paths=[], internals=[".git/config", ".git/hooks/pre-commit"])

    assert SCOPE.violations(change) == ["changed git internals: .git/config, .git/hooks/pre-commit"]


def test_every_problem_is_listed():
    change = Change(paths=["score.py", "notes.md"], head_moved=True, internals=[".git/config"])

    assert len(SCOPE.violations(change)) == 4


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

    assert scope.violations(Change(paths=["src/metric.py"])) == [
        "changed frozen file src/metric.py"
    ]


def test_violations_from_a_real_symlink_swap(make_repo):
    repo = make_repo()
    workspace = Workspace(repo)
    before = workspace.state()
    (repo / "value.txt").unlink()
    os.symlink("score.py", repo / "value.txt")

    change, _ = workspace.change_since(before)

    assert Scope(("value.txt",), ("score.py",)).violations(change) == [
        "made value.txt a symbolic link"
    ]


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
    assert tampered(before, after) == ["a.txt", "b.txt", "c.txt"]


def test_fingerprints_catch_a_same_size_rewrite_with_old_mtime(tmp_path):
    target = tmp_path / "score.py"
    target.write_text("THRESHOLD = 1\n")
    stat = target.stat()
    prints = Fingerprints(tmp_path)
    before = prints.take(["score.py"])
    time.sleep(0.05)  # past the file system's timestamp granularity, as a real evaluation is

    target.write_text("THRESHOLD = 9\n")
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert tampered(before, prints.take(["score.py"])) == ["score.py"]
