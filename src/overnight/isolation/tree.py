"""The experiment's workspace: a disposable working tree made from git objects.

Each worker owns one directory under ``.overnight/worktrees/<run>/``: the tree the agent edits
and the evaluation runs in, and an index of its own. Before every experiment the tree is reset to
the base commit (only files that differ are rewritten) and everything else is deleted, ignored
files and bytecode caches included, so nothing an earlier experiment left can carry a score into
a later one. The tree holds no ``.git``: the harness reaches the repository's objects through
``GIT_DIR``, ``GIT_WORK_TREE`` and ``GIT_INDEX_FILE``, so neither the code under test nor an agent
finds a repository to move, and the user's checkout, HEAD and index are never touched. A keep
becomes a commit on the run branch with ``commit-tree`` and a compare-and-swap ``update-ref``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from overnight.errors import WorkspaceError
from overnight.isolation.files import remove_tree
from overnight.workspace import GIT_ENV, SAFE_CONFIG, Workspace

_TREE_CONFIG = (*SAFE_CONFIG, "-c", "core.autocrlf=false")
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFDIR: "a directory",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


@dataclass(frozen=True)
class TreeChange:
    """What an experiment changed against its base, read from the tree itself."""

    paths: list[str]
    symlinks: list[str]
    deleted: list[str]
    odd: list[str]  # guarded paths that are no longer regular files, in words
    tree: str  # the staged files as a git tree object: what a keep commits, whatever runs next
    patch: str  # the change as a patch against the base, renames shown as such

    @property
    def empty(self) -> bool:
        return not (self.paths or self.odd)


@dataclass(frozen=True)
class Replay:
    """A candidate's change re-applied onto a newer best commit: the files to measure again, or
    the paths that stop it, since a score measured on an older base says little about the
    merge."""

    tree: str | None  # the merged files as a git tree object; None when the change conflicts
    conflicts: list[str]  # paths both sides changed in ways git cannot merge, sorted
    paths: list[str]  # paths the merged tree changes against ``onto``; none on a conflict


class ExperimentTree:
    """One worker's disposable tree of the repository behind ``repo``."""

    def __init__(self, repo: Workspace, directory: Path) -> None:
        self.repo = repo
        self.directory = directory
        self.path = directory / "tree"
        self.index = directory / "index"
        self.excludes = directory / "exclude"
        self.base: str | None = None
        self._listed: tuple[str, frozenset[str]] | None = None  # (commit, its files)
        self._holds: frozenset[str] = frozenset()  # the files the tree should hold now
        self._env = {
            **os.environ,
            **GIT_ENV,
            **repo.identity,
            "GIT_DIR": str(repo.git_dir),
            "GIT_WORK_TREE": str(self.path),
            "GIT_INDEX_FILE": str(self.index),
        }
        for name in ("GIT_CEILING_DIRECTORIES", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY"):
            self._env.pop(name, None)

    def exclude(self, paths: Iterable[str]) -> None:
        """Paths git must treat as ignored in this tree (the exposed data links). The file
        replaces the user's global ignore file, which is not read: an agent that wrote to it
        could hide a file from the harness while the code under test still imports it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.excludes.write_text("".join(f"/{p.strip('/')}\n" for p in paths), encoding="utf-8")

    def git(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = self._run(*args, stdin=stdin)
        if check and result.returncode != 0:
            raise _failed(args[0], result)
        return result.stdout

    def _run(
        self, *args: str, stdin: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """git in this tree's environment, its exit status kept for the commands that answer
        with it (``merge-tree`` says "conflicts" with 1)."""
        if not self.excludes.exists():
            self.exclude(())
        return subprocess.run(
            ["git", *_TREE_CONFIG, "-c", f"core.excludesFile={self.excludes}", *args],
            cwd=cwd or self.directory,
            env=self._env,
            input=stdin,
            capture_output=True,
            text=True,
        )

    # -- per experiment -------------------------------------------------------------------

    def reset(self, commit: str) -> None:
        """The tree exactly as ``commit``, with nothing else in it. A tree that cannot be cleaned
        (a directory made unwritable, a path turned into something odd) is rebuilt from
        scratch."""
        self._check_out(commit)
        self.base = commit

    def reset_to_tree(self, tree: str, base: str) -> TreeChange:
        """The tree exactly as ``tree`` (a replayed candidate's files), read as a change against
        ``base``: so the integrator can measure the merge in this tree and keep it with
        ``commit``, whose parent is then ``base``."""
        self._check_out(tree)
        self.base = base
        paths, symlinks, deleted, patch = _read_raw_and_patch(self._diff_from_base(tree))
        return TreeChange(sorted(paths), sorted(symlinks), sorted(deleted), [], tree, patch)

    def _check_out(self, tree_ish: str) -> None:
        """Tree and index exactly as ``tree_ish``, leftovers swept; rebuilt from scratch when the
        tree cannot be cleaned."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._holds = self._listing(tree_ish)
        try:
            self.git("read-tree", "--reset", "-u", tree_ish)
            self._sweep(self._holds)
        except (WorkspaceError, OSError):
            self.remove_files()
            self.path.mkdir(parents=True)
            self.git("read-tree", "--reset", "-u", tree_ish)

    def files(self) -> list[str]:
        """The files of the base commit (the tree holds nothing else after a reset)."""
        assert self.base is not None
        return sorted(self._listing(self.base))

    def _listing(self, commit: str) -> frozenset[str]:
        """The files of ``commit`` (or of a tree): asked of git once, then carried from commit
        to commit."""
        if self._listed is None or self._listed[0] != commit:
            out = self.git("ls-tree", "-r", "-z", "--name-only", commit)
            self._listed = (commit, frozenset(p for p in out.split("\0") if p))
        return self._listed[1]

    def clean(self) -> None:
        """Nothing but the files checked out or staged: what one measurement wrote (outputs,
        caches, planted bytecode) is gone before the next, so repeats measure the same state."""
        self._sweep(self._holds)

    def _sweep(self, keep: frozenset[str]) -> None:
        """Delete everything in the tree that is not one of ``keep`` (or a folder on the way to
        one): what an evaluation wrote, ignored files, a ``.git``. A walk in this process, where
        ``git clean`` would cost a process per experiment."""
        folders = {parent for path in keep for parent in _parents(path)}
        pending = [""]
        while pending:
            folder = pending.pop()
            with os.scandir(self.path / folder) as entries:
                for entry in entries:
                    relative = f"{folder}{entry.name}"
                    if entry.is_dir(follow_symlinks=False) and relative in folders:
                        pending.append(relative + "/")
                    elif relative not in keep:
                        remove_tree(Path(entry.path))

    def change(self, guarded: Iterable[str]) -> TreeChange:
        """Stage everything the agent did and say what it was; ignored files it left (caches,
        planted bytecode, a module git would not see) are deleted, so what is evaluated is
        exactly what would be committed. ``guarded`` paths (editable and frozen) must still be
        regular files or absent: anything else is named in ``odd``."""
        assert self.base is not None
        odd = self.odd_paths(guarded)
        if os.path.lexists(self.path / ".git"):
            odd.append("made .git in the workspace (git's own files are off limits)")
        self.git("add", "-A", "--ignore-errors", check=False)
        staged = self.git("write-tree").strip()
        paths, symlinks, deleted, patch = _read_raw_and_patch(self._diff_from_base(staged))
        self._holds = (self._listing(self.base) | set(paths)) - set(deleted)
        try:  # what is on disk but not staged is what git ignores (or could not read)
            self._sweep(self._holds)
        except OSError as exc:
            odd.append(f"left the workspace in a state it cannot be swept in ({exc.strerror})")
        return TreeChange(sorted(paths), sorted(symlinks), sorted(deleted), odd, staged, patch)

    def _diff_from_base(self, staged: str) -> str:
        """``staged`` against the base, as ``_read_raw_and_patch`` reads it."""
        assert self.base is not None
        return self.git(
            "diff-tree", "-r", "-z", "--raw", "-p", "-M", "--no-color", "--no-ext-diff",
            *("--no-textconv", self.base, staged),
        )  # fmt: skip

    def odd_paths(self, guarded: Iterable[str]) -> list[str]:
        """Guarded paths that are not plain readable files any more: a FIFO would hang whoever
        reads it, a directory or an unreadable file would crash a naive reader."""
        found = []
        for path in guarded:
            full = self.path / path
            try:
                mode = os.lstat(full).st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                found.append(f"{path} cannot be examined ({exc.strerror})")
                continue
            kind = _KINDS.get(stat.S_IFMT(mode))
            if kind:
                found.append(f"{path} was replaced by {kind}")
            elif stat.S_ISREG(mode) and not os.access(full, os.R_OK):
                found.append(f"{path} was made unreadable")
        return found

    def put_back(self, paths: Sequence[str]) -> None:
        """Rewrite ``paths`` from the base commit, in the tree and the index."""
        assert self.base is not None
        if paths:
            self.git("restore", f"--source={self.base}", "--staged", "--worktree", "--", *paths)

    def commit(
        self, change: TreeChange, message: str, branch: str, parent: str | None = None
    ) -> str:
        """The change's tree (the files as they were staged, before anything was evaluated, so
        nothing the evaluation did to the index reaches it) as a commit on ``branch`` whose
        parent is ``parent`` (the state the change was made on; the base when not given); the
        branch moves only if it still points at that parent (no one else moved it meanwhile).
        With several workers the integrator commits through whichever tree is free, so the
        parent is the change's own; a tree whose base was that parent moves its base on."""
        parent = parent or self.base
        assert parent is not None
        files = (self._listing(parent) | set(change.paths)) - set(change.deleted)
        commit = self.git("commit-tree", change.tree, "-p", parent, stdin=message).strip()
        self.git("update-ref", f"refs/heads/{branch}", commit, parent)
        if self.base == parent:
            self.base = commit
        self._listed = (commit, frozenset(files))
        return commit

    def replay(self, change: TreeChange, old_base: str, onto: str) -> Replay:
        """``change``, made on ``old_base``, re-applied onto ``onto``: a three-way merge with
        ``old_base`` as the merge base, ``onto`` as ours and the change's tree as theirs, done
        in git's object store alone (no tree, index, HEAD or ref moves). git 2.39 has no
        ``merge-tree --merge-base``, so each side becomes a throwaway commit whose only parent
        is ``old_base``: that is then their one merge base, whatever ``onto``'s history."""
        onto_tree = self.git("rev-parse", "--verify", f"{onto}^{{tree}}").strip()
        ours, theirs = (
            self.git("commit-tree", "--no-gpg-sign", side, "-p", old_base, stdin="replay").strip()
            for side in (onto_tree, change.tree)
        )
        # merge-tree reads a .gitattributes in the folder it runs in (a ``merge=union`` there
        # would turn a conflict into a silent merge): it runs in an empty folder of its own
        with tempfile.TemporaryDirectory(prefix="overnight-merge-") as empty:
            merged = self._run(
                *("merge-tree", "--write-tree", "-z", "--name-only", "--no-messages"),
                *(ours, theirs),
                cwd=Path(empty),
            )
        if merged.returncode not in (0, 1):  # 1: conflicts (content, modify/delete, rename/...)
            raise _failed("merge-tree", merged)
        tree, *conflicts = (field for field in merged.stdout.split("\0") if field)
        if merged.returncode == 1:
            tree = self._apply_without_context(old_base, change.tree, onto_tree)
            if tree is None:
                return Replay(None, sorted(conflicts), [])
        out = self.git("diff-tree", "-r", "-z", "--name-only", "--no-renames", onto_tree, tree)
        return Replay(tree, [], sorted(path for path in out.split("\0") if path))

    def _apply_without_context(self, old_base: str, changed: str, onto_tree: str) -> str | None:
        """The change applied onto ``onto_tree`` line by line, or None. git's merge calls two
        edits conflicting when they touch neighbouring lines (one constant each, on lines 25
        and 26); applied without context lines, the change stops only where the best changed
        the very lines it removes. The result is measured on the best again, like any merge."""
        patch = self.git("diff-tree", "-p", "-U0", "--no-renames", "--binary", old_base, changed)
        with tempfile.TemporaryDirectory(prefix="overnight-apply-") as scratch:
            env = {**self._env, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
            steps = (
                ("read-tree", onto_tree),
                ("apply", "--cached", "--unidiff-zero", "-C0", "-"),
                ("write-tree",),
            )
            for args in steps:
                done = subprocess.run(
                    ["git", *_TREE_CONFIG, *args],
                    cwd=scratch,
                    env=env,
                    input=patch if args[0] == "apply" else None,
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    return None
        return done.stdout.strip()

    def export(self, commit: str, paths: Sequence[str], into: Path) -> None:
        """Write ``paths`` as they are at ``commit`` under ``into``, read-only: the copies the
        sandbox binds over the frozen files. Made afresh from git objects at every start."""
        remove_tree(into)
        into.mkdir(parents=True)
        env = {**self._env, "GIT_INDEX_FILE": str(into) + ".index", "GIT_WORK_TREE": str(into)}
        for args in (("read-tree", commit), ("checkout-index", "-f", "-q", "--", *paths)):
            done = subprocess.run(
                ["git", *_TREE_CONFIG, *args], env=env, capture_output=True, text=True
            )
            if done.returncode != 0:
                raise WorkspaceError(f"git {args[0]} failed: {done.stderr.strip()}")
        Path(str(into) + ".index").unlink(missing_ok=True)
        for path in paths:
            os.chmod(into / path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)

    def remove_files(self) -> None:
        """Delete the tree, whatever the code under test did to its permissions."""
        remove_tree(self.path)
        self.index.unlink(missing_ok=True)


def _failed(command: str, result: subprocess.CompletedProcess[str]) -> WorkspaceError:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return WorkspaceError(f"git {command} failed: {lines[-1] if lines else '?'}")


def _parents(path: str) -> Iterator[str]:
    """``a/b/c.txt`` -> ``a``, ``a/b``."""
    at = path.find("/")
    while at != -1:
        yield path[:at]
        at = path.find("/", at + 1)


def _read_raw_and_patch(out: str) -> tuple[list[str], list[str], list[str], str]:
    """(paths, symlinks, deleted, patch) from ``diff-tree -z --raw -p -M``: NUL-separated raw
    records (``:modes shas status``, then one path, or two for a rename), a NUL, the patch."""
    paths, symlinks, deleted = [], [], []
    fields = out.split("\0")
    at = 0
    while at < len(fields) and fields[at].startswith(":"):
        _, new_mode, *_, status = fields[at][1:].split(" ")
        named = fields[at + 1 : at + (3 if status[0] in "RC" else 2)]
        at += 1 + len(named)
        paths += named
        if new_mode == "120000":
            symlinks.append(named[-1])
        if status[0] in "DR":
            deleted.append(named[0])
    return paths, symlinks, deleted, "\0".join(fields[at:]).lstrip("\0")


def tree_files(root: Path) -> list[str]:
    """Every file git would see in ``root``: a checkout is asked through git; an experiment's
    workspace holds nothing git would not see (a reset and the ignored-file sweep see to that),
    so it is walked."""
    if (root / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
        )
        return sorted(p for p in listed.stdout.split("\0") if p and (root / p).is_file())
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        base = os.path.relpath(folder, root)
        found += [name if base == "." else f"{base}/{name}" for name in files]
    return sorted(p for p in found if (root / p).is_file() and not (root / p).is_symlink())
