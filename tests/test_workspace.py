"""Workspace against real git repositories: what changed, commit, restore, and never a planted
global filter or hook."""

import os
import subprocess

import pytest

from conftest import GIT_IDENTITY, git
from overnight.errors import WorkspaceError
from overnight.workspace import STATE_DIR, Workspace


@pytest.fixture
def repo(make_repo):
    return make_repo({"README.md": "# project\n", "src/model.py": "LAYERS = 2\n"})


@pytest.fixture
def ws(repo):
    return Workspace(repo)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private HOME and XDG_CONFIG_HOME, with no identity from the environment, so that the
    only git config outside the repository is what a test writes to ``home/.gitconfig``."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    for key in GIT_IDENTITY:
        monkeypatch.delenv(key, raising=False)
    return home


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


def commit_all(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


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
    assert ws.changed_files() == []
    assert not any(p.startswith(f"{STATE_DIR}/") for p in ws.files())


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


def test_show_reads_a_file_at_a_commit_not_the_tree(repo, ws):
    (repo / "value.txt").write_text("2.0\n")

    assert ws.show("HEAD", "value.txt") == "1.0\n"
    assert ws.show("HEAD", "src/model.py") == "LAYERS = 2\n"


def test_switch_and_branch_exists(repo, ws):
    git(repo, "branch", "overnight/night1")

    assert ws.branch_exists("overnight/night1")
    assert not ws.branch_exists("overnight/other")
    ws.switch("overnight/night1")
    assert ws.current_branch() == "overnight/night1"
    ws.switch("main")
    assert ws.current_branch() == "main"


def test_current_branch_is_none_on_a_detached_head(repo, ws):
    git(repo, "switch", "-q", "--detach", "HEAD")

    assert ws.current_branch() is None


# -- what changed ----------------------------------------------------------------------------


def test_changed_files_of_a_clean_tree_is_empty(ws):
    assert ws.changed_files() == []


def test_changed_files_lists_a_modified_file(repo, ws):
    (repo / "value.txt").write_text("2.0\n")

    assert ws.changed_files() == ["value.txt"]


def test_changed_files_lists_an_untracked_file_in_a_new_subfolder_by_its_own_path(repo, ws):
    (repo / "src" / "layers").mkdir()
    (repo / "src" / "layers" / "attention.py").write_text("HEADS = 4\n")

    assert ws.changed_files() == ["src/layers/attention.py"]


def test_changed_files_lists_both_names_of_a_staged_rename(repo, ws):
    git(repo, "mv", "src/model.py", "src/net.py")
    assert status(repo) == "R  src/model.py -> src/net.py"  # git did record it as a rename

    assert ws.changed_files() == ["src/model.py", "src/net.py"]


def test_changed_files_lists_a_deleted_file(repo, ws):
    (repo / "README.md").unlink()

    assert ws.changed_files() == ["README.md"]


def test_changed_files_lists_staged_and_unstaged_changes_together(repo, ws):
    (repo / "value.txt").write_text("2.0\n")
    git(repo, "add", "value.txt")
    git(repo, "rm", "-q", "README.md")
    (repo / "src" / "model.py").write_text("LAYERS = 3\n")
    (repo / "a name with spaces.txt").write_text("x\n")

    assert ws.changed_files() == [
        "README.md",
        "a name with spaces.txt",
        "src/model.py",
        "value.txt",
    ]


# -- commit ----------------------------------------------------------------------------------


def test_commit_commits_only_the_given_paths_and_leaves_other_staged_paths_staged(repo, ws):
    (repo / "notes.txt").write_text("user's staged work\n")
    git(repo, "add", "notes.txt")
    parent = ws.head()
    (repo / "value.txt").write_text("2.0\n")

    commit = ws.commit(["value.txt"], "raise value to 2.0")

    assert commit == ws.head() != parent
    assert git(repo, "log", "-1", "--format=%s") == "raise value to 2.0"
    assert git(repo, "rev-parse", "HEAD~1") == parent
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "value.txt"
    assert ws.show("HEAD", "value.txt") == "2.0\n"
    assert git(repo, "diff", "--cached", "--name-only") == "notes.txt"
    assert status(repo) == "A  notes.txt"


def test_commit_does_not_run_the_repositorys_hooks(repo, ws):
    marker = repo.parent / "post-commit-ran"
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_text("#!/bin/sh\necho refused >&2\nexit 1\n")
    (hooks / "post-commit").write_text(f"#!/bin/sh\ntouch '{marker}'\n")
    for hook in ("pre-commit", "post-commit"):
        (hooks / hook).chmod(0o755)
    (repo / "value.txt").write_text("2.0\n")

    ws.commit(["value.txt"], "kept")

    assert ws.show("HEAD", "value.txt") == "2.0\n"
    assert not marker.exists()


def test_commit_of_a_staged_deletion_and_a_staged_new_file(repo, ws):
    git(repo, "rm", "-q", "README.md")
    (repo / "NEW.md").write_text("new\n")
    git(repo, "add", "NEW.md")

    ws.commit(["README.md", "NEW.md"], "swap readme")

    assert git(repo, "ls-files").splitlines() == [
        "NEW.md",
        "overnight.yaml",
        "score.py",
        "src/model.py",
        "value.txt",
    ]
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").splitlines()) == [
        "NEW.md",
        "README.md",
    ]
    assert status(repo) == ""


