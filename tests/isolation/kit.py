"""Repositories that attack the harness, and what the user must find unchanged afterwards.

A repository here has a frozen ``score.py`` (prints ``score: <value.txt>``), an editable
``value.txt`` and a frozen ``agent.py`` run by the ``command`` agent in its workspace. Attack
scripts start with ``PRELUDE``: they find the user's repository the way hostile code would (the
path in ``OVERNIGHT_ATTACK_REPO``, which the tests set, or by walking up from the working
directory) and report what they saw as ``key: number`` lines, which the command evaluator keeps
as secondary metrics (an evaluation) or in a file under ``OVERNIGHT_ATTACK_OUT`` (an agent).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from overnight.isolation.sandbox import bubblewrap

TAG = "t"
BRANCH = f"overnight/{TAG}"
PY = sys.executable
SANDBOXES = [pytest.param("required", id="bwrap"), pytest.param("off", id="off")]

SCORE = """\
from pathlib import Path
value = float(Path("value.txt").read_text())
print(f"score: {value}")
"""

PRELUDE = """\
import os, subprocess, sys
from pathlib import Path

def user_repo():
    known = os.environ.get("OVERNIGHT_ATTACK_REPO")
    for place in ([Path(known)] if known else []) + list(Path.cwd().resolve().parents):
        if (place / ".git").exists():
            return place
    return None

def git(repo, *args):
    ident = ["-c", "user.name=Mallory", "-c", "user.email=m@example.com"]
    done = subprocess.run(["git", *ident, "-C", str(repo), *args], capture_output=True, text=True)
    return done.stdout.strip()

def number():
    return int(os.environ.get("OVERNIGHT_EXPERIMENT", "0"))

def value():
    return float(Path("value.txt").read_text())

def out(name, text):
    folder = os.environ.get("OVERNIGHT_ATTACK_OUT")
    if folder:
        with open(os.path.join(folder, name), "a") as handle:
            handle.write(text)
"""


def need(mode: str) -> None:
    """``required`` needs bubblewrap: skipped where it cannot run, a failure on CI."""
    if mode == "required" and bubblewrap() is None:
        if os.environ.get("CI"):
            pytest.fail("bubblewrap is not usable on this CI machine")
        pytest.skip("bubblewrap is not usable here")


def attack_config(mode: str, **overrides: Any) -> dict[str, Any]:
    """overnight.yaml for an attack; ``evaluate`` and ``agent`` overrides are merged, unless
    ``evaluate`` names another ``kind``."""
    config: dict[str, Any] = {
        "name": "attack",
        "editable": ["value.txt"],
        "frozen": ["score.py", "agent.py"],
        "evaluate": {
            "command": f"{PY} score.py",
            "metric": "score",
            "direction": "maximize",
            "timeout": 20,
        },
        "agent": {"kind": "command", "command": f"{PY} agent.py", "timeout": 20},
        "sandbox": {"mode": mode},
        "budget": {"experiments": 2},
    }
    for key, value in overrides.items():
        if key in ("evaluate", "agent") and "kind" not in value:
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def attack_repo(
    make_repo: Any,
    mode: str,
    agent: str = "",
    files: dict[str, str] | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
    **overrides: Any,
) -> Path:
    """A committed repository whose agent runs ``PRELUDE + agent``; with ``monkeypatch`` the
    attack scripts are told where it is and where to report (``<repo>.out/``)."""
    need(mode)
    files = {"score.py": SCORE, "agent.py": PRELUDE + agent, **(files or {})}
    root = make_repo(files, attack_config(mode, **overrides))
    exclude = root / ".git" / "info" / "exclude"  # as the first run leaves it
    exclude.write_text(exclude.read_text() + "/.overnight/\n")
    if monkeypatch is not None:
        outbox = root.with_name(root.name + ".out")
        outbox.mkdir()
        monkeypatch.setenv("OVERNIGHT_ATTACK_REPO", str(root))
        monkeypatch.setenv("OVERNIGHT_ATTACK_OUT", str(outbox))
    return root


def outbox(root: Path) -> Path:
    return root.with_name(root.name + ".out")


def git(root: Path, *args: str) -> str:
    """git in the user's checkout, never refreshing its index."""
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    return done.stdout.rstrip()


@dataclass(frozen=True)
class Checkout:
    """Everything of the user's repository a run must leave alone: HEAD, every ref but the
    run's own branch, the index, git's config and hooks, and the files (``.overnight/`` aside)."""

    head: str
    refs: dict[str, str]
    index: bytes
    config: bytes
    hooks: tuple[str, ...]
    files: dict[str, bytes]

    @classmethod
    def of(cls, root: Path) -> Checkout:
        git_dir = root / ".git"
        listed = git(root, "for-each-ref", "--format=%(refname) %(objectname)")
        refs = dict(line.split(" ", 1) for line in listed.splitlines())
        refs.pop(f"refs/heads/{BRANCH}", None)
        files = {}
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if not (folder == str(root) and d in (".git", ".overnight"))]
            for name in names:
                path = Path(folder, name)
                files[path.relative_to(root).as_posix()] = (
                    b"link:" + os.readlink(path).encode()
                    if path.is_symlink()
                    else path.read_bytes()
                )
        return cls(
            head=(git_dir / "HEAD").read_text(),
            refs=refs,
            index=(git_dir / "index").read_bytes(),
            config=(git_dir / "config").read_bytes(),
            hooks=tuple(sorted(p.name for p in (git_dir / "hooks").iterdir())),
            files=files,
        )
