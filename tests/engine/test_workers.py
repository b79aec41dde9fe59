"""Several workers: steps in flight at once, each on its own lane, and one integrator that alone
records and keeps. A winner found on a state the run has moved past is played again on the
best (or recorded as a conflict); the same change is never measured twice."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

import overnight
from conftest import default_config, git
from overnight.records import Status

TAG = "t"
BRANCH = f"overnight/{TAG}"

# Experiment n edits one file and says so; the second one thinks longer, so the first is kept
# while the second is still on its (now stale) base.
AGENT = """\
import os, time
from pathlib import Path
number = int(os.environ["OVERNIGHT_EXPERIMENT"])
target, value = {targets}[number]
if number == 2:
    time.sleep(1.5)
Path(target).write_text(f"{{value}}\\n")
print(f"DESCRIPTION: {{target}} = {{value}}")
"""

SCORE = """\
from pathlib import Path
print(f"score: {sum(float(Path(name).read_text()) for name in ('a.txt', 'b.txt'))}")
"""


def two_file_repo(make_repo, targets: dict[int, tuple[str, int]], **config: object) -> Path:
    return make_repo(
        {
            "a.txt": "0\n",
            "b.txt": "0\n",
            "score.py": SCORE,
            "agent.py": AGENT.format(targets=targets),
        },
        default_config(
            editable=["a.txt", "b.txt"],
            frozen=["score.py", "agent.py"],
            agent={"kind": "command", "command": f"{sys.executable} agent.py", "timeout": 60},
            workers=2,
            **config,
        ),
    )


def by_number(summary: overnight.RunSummary) -> dict[int, overnight.Experiment]:
    return {e.number: e for e in summary.experiments}


def test_a_stale_winner_is_played_again_on_the_best_and_kept(make_repo) -> None:
    root = two_file_repo(make_repo, {1: ("a.txt", 1), 2: ("b.txt", 2)}, budget={"experiments": 2})
    checkout = git(root, "rev-parse", "HEAD"), git(root, "status", "--porcelain")

    summary = overnight.run(root, tag=TAG)

    found = by_number(summary)
    assert found[1].status is Status.KEEP
    assert found[2].status is Status.STALE
    assert found[2].measurements == [2.0]  # its effect on the state it started from
    replay = found[3]
    assert replay.agent_meta["replay_of"] == 2
    assert replay.parent_commit == found[1].commit
    assert replay.status is Status.KEEP and replay.metric == 3.0  # its effect on the best
    assert "measured again on the best as experiment 3" in found[2].reason
    assert git(root, "rev-parse", BRANCH) == replay.commit
    assert git(root, "show", f"{BRANCH}:a.txt") == "1"
    assert git(root, "show", f"{BRANCH}:b.txt") == "2"
    assert git(root, "rev-parse", f"{BRANCH}^") == found[1].commit
    assert (git(root, "rev-parse", "HEAD"), git(root, "status", "--porcelain")) == checkout


def test_each_experiment_records_the_worker_that_ran_it(make_repo) -> None:
    """The baseline is worker 0's, the experiments spread over both lanes, and a stale winner
    is measured again by the worker that found it."""
    root = two_file_repo(make_repo, {1: ("a.txt", 1), 2: ("b.txt", 2)}, budget={"experiments": 2})

    summary = overnight.run(root, tag=TAG)

    _, stored = overnight.history(root, TAG)
    workers = {e.number: e.worker for e in stored}
    assert workers == {e.number: e.worker for e in summary.experiments}
    assert set(workers.values()) == {0, 1}  # each in range, and both at work
    assert workers[0] == 0
    assert by_number(summary)[3].replay_of == 2 and workers[3] == workers[2]


def test_a_stale_winner_that_clashes_with_the_best_is_a_conflict(make_repo) -> None:
    root = two_file_repo(make_repo, {1: ("a.txt", 1), 2: ("a.txt", 2)}, budget={"experiments": 2})

    summary = overnight.run(root, tag=TAG)

    found = by_number(summary)
    assert found[1].status is Status.KEEP
    assert found[2].status is Status.CONFLICT
    assert "conflicts with what was kept since (in a.txt)" in found[2].reason
    assert sorted(found) == [0, 1, 2]  # nothing measured again
    assert git(root, "rev-parse", BRANCH) == found[1].commit


def test_a_stale_winner_the_best_already_holds_is_not_measured_again(make_repo) -> None:
    """Experiment 2 makes half of experiment 1's change; once 1 is kept, 2 merged onto the best
    changes nothing, so there is nothing to measure."""
    agent = """\
import os, time
from pathlib import Path
if os.environ["OVERNIGHT_EXPERIMENT"] == "1":
    Path("a.txt").write_text("5\\n")
    Path("b.txt").write_text("1\\n")
else:
    time.sleep(1.5)
    Path("a.txt").write_text("5\\n")
