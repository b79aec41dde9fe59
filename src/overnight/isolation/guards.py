"""Checks that hold where isolation by construction does not reach.

``StatGuard`` compares the full ``lstat`` of the guarded files before and after each measurement:
a write moves ctime, which no user code can set back, so even a file rewritten and put back
between two processes of one evaluation is caught, and a FIFO or a directory in its place shows
as a change of mode without ever being opened.

``GitGuard`` matters only when agents or code under test run unconfined (no sandbox): then they
can reach the repository's ``.git``. It snapshots, in memory, the refs, HEAD, ``packed-refs`` and
the files that make git run programs or read elsewhere (config, hooks, info, alternates), and
after each untrusted step names and undoes any change. The snapshot lives in the harness's memory,
so there is no backup on disk for an attacker to poison.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_WATCHED = ("HEAD", "packed-refs", "refs", "config", "hooks", "info", "objects/info", "commondir")
_MAX_WATCHED_BYTES = 50_000_000


def signature(path: Path) -> tuple[int, ...] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class StatGuard:
    """The guarded files of one tree, as they were before a measurement."""

    root: Path
    before: Mapping[str, tuple[int, ...] | None]

    @classmethod
    def take(cls, root: Path, paths: Iterable[str]) -> StatGuard:
        return cls(root, {p: signature(root / p) for p in paths})

    def changed(self) -> list[str]:
        return sorted(p for p, sig in self.before.items() if signature(self.root / p) != sig)


Snapshot = dict[str, bytes]


class GitGuard:
    """Refs and git's own files, watched while untrusted code runs unconfined. ``unwatched`` is
    the run branch: with several workers the integrator moves it while other workers' windows
    are open, so the integrator checks it itself, against the best state it knows."""

    def __init__(self, git_dir: Path, unwatched: str | None = None) -> None:
        self.git_dir = git_dir
        self.unwatched = unwatched
        # content by full lstat: a file whose signature (ctime included) is unchanged is not
        # read again, so a snapshot costs a walk, not a read of every ref
        self._read: dict[Path, tuple[tuple[int, ...] | None, bytes]] = {}

    def snapshot(self) -> Snapshot:
        found: Snapshot = {}
        pending = [self.git_dir / name for name in _WATCHED]
        while pending:
            path = pending.pop()
            name = path.relative_to(self.git_dir).as_posix()
            if name == self.unwatched or name.endswith(".lock"):
                continue
            if path.is_symlink():
                found[name] = b"link:" + os.readlink(path).encode()
            elif path.is_dir():
                pending.extend(path.iterdir())
            elif path.is_file():
                found[name] = self._content(path)
            elif path.exists():
                found[name] = b"odd"
        return found

    def _content(self, path: Path) -> bytes:
        now = signature(path)
        cached = self._read.get(path)
        if cached is None or cached[0] != now:
            cached = self._read[path] = (now, _read(path))
        return cached[1]

    @staticmethod
    def changes(before: Snapshot, after: Snapshot) -> list[str]:
        return sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))

    def undo(self, before: Snapshot, names: Iterable[str]) -> list[str]:
        """Put each named file back as it was (a planted one goes); return those that could not
        be (a file too large to have been kept)."""
        failed = []
        for name in names:
            path = self.git_dir / name
            _remove(path)
            content = before.get(name)
            if content is None:
                continue
            if content.startswith(b"link:") or content == b"odd":
                failed.append(name)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return failed

    @staticmethod
    def digests(snapshot: Snapshot) -> dict[str, str]:
        """What a resume compares with: small enough for the ledger."""
        return {n: hashlib.sha256(c).hexdigest()[:32] for n, c in sorted(snapshot.items())}


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > _MAX_WATCHED_BYTES:
            return b"size:%d" % path.stat().st_size
        return path.read_bytes()
    except OSError:
        return b"unreadable"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.rglob("*"), key=lambda p: -len(p.parts)):
            if child.is_dir() and not child.is_symlink():
                child.rmdir()
            else:
                child.unlink()
        path.rmdir()
    elif os.path.lexists(path):
        path.unlink()
