"""What an experiment may touch, decided by code after the agent has acted.

Editable globs say what the agent may change; everything else is off limits. A few files are
frozen whatever the globs say, because changing them would change the rules of the run itself.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from overnight import globs
from overnight.config import CONFIG_NAME, Config, LimitsConfig
from overnight.errors import ConfigError
from overnight.isolation.tree import TreeChange
from overnight.workspace import STATE_DIR

ALWAYS_FROZEN = (CONFIG_NAME, ".gitignore", ".gitattributes", ".gitmodules")


@dataclass(frozen=True)
class Scope:
    editable: Sequence[str]
    frozen: Sequence[str]

    def is_always_frozen(self, path: str) -> bool:
        return (
            path in ALWAYS_FROZEN
            or path.split("/")[-1] in (".gitignore", ".gitattributes")
            or (path == STATE_DIR or path.startswith(STATE_DIR + "/"))
        )

    def is_frozen(self, path: str) -> bool:
        return self.is_always_frozen(path) or globs.matches(path, self.frozen)

    def is_editable(self, path: str) -> bool:
        return not self.is_frozen(path) and globs.matches(path, self.editable)

    def editable_files(self, files: Iterable[str]) -> list[str]:
        return [p for p in files if self.is_editable(p)]

    def frozen_files(self, files: Iterable[str]) -> list[str]:
        return [p for p in files if self.is_frozen(p) and not p.startswith(STATE_DIR + "/")]

    def violations(self, change: TreeChange) -> list[str]:
        """Every way the change left its scope, in words; empty when it stayed inside."""
        found = []
        for path in change.paths:
            if self.is_frozen(path):
                found.append(f"changed frozen file {path}")
            elif not globs.matches(path, self.editable):
                found.append(f"changed {path}, which is outside the editable globs")
            elif path in change.symlinks:
                found.append(f"made {path} a symbolic link")
        return found


def size_violations(limits: LimitsConfig, diff: str, change: TreeChange) -> list[str]:
    """How the change is larger than one change may be, in words; empty when it fits."""
    found = []
    if limits.max_files is not None and len(change.paths) > limits.max_files:
        found.append(f"changed {len(change.paths)} files, limit {limits.max_files}")
    lines = changed_lines(diff)
    if limits.max_changed_lines is not None and lines > limits.max_changed_lines:
        found.append(f"changed {lines} lines, limit {limits.max_changed_lines}")
    return found


def changed_lines(diff: str) -> int:
    """Added plus removed lines of a unified diff (file headers not counted)."""
    return sum(
        1
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))
    )


def scope_for(
    config: Config,
    files: Sequence[str],
    config_file: str = CONFIG_NAME,
    other_layers: Sequence[Config] = (),
) -> Scope:
    """Check the config's globs against the tree, raising ConfigError naming the field. A suite
    file is part of the measurement, so it is frozen too, and so are the other layers'."""
    measured = [
        path
        for layer in (config, *other_layers)
        for path in (
            getattr(layer.evaluate, "suite", None),
            getattr(layer.evaluate, "queries_file", None),
        )
    ]
    extra = list(dict.fromkeys(f for f in measured if f and f not in config.frozen))
    scope = Scope(tuple(config.editable), (*config.frozen, *extra))
    for field_name, patterns in (("editable", config.editable), ("frozen", config.frozen)):
        for index, pattern in enumerate(patterns):
            if not globs.select(files, [pattern]):
                raise ConfigError(
                    config_file, f"{field_name}[{index}]", f"{pattern!r} matches no file"
                )
    both = [p for p in globs.select(files, config.editable) if globs.matches(p, scope.frozen)]
    if both:
        field = "frozen" if globs.matches(both[0], config.frozen) else "evaluate.suite"
        raise ConfigError(
            config_file, field, f"{both[0]} is also editable; a file is one or the other"
        )
    if not scope.editable_files(files):
        raise ConfigError(config_file, "editable", "matches only files that are always frozen")
    if config.program and config.program not in files:
        raise ConfigError(config_file, "program", f"{config.program!r} is not a file in the tree")
    return scope


@dataclass
class Fingerprints:
    """Content digests of guarded files, recomputed only when a file's stat changes: ctime moves
    on every write, and user code cannot set it back."""

    root: Path
    _cache: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)

    def take(self, paths: Iterable[str]) -> dict[str, str]:
        return {path: self._digest(path) for path in paths}

    def _digest(self, path: str) -> str:
        full = self.root / path
        try:
            st = os.lstat(full)
        except OSError:
            return "missing"
        key = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        if stat.S_ISLNK(st.st_mode):
            digest = "link:" + os.readlink(full)
        elif not stat.S_ISREG(st.st_mode):  # never opened: a FIFO would hang the reader
            digest = f"mode:{stat.S_IFMT(st.st_mode):o}"
        else:
            try:
                digest = hashlib.blake2b(full.read_bytes(), digest_size=16).hexdigest()
            except OSError:
                digest = "unreadable"
        self._cache[path] = (key, digest)
        return digest