"""
    root = two_file_repo(make_repo, {}, budget={"experiments": 2})
    (root / "agent.py").write_text(agent)
    git(root, "commit", "-qam", "agent")

    summary = overnight.run(root, tag=TAG)

    found = by_number(summary)
    assert found[1].status is Status.KEEP
    assert found[2].status is Status.STALE
    assert "the best already holds its change" in found[2].reason
    assert sorted(found) == [0, 1, 2]  # nothing measured again
    assert git(root, "rev-parse", BRANCH) == found[1].commit


def test_winners_wait_while_a_replay_is_measured_so_it_is_not_overtaken(make_repo) -> None:
    """Three workers start from the baseline: 1 wins at once, 2 wins later (stale: played again
    on the best, slowly), 3 wins while that replay is measured. 3 waits for the replay's verdict
    and is then played on the best as it is, so no replay ever goes stale."""
    agent = """\
import os, time
from pathlib import Path
number = int(os.environ["OVERNIGHT_EXPERIMENT"])
target, value, sleep = {1: ("a.txt", 1, 0), 2: ("b.txt", 2, 1.0), 3: ("c.txt", 3, 1.8)}[number]
time.sleep(sleep)
Path(target).write_text(f"{value}\\n")
print(f"DESCRIPTION: {target} = {value}")
"""
    score = """\
import time
from pathlib import Path
a, b, c = (float(Path(name).read_text()) for name in ("a.txt", "b.txt", "c.txt"))
if a == 1 and b == 2:  # the replays are slow to measure
    time.sleep(1.5)
print(f"score: {a + b + c}")
"""
    root = make_repo(
        {"a.txt": "0\n", "b.txt": "0\n", "c.txt": "0\n", "score.py": score, "agent.py": agent},
        default_config(
            editable=["a.txt", "b.txt", "c.txt"],
            frozen=["score.py", "agent.py"],
            agent={"kind": "command", "command": f"{sys.executable} agent.py", "timeout": 60},
            workers=3,
            budget={"experiments": 3},
        ),
    )

    summary = overnight.run(root, tag=TAG)

    found = by_number(summary)
    assert [found[n].status for n in (1, 2, 3)] == [Status.KEEP, Status.STALE, Status.STALE]
    replays = [e for e in summary.experiments if e.replay_of is not None]
    assert [(e.replay_of, e.status) for e in replays] == [(2, Status.KEEP), (3, Status.KEEP)]
    assert replays[1].parent_commit == replays[0].commit  # played on the best after the first
    assert summary.best_experiment.metric == 6.0
    assert git(root, "rev-parse", BRANCH) == replays[1].commit


def test_each_experiment_is_in_flight_at_once_on_its_own_lane(make_repo) -> None:
    """Two experiments that each wait for the other to have started can only both finish if
    they really run at the same time, in different workspaces."""
    agent = """\
import os, time
from pathlib import Path
number = int(os.environ["OVERNIGHT_EXPERIMENT"])
rendezvous = Path(os.environ["OVERNIGHT_RENDEZVOUS"])
(rendezvous / str(number)).write_text(str(Path.cwd()))
deadline = time.time() + 20
while len(list(rendezvous.iterdir())) < 2 and time.time() < deadline:
    time.sleep(0.05)
Path("a.txt" if number == 1 else "b.txt").write_text(f"{number}\\n")
print(f"DESCRIPTION: experiment {number}")
"""
    root = make_repo(
        {"a.txt": "0\n", "b.txt": "0\n", "score.py": SCORE, "agent.py": agent},
        default_config(
            editable=["a.txt", "b.txt"],
            frozen=["score.py", "agent.py"],
            agent={
                "kind": "command",
                "command": f"{sys.executable} agent.py",
                "timeout": 60,
                "env_passthrough": ["OVERNIGHT_RENDEZVOUS"],
            },
            budget={"experiments": 2},
            sandbox={"mode": "off"},
        ),
    )
    rendezvous = root.parent / "rendezvous"
    rendezvous.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVERNIGHT_RENDEZVOUS", str(rendezvous))
        summary = overnight.run(root, tag=TAG, workers=2)

    workspaces = {path.name: path.read_text() for path in rendezvous.iterdir()}
    assert sorted(workspaces) == ["1", "2"]
    assert workspaces["1"] != workspaces["2"]
    assert by_number(summary)[1].agent_s < 20 and by_number(summary)[2].agent_s < 20


SCORE_PY = {  # score.py prints the score to maximize
    "command": f"{sys.executable} score.py",
    "metric": "score",
    "direction": "maximize",
    "timeout": 30,
}


def test_workers_never_measure_the_same_change_twice(make_repo) -> None:
    """The search agent on a small space, four workers at once: every change measured is a new
    one (the same diff from the same state would be a no-op)."""
    train = "LR = 0.1\nDEPTH = 2\n"
    score = """\
