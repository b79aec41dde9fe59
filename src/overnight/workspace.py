"""Git, through its command line: the user's checkout, where a run starts and where ``prune``
and ``review`` edit the run branch afterwards.

Experiments never happen here (see ``isolation.tree``). The harness never runs ``git reset
--hard`` or ``git clean`` in a checkout: an edit touches only the paths it names, so a user's
untracked and uncommitted files survive. Hooks never run (``core.hooksPath`` points nowhere), so
a planted hook gains nothing, and a user's slow pre-commit hook does not slow every commit.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from overnight.errors import NotARepositoryError, WorkspaceError

STATE_DIR = ".overnight"
# Replace refs are ignored: a planted ``refs/replace/<blob>`` must not change what the harness
# reads from git objects (a frozen scorer, a base to reset to). Global and system config and
# attributes are not read: code that ran unconfined could have written ~/.gitconfig, and a clean
# filter or a diff driver planted there would run inside the harness, with its environment.
GIT_ENV = {
    "GIT_LITERAL_PATHSPECS": "1",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ATTR_NOSYSTEM": "1",
    "LC_ALL": "C",
}
# Settings that could make git run a program are pinned, so a planted hook, fsmonitor or
# attributes file never acts inside the harness's own git commands.
SAFE_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.attributesFile=/dev/null",
    "-c",
    "core.quotePath=false",
)
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "overnight",
    "GIT_AUTHOR_EMAIL": "overnight@localhost",
    "GIT_COMMITTER_NAME": "overnight",
    "GIT_COMMITTER_EMAIL": "overnight@localhost",
}


class Workspace:
    """One git working tree that a run improves."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._env = {**os.environ, **GIT_ENV}
        top = self._git_or_none("rev-parse", "--show-toplevel")
        if top is None:
            raise NotARepositoryError(
                f"{self.root} is not inside a git repository (run `git init`)"
            )
        if Path(top).resolve() != self.root:
            raise NotARepositoryError(
                f"overnight.yaml must sit at the root of the git repository ({top}), "
                f"not in {self.root}"
            )
        if self._git_or_none("rev-parse", "--verify", "-q", "HEAD") is None:
            raise WorkspaceError("the repository has no commit yet: commit your files first")
        self.git_dir = Path(self.git("rev-parse", "--absolute-git-dir").strip())
        self.identity = _identity(self.root)
        self._env.update(self.identity)

    # -- plumbing -------------------------------------------------------------------------

    def git(self, *args: str, stdin: str | None = None) -> str:
        result = self._run(args, stdin)
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise WorkspaceError(f"git {args[0]} failed: {message[-1] if message else '?'}")
        return result.stdout

    def _git_or_none(self, *args: str) -> str | None:
        result = self._run(args, None)
        return result.stdout.strip() if result.returncode == 0 else None

    def _run(
        self, args: Sequence[str], stdin: str | None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *SAFE_CONFIG, *args],
            cwd=self.root,
            env={**self._env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
        )

    # -- setup ----------------------------------------------------------------------------

    def exclude_state_dir(self) -> None:
        """Hide ``.overnight/`` from git via ``.git/info/exclude``, never the user's .gitignore."""
        exclude = self.git_dir / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        text = exclude.read_text() if exclude.exists() else ""
        if f"/{STATE_DIR}/" not in text.splitlines():
            exclude.write_text(
                text + ("" if text.endswith("\n") or not text else "\n") + f"/{STATE_DIR}/\n"
            )

    def files(self) -> list[str]:
        """Tracked files plus untracked ones git does not ignore."""
        out = self.git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
        return sorted({p for p in out.split("\0") if p and (self.root / p).is_file()})

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def current_branch(self) -> str | None:
        return self._git_or_none("symbolic-ref", "--short", "-q", "HEAD")

    def branch_exists(self, name: str) -> bool:
        return self._git_or_none("rev-parse", "--verify", "-q", f"refs/heads/{name}") is not None

    def checked_out_at(self, branch: str) -> Path | None:
        """The working tree (this one or a linked one) that has ``branch`` checked out."""
        tree = None
        for line in self.git("worktree", "list", "--porcelain").splitlines():
            if line.startswith("worktree "):
                tree = Path(line.removeprefix("worktree "))
            elif line == f"branch refs/heads/{branch}":
                return tree
        return None

    def switch(self, name: str) -> None:
        self.git("switch", "-q", name)

    def show(self, commit: str, path: str) -> str:
        return self.git("show", f"{commit}:{path}")

    def changed_files(self) -> list[str]:
        """Paths that differ from HEAD in the index or the tree, untracked ones included."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=all")
        records = iter(out.split("\0"))
        found = set()
        for record in records:
            if not record:
                continue
            found.add(record[3:])
            if record[0] in "RC":
                found.add(next(records))  # the source of a rename or copy
        return sorted(found)

    def commit(self, paths: Sequence[str], message: str) -> str:
        """Commit only ``paths``, whatever else the user has staged."""
        self.git(
            "commit", "-q", "--no-verify", "--allow-empty-message", "-m", message, "--", *paths
        )
        return self.head()

    def restore(self, paths: Sequence[str], commit: str) -> None:
        """Put ``paths`` back as they are at ``commit``, in the index and the tree."""
        # Only paths still on disk need adding (so that new files become known to git);
        # `git add` fails on a path already gone from both the tree and the index.
        if present := [p for p in paths if os.path.lexists(self.root / p)]:
            self.git("add", "-A", "--ignore-errors", "--", *present)
        self.git("restore", f"--source={commit}", "--staged", "--worktree", "--", *paths)

    def put_back(self, paths: Iterable[str], commit: str) -> None:
        """Those of ``paths`` left changed in the tree, as they are at ``commit``: what undoes
        a change half taken out. Nothing else is touched."""
        wanted = set(paths)
        if leftovers := [p for p in self.changed_files() if p in wanted]:
            self.restore(leftovers, commit)

    def reset_branch(self, branch: str, commit: str) -> None:
        """Point the run branch back at ``commit`` without touching the working tree."""
        self.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        self.git("update-ref", f"refs/heads/{branch}", commit)
        self.git("reset", "-q", commit)

    # -- pruning --------------------------------------------------------------------------

    def changed_paths(self, commit: str) -> list[str]:
        """The paths ``commit`` changed against its parent."""
        out = self.git("diff", "--name-only", "-z", "--no-renames", f"{commit}^", commit)
        return [p for p in out.split("\0") if p]

    def take_out(self, commit: str) -> bool:
        """Undo ``commit``'s own change in the index and the tree, without committing. False,
        with nothing touched, when it does not come out cleanly: a later change edited the same
        lines, or a file it deleted is back. (``git apply`` is all or nothing.) The patch has no
        context lines, so a later change to the neighbouring lines does not entangle it."""
        apply = ("apply", "--index", "--reverse", "--unidiff-zero", "--whitespace=nowarn")
        self._run(("update-index", "-q", "--refresh"), None)  # a touched file is not a change
        return self._run(apply, self._patch(commit)).returncode == 0

    def comes_out_of(self, commit: str, at: str) -> bool:
        """Whether ``take_out(commit)`` would succeed on the tree of commit ``at``: checked in a
        scratch index, so neither the tree nor the real index is touched."""
        with tempfile.TemporaryDirectory() as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            if self._run(("read-tree", at), None, env).returncode != 0:
                return False
            check = ("apply", "--cached", "--check", "--reverse", "--unidiff-zero")
            return self._run(check, self._patch(commit), env).returncode == 0

    def index_tree(self) -> str:
        """The index as a tree object: a snapshot that ``restore`` can put paths back from."""
        return self.git("write-tree").strip()

    def _patch(self, commit: str) -> str:
        return self.git(
            "diff",
            "--binary",
            "--full-index",
            "--unified=0",
            "--no-renames",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            f"{commit}^",
            commit,
        )


def _identity(root: Path) -> dict[str, str]:
    """Who the run's commits are by: the user's configured name and email, read once with
    their global config (a plain read runs nothing), since every later git command skips it."""
    found = {}
    for key, variables in (
        ("user.name", ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME")),
        ("user.email", ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL")),
    ):
        read = subprocess.run(
            ["git", "config", "--get", key], cwd=root, capture_output=True, text=True
        )
        value = read.stdout.strip() if read.returncode == 0 else ""
        for variable in variables:
            found[variable] = os.environ.get(variable) or value or _FALLBACK_IDENTITY[variable]
    return found
