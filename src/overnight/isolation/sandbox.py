"""The sandbox: code an agent wrote runs where it cannot see the harness.

With bubblewrap (``bwrap``, Linux) each evaluation process gets: the host filesystem read-only;
the experiment's workspace writable; the frozen files bound read-only over their paths in it, so
no process of the evaluation can change what is measured; an empty home and a private ``/tmp``;
the user's checkout, its ``.git`` and ``.overnight/`` (the ledger, logs, other workspaces)
hidden under empty directories; a PID namespace of its own, so no harness process (and no
environment holding a key) is visible in ``/proc``; no network unless the config allows it; GPU
devices passed through. Paths the user exposes, and the toolchain the harness itself runs from,
are read-only.

Without bubblewrap (``sandbox: off``, macOS, a kernel without user namespaces) the same call runs
the command unconfined: the environment is still an allow-list, the temporary directory private
and no bytecode written into the workspace, but nothing stops hostile code from reading or
writing as the user. The guards
in ``guards.py`` then detect what they can after the fact.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from overnight.config import SandboxConfig
from overnight.engine.resources import Slot
from overnight.errors import UsageError
from overnight.process import Completed, run_logged
from overnight.seal import key_path

# The environment of code under test is built from these names only (plus the config's
# ``env_passthrough``): a deny-list cannot know every secret a user keeps in the environment.
ALLOWED_NAMES = frozenset({"PATH", "LANG", "TERM", "TZ", "USER", "LOGNAME", "VIRTUAL_ENV"})
ALLOWED_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "OVERNIGHT_")
GPU_DEVICES = ("/dev/nvidia*", "/dev/dri")
# Folders every sandbox gets empty and private, whatever the host keeps in them
_PRIVATE = (Path("/tmp"), Path("/dev/shm"))


@functools.cache
def bubblewrap() -> str | None:
    """The ``bwrap`` executable, if it is installed and can make namespaces here (a kernel or an
    AppArmor profile may forbid unprivileged user namespaces; then it is as good as absent)."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    try:
        done = subprocess.run([*probe, "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None


def allowed_environment(
    passthrough: Iterable[str] = (), source: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allow-listed part of ``source`` (the harness's own environment by default)."""
    names = set(passthrough)
    source = os.environ if source is None else source
    return {
        k: v
        for k, v in source.items()
        if k in ALLOWED_NAMES or k in names or k.startswith(ALLOWED_PREFIXES)
    }


@dataclass(frozen=True)
class Sandbox:
    """Where the code of one workspace runs.

    ``hidden`` directories are replaced by empty ones before anything is bound (the user's
    checkout, a git directory elsewhere); ``workspace`` is bound writable on top; ``hidden_inside``
    are then hidden inside it (``.git`` and ``.overnight/`` when the workspace is the checkout);
    ``frozen`` maps each frozen file's path in the workspace to the file bound read-only there."""

    settings: SandboxConfig
    repo_root: Path
    workspace: Path
    frozen: Mapping[str, Path] = field(default_factory=dict)
    hidden: Sequence[Path] = ()
    hidden_inside: Sequence[Path] = ()
    bwrap: str | None = None
    slot: Slot = field(default_factory=Slot)  # the GPUs and cores of the worker it serves

    @classmethod
    def create(
        cls,
        settings: SandboxConfig,
        repo_root: Path,
        workspace: Path,
        git_dir: Path,
        frozen: Mapping[str, Path] | None = None,
    ) -> Sandbox:
        """A sandbox for ``workspace``: confined by bwrap when the settings and the system allow,
        else unconfined. ``required`` without bwrap is a UsageError."""
        executable = None
        if settings.mode != "off":
            executable = bubblewrap()
            if executable is None and settings.mode == "required":
                raise UsageError(
                    "sandbox.mode is required but bubblewrap is not usable here "
                    "(install it: apt-get install bubblewrap; it needs user namespaces)"
                )
        repo_root, workspace = repo_root.resolve(), workspace.resolve()
        hidden: list[Path] = []
        inside: list[Path] = []
        if workspace == repo_root:
            inside.append(repo_root / ".overnight")
        else:
            hidden.append(repo_root)
        git_dir = git_dir.resolve()
        if not _within(git_dir, repo_root) or workspace == repo_root:
            (inside if _within(git_dir, workspace) else hidden).append(git_dir)
        keys = key_path().parent.resolve()  # the ledger's sealing key, wherever it lives
        if not _within(keys, Path.home().resolve()) and keys.is_dir():
            hidden.append(keys)
        return cls(settings, repo_root, workspace, dict(frozen or {}), hidden, inside, executable)

    @classmethod
    def none(cls, workspace: Path) -> Sandbox:
        """No confinement: for code run by a user's own command on a tree of their choosing."""
        path = workspace.resolve()
        return cls(SandboxConfig(mode="off"), path, path)

    @property
    def confined(self) -> bool:
        return self.bwrap is not None

    def describe(self) -> str:
        """One line for the start of a run: which isolation is in force."""
        if self.confined:
            network = "network on" if self.settings.network else "no network"
            return (
                f"isolation: bubblewrap sandbox ({network}; checkout, .git, .overnight and home "
                "hidden; frozen files read-only)"
            )
        why = (
            "sandbox.mode is off"
            if self.settings.mode == "off"
            else "bubblewrap is not available (apt-get install bubblewrap)"
        )
        return (
            f"isolation: none ({why}): code under test runs as you and can read your files and "
            "environment; tampering is only detected afterwards"
        )

    # -- running --------------------------------------------------------------------------

    def run(
        self,
        command: str,
        log_path: Path,
        timeout: float,
        passthrough: Iterable[str] = (),
        extra: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdin_text: str | None = None,
        stderr_path: Path | None = None,
    ) -> Completed:
        """Run ``command`` (shell syntax) in the workspace, with the allow-listed environment plus
        ``extra``, a private temporary directory and no bytecode written into the tree."""
        cwd = (cwd or self.workspace).resolve()
        # confined, /tmp is a fresh tmpfs already; unconfined, a private folder stands in for it
        private = (
            contextlib.nullcontext("/tmp")
            if self.confined
            else tempfile.TemporaryDirectory(prefix="overnight-")
        )
        with private as temporary:
            env = allowed_environment(passthrough)
            home = str(Path.home()) if self.confined else os.environ.get("HOME", str(Path.home()))
            env.update(HOME=home, TMPDIR=temporary)
            # no bytecode written into the workspace; the interpreter's and the libraries' own
            # caches are still read (a private cache folder would recompile every import)
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            if self.workspace != self.repo_root:  # git in the code under test finds no repo
                env["GIT_CEILING_DIRECTORIES"] = str(self.workspace.parent)
            env.update({**self.slot.env(), **(extra or {})})
            argv = self.argv(command, cwd) if self.confined else ["/bin/sh", "-c", command]
            argv = self.slot.pin(argv)
            return run_logged(argv, cwd, env, timeout, log_path, stdin_text, stderr_path)

    def run_tool(
        self,
        command: str,
        log_path: Path,
        timeout: float,
        env: Mapping[str, str],
        cwd: Path | None = None,
        writable: Sequence[Path] = (),
        stderr_path: Path | None = None,
    ) -> Completed:
        """Run a tool the user chose (a coding agent, a router's agent CLI) in the workspace: it
        keeps the network, the home directory with its own configuration, and the environment
        the caller built, but confined it sees neither the checkout nor ``.overnight/`` (only
        ``writable`` folders of it) nor any harness process."""
        cwd = (cwd or self.workspace).resolve()
        argv: str | list[str] = command
        if self.confined:
            assert self.bwrap is not None
            args = [self.bwrap, "--die-with-parent", "--unshare-pid", "--bind", "/", "/"]
            args += ["--dev-bind", "/dev", "/dev", "--proc", "/proc"]
            for path in sorted(self.hidden, key=lambda p: len(p.parts)):
                args += ["--tmpfs", str(path)]
            for path in toolchain(tuple(sorted(self.hidden))):
                args += ["--ro-bind", str(path), str(path)]
            for path in (self.workspace, *writable):
                args += ["--bind", str(path), str(path)]
            for path in self.hidden_inside:
                if path.exists():
                    args += ["--tmpfs", str(path)]
            argv = [*args, "--chdir", str(cwd), "--", "/bin/sh", "-c", command]
        env = {**env, **self.slot.env()}
        return run_logged(argv, cwd, env, timeout, log_path, stderr_path=stderr_path)

    def argv(self, command: str, cwd: Path) -> list[str]:
        """The bwrap command line that runs ``command`` confined, in ``cwd``."""
        assert self.bwrap is not None
        home = Path.home().resolve()
        args = [self.bwrap, "--die-with-parent", "--unshare-all"]
        if self.settings.network:
            args.append("--share-net")
        args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for private in _PRIVATE:
            args += ["--perms", "1777", "--tmpfs", str(private)]
        for device in _gpu_devices():
            args += ["--dev-bind", device, device]
        for path in sorted({home, *self.hidden}, key=lambda p: len(p.parts)):
            args += ["--tmpfs", str(path)]
        for path in toolchain(tuple(sorted({home, *self.hidden, *_PRIVATE}))):  # a venv in /tmp
            args += ["--ro-bind", str(path), str(path)]
        outside, relative = self._exposed()
        for source, target in outside:
            args += ["--ro-bind", str(source), str(target)]
        args += ["--bind", str(self.workspace), str(self.workspace)]
        for path in self.hidden_inside:
            if path.exists():
                args += ["--tmpfs", str(path)]
        for name, source in sorted(self.frozen.items()):
            args += ["--ro-bind", str(source), str(self.workspace / name)]
        for source, target in relative:
            args += ["--ro-bind", str(source), str(target)]
        return [*args, "--chdir", str(cwd), "--", "/bin/sh", "-c", command]

    def _exposed(self) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]]]:
        """(absolute paths, paths inside the repository) the user exposed that exist, each as
        (source, target): a relative path is the checkout's copy shown in the workspace."""
        outside, relative = [], []
        for entry in self.settings.expose:
            path = Path(os.path.expanduser(entry))
            if path.is_absolute():
                if path.exists():
                    outside.append((path, path))
            elif (self.repo_root / path).exists():
                relative.append((self.repo_root / path, self.workspace / path))
        return outside, relative

    def link_exposed(self) -> None:
        """Unconfined, the workspace shows the exposed repository paths as symbolic links to the
        checkout's copies (confined, they are bound read-only instead)."""
        if self.confined or self.workspace == self.repo_root:
            return
        for source, target in self._exposed()[1]:
            if not os.path.lexists(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(source)

    def hint(self) -> str:
        """What a failed evaluation should know about where it ran, in one line."""
        if not self.confined:
            return ""
        outside, relative = self._exposed()
        shown = [str(t) for _, t in outside] + [
            str(t.relative_to(self.workspace)) for _, t in relative
        ]
        missing = [e for e in self.settings.expose if not _exists(e, self)]
        parts = [
            "ran in the bubblewrap sandbox: the checkout (and its ignored files), .git, "
            ".overnight and your home directory are hidden"
            + ("" if self.settings.network else ", and there is no network"),
            f"exposed read-only: {', '.join(shown)}" if shown else "nothing exposed",
        ]
        if missing:
            parts.append(f"missing exposed paths: {', '.join(missing)}")
        parts.append("expose data with sandbox.expose in overnight.yaml (network: sandbox.network)")
        return "[" + "; ".join(parts) + "]"


@functools.cache
def toolchain(hidden: tuple[Path, ...]) -> tuple[Path, ...]:
    """The interpreter, virtual environment and PATH directories that lie inside a hidden
    directory, shown read-only so that ``python`` still means what it means outside. A PATH entry
    brings its parent along (``~/.local/bin`` needs ``~/.local/lib``), unless the parent is one
    of the hidden directories itself."""
    candidates = [Path(sys.prefix), Path(sys.base_prefix)]
    if venv := os.environ.get("VIRTUAL_ENV"):
        candidates.append(Path(venv))
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and os.path.isabs(entry):
            path = Path(entry)
            candidates.append(path if path.parent in hidden else path.parent)
    found: set[Path] = set()
    for candidate in candidates:
        for path in {candidate, candidate.resolve()}:
            if path.is_dir() and any(_within(path, h) and path != h for h in hidden):
                found.add(path)
    return tuple(sorted(found, key=lambda p: (len(p.parts), str(p))))


def _gpu_devices() -> list[str]:
    return sorted(path for pattern in GPU_DEVICES for path in glob.glob(pattern))


def _within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _exists(entry: str, sandbox: Sandbox) -> bool:
    path = Path(os.path.expanduser(entry))
    return (path if path.is_absolute() else sandbox.repo_root / path).exists()
