"""The Ray executor on a real cluster of two nodes on loopback: workers are actors that get the
base as a git bundle and return the change, scores and logs; the integrator and the ledger stay
with the harness. Not mocked: ``ray start`` for both nodes, ``overnight run`` in a process of
its own, and a node killed mid-experiment."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ray_cluster
from conftest import default_config, git
from overnight.ledger import Ledger
from overnight.records import Experiment

pytest.importorskip("ray")

TAG = "t"
OVERNIGHT = str(Path(sys.executable).with_name("overnight"))

# Experiment n sets slot n % 4 to n (every third experiment: better) or -n (worse); slots are
# lines apart, so changes to different slots merge.
AGENT = """\
import os, re, time
time.sleep({sleep})
n = int(os.environ["OVERNIGHT_EXPERIMENT"])
slot, value = n % 4, n if n % 3 == 0 else -n
text = open("value.txt").read()
text = re.sub(rf"^slot {{slot}} = .*$", f"slot {{slot}} = {{value}}", text, flags=re.M)
open("value.txt", "w").write(text)
print(f"DESCRIPTION: slot {{slot}} = {{value}}")
"""
SCORE = """\
import re
values = re.findall(r"^slot \\d+ = (-?\\d+)$", open("value.txt").read(), re.M)
print("score:", sum(int(v) for v in values))
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ray_cluster.Cluster]:
    """One CPU on the head, one on the second node: two workers of one CPU each need both."""
    logs = tmp_path_factory.mktemp("ray")
    started = ray_cluster.start(logs, head_cpus=1, second_cpus=1)
    try:
        yield started
    finally:
        ray_cluster.stop(started)


def slot_repo(make_repo, address: str, sleep: float, experiments: int) -> Path:
    return make_repo(
        {
            "value.txt": "#\n".join(f"slot {k} = 0\n" for k in range(4)),
            "score.py": SCORE,
            "agent.py": AGENT.format(sleep=sleep),
        },
        default_config(
            frozen=["score.py", "agent.py"],
            agent={"kind": "command", "command": f"{sys.executable} agent.py", "timeout": 60},
            budget={"experiments": experiments},
            workers=2,
            executor={"kind": "ray", "address": address, "start_timeout": 5},
        ),
    )


def start_run(root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [OVERNIGHT, "run", "--tag", TAG],
        cwd=root,
        env={**os.environ, **ray_cluster.DRIVER_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 240) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def test_workers_on_two_nodes_return_changes_scores_and_logs(make_repo, cluster) -> None:
    root = slot_repo(make_repo, cluster.address, sleep=0.2, experiments=6)
    output = finish(start_run(root))
    assert "workers on the Ray cluster" in output
    experiments = read_experiments(root / ".overnight" / "ledger.db")
    proposed = [e for e in experiments[1:] if e.replay_of is None]
    assert len(proposed) == 6
    assert {e.worker for e in experiments[1:]} == {0, 1}  # both actors, one on each node
    for e in experiments[1:]:
        assert e.status.value in {"keep", "discard", "stale", "conflict"}, (e.number, e.reason)
        assert e.diff and e.agent_s > 0 and e.eval_s > 0
        log = Path(e.log_path or "")
        assert log.parent == root / ".overnight" / "logs" / TAG and "score:" in log.read_text()
        assert (log.parent / f"{e.number:04d}.agent.log").is_file()
    kept = [e for e in experiments if e.status.value == "keep"]
    assert kept, [(e.number, e.status, e.reason) for e in experiments]
    # a keep's commit holds the files the remote worker measured, received as a bundle
    tip = git(root, "rev-parse", f"overnight/{TAG}").strip()
    assert tip == kept[-1].commit
    assert git(root, "diff", "--stat", kept[-1].parent_commit, tip).strip()
    assert git(root, "status", "--porcelain").strip() == ""  # the checkout was not touched


def test_a_node_that_dies_mid_experiment_loses_nothing(make_repo, cluster, tmp_path) -> None:
    root = slot_repo(make_repo, cluster.address, sleep=3.0, experiments=4)
    process = start_run(root)
    database = root / ".overnight" / "ledger.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _running(database) < 2:
        time.sleep(0.2)
    if _running(database) != 2:
        process.kill()
        pytest.fail(f"two experiments should be in flight:\n{process.communicate()[0]}")
    cluster.kill_second_node()
    output = finish(process)
    experiments = read_experiments(database)
    lost = [e for e in experiments if e.status.value == "interrupted"]
    assert len(lost) == 1, output
    assert "worker was lost" in lost[0].reason
    assert "no node has room" in lost[0].reason  # the head's one CPU is the other worker's
    assert all(e.status.value != "running" for e in experiments)
    finished = [e for e in experiments[1:] if e.status.value != "interrupted" and not e.replay_of]
    assert len(finished) == 3 and {e.worker for e in finished} == {1 - lost[0].worker}
    kept = [e for e in experiments if e.status.value in ("keep", "baseline")]
    assert git(root, "rev-parse", f"overnight/{TAG}").strip() == kept[-1].commit


def read_experiments(database: Path) -> list[Experiment]:
    ledger = Ledger(database)
    try:
        return ledger.experiments(ledger.runs()[-1].id)
    finally:
        ledger.close()


def _running(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as db:
        try:
            query = "SELECT count(*) FROM experiments WHERE status = 'running'"
            return db.execute(query).fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_a_cluster_that_does_not_answer_is_said_at_once_and_leaves_nothing(
    make_repo, tmp_path
) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{unused.getsockname()[1]}"
    root = slot_repo(make_repo, address, sleep=0, experiments=2)

    process = start_run(root)
    output, _ = process.communicate(timeout=60)

    assert process.returncode == 2
    assert f"cannot reach the Ray cluster at {address}" in output
    assert "Traceback" not in output
    assert "overnight/" not in git(root, "branch", "--list")
    assert not (root / ".overnight" / "ledger.db").exists() or not read_runs(root)


def read_runs(root: Path) -> list[object]:
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        return list(ledger.runs())
    finally:
        ledger.close()
