"""Helpers shared by the end-to-end tests: the stand-in agent's command line, the CLI as a
subprocess, raw ledger rows, and bounded polling (never a bare sleep)."""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

STAND_INS = Path(__file__).resolve().parent
AGENT = STAND_INS / "agent.py"
BIN = Path(sys.executable).parent


def agent_command(modes: str, ctl: Path | None = None) -> str:
    """The ``command`` agent's command line for the stand-in agent playing ``modes``."""
    parts = [sys.executable, str(AGENT)]
    if ctl is not None:
        parts += ["--ctl", str(ctl)]
    return shlex.join([*parts, modes])


def command_agent(modes: str, ctl: Path | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": "command", "command": agent_command(modes, ctl), **extra}


def overnight_command() -> list[str]:
    """The installed console script when there is one, else the same entry point via python."""
    script = BIN / "overnight"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from overnight.cli import main; main()"]


def cli_env(**extra: str) -> dict[str, str]:
    """The current environment with this interpreter's bin first on PATH (so ``python`` in an
    evaluation command is the one with numpy) and a wide terminal for rich."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    env.update(extra)
    return env


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*overnight_command(), *args],
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(args: Sequence[str], out: Path, **env: str) -> subprocess.Popen[bytes]:
    """``overnight ARGS`` in the background, its output in ``out`` (a file, so no pipe fills)."""
    handle = out.open("wb")
    try:
        return subprocess.Popen(
            [*overnight_command(), *args],
            env=cli_env(**env),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    finally:
        handle.close()


def wait_until(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def wait_for_file(path: Path, timeout: float = 30) -> Path:
    wait_until(path.exists, timeout, str(path))
    return path


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next((line for line in status.splitlines() if line.startswith("State:")), "")
    return "Z" not in state.split()[1:2]


def processes_naming(text: str) -> list[int]:
    """Live processes (this one aside) whose command line or environment holds ``text``, such as
    a test's control folder. A tool confined to a PID namespace of its own records a pid that
    means nothing outside it, so the tests look for its processes this way."""
    wanted, found = text.encode(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in seen and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)


def _rows(root: Path, query: str) -> list[dict[str, Any]]:
    """Rows straight from the ledger's SQLite file, bypassing the Ledger class under test."""
    db = sqlite3.connect(root / ".overnight" / "ledger.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(query)]
    finally:
        db.close()


def ledger_rows(root: Path) -> list[dict[str, Any]]:
    """Every experiment row, ``running`` ones included."""
    return _rows(root, "SELECT * FROM experiments ORDER BY run_id, number")


def run_rows(root: Path) -> list[dict[str, Any]]:
    return _rows(root, "SELECT * FROM runs ORDER BY id")


def git_out(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def rev(root: Path, ref: str) -> str:
    return git_out(root, "rev-parse", ref)


def porcelain(root: Path, *paths: str) -> str:
    return git_out(root, "status", "--porcelain", "--untracked-files=all", "--", *paths)
