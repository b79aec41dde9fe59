"""Stopping a run with several workers in flight, for real: the CLI in a subprocess, real git,
stand-in agents that hang (or wait at a gate) after saying so in a control folder.

- kill -9 with three experiments in flight, then ``--resume``: all three are recorded
  ``interrupted``, the agents the killed run left behind are ended, numbering continues, the
  branch ends at the best experiment and the checkout is never touched.
- SIGTERM, or a second Ctrl-C: the run ends at once, every step in flight is recorded
  ``interrupted`` and its processes are gone; a resume goes on normally.
- The first Ctrl-C: the steps in flight finish with their real statuses, and nothing new starts.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import default_config, git
from overnight.isolation.sandbox import bubblewrap
from stand_ins.support import (
    command_agent,
    kill_quietly,
    ledger_rows,
    porcelain,
    processes_naming,
    rev,
    run_cli,
    run_rows,
    start_cli,
    wait_for_file,
    wait_until,
)

TAG = "t"
BRANCH = f"overnight/{TAG}"
LOGS = Path(".overnight", "logs", TAG)
STOPPING = "stopping after this experiment"
DISCARDED = "its workspace was discarded"

# unconfined, what the killed run leaves running must be ended by the resume; in bubblewrap it
# dies with the harness
ISOLATION = [
    "off",
    pytest.param(
        "required",
        marks=pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not usable here"),
    ),
]

# Says it is waiting, then waits at its own gate (the file ``go-N`` in the control folder, 30 s at
# most) before it makes its change: experiment 1 raises the value by one, every other lowers it.
GATED_AGENT = """\
import os, sys, time
from pathlib import Path
ctl = Path(sys.argv[1])
number = int(os.environ["OVERNIGHT_EXPERIMENT"])
with (ctl / "agent-calls").open("a") as handle:
    handle.write(f"{number}\\n")
(ctl / f"waiting-{number}").write_text(str(os.getpid()))
deadline = time.monotonic() + 30
while not (ctl / f"go-{number}").exists() and time.monotonic() < deadline:
    time.sleep(0.02)
