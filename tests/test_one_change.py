"""One change at a time, each tried once, and the brief learns from what failed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import overnight
from conftest import default_config
from overnight.records import Status
from stand_ins.support import command_agent

# An agent that rewrites many lines at once (first experiment), then makes a small change.
WIDE_AGENT = """\
import os
from pathlib import Path
n = int(os.environ["OVERNIGHT_EXPERIMENT"])
if n == 1:
    Path("notes.md").write_text("".join(f"line {i}\\n" for i in range(40)))
    Path("value.txt").write_text("5.0\\n")
    print("rewrite everything")
else:
    Path("value.txt").write_text("2.0\\n")
    print("small step")
"""


def test_a_change_beyond_the_limits_is_a_violation_named_in_the_next_brief(make_repo, tmp_path):
    root = make_repo(
        {"agent.py": WIDE_AGENT, "notes.md": "notes\n"},
        default_config(
            editable=["value.txt", "notes.md"],
            frozen=["score.py", "agent.py"],
            agent={"kind": "command", "command": f"{sys.executable} agent.py"},
            limits={"max_changed_lines": 10, "max_files": 1},
            budget={"experiments": 2},
        ),
    )

    summary = overnight.run(root)

    wide, small = summary.experiments[1], summary.experiments[2]
    assert wide.status is Status.VIOLATION
    assert "changed 2 files, limit 1" in wide.reason and "changed 43 lines, limit 10" in wide.reason
    assert small.status is Status.KEEP
    agent_dir = root / ".overnight" / "worktrees" / summary.run.tag / "agent"
    brief = (agent_dir / "brief.md").read_text()  # the one written for experiment 2
    assert "changed 43 lines, limit 10" in brief
    assert "at most 10 changed lines and at most 1 files" in brief


def test_the_same_diff_from_the_same_state_is_not_evaluated_twice(make_repo):
    root = make_repo(config=default_config(agent=command_agent("worse"), budget={"experiments": 3}))

    summary = overnight.run(root)

    statuses = [e.status for e in summary.experiments]
    assert statuses == [Status.BASELINE, Status.DISCARD, Status.NO_OP, Status.NO_OP]
    assert all("same change as experiment 1" in e.reason for e in summary.experiments[2:])
    assert all(e.eval_s == 0 for e in summary.experiments[2:])  # not measured again


def test_the_brief_carries_the_last_failure_to_the_agent(make_repo, tmp_path: Path):
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    root = make_repo(
        config=default_config(agent=command_agent("frozen,brief", ctl), budget={"experiments": 2})
    )

    summary = overnight.run(root)

    assert summary.experiments[1].status is Status.VIOLATION
    seen = json.loads((ctl / "brief-2.json").read_text())["text"]
    assert "Experiment 1: violation" in seen and "changed frozen file score.py" in seen
    assert "### FILE: value.txt" in seen