def test_commit_of_a_path_git_does_not_know_is_a_workspace_error(repo, ws):
    (repo / "untracked.txt").write_text("x\n")
    head = ws.head()

    with pytest.raises(WorkspaceError, match="git commit failed"):
        ws.commit(["untracked.txt"], "nope")
    assert ws.head() == head


# -- restore and put back --------------------------------------------------------------------


def test_restore_brings_back_modified_new_and_deleted_files_and_nothing_else(repo, ws):
    best = ws.head()
    (repo / "notes.txt").write_text("user's untracked file\n")
    (repo / "src" / "model.py").write_text("LAYERS = 9\n")  # changed, but not named
    (repo / "value.txt").write_text("2.0\n")
    (repo / "src" / "new_module.py").write_text("X = 1\n")
    (repo / "README.md").unlink()

    ws.restore(["value.txt", "src/new_module.py", "README.md"], best)

    assert (repo / "value.txt").read_text() == "1.0\n"
    assert not (repo / "src" / "new_module.py").exists()
    assert (repo / "README.md").read_text() == "# project\n"
    assert (repo / "notes.txt").read_text() == "user's untracked file\n"
    assert (repo / "src" / "model.py").read_text() == "LAYERS = 9\n"
    assert status(repo).splitlines() == [" M src/model.py", "?? notes.txt"]
    assert ws.head() == best


def test_restore_of_staged_changes_including_a_git_rm(repo, ws):
    best = ws.head()
    (repo / "value.txt").write_text("2.0\n")
    (repo / "new.txt").write_text("new\n")
    git(repo, "add", "value.txt", "new.txt")
    git(repo, "rm", "-q", "README.md")

    ws.restore(["value.txt", "new.txt", "README.md"], best)

    assert (repo / "value.txt").read_text() == "1.0\n"
    assert not (repo / "new.txt").exists()
    assert (repo / "README.md").read_text() == "# project\n"
    assert status(repo) == ""


def test_restore_from_an_older_commit_leaves_head_and_the_branch_alone(repo, ws):
    old = ws.head()
    (repo / "value.txt").write_text("2.0\n")
    (repo / "added.txt").write_text("x\n")
    later = commit_all(repo, "later")

    ws.restore(["value.txt", "added.txt"], old)

    assert ws.head() == later
    assert ws.current_branch() == "main"
    assert (repo / "value.txt").read_text() == "1.0\n"
    assert not (repo / "added.txt").exists()
    assert status(repo).splitlines() == ["D  added.txt", "M  value.txt"]


def test_restore_from_an_index_tree_snapshot(repo, ws):
    (repo / "value.txt").write_text("2.0\n")
    git(repo, "add", "value.txt")
    snapshot = ws.index_tree()
    (repo / "value.txt").write_text("3.0\n")
    git(repo, "add", "value.txt")

    ws.restore(["value.txt"], snapshot)

    assert (repo / "value.txt").read_text() == "2.0\n"
    assert status(repo) == "M  value.txt"


