"""run_logged: output to a log, a timeout that kills the whole process group, a scrubbed
environment."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from overnight.process import read_tail, run_logged, scrubbed_environment

# A grandchild that ignores SIGTERM, writes its pid, then sleeps far beyond any test timeout.
STUBBORN = (
    "import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"
)


def wait_for_file(path, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return int(path.read_text())


def is_dead(pid):
    """Gone, or a zombie waiting for init to reap it: either way it runs no more code."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def assert_all_die(pids, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not all(is_dead(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    survivors = [pid for pid in pids if not is_dead(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    if survivors:
        pytest.fail(f"processes {survivors} outlived run_logged")


def run(command, tmp_path, timeout=10.0, env=None, stdin_text=None):
    return run_logged(
        command,
        cwd=tmp_path,
        env=env if env is not None else dict(os.environ),
        timeout=timeout,
        log_path=tmp_path / "logs" / "run.log",
        stdin_text=stdin_text,
    )


def test_output_and_errors_go_to_the_log_file(tmp_path):
    done = run("echo hello; echo oops >&2; exit 3", tmp_path)

    assert done.returncode == 3
    assert not done.timed_out
    assert done.log_path == tmp_path / "logs" / "run.log"
    assert done.log_path.read_text() == "hello\noops\n"
    assert done.tail() == "hello\noops\n"
    assert done.seconds < 5


def test_runs_in_the_given_directory(tmp_path):
    (tmp_path / "marker.txt").write_text("here\n")

    done = run("cat marker.txt", tmp_path)

    assert done.returncode == 0
    assert done.log_path.read_text() == "here\n"


def test_stdin_text_is_fed_to_the_command(tmp_path):
    done = run("tr a-z A-Z", tmp_path, stdin_text="brief text\n")

    assert done.returncode == 0
    assert done.log_path.read_text() == "BRIEF TEXT\n"


def test_without_stdin_text_the_command_reads_nothing(tmp_path):
    done = run("cat; echo end", tmp_path, timeout=5)

    assert done.returncode == 0
    assert done.log_path.read_text() == "end\n"


def test_timeout_kills_the_group_including_stubborn_and_background_grandchildren(tmp_path):
    command = (
        f'{sys.executable} -c "{STUBBORN}" bg.pid & '
        f'{sys.executable} -c "{STUBBORN}" fg.pid; echo never'
    )
    started = time.monotonic()

    done = run(command, tmp_path, timeout=1.5)

    assert done.timed_out
    assert done.returncode is None
    assert 1.4 < done.seconds < 10
    assert time.monotonic() - started < 10
    assert_all_die([wait_for_file(tmp_path / name) for name in ("bg.pid", "fg.pid")])
    assert "never" not in done.log_path.read_text()


def test_background_grandchild_is_killed_after_a_normal_exit(tmp_path):
    command = f'{sys.executable} -c "{STUBBORN}" bg.pid & sleep 0.5; echo finished'

    done = run(command, tmp_path, timeout=20)

    assert done.returncode == 0
    assert not done.timed_out
    assert done.seconds < 10
    assert done.log_path.read_text() == "finished\n"
    assert_all_die([wait_for_file(tmp_path / "bg.pid")])


def test_read_tail_keeps_the_end_and_marks_the_cut(tmp_path):
    log = tmp_path / "big.log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))

    tail = read_tail(log, limit=20)

    assert tail.startswith("…")
    assert tail.endswith("line 999\n")
    assert len(tail) == 21
    assert read_tail(tmp_path / "missing.log") == ""


SECRETS = [
    "OPENAI_API_KEY",
    "GITHUB_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "DB_PASSWORD",
    "MY_SECRET",
    "ANTHROPIC_API_KEY",
    "SSH_PRIVATE_KEY",
    "HF_TOKEN",
]
KEPT = ["PATH", "HOME", "GIT_AUTHOR_NAME", "LANG", "PYTHONPATH"]


def test_scrubbed_environment_removes_secrets_and_keeps_the_rest(monkeypatch):
    for name in SECRETS + KEPT:
        monkeypatch.setenv(name, f"value-of-{name}")

    env = scrubbed_environment()

    for name in SECRETS:
        assert name not in env, name
    for name in KEPT:
        assert env[name] == f"value-of-{name}"


def test_scrubbed_environment_keeps_a_passthrough_secret(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-test")

    env = scrubbed_environment(passthrough=["OPENAI_API_KEY"])

    assert env["OPENAI_API_KEY"] == "sk-test"
    assert "GITHUB_TOKEN" not in env


def test_scrubbed_environment_adds_extra_values(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin")

    env = scrubbed_environment(extra={"OVERNIGHT_SEED": "3", "PATH": "/opt/bin"})

    assert env["OVERNIGHT_SEED"] == "3"
    assert env["PATH"] == "/opt/bin"


def test_command_sees_only_the_scrubbed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("VISIBLE_SETTING", "yes")

    done = run(
        'echo "key=${OPENAI_API_KEY:-unset} setting=${VISIBLE_SETTING:-unset}"',
        tmp_path,
        env=scrubbed_environment(),
    )

    assert done.log_path.read_text() == "key=unset setting=yes\n"


def test_a_tail_has_no_terminal_codes(tmp_path: Path) -> None:
    """Tools colour their errors even in a file; a reason in the ledger or a brief is text."""
    log = tmp_path / "tool.log"
    log.write_text("\x1b[31mError:\x1b[0m no key \x1b]8;;http://x\x07docs\x1b]8;;\x07\x1b[2K\n")
    assert read_tail(log) == "Error: no key docs\n"
