"""Replaying a candidate onto a best commit that moved on while it ran: a three-way merge in git's
object store, measured again in a worker's tree and kept from there, the user's checkout left
alone throughout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from isolation.kit import BRANCH, Checkout, git
from overnight.isolation.tree import ExperimentTree, TreeChange, tree_files
from overnight.workspace import Workspace

GUARDED = ["score.py", "value.txt"]
NOTES = "first\nsecond\nthird\nfourth\nfifth\nsixth\n"
Edits = dict[str, str | None]  # path -> new text, None to delete it


@pytest.fixture
def repo(make_repo) -> Path:
    root = make_repo({".gitignore": "*.log\n", "notes.txt": NOTES, "data/keep.txt": "kept\n"})
    git(root, "branch", BRANCH)
    return root


@pytest.fixture
def tree(repo: Path) -> ExperimentTree:
    return worker(repo, "candidate")


def worker(repo: Path, name: str) -> ExperimentTree:
    tree = ExperimentTree(Workspace(repo), repo / ".overnight" / "worktrees" / name)
    tree.reset(git(repo, "rev-parse", BRANCH))
    return tree


def candidate(tree: ExperimentTree, edits: Edits) -> TreeChange:
    """What an agent's edits in ``tree`` read as."""
    for path, text in edits.items():
        if text is None:
            (tree.path / path).unlink()
        else:
            (tree.path / path).parent.mkdir(parents=True, exist_ok=True)
            (tree.path / path).write_text(text)
    return tree.change(GUARDED)


def best_moved_on(repo: Path, edits: Edits) -> str:
    """The run's best commit after another worker kept ``edits`` meanwhile."""
    other = worker(repo, "other")
    return other.commit(candidate(other, edits), "kept meanwhile", BRANCH)


def show(repo: Path, tree: str, path: str) -> str:
    return git(repo, "show", f"{tree}:{path}") + "\n"


def listed(repo: Path, tree_ish: str) -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", tree_ish).splitlines()


def contents(tree: ExperimentTree) -> dict[str, bytes]:
    return {name: (tree.path / name).read_bytes() for name in tree_files(tree.path)}


def test_a_change_to_a_file_the_best_left_alone_replays_cleanly(
    repo: Path, tree: ExperimentTree
) -> None:
    old_base = tree.base or ""
    change = candidate(tree, {"value.txt": "2.0\n"})
    best = best_moved_on(repo, {"notes.txt": NOTES.replace("first", "FIRST")})

    replayed = tree.replay(change, old_base, best)

    assert replayed.tree is not None and replayed.conflicts == []
    assert replayed.paths == ["value.txt"]
    assert show(repo, replayed.tree, "value.txt") == "2.0\n"  # the candidate's change
    assert show(repo, replayed.tree, "notes.txt") == NOTES.replace("first", "FIRST")  # the best's


def test_both_changing_one_line_is_a_conflict(repo: Path, tree: ExperimentTree) -> None:
    old_base = tree.base or ""
    change = candidate(tree, {"notes.txt": NOTES.replace("third", "candidate's third")})
    best = best_moved_on(repo, {"notes.txt": NOTES.replace("third", "best's third")})

    replayed = tree.replay(change, old_base, best)

    assert replayed.tree is None
    assert replayed.conflicts == ["notes.txt"]
    assert replayed.paths == []


def test_changes_to_neighbouring_lines_replay_line_by_line(
    repo: Path, tree: ExperimentTree
) -> None:
    """git's merge stops at edits on adjacent lines (one constant each); they do not touch the
    same line, so the change goes onto the best without its context lines."""
    old_base = tree.base or ""
    change = candidate(tree, {"notes.txt": NOTES.replace("fourth", "candidate's fourth")})
    best = best_moved_on(repo, {"notes.txt": NOTES.replace("third", "best's third")})

    replayed = tree.replay(change, old_base, best)

    both = NOTES.replace("third", "best's third").replace("fourth", "candidate's fourth")
    assert replayed.tree is not None and replayed.conflicts == []
    assert show(repo, replayed.tree, "notes.txt") == both
    assert replayed.paths == ["notes.txt"]


@pytest.mark.parametrize(
    ("theirs", "ours", "conflicted"),
    [
        pytest.param(
            {"data/keep.txt": "changed\n"}, {"data/keep.txt": None}, "data/keep.txt",
            id="modify/delete",
        ),
        pytest.param(
            {"data/keep.txt": None}, {"data/keep.txt": "changed\n"}, "data/keep.txt",
            id="delete/modify",
        ),
        pytest.param(
            {"notes.txt": None}, {"notes.txt": None, "moved.txt": NOTES}, "moved.txt",
            id="delete/rename",
        ),
    ],
)  # fmt: skip
def test_a_change_to_a_file_the_best_deleted_or_moved_is_a_conflict(
    repo: Path, tree: ExperimentTree, theirs: Edits, ours: Edits, conflicted: str
) -> None:
    old_base = tree.base or ""
    change = candidate(tree, theirs)
    best = best_moved_on(repo, ours)

    replayed = tree.replay(change, old_base, best)

    assert replayed.tree is None
    assert replayed.conflicts == [conflicted]