def test_put_back_restores_only_changed_paths_among_those_named(repo, ws):
    best = ws.head()
    (repo / "value.txt").write_text("2.0\n")
    (repo / "created.txt").write_text("new\n")
    (repo / "README.md").unlink()
    (repo / "notes.txt").write_text("user's own\n")  # changed, but not named

    ws.put_back(["value.txt", "created.txt", "README.md", "src/model.py"], best)

    assert (repo / "value.txt").read_text() == "1.0\n"
    assert not (repo / "created.txt").exists()
    assert (repo / "README.md").read_text() == "# project\n"
    assert (repo / "src" / "model.py").read_text() == "LAYERS = 2\n"
    assert (repo / "notes.txt").read_text() == "user's own\n"
    assert status(repo) == "?? notes.txt"


def test_put_back_with_nothing_changed_touches_nothing(repo, ws):
    (repo / "notes.txt").write_text("user's own\n")
    before = status(repo)

    ws.put_back(["value.txt", "README.md"], ws.head())

    assert status(repo) == before == "?? notes.txt"


def test_reset_branch_moves_the_branch_without_touching_files(repo, ws):
    best = ws.head()
    (repo / "value.txt").write_text("2.0\n")
    git(repo, "commit", "-q", "-am", "later")
    (repo / "notes.txt").write_text("mine\n")

    ws.reset_branch("main", best)

    assert ws.head() == best
    assert git(repo, "rev-parse", "main") == best
    assert (repo / "value.txt").read_text() == "2.0\n"
    assert (repo / "notes.txt").read_text() == "mine\n"
    assert status(repo).splitlines() == [" M value.txt", "?? notes.txt"]


# -- pruning ---------------------------------------------------------------------------------


def test_changed_paths_take_out_and_comes_out_of(repo, ws):
    (repo / "value.txt").write_text("2.0\n")
    (repo / "extra.txt").write_text("x\n")
    first = commit_all(repo, "first")
    (repo / "src" / "model.py").write_text("LAYERS = 3\n")
    second = commit_all(repo, "second")

    assert ws.changed_paths(first) == ["extra.txt", "value.txt"]
    assert ws.comes_out_of(first, second)
    assert status(repo) == ""  # the check touched nothing

    assert ws.take_out(first)
    assert (repo / "value.txt").read_text() == "1.0\n"
    assert not (repo / "extra.txt").exists()
    assert (repo / "src" / "model.py").read_text() == "LAYERS = 3\n"
    assert status(repo).splitlines() == ["D  extra.txt", "M  value.txt"]


def test_take_out_of_an_entangled_commit_touches_nothing(repo, ws):
    (repo / "value.txt").write_text("2.0\n")
    first = commit_all(repo, "first")
    (repo / "value.txt").write_text("3.0\n")
    second = commit_all(repo, "second")

    assert not ws.comes_out_of(first, second)
    assert not ws.take_out(first)
    assert (repo / "value.txt").read_text() == "3.0\n"
    assert status(repo) == ""


# -- identity --------------------------------------------------------------------------------


def test_identity_comes_from_the_users_global_config(repo, home):
    (home / ".gitconfig").write_text("[user]\n\tname = Ada Lovelace\n\temail = ada@example.org\n")
    ws = Workspace(repo)
    (repo / "value.txt").write_text("2.0\n")

    ws.commit(["value.txt"], "by ada")

    assert ws.identity["GIT_AUTHOR_NAME"] == ws.identity["GIT_COMMITTER_NAME"] == "Ada Lovelace"
    assert (
        ws.identity["GIT_AUTHOR_EMAIL"] == ws.identity["GIT_COMMITTER_EMAIL"] == ("ada@example.org")
    )
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "Ada Lovelace <ada@example.org>|Ada Lovelace <ada@example.org>"
    )


