"""Running a command the way an experiment needs it: own process group, a hard timeout that kills
grandchildren too, output straight to a log file, and a scrubbed environment."""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SECRET_NAME = re.compile(
    r"API_?KEY|TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL|PRIVATE|AUTH(?!OR)|COOKIE|_KEY$|^KEY$"
    r"|^(AWS|AZURE|GCP|GOOGLE|GITHUB|GITLAB|OPENAI|ANTHROPIC|GEMINI|COHERE|MISTRAL|GROQ"
    r"|TOGETHER|REPLICATE|DEEPSEEK|XAI|OPENROUTER|WANDB|TWINE)_",
    re.IGNORECASE,
)

TAIL_BYTES = 4000
PGID_SUFFIX = ".pgid"


def scrubbed_environment(
    passthrough: Iterable[str] = (), extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The user's environment minus anything that looks like a secret, so agent-written code
    cannot read the user's keys; names in ``passthrough`` are kept on purpose."""
    allowed = set(passthrough)
    env = {k: v for k, v in os.environ.items() if k in allowed or not SECRET_NAME.search(k)}
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Completed:
    returncode: int | None  # None when killed for the timeout
    timed_out: bool
    seconds: float
    log_path: Path

    def tail(self, limit: int = TAIL_BYTES) -> str:
        return read_tail(self.log_path, limit)


# A terminal's colour and cursor codes (CSI and OSC sequences), which tools print even into a
# file: a reason in the ledger, a brief or a page is text.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def read_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            data = handle.read()
    except OSError:
        return ""
    text = _ANSI.sub("", data.decode("utf-8", errors="replace"))
    return text if size <= limit else "…" + text


def run_logged(
    command: str | Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    log_path: Path,
    stdin_text: str | None = None,
    stderr_path: Path | None = None,
) -> Completed:
    """Run ``command`` through the shell (or, given a list, as that argv) in a new session (its
    own process group).

    On timeout, and also after a normal exit, the whole group is killed, so background
    grandchildren never outlive the experiment. If this call is interrupted (Ctrl-C), the
    group is killed before the exception propagates. While it runs, ``<log>.pgid`` names the
    group, so that a resume after kill -9 of the harness can end what was left running.
    With ``stderr_path``, stderr goes there and the log holds stdout alone.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("wb") as log, _open_or_none(stderr_path) as errors:
        process = subprocess.Popen(
            command if isinstance(command, str) else list(command),
            shell=isinstance(command, str),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if errors is None else errors,
            start_new_session=True,
        )
        timed_out = False
        pgid_file = log_path.with_name(log_path.name + PGID_SUFFIX)
        try:
            pgid_file.write_text(str(process.pid))
            if stdin_text is not None:
                _feed(process, stdin_text)
            timed_out = not _wait(process, timeout)
        finally:
            kill_group(process.pid)
            process.wait()
            pgid_file.unlink(missing_ok=True)
    seconds = time.monotonic() - started
    return Completed(None if timed_out else process.returncode, timed_out, seconds, log_path)


def _open_or_none(path: Path | None) -> contextlib.AbstractContextManager[IO[bytes] | None]:
    return path.open("wb") if path is not None else contextlib.nullcontext()


def _wait(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for exit or timeout; True if it exited. A pidfd wakes us the moment the process
    ends, where ``Popen.wait(timeout)`` polls with growing sleeps."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        try:
            process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        exited = bool(poller.poll(timeout * 1000))
    finally:
        os.close(pidfd)
    if exited:
        process.wait()
    return exited


def _feed(process: subprocess.Popen[bytes], text: str) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(text.encode("utf-8"))
        process.stdin.close()
    except BrokenPipeError:
        pass


def kill_group(pgid: int) -> None:
    """SIGKILL every process in the group; quietly nothing if it is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def kill_leftovers(log_dir: Path, root: Path) -> list[int]:
    """Kill the process groups a killed harness left running (found through their ``.pgid``
    files), but only groups whose processes still work inside ``root``: a recycled id that now
    belongs to someone else is left alone. Returns the groups killed."""
    killed = []
    for pgid_file, pgid in _logged_groups(log_dir):
        if pgid > 1 and any(_works_in(pid, root) for pid in _group_members(pgid)):
            kill_group(pgid)
            killed.append(pgid)
        pgid_file.unlink(missing_ok=True)
    return killed


def kill_logged(log_dir: Path) -> None:
    """Kill every process group this harness is running with a log under ``log_dir`` (each
    names itself in a ``.pgid`` file until it ends): how in-flight steps are abandoned."""
    for _, pgid in _logged_groups(log_dir):
        if pgid > 1:  # never 0 or 1: that would be the harness's own group, or init's
            kill_group(pgid)


def _logged_groups(log_dir: Path) -> Iterator[tuple[Path, int]]:
    """Each ``.pgid`` file under ``log_dir`` with the group it names (0 if unreadable)."""
    for pgid_file in log_dir.rglob(f"*{PGID_SUFFIX}"):
        try:
            pgid = int(pgid_file.read_text())
        except (OSError, ValueError):
            pgid = 0
        yield pgid_file, pgid


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _works_in(pid: int, root: Path) -> bool:
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False
    return cwd == root or root in cwd.parents
