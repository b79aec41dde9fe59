"""Real runs for the review pages: a metric run with every kind of outcome and a suite run with
held-out cases, each carrying markup and script payloads in its descriptions, diffs and outputs
(the pages must show them, never run them); and a run with two workers."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

import overnight
from conftest import SCORE_PY, default_config, git
from overnight.config import CONFIG_NAME
from overnight.ledger import Ledger
from overnight.lock import RunLock
from overnight.records import Experiment, Status, Usage

PAYLOADS = (
    "<script>window.__pwned=1;alert(1)</script>",
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    '"><svg onload="window.__pwned=1;alert(1)">',
)

# Experiment n plays step n: (value.txt, what goes into notes.txt, description). "abc" makes the
# evaluation crash; FROZEN edits the evaluation (a violation); None changes nothing (a no-op).
METRIC_AGENT = """\
import os, sys
from pathlib import Path
FROZEN = "frozen"
steps = {steps!r}
value, note, description = steps[int(os.environ["OVERNIGHT_EXPERIMENT"]) - 1]
if value == FROZEN:
    Path("score.py").write_text(Path("score.py").read_text() + "# looser\\n")
    Path("value.txt").write_text("9\\n")
elif value is not None:
    Path("value.txt").write_text(value + "\\n")
if note:
    Path("notes.txt").write_text(note + "\\n")
print(description)
"""

METRIC_STEPS = [
    ("2", PAYLOADS[0], f"raise the value {PAYLOADS[0]}"),  # keep
    ("1.5", PAYLOADS[1], f"lower it {PAYLOADS[1]}"),  # discard
    ("abc", "", f"break the evaluation {PAYLOADS[2]}"),  # crash
    ("frozen", "", "loosen the evaluation"),  # violation
    (None, "", "think, change nothing"),  # no-op
    ("3.5", "three and a half", "raise the value to 3.5"),  # keep
]


def metric_project(root: Path) -> Path:
    """A command metric (maximize ``score``) over six experiments: keep, discard, crash,
    violation, no-op, keep; then every experiment is priced as if a model had proposed it."""
    root.mkdir(parents=True)
    (root / "score.py").write_text(SCORE_PY)
    (root / "value.txt").write_text("1.0\n")
    (root / "notes.txt").write_text("first notes\n")
    (root / "agent.py").write_text(METRIC_AGENT.format(steps=METRIC_STEPS))
    config = {
        "name": "metric-demo",
        "editable": ["value.txt", "notes.txt"],
        "frozen": ["score.py", "agent.py"],
        "evaluate": {
            "command": f"{sys.executable} score.py",
            "metric": "score",
            "direction": "maximize",
            "timeout": 30,
        },
        "agent": {"kind": "command", "command": f"{sys.executable} agent.py"},
        "budget": {"experiments": len(METRIC_STEPS)},
    }
    _commit(root, config)
    summary = overnight.run(root, tag="night-1")
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        for experiment in ledger.experiments(summary.run.id):
            usage = [Usage("proposal", "test-model", 1000, 200, 0.01)]
            ledger.record(replace(experiment, usage=usage, cost_usd=0.01))
    finally:
        ledger.close()
    return root


# The generator writes the post that rules.txt asks for; the agent adds one rule per experiment.
GENERATOR = """\
from pathlib import Path

def answer(word):
    rules = Path("rules.txt").read_text().split()
    text = f"A short post about {word}."
    if "number" in rules:
        text += " Now 40% faster."
    if "brand" in rules:
        text += f" By {word.upper()}."
    if "payload" in rules:
        text += " " + PAYLOADS[len(word) % len(PAYLOADS)]
    return text + "\\nThanks for reading."