def test_identity_from_the_repositorys_config_wins_over_the_global_one(repo, home):
    (home / ".gitconfig").write_text("[user]\n\tname = Global\n\temail = global@example.org\n")
    git(repo, "config", "user.name", "Local Name")
    git(repo, "config", "user.email", "local@example.org")
    ws = Workspace(repo)
    (repo / "value.txt").write_text("2.0\n")

    ws.commit(["value.txt"], "by the repo's user")

    assert ws.identity["GIT_AUTHOR_NAME"] == "Local Name"
    assert ws.identity["GIT_AUTHOR_EMAIL"] == "local@example.org"
    assert git(repo, "log", "-1", "--format=%an <%ae>") == "Local Name <local@example.org>"


def test_identity_falls_back_to_overnight_when_none_is_configured(repo, home):
    assert not (home / ".gitconfig").exists()
    ws = Workspace(repo)
    (repo / "value.txt").write_text("2.0\n")

    ws.commit(["value.txt"], "by nobody in particular")

    assert ws.identity == {
        "GIT_AUTHOR_NAME": "overnight",
        "GIT_AUTHOR_EMAIL": "overnight@localhost",
        "GIT_COMMITTER_NAME": "overnight",
        "GIT_COMMITTER_EMAIL": "overnight@localhost",
    }
    assert git(repo, "log", "-1", "--format=%an <%ae>|%ce") == (
        "overnight <overnight@localhost>|overnight@localhost"
    )


def test_identity_from_the_environment_wins(repo, home, monkeypatch):
    (home / ".gitconfig").write_text("[user]\n\tname = Global\n\temail = global@example.org\n")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "From Env")

    ws = Workspace(repo)

    assert ws.identity["GIT_AUTHOR_NAME"] == "From Env"
    assert ws.identity["GIT_COMMITTER_NAME"] == "Global"
    assert ws.identity["GIT_AUTHOR_EMAIL"] == "global@example.org"


# -- a hostile global config -----------------------------------------------------------------


def plant_hostile_global_config(home):
    """A ~/.gitconfig whose clean filter (for every file) and hooks each touch a marker."""
    filter_marker = home / "filter-ran"
    hook_marker = home / "hook-ran"
    attributes = home / "attributes"
    attributes.write_text("* filter=x\n")
    hooks = home / "hooks"
    hooks.mkdir()
    for name in ("pre-commit", "post-commit", "post-checkout"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch '{hook_marker}'\n")
        (hooks / name).chmod(0o755)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Planted\n\temail = planted@example.org\n"
        f'[filter "x"]\n\tclean = "sh -c \'touch {filter_marker}; cat\'"\n'
        f"[core]\n\tattributesFile = {attributes}\n\thooksPath = {hooks}\n"
    )
    return filter_marker, hook_marker


def test_a_hostile_global_config_never_runs_in_the_workspaces_git(repo, home):
    best = git(repo, "rev-parse", "HEAD")
    (repo / "value.txt").write_text("2.0\n")
    (repo / "notes.txt").write_text("new\n")
    (repo / "src" / "model.py").write_text("LAYERS = 3\n")
    filter_marker, hook_marker = plant_hostile_global_config(home)

    ws = Workspace(repo)
    assert ws.files() == [
        "README.md",
        "notes.txt",
        "overnight.yaml",
        "score.py",
        "src/model.py",
        "value.txt",
    ]
    assert ws.changed_files() == ["notes.txt", "src/model.py", "value.txt"]
    ws.restore(["src/model.py", "notes.txt"], best)
    ws.commit(["value.txt"], "while a filter is planted")
    ws.put_back(["value.txt"], best)

    assert not filter_marker.exists()
    assert not hook_marker.exists()
    assert ws.show("HEAD", "value.txt") == "2.0\n"
    assert ws.identity["GIT_AUTHOR_NAME"] == "Planted"  # the identity was still read
    assert (repo / "src" / "model.py").read_text() == "LAYERS = 2\n"
    assert not (repo / "notes.txt").exists()

    # The planted config is live for a plain git: what the workspace did not run, git would.
    (repo / "value.txt").write_text("4.0\n")
    subprocess.run(["git", "add", "value.txt"], cwd=repo, check=True, env=dict(os.environ))
    subprocess.run(
        ["git", "commit", "-q", "-m", "plain"], cwd=repo, check=True, env=dict(os.environ)
    )
    assert filter_marker.exists()
    assert hook_marker.exists()
