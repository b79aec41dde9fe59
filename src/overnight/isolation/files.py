"""Files in folders that untrusted code could also write: deleted whatever was done to their
permissions, written without following what was planted in their place."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path


def remove_tree(path: Path) -> None:
    """Delete ``path`` (a file or a folder), whatever was done to its permissions."""
    if not os.path.isdir(path) or os.path.islink(path):
        if os.path.lexists(path):
            os.unlink(path)
        return
    for folder, dirs, _ in os.walk(path):
        for name in dirs:
            _make_writable(os.path.join(folder, name))
    _make_writable(str(path))
    shutil.rmtree(path, ignore_errors=True)


def write_fresh(path: Path, text: str) -> None:
    """Write ``text`` to a new file at ``path``: whatever stood there (a FIFO that would block
    the writer, a link that would send the text elsewhere, a folder) is removed first, and the
    file is created exclusively, so nothing planted in between is followed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_tree(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    with os.fdopen(os.open(path, flags, 0o644), "w", encoding="utf-8") as handle:
        handle.write(text)


def _make_writable(path: str) -> None:
    try:
        if not os.path.islink(path):
            os.chmod(path, stat.S_IRWXU)
    except OSError:
        pass
