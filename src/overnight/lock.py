"""One harness per repository, and whether one is at work right now."""

from __future__ import annotations

import fcntl
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from overnight.errors import UsageError
from overnight.ledger import RunRecord
from overnight.workspace import STATE_DIR


class RunLock:
    """One harness per repository: an flock on ``.overnight/lock``, released by the kernel even
    after kill -9, so a stale lock never blocks a resume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise UsageError(
                f"another overnight run is active in {self.path.parent.parent}"
            ) from None
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def held_elsewhere(self) -> bool:
        if not self.path.exists():
            return False
        with self.path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


def run_in_progress(root: Path, runs: Sequence[RunRecord]) -> int | None:
    """The id of the run a harness is working on right now, if one is: the latest of ``runs``
    without an end, while the repository's lock is held (a killed harness holds none)."""
    unfinished = [run for run in runs if run.ended_at is None]
    if not unfinished or not RunLock(root / STATE_DIR / "lock").held_elsewhere():
        return None
    return unfinished[-1].id
