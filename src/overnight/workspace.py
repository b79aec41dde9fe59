"""Git, through its command line: the run branch, what an experiment changed, keep and revert.

The harness never runs ``git reset --hard`` or ``git clean``: a revert touches only the paths the
experiment changed, so a user's untracked and uncommitted files outside the editable globs
survive any run. Hooks never run (``core.hooksPath`` points nowhere), so an agent that plants a
hook gains nothing, and a user's slow pre-commit hook does not slow every keep.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from overnight.errors import WorkspaceError

STATE_DIR = ".overnight"
# Replace refs are ignored: a planted ``refs/replace/<blob>`` must not change what the harness
# reads from git objects (a frozen scorer, a base to reset to).
GIT_ENV = {
    "GIT_LITERAL_PATHSPECS": "1",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "LC_ALL": "C",
}
# Settings that could make git run a program are pinned, so a planted hook or fsmonitor never
# runs inside the harness's own git commands.
SAFE_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.quotePath=false",
)
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "overnight",
    "GIT_AUTHOR_EMAIL": "overnight@localhost",
    "GIT_COMMITTER_NAME": "overnight",
    "GIT_COMMITTER_EMAIL": "overnight@localhost",
}
# Inside .git, what an agent could use to run code or redirect the repository. Refs, index,
# objects and logs change with every keep and are checked through HEAD instead.
_INTERNALS = ("config", "hooks", "info", "objects/info", "modules", "commondir")


@dataclass(frozen=True)
class TreeState:
    """``git status`` at one moment, plus a stat signature per listed path, so that a second edit
    of an already-dirty file still shows up as a change."""

    head: str
    branch: str | None
    entries: dict[str, tuple[str, tuple[int, ...] | None]]
    internals: dict[str, str]

    def to_json(self) -> dict:
        return {"head": self.head, "branch": self.branch, "paths": sorted(self.entries)}


@dataclass(frozen=True)
class Change:
    """What happened to the tree between two states."""

    paths: list[str]
    head_moved: bool = False
    internals: list[str] = field(default_factory=list)
    symlinks: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unrestorable: list[str] = field(default_factory=list)  # internals with no backup to return to

    @property
    def empty(self) -> bool:
        return not (self.paths or self.head_moved or self.internals)


class Workspace:
    """One git working tree that a run improves."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._env = {**os.environ, **GIT_ENV}
        top = self._git_or_none("rev-parse", "--show-toplevel")
        if top is None:
            raise WorkspaceError(f"{self.root} is not inside a git repository (run `git init`)")
        if Path(top).resolve() != self.root:
            raise WorkspaceError(
                f"overnight.yaml must sit at the root of the git repository ({top}), "
                f"not in {self.root}"
            )
        if self._git_or_none("rev-parse", "--verify", "-q", "HEAD") is None:
            raise WorkspaceError("the repository has no commit yet: commit your files first")
        self.internals_backup: Path | None = None
        self.git_dir = Path(self.git("rev-parse", "--absolute-git-dir").strip())
        self.identity: dict[str, str] = {}
        if not self._git_or_none("config", "user.email"):
            self.identity = dict(_FALLBACK_IDENTITY)
            self._env.update(_FALLBACK_IDENTITY)

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

    def create_branch(self, name: str) -> None:
        self.git("switch", "-q", "-c", name)

    def switch(self, name: str) -> None:
        self.git("switch", "-q", name)

    def dirty(self, paths: Iterable[str]) -> list[str]:
        wanted = set(paths)
        return sorted(p for p in self.state().entries if p in wanted)

    def show(self, commit: str, path: str) -> str:
        return self.git("show", f"{commit}:{path}")

    # -- per experiment -------------------------------------------------------------------

    def state(self) -> TreeState:
        out = self.git("status", "--porcelain=v2", "-z", "--untracked-files=all", "--branch")
        head, branch, entries = "", None, {}
        records = iter(out.split("\0"))
        for record in records:
            if record.startswith("# branch.oid "):
                head = record.removeprefix("# branch.oid ")
            elif record.startswith("# branch.head "):
                name = record.removeprefix("# branch.head ")
                branch = None if name == "(detached)" else name
            elif record.startswith(("1 ", "u ")):
                parts = record.split(" ", 8 if record[0] == "1" else 10)
                entries[parts[-1]] = parts[1]
            elif record.startswith("2 "):
                parts = record.split(" ", 9)
                entries[parts[-1]] = parts[1]
                entries[next(records)] = "R-"
            elif record.startswith("? "):
                entries[record[2:]] = "?"
        signed = {path: (code, self._signature(path)) for path, code in entries.items()}
        return TreeState(head, branch, signed, self.internals())

    def _signature(self, path: str) -> tuple[int, ...] | None:
        try:
            st = os.lstat(self.root / path)
        except OSError:
            return None
        return (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def internals(self) -> dict[str, str]:
        """A signature per file inside .git that could run code or redirect the repository.
        ctime changes on every write and cannot be set back by user code, so stat suffices."""
        found: dict[str, str] = {}
        pending = [os.path.join(self.git_dir, name) for name in _INTERNALS]
        while pending:
            path = pending.pop()
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                pending.extend(entry.path for entry in os.scandir(path))
            else:
                signature = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                found[os.path.relpath(path, self.git_dir)] = repr(signature)
        return found

    def change_since(self, before: TreeState) -> tuple[Change, TreeState]:
        """What changed since ``before``. Git internals are checked and put back first, before
        git itself runs again, so a filter or config an agent planted never executes."""
        now = self.internals()
        touched = sorted(
            name
            for name in before.internals.keys() | now.keys()
            if before.internals.get(name) != now.get(name)
        )
        unrestorable = self._restore_internals(touched, before.internals)
        after = self.state()
        paths = {
            p
            for p in before.entries.keys() | after.entries.keys()
            if before.entries.get(p) != after.entries.get(p)
        }
        head_moved = after.head != before.head or after.branch != before.branch
        if head_moved and after.head and before.head:
            out = self._git_or_none("diff", "--name-only", "-z", before.head, after.head) or ""
            paths.update(p for p in out.split("\0") if p)
        symlinks = sorted(p for p in paths if (self.root / p).is_symlink())
        deleted = sorted(p for p in paths if not os.path.lexists(self.root / p))
        internals = [f".git/{name}" for name in touched]
        change = Change(sorted(paths), head_moved, internals, symlinks, deleted, unrestorable)
        return change, after

    def _restore_internals(self, names: list[str], before: dict[str, str]) -> list[str]:
        """A planted file goes; a changed one comes back from the backup taken at the start."""
        unrestorable = []
        for relative in names:
            target = self.git_dir / relative
            saved = self.internals_backup / ".git" / relative if self.internals_backup else None
            if relative not in before:
                target.unlink(missing_ok=True)
            elif saved is not None and saved.is_file():
                target.unlink(missing_ok=True)
                shutil.copy2(saved, target)
            else:
                unrestorable.append(f".git/{relative}")
        return unrestorable

    def stage_and_diff(self, change: Change, base: str = "HEAD") -> str:
        """Stage exactly the changed paths and return their diff against ``base`` (the commit the
        experiment started from, which is no longer HEAD if the agent committed by itself)."""
        if not change.paths:
            return ""
        self.git("add", "-A", "--", *change.paths)
        return self.git(
            "diff", "--cached", "--no-color", "--no-ext-diff", "-M", base, "--", *change.paths
        )

    def commit(self, change: Change, message: str) -> str:
        """Commit only the experiment's paths, whatever else the user has staged."""
        self.git(
            "commit",
            "-q",
            "--no-verify",
            "--allow-empty-message",
            "-m",
            message,
            "--",
            *change.paths,
        )
        return self.head()

    def restore(
        self,
        change: Change,
        best: str,
        branch: str,
        before: TreeState | None = None,
        backup: Path | None = None,
        staged: bool = False,
    ) -> list[str]:
        """Put every path the change touched back as it was at ``best`` (or, for a user's
        uncommitted file, as it was in the backup); return the paths that could not be restored.
        ``staged`` says the paths are already in the index (``stage_and_diff`` ran)."""
        if change.head_moved:
            self.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
            self.git("update-ref", f"refs/heads/{branch}", best)
            self.git("reset", "-q", best)
        user_files = set(before.entries) if before else set()
        from_git = [p for p in change.paths if p not in user_files]
        lost = []
        for path in change.paths:
            if path in user_files and not self._restore_backup(path, backup):
                lost.append(path)
        if touched_user_files := sorted(user_files & set(change.paths)):
            # stage_and_diff staged them; a user's untracked file must not end up in the index
            self.git("reset", "-q", best, "--", *touched_user_files)
        lost += change.unrestorable  # the rest of the internals went back in change_since
        if from_git:
            # Only paths still on disk need adding (so that new files become known to git);
            # `git add` fails on a path already gone from both the tree and the index.
            present = [p for p in from_git if os.path.lexists(self.root / p)]
            if present and (not staged or change.head_moved):
                self.git("add", "-A", "--ignore-errors", "--", *present)
            self.git("restore", f"--source={best}", "--staged", "--worktree", "--", *from_git)
        return lost

    def _restore_backup(self, path: str, backup: Path | None) -> bool:
        saved = backup / path if backup else None
        target = self.root / path
        if saved is None or not saved.is_file():
            return False
        if target.is_symlink() or target.is_file():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(saved, target)
        return True

    def backup_user_files(
        self, state: TreeState, skip: Iterable[str], into: Path, max_file_bytes: int = 5_000_000
    ) -> list[str]:
        """Copy the user's uncommitted files so that an experiment that tramples them can be
        undone; return the ones too large to keep."""
        skipped = set(skip)
        too_large = []
        for path in state.entries:
            source = self.root / path
            if path in skipped or source.is_symlink() or not source.is_file():
                continue
            if source.stat().st_size > max_file_bytes:
                too_large.append(path)
                continue
            target = into / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        return too_large

    def protect_internals(self, into: Path) -> list[str]:
        """Copy git's own files that an agent could abuse (config, hooks, info), so a violation
        that edits ``.git/config`` is undone, not just reported. When the copy exists already
        (a resumed run), put back whatever differs from it instead; return what was put back."""
        self.internals_backup = into
        saved = into / ".git"
        if not saved.is_dir():
            for relative in self.internals():
                source = self.git_dir / relative
                if source.is_file() and not source.is_symlink():
                    (saved / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, saved / relative)
            return []
        restored = []
        for relative in self.internals():
            source, copy = self.git_dir / relative, saved / relative
            planted = not copy.exists() and relative.startswith("hooks/")
            if planted or (copy.is_file() and copy.read_bytes() != _bytes_or_none(source)):
                restored.append(f".git/{relative}")
                source.unlink(missing_ok=True)
                if copy.is_file():
                    shutil.copy2(copy, source)
        return restored

    def put_back(self, paths: Iterable[str], commit: str, branch: str) -> None:
        """Those of ``paths`` left changed in the tree, as they are at ``commit``: what undoes
        a change half taken out. Nothing else is touched."""
        wanted = set(paths)
        leftovers = sorted(p for p in self.state().entries if p in wanted)
        if leftovers:
            self.restore(Change(leftovers), commit, branch)

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


def _bytes_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if not path.is_symlink() else None
    except OSError:
        return None