"""

SUITE_AGENT = """\
import os
from pathlib import Path
rules = {rules!r}[int(os.environ["OVERNIGHT_EXPERIMENT"]) - 1]
Path("rules.txt").write_text(rules + "\\n")
print(f"rules: {{rules}}")
"""

SUITE_RULES = ["number", "number payload", "number brand payload", "brand"]


def suite_project(root: Path, run: bool = True) -> Path:
    """Three visible cases and one held-out case, three assertions each, and a run of four
    experiments (unless not ``run``); the outputs carry the payloads from experiment 2 on."""
    root.mkdir(parents=True)
    (root / "rules.txt").write_text("nothing\n")
    (root / "gen.py").write_text(f"PAYLOADS = {PAYLOADS!r}\n" + GENERATOR)
    (root / "agent.py").write_text(SUITE_AGENT.format(rules=SUITE_RULES))
    config = {
        "name": "posts",
        "editable": ["rules.txt"],
        "frozen": ["gen.py", "agent.py"],
        "evaluate": {
            "kind": "suite",
            "generate": {"kind": "python", "function": "gen.py:answer"},
            "cases": [
                {"id": "helio", "vars": {"word": "helio"}},
                {"id": "nimbus", "vars": {"word": "nimbus"}},
                {"id": "crew", "vars": {"word": "crew"}},
                {"id": "orbit", "vars": {"word": "orbit"}, "holdout": True},
            ],
            "assert": [
                "contains-statistic",
                {"type": "icontains", "value": "by {{ word }}"},
                {"type": "not-contains", "value": "?"},  # passes: a column that stays green
            ],
        },
        "agent": {"kind": "command", "command": f"{sys.executable} agent.py"},
        "budget": {"experiments": len(SUITE_RULES)},
    }
    _commit(root, config)
    if run:
        overnight.run(root, tag="posts-1")
    return root


# Two workers: #1 (worker 0) is kept while #2 (worker 1) still works on the baseline's state, so
# #2's win is stale and worker 1 measures it again on the best as #3, a replay.
WORKERS_AGENT = """\
import os, time
from pathlib import Path
number = int(os.environ["OVERNIGHT_EXPERIMENT"])
if number == 2:
    time.sleep(1.5)
target = "a.txt" if number % 2 else "b.txt"
Path(target).write_text(f"{number}\\n")
print(f"{target} = {number}")
"""

WORKERS_SCORE = """\
from pathlib import Path
print(f"score: {sum(float(Path(name).read_text()) for name in ('a.txt', 'b.txt'))}")
"""


def workers_project(root: Path, run: bool = True) -> Path:
    """Two workers over two experiments and a replay (unless not ``run``)."""
    root.mkdir(parents=True)
    (root / "a.txt").write_text("0\n")
    (root / "b.txt").write_text("0\n")
    (root / "score.py").write_text(WORKERS_SCORE)
    (root / "agent.py").write_text(WORKERS_AGENT)
    config = default_config(
        name="two-workers",
        editable=["a.txt", "b.txt"],
        frozen=["score.py", "agent.py"],
        agent={"kind": "command", "command": f"{sys.executable} agent.py", "timeout": 60},
        workers=2,
        budget={"experiments": 2},
    )
    _commit(root, config)
    if run:
        overnight.run(root, tag="workers-1")
    return root


@contextlib.contextmanager
def at_work(root: Path, workers: Sequence[int], killed: bool = False) -> Iterator[list[int]]:
    """The latest run as a harness at work on it leaves it: the lock held (none if ``killed``),
    the run without an end, and an experiment running on each of ``workers``. Yields their
    numbers; afterwards the run is as it was."""
    lock = RunLock(root / ".overnight" / "lock")
    if not killed:
        lock.acquire()
    ledger = Ledger(root / ".overnight" / "ledger.db")
    run = ledger.run()
    assert run is not None and run.stop_reason is not None
    ledger.reopen_run(run.id)
    _, last = ledger.finished(run.id)
    numbers = [last + 1 + i for i in range(len(workers))]
    for number, worker in zip(numbers, workers, strict=True):
        ledger.begin(run.id, number, run.base_commit, {}, worker)
    try:
        yield numbers
    finally:
        for number in numbers:
            ledger.forget(run.id, number)
        ledger.end_run(run.id, run.stop_reason)
        ledger.close()
        lock.release()


def append_experiment(root: Path, description: str, status: Status = Status.DISCARD) -> int:
    """Record one more finished experiment in the latest run, as a running loop would."""
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = ledger.run()
        assert run is not None
        history = ledger.experiments(run.id)
        last = history[-1]
        number = last.number + 1
        ledger.record(
            Experiment(
                run.id,
                number,
                last.commit or history[0].commit or run.base_commit,
                status,
                metric=last.metric,
                secondary=last.secondary,
                description=description,
                started_at=last.started_at + 1,
                duration_s=0.5,
            )
        )
        return number
    finally:
        ledger.close()


def _commit(root: Path, config: dict) -> None:
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn  # the serve extra: only the dashboard's tests need it

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