def test_a_change_the_best_already_holds_changes_nothing(repo: Path, tree: ExperimentTree) -> None:
    old_base = tree.base or ""
    change = candidate(tree, {"value.txt": "2.0\n"})
    best = best_moved_on(repo, {"value.txt": "2.0\n", "notes.txt": "rewritten\n"})

    replayed = tree.replay(change, old_base, best)

    assert replayed.tree == git(repo, "rev-parse", f"{best}^{{tree}}")
    assert replayed.conflicts == [] and replayed.paths == []


def test_an_added_and_a_deleted_file_replay_cleanly(repo: Path, tree: ExperimentTree) -> None:
    old_base = tree.base or ""
    change = candidate(tree, {"src/new.py": "x = 1\n", "data/keep.txt": None})
    best = best_moved_on(repo, {"notes.txt": NOTES + "seventh\n"})

    replayed = tree.replay(change, old_base, best)

    assert replayed.tree is not None and replayed.conflicts == []
    assert replayed.paths == ["data/keep.txt", "src/new.py"]
    files = listed(repo, replayed.tree)
    assert "src/new.py" in files and "data/keep.txt" not in files
    assert show(repo, replayed.tree, "notes.txt") == NOTES + "seventh\n"


def test_replay_and_reset_to_tree_leave_the_checkout_and_every_ref_alone(
    repo: Path, tree: ExperimentTree
) -> None:
    old_base = tree.base or ""
    change = candidate(tree, {"value.txt": "2.0\n"})
    best = best_moved_on(repo, {"notes.txt": "rewritten\n"})
    checkout = Checkout.of(repo)
    refs, head = git(repo, "for-each-ref"), git(repo, "rev-parse", "HEAD")
    in_tree, index = contents(tree), tree.index.read_bytes()

    replayed = tree.replay(change, old_base, best)

    assert (contents(tree), tree.index.read_bytes()) == (in_tree, index)  # objects alone
    tree.reset_to_tree(replayed.tree or "", best)
    assert Checkout.of(repo) == checkout
    assert git(repo, "for-each-ref") == refs  # the run branch included
    assert git(repo, "rev-parse", "HEAD") == head


def test_a_replayed_tree_is_measured_and_kept_on_the_best(repo: Path, tree: ExperimentTree) -> None:
    old_base = tree.base or ""
    change = candidate(tree, {"value.txt": "2.0\n", "data/keep.txt": None})
    best = best_moved_on(repo, {"notes.txt": "rewritten\n"})
    replayed = tree.replay(change, old_base, best)
    assert replayed.tree is not None

    merged = tree.reset_to_tree(replayed.tree, best)

    assert tree.base == best
    assert merged.tree == replayed.tree and merged.odd == []
    assert merged.paths == replayed.paths == ["data/keep.txt", "value.txt"]
    assert merged.deleted == ["data/keep.txt"]
    assert sorted(contents(tree)) == listed(repo, replayed.tree)
    assert (tree.path / "notes.txt").read_text() == "rewritten\n"
    assert tree.change(GUARDED) == merged  # what an agent's identical edits would read as

    commit = tree.commit(merged, "replayed onto the best", BRANCH)

    assert git(repo, "rev-parse", BRANCH) == commit
    assert git(repo, "rev-parse", f"{commit}^") == best
    assert git(repo, "rev-parse", f"{commit}^{{tree}}") == replayed.tree
    assert tree.files() == listed(repo, commit)  # the file list carried to the new commit
    assert tree.change(GUARDED).empty


def test_reset_to_tree_sweeps_leftovers_and_rewrites_only_what_differs(
    repo: Path, tree: ExperimentTree
) -> None:
    old_base = tree.base or ""
    change = candidate(tree, {"value.txt": "2.0\n"})
    best = best_moved_on(repo, {"notes.txt": "rewritten\n"})
    replayed = tree.replay(change, old_base, best)
    (tree.path / "stray.py").write_text("PLANTED = True\n")  # untracked
    (tree.path / "run.log").write_text("ignored\n")  # ignored
    (tree.path / "value.txt").write_text("99\n")  # a later experiment's edit
    untouched = os.stat(tree.path / "score.py").st_ino

    tree.reset_to_tree(replayed.tree or "", best)

    assert sorted(contents(tree)) == listed(repo, replayed.tree or "")
    assert not (tree.path / "stray.py").exists() and not (tree.path / "run.log").exists()
    assert (tree.path / "value.txt").read_text() == "2.0\n"
    assert os.stat(tree.path / "score.py").st_ino == untouched


def test_attributes_an_agent_left_in_its_tree_do_not_decide_the_merge(
    repo: Path, tree: ExperimentTree
) -> None:
    old_base = tree.base or ""
    change = candidate(tree, {"notes.txt": NOTES.replace("third", "candidate's third")})
    best = best_moved_on(repo, {"notes.txt": NOTES.replace("third", "best's third")})
    (tree.path / ".gitattributes").write_text("* merge=union\n")  # would merge both lines
    tree.git("add", ".gitattributes")

    assert tree.replay(change, old_base, best).conflicts == ["notes.txt"]


def test_attributes_planted_beside_the_tree_do_not_decide_the_merge(
    repo: Path, tree: ExperimentTree
) -> None:
    """Unconfined code can write the worker's folder, where git would look for attributes."""
    old_base = tree.base or ""
    change = candidate(tree, {"notes.txt": NOTES.replace("third", "candidate's third")})
    best = best_moved_on(repo, {"notes.txt": NOTES.replace("third", "best's third")})
    (tree.directory / ".gitattributes").write_text("* merge=union\n")

    assert tree.replay(change, old_base, best).conflicts == ["notes.txt"]