import train
print(f"score: {-(train.LR - 0.4) ** 2 - (train.DEPTH - 4) ** 2}")
"""
    root = make_repo(
        {"train.py": train, "score.py": score},
        default_config(
            editable=["train.py"],
            evaluate=SCORE_PY,
            budget={"experiments": 12},
            workers=4,
        ),
    )

    summary = overnight.run(root, tag=TAG)

    measured = [(e.parent_commit, e.diff) for e in summary.experiments if e.eval_s > 0 and e.diff]
    assert len(measured) >= 8
    assert max(Counter(measured).values()) == 1
    best = summary.best_experiment
    assert git(root, "rev-parse", BRANCH) == best.commit
    numbers = sorted(e.number for e in summary.experiments)
    assert numbers == list(range(len(numbers)))  # each number once, none lost


def test_with_workers_the_model_never_proposes_a_configuration_twice(make_repo) -> None:
    """TPE behind the search agent, three workers: each worker's experiment in flight is a
    pending trial for the others' proposals, and no configuration is measured twice."""
    pytest.importorskip("optuna")
    train = "LR = 0.1\nDEPTH = 2\nWIDTH = 16\n"
    score = """\
import train
print(f"score: {-(train.LR - 0.4) ** 2 - (train.DEPTH - 4) ** 2 - (train.WIDTH - 40) ** 2 / 100}")
"""
    knobs = {
        "LR": {"min": 0.01, "max": 1.0, "log": True},
        "DEPTH": {"min": 1, "max": 8},
        "WIDTH": {"min": 4, "max": 64},
    }
    root = make_repo(
        {"train.py": train, "score.py": score},
        default_config(
            editable=["train.py"],
            evaluate=SCORE_PY,
            agent={"kind": "search", "sampler": "tpe", "knobs": knobs},
            budget={"experiments": 18},
            workers=3,
        ),
    )

    summary = overnight.run(root, tag=TAG)

    proposed = [e for e in summary.experiments[1:] if e.replay_of is None]
    afters = [json.dumps(e.agent_meta["after"], sort_keys=True) for e in proposed]
    assert len(afters) == 18 and len(set(afters)) == 18
    assert any(e.agent_meta["sampler"] == "tpe" for e in proposed)
    assert summary.best_experiment.metric > summary.experiments[0].metric


def test_each_worker_has_its_own_gpu(make_repo, monkeypatch: pytest.MonkeyPatch) -> None:
    score = """\
import os
from pathlib import Path
print(f"score: {float(Path('value.txt').read_text())}")
print(f"on_a: {int(os.environ.get('CUDA_VISIBLE_DEVICES') == 'GPU-a')}")
print(f"on_b: {int(os.environ.get('CUDA_VISIBLE_DEVICES') == 'GPU-b')}")
"""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-a,GPU-b")
    agent = "import os\nopen('value.txt', 'w').write(os.environ['OVERNIGHT_EXPERIMENT'])\n"
    root = make_repo(
        {"value.txt": "0\n", "score.py": score, "agent.py": agent},
        default_config(
            agent={"kind": "command", "command": f"{sys.executable} agent.py"},
            frozen=["score.py", "agent.py"],
            budget={"experiments": 6},
            workers=2,
            resources={"gpus": 1},
        ),
    )

    summary = overnight.run(root, tag=TAG)

    measured = [e for e in summary.experiments if "on_a" in e.secondary]
    assert all(e.secondary["on_a"] + e.secondary["on_b"] == 1 for e in measured)
    assert {e.secondary["on_a"] for e in measured[1:]} == {0, 1}  # both GPUs were used


def test_too_few_gpus_is_a_clear_error(make_repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    root = make_repo(config=default_config(workers=2, resources={"gpus": 1}))

    with pytest.raises(overnight.UsageError, match="needs 2 GPUs; this machine offers 1"):
        overnight.run(root, tag=TAG)


def test_one_worker_is_the_one_at_a_time_loop(make_repo) -> None:
    """``workers: 1`` and no ``workers`` at all make the same run, experiment by experiment."""
    train = "LR = 0.1\nDEPTH = 2\n"
    score = "import train\nprint(f'score: {-(train.LR - 0.4) ** 2 - (train.DEPTH - 4) ** 2}')\n"
    runs = []
    for workers in (None, 1):
        extra = {} if workers is None else {"workers": workers}
        root = make_repo(
            {"train.py": train, "score.py": score},
            default_config(editable=["train.py"], budget={"experiments": 6}, **extra),
        )
        summary = overnight.run(root, tag=TAG)
        runs.append(
            [(e.number, e.status, e.metric, e.description, e.diff) for e in summary.experiments]
        )

    assert runs[0] == runs[1]
    assert len(runs[0]) == 7