value = float(Path("value.txt").read_text())
new = value + 1 if number == 1 else value - 1
Path("value.txt").write_text(f"{new}\\n")
print(f"set value to {new}")
"""


@pytest.fixture
def ctl(tmp_path: Path) -> Path:
    path = tmp_path / "ctl"
    path.mkdir()
    return path


def checkout(root: Path) -> dict[str, object]:
    """What a run must never touch: HEAD, the branch checked out, the index and every file
    outside ``.git`` and ``.overnight``."""
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).parts[0] not in (".git", ".overnight")
    }
    return {
        "head": rev(root, "HEAD"),
        "branch": git(root, "symbolic-ref", "-q", "HEAD"),
        "index": (root / ".git" / "index").read_bytes(),
        "files": files,
    }


def statuses(root: Path) -> list[tuple[int, str]]:
    return [(r["number"], r["status"]) for r in ledger_rows(root)]


def agent_calls(ctl: Path) -> list[int]:
    return sorted(int(n) for n in (ctl / "agent-calls").read_text().split())


def hanging_repo(make_repo, ctl: Path, modes: str, workers: int, budget: int, sandbox: str):
    """The stand-in agent playing ``modes``, with experiments 1..workers hanging (60 s) after
    they made their change."""
    for number in range(1, workers + 1):
        (ctl / f"hang-agent-{number}").write_text("")
    config = default_config(
        agent=command_agent(modes, ctl, timeout=120),
        budget={"experiments": budget},
        workers=workers,
        sandbox={"mode": sandbox},
    )
    return make_repo(None, config)


def wait_for_agents(ctl: Path, marker: str, numbers: range) -> None:
    for number in numbers:
        wait_for_file(ctl / marker.format(number), timeout=20)


def end_leftovers(ctl: Path, proc) -> None:
    """However the test ends: no harness and no agent of this test left running."""
    proc.kill()
    with contextlib.suppress(Exception):
        proc.wait(timeout=10)
    for pid in processes_naming(str(ctl)):
        kill_quietly(pid)


def check_interrupted(row: dict, parent: str, reason: str) -> None:
    assert row["status"] == "interrupted"
    assert row["parent_commit"] == parent
    assert row["commit_sha"] is None and row["metric"] is None
    assert reason in row["reason"]


# -- kill -9 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("isolation", ISOLATION)
def test_kill_9_with_three_in_flight_then_resume(
    make_repo, ctl: Path, tmp_path: Path, isolation: str
) -> None:
    # 1-3 hang in the killed run; they count toward the budget, so the resume runs one more (a
    # keep with nothing else in flight: see test_unconfined_keep_is_not_tampering_by_another)
    root = hanging_repo(make_repo, ctl, "improve", 3, 4, isolation)
    base = rev(root, "HEAD")
    before = checkout(root)
    proc = start_cli(["run", str(root), "--tag", TAG], tmp_path / "first.txt")
    try:
        wait_for_agents(ctl, "agent-{}-hanging", range(1, 4))
        agents = processes_naming(str(ctl))
        assert agents  # the three agents (and their shells or sandboxes)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        assert statuses(root) == [(0, "baseline"), (1, "running"), (2, "running"), (3, "running")]
        assert checkout(root) == before and rev(root, BRANCH) == base
        if isolation == "off":  # the agents outlived the harness...
            assert all(pid in processes_naming(str(ctl)) for pid in agents)
        else:  # ...or died with their sandbox
            wait_until(lambda: not processes_naming(str(ctl)), 10, "the sandboxes to die")

        resumed = run_cli("run", str(root), "--resume", timeout=60)

        output = resumed.stdout + resumed.stderr
        assert resumed.returncode == 0, output
        assert not processes_naming(str(ctl)), output  # ...until the resume ended them
    finally:
        end_leftovers(ctl, proc)
    assert "Traceback" not in output
    assert ("left running by the interrupted run" in resumed.stdout) == (isolation == "off")
    for number in (1, 2, 3):
        assert f"experiment {number} was interrupted and recorded" in resumed.stdout

    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [
        (0, "baseline"),
        (1, "interrupted"),
        (2, "interrupted"),
        (3, "interrupted"),
        (4, "keep"),
    ]
    for row in rows[1:4]:
        check_interrupted(row, base, DISCARDED)
    # each killed experiment had raised the value to 2.0 in its workspace; had one survived
    # there, experiment 4 would have gone on to 3.0
    assert rows[4]["parent_commit"] == base and rows[4]["metric"] == 2.0
    assert agent_calls(ctl) == [1, 2, 3, 4]  # each agent once, numbering continued
    assert rev(root, BRANCH) == rows[4]["commit_sha"] != base
    assert git(root, "rev-parse", f"{BRANCH}^") == base
    assert git(root, "show", f"{BRANCH}:value.txt") == "2.0"
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == "experiment budget spent: 4 of 4"
    assert run_row["ended_at"] is not None
    assert checkout(root) == before and porcelain(root) == ""
    assert not list((root / LOGS).rglob("*.pgid"))


# -- SIGTERM or a second Ctrl-C ----------------------------------------------------------------


@pytest.mark.parametrize(
    "signals", [[signal.SIGTERM], [signal.SIGINT, signal.SIGINT]], ids=["sigterm", "second-sigint"]
)
def test_sigterm_abandons_both_in_flight_then_resume(
    make_repo, ctl: Path, tmp_path: Path, signals: list[int]
) -> None:
    root = hanging_repo(make_repo, ctl, "improve", 2, 3, "auto")
    base = rev(root, "HEAD")
    before = checkout(root)
    out = tmp_path / "out.txt"
    proc = start_cli(["run", str(root), "--tag", TAG], out)
    try:
        wait_for_agents(ctl, "agent-{}-hanging", range(1, 3))
        assert processes_naming(str(ctl))
        for number, signum in enumerate(signals):
            if number:  # a second SIGINT before the first was handled would be the same one
                wait_until(lambda: STOPPING in out.read_text(), 20, "the stop message")
            proc.send_signal(signum)
        sent = time.monotonic()
        assert proc.wait(timeout=20) == 0, out.read_text()  # the agents would sleep 60 s
        assert time.monotonic() - sent < 5, out.read_text()
        wait_until(lambda: not processes_naming(str(ctl)), 5, "the agents to be ended")
    finally:
        end_leftovers(ctl, proc)
    name = signal.Signals(signals[-1]).name
    assert "Traceback" not in out.read_text()

    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [
        (0, "baseline"),
        (1, "interrupted"),
        (2, "interrupted"),
    ]
    for row in rows[1:]:
        check_interrupted(row, base, f"stopped by {name}")
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == f"stopped by {name}" and run_row["ended_at"] is not None
    assert rev(root, BRANCH) == base
    assert checkout(root) == before and porcelain(root) == ""
    assert not list((root / LOGS).rglob("*.pgid"))

    resumed = run_cli("run", str(root), "--resume", timeout=60)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "was interrupted and recorded" not in resumed.stdout  # nothing was left unfinished
    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [
        (0, "baseline"),
        (1, "interrupted"),
        (2, "interrupted"),
        (3, "keep"),
    ]
    assert rows[3]["parent_commit"] == base and rows[3]["metric"] == 2.0
    assert rev(root, BRANCH) == rows[3]["commit_sha"]
    assert git(root, "show", f"{BRANCH}:value.txt") == "2.0"
    assert agent_calls(ctl) == [1, 2, 3]
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == "experiment budget spent: 3 of 3"
    assert checkout(root) == before and porcelain(root) == ""


# -- the first Ctrl-C --------------------------------------------------------------------------


def gated_repo(make_repo, ctl: Path, tmp_path: Path, sandbox: str = "auto") -> Path:
    agent = tmp_path / "gated_agent.py"
    agent.write_text(GATED_AGENT)
    config = default_config(
        agent={"kind": "command", "command": f"{sys.executable} {agent} {ctl}", "timeout": 60},
        budget={"experiments": 10},
        workers=2,
        sandbox={"mode": sandbox},
    )
    return make_repo(None, config)


def row_status(root: Path, number: int) -> str | None:
    return next((r["status"] for r in ledger_rows(root) if r["number"] == number), None)


def test_first_sigint_lets_both_in_flight_finish_and_starts_nothing(
    make_repo, ctl: Path, tmp_path: Path
) -> None:
    root = gated_repo(make_repo, ctl, tmp_path)
    base = rev(root, "HEAD")
    before = checkout(root)
    out = tmp_path / "out.txt"
    proc = start_cli(["run", str(root), "--tag", TAG], out)
    try:
        wait_for_agents(ctl, "waiting-{}", range(1, 3))
        proc.send_signal(signal.SIGINT)
        wait_until(lambda: STOPPING in out.read_text(), 20, "the stop message")
        assert statuses(root) == [(0, "baseline"), (1, "running"), (2, "running")]
        # 2 ends first (so 1 is kept with nothing else in flight); its lane, free again, must
        # stay idle while 1 still runs
        (ctl / "go-2").write_text("")
        wait_until(lambda: row_status(root, 2) == "discard", 20, "experiment 2 to be recorded")
        assert proc.poll() is None and row_status(root, 1) == "running"
        (ctl / "go-1").write_text("")
        assert proc.wait(timeout=30) == 0, out.read_text()
    finally:
        end_leftovers(ctl, proc)
    text = out.read_text()
    assert "Traceback" not in text and "stopped by SIGINT" in text

    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [
        (0, "baseline"),
        (1, "keep"),
        (2, "discard"),
    ]
    assert [r["metric"] for r in rows[1:]] == [2.0, 0.0]
    assert [r["parent_commit"] for r in rows[1:]] == [base, base]
    assert agent_calls(ctl) == [1, 2]  # no third experiment started
    assert not (root / LOGS / "0003.agent.log").exists()
    (run_row,) = run_rows(root)
    assert run_row["stop_reason"] == "stopped by SIGINT" and run_row["ended_at"] is not None
    assert rev(root, BRANCH) == rows[1]["commit_sha"] != base
    assert git(root, "show", f"{BRANCH}:value.txt") == "2.0"
    assert checkout(root) == before and porcelain(root) == ""
    assert not processes_naming(str(ctl))
    assert not list((root / LOGS).rglob("*.pgid"))


# -- workers and the harness's own state ------------------------------------------------------


def test_unconfined_keep_is_not_tampering_by_another(make_repo, ctl: Path, tmp_path: Path) -> None:
    """sandbox off, two workers: experiment 1 is kept while experiment 2's agent still runs.
    Experiment 2 did nothing to git, so it is measured (a discard), and the branch stays at
    the kept commit."""
    root = gated_repo(make_repo, ctl, tmp_path, sandbox="off")
    out = tmp_path / "out.txt"
    proc = start_cli(["run", str(root), "--tag", TAG, "--experiments", "2"], out)
    try:
        wait_for_agents(ctl, "waiting-{}", range(1, 3))
        (ctl / "go-1").write_text("")
        wait_until(lambda: row_status(root, 1) == "keep", 20, "experiment 1 to be kept")
        (ctl / "go-2").write_text("")
        assert proc.wait(timeout=30) == 0, out.read_text()
    finally:
        end_leftovers(ctl, proc)
    rows = ledger_rows(root)
    assert rev(root, BRANCH) == rows[1]["commit_sha"]  # the keep is still on the branch
    assert [(r["number"], r["status"]) for r in rows] == [
        (0, "baseline"),
        (1, "keep"),
        (2, "discard"),
    ]


# Answers every proposal with one edit that raises the value to 2.0.
LLM_ANSWER = "DESCRIPTION: two\n<<<<<<< SEARCH value.txt\n1.0\n=======\n2.0\n>>>>>>> REPLACE\n"


def test_sigterm_abandons_model_calls_in_flight(make_repo, llm_server, tmp_path: Path) -> None:
    """Two workers whose llm agents wait 6 s for the model: SIGTERM ends the run promptly (as it
    does with one worker) and no interrupted experiment is evaluated."""
    llm_server.latency = 6
    llm_server.script(lambda body: LLM_ANSWER)
    agent = {"kind": "llm", "model": "openai/gpt-4o-mini", "api_base": llm_server.base_url}
    config = default_config(
        agent={**agent, "timeout": 8, "retries": 0}, budget={"experiments": 10}, workers=2
    )
    root = make_repo(None, config)
    out = tmp_path / "out.txt"
    proc = start_cli(["run", str(root), "--tag", TAG], out, OPENAI_API_KEY="test-key")
    try:
        wait_until(lambda: llm_server.request_count >= 2, 20, "both proposals")
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        assert proc.wait(timeout=20) == 0, out.read_text()
        waited = time.monotonic() - sent
    finally:
        proc.kill()
    rows = ledger_rows(root)
    assert [(r["number"], r["status"]) for r in rows] == [
        (0, "baseline"),
        (1, "interrupted"),
        (2, "interrupted"),
    ]
    assert [r["metric"] for r in rows[1:]] == [None, None]  # nothing measured after the stop
    assert waited < 4, f"the run took {waited:.1f} s to stop"
