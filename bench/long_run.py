"""Long nights: the harness's cost per experiment after 100, 1,000 and 10,000 experiments.

A run of 10,000 real experiments takes hours on two cores, so each history is a faithful
synthetic ledger plus a real run on top of it. A fresh repository holds ``train.py`` (four
knobs) and an evaluation that computes a loss from them at once; ``overnight.run`` measures the
baseline, then the ledger gains N synthetic experiments written through the ledger's own API,
as the search agent would have recorded them (its move and its configurations before and after
in ``agent_meta``, a one-line diff, a description; one in ten a keep, the rest mostly discards
with some crashes and no-ops), and then the run is resumed for ``--real`` more experiments by
the real search agent and the real evaluation, sandbox off. Those real experiments are what is
measured. With ``--agent command`` the agent is instead a script that reads the brief the
harness writes for it (the history, within the brief's budget) and moves one knob at random, so
the brief is part of what is measured (and the script's start is in the first column).

The cost of an experiment is everything the harness does for it but the evaluation: the time
from its start to the next experiment's start (the ledger's ``started_at``), less its
``eval_s``. The search agent's own time is included, since its work (reading the history into
what it has learned) is the harness's; a second column leaves it out. The real experiments run
in an ``overnight run --resume`` process of its own, whose peak resident memory is the last
column. The sizes are measured in turns (100, 1,000, 10,000, 100, ...), so drift hits them
alike; the table gives medians over every real experiment and the ratio against 100 (goal: at
most 1.2 at 10,000).

A second table reads the longest run as a person does, each command a process of its own (so
the CLI's start is in every figure, next to ``python -c pass``), ``--reads`` times in turns:
``overnight --help``, ``status``, ``log`` (with ``--all``, ``--tsv``, ``--json``) and
``report`` (its time and the page's size); then the live dashboard in-process (the ``serve``
extra): its first page once the server has read the run ahead, the two-second poll, and the
update the page fetches after one more experiment is recorded. Each row is checked against the
goal for a 10,000-experiment run where there is one.

    python bench/long_run.py [--sizes 100,1000,10000] [--real 40] [--rounds 2] [--reads 5]
                             [--agent search|command]

About two minutes on two cores with the defaults (most of it writing the synthetic ledgers).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import overnight
from overnight.ledger import Ledger
from overnight.records import Experiment, Status

IDENTITY = {
    f"GIT_{who}_{key}": value
    for who in ("AUTHOR", "COMMITTER")
    for key, value in {"NAME": "bench", "EMAIL": "bench@example.com"}.items()
}
CLI = str(Path(sys.executable).with_name("overnight"))
KNOBS = {"WIDTH": (8, 512), "DEPTH": (1, 12), "RATE": (0.0001, 0.1), "DECAY": (0.0, 0.5)}
TRAIN = """\
WIDTH = 64
DEPTH = 2
RATE = 0.01
DECAY = 0.1
"""
SCORE = """\
import math
import train
loss = (math.log2(train.WIDTH) - 7) ** 2 + (train.DEPTH - 6) ** 2 / 4
loss += (math.log10(train.RATE) + 2.5) ** 2 + (train.DECAY - 0.2) ** 2
print(f"loss: {loss:.6f}")
print(f"params: {train.WIDTH * train.WIDTH * train.DEPTH}")
"""
CONFIG = """\
name: long-run
editable: [train.py]
frozen: [score.py]
evaluate: {command: PYTHON score.py, metric: loss, direction: minimize, timeout: 60}
agent:
  kind: search
  knobs:
    WIDTH: {min: 8, max: 512}
    DEPTH: {min: 1, max: 12}
    RATE: {min: 0.0001, max: 0.1, log: true}
    DECAY: {min: 0.0, max: 0.5}
sandbox: {mode: 'off'}
budget: {experiments: 0}
"""
# the command agent: reads the brief the harness wrote for it, then moves one knob at random
COMMAND_AGENT = """\
import os, random, re
from pathlib import Path
brief = Path(os.environ["OVERNIGHT_BRIEF"]).read_text()
rng = random.Random(int(os.environ["OVERNIGHT_EXPERIMENT"]))
name, value = rng.choice([("DEPTH", rng.randint(1, 12)), ("DECAY", round(rng.random() / 2, 4))])
text = re.sub(rf"^{name} = .*$", f"{name} = {value}", Path("train.py").read_text(), flags=re.M)
Path("train.py").write_text(text)
print(f"DESCRIPTION: {name} = {value} (brief of {len(brief)} characters)")
"""


def make_repo(root: Path, agent: str) -> None:
    root.mkdir()
    (root / "train.py").write_text(TRAIN)
    (root / "score.py").write_text(SCORE)
    config = CONFIG.replace("PYTHON", sys.executable)
    if agent == "command":
        (root / "agent.py").write_text(COMMAND_AGENT)
        config = config.replace("frozen: [score.py]", "frozen: [score.py, agent.py]")
        config = config.split("agent:\n")[0] + config[config.index("sandbox:") :]
        config += f"agent: {{kind: command, command: {sys.executable} agent.py}}\n"
    (root / "overnight.yaml").write_text(config)
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "long run")):
        subprocess.run(["git", *args], cwd=root, check=True, env={**os.environ, **IDENTITY})


@dataclass
class Walk:
    """Where the synthetic search stands: the configuration it keeps, and its best value."""

    config: dict[str, float]
    best: float


def synthetic_history(root: Path, tag: str, size: int, seed: int) -> None:
    """``size`` experiments after the baseline, written as the harness writes them."""
    rng = random.Random(seed)
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = next(r for r in ledger.runs() if r.tag == tag)
        baseline = ledger.experiments(run.id)[0]
        walk = Walk({"WIDTH": 64, "DEPTH": 2, "RATE": 0.01, "DECAY": 0.1}, baseline.metric or 10.0)
        clock = time.time() - size * 2.0
        for number in range(1, size + 1):
            synthetic_experiment(ledger, run.id, number, baseline.parent_commit, rng, walk, clock)
            clock += 2.0
    finally:
        ledger.close()


def synthetic_experiment(
    ledger: Ledger, run_id: int, number: int, parent: str, rng: random.Random, walk: Walk, at: float
) -> None:
    """One experiment as the search agent would have recorded it: its move and its
    configurations before and after in ``agent_meta``, a one-line diff, a description; one in
    ten a keep, the rest mostly discards with some crashes and no-ops."""
    name = rng.choice(list(KNOBS))
    low, high = KNOBS[name]
    old = walk.config[name]
    new = rng.randint(low, high) if isinstance(low, int) else rng.uniform(low, high)
    after = {**walk.config, name: new}
    status = rng.choices([Status.KEEP, Status.DISCARD, Status.CRASH, Status.NO_OP], [1, 7, 1, 1])[0]
    metric = None if status in (Status.CRASH, Status.NO_OP) else walk.best + rng.random()
    before = dict(walk.config)
    if status is Status.KEEP:
        walk.best, walk.config = walk.best * 0.999, after
        metric = walk.best
    ledger.begin(run_id, number, parent, {})
    ledger.record(
        Experiment(
            run_id=run_id,
            number=number,
            parent_commit=parent,
            status=status,
            commit=parent if status is Status.KEEP else None,
            metric=metric,
            secondary={"params": float(rng.randint(100, 10**6))},
            description=f"{name} {old} -> {new}",
            reason="crashed: Traceback ..." if status is Status.CRASH else "not better",
            diff=f"--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-{name} = {old}\n+{name} = {new}\n",
            changed_files=["train.py"],
            started_at=at,
            duration_s=1.5,
            agent_s=0.01,
            eval_s=1.4,
            measurements=[] if metric is None else [metric],
            agent_meta={
                "knob": f"train.py:{name}",
                "name": name,
                "file": "train.py",
                "kind": type(new).__name__,
                "old": old,
                "new": new,
                "move": rng.choice(["up", "down", "random"]),
                "level": rng.randint(0, 3),
                "before": before,
                "after": after,
            },
        )
    )


def measure(root: Path, tag: str, size: int, real: int) -> dict[str, list[float]]:
    """The real experiments on top of the history, run by ``overnight run --resume`` in a
    process of its own: their cost, with and without the agent, and the process's peak
    memory (in MB)."""
    command = [CLI, "run", str(root), "--tag", tag, "--resume", "--experiments", str(size + real)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {child.stderr.read().decode()[-2000:]}")
    _, history = overnight.history(root, tag, notes=False)
    rows = [e for e in history if e.number > size]
    cost, outside = [], []
    for this, after in itertools.pairwise(rows):
        wall = after.started_at - this.started_at
        cost.append(wall - this.eval_s)
        outside.append(wall - this.eval_s - this.agent_s)
    return {"cost": cost, "outside": outside, "peak_mb": [usage.ru_maxrss / 1024]}


READS = (["--help"], ["status"], ["log"], ["log", "--all"], ["log", "--tsv"], ["log", "--json"])


def reading(root: Path, times: int) -> list[tuple[str, float, int]]:
    """The commands a person reads a long run with, as they run them: each in a process of its
    own, so the CLI's own start is in every figure, next to Python's own (``python -c pass``);
    then the report and the dashboard. Medians of ``times`` runs, side by side in turns."""
    commands = [("python -c pass", [sys.executable, "-c", "pass"])]
    for args in READS:
        where = [] if args == ["--help"] else [str(root)]
        commands.append((" ".join(["overnight", *args]), [CLI, *args, *where]))
    page = root / ".overnight" / "report.html"
    commands.append(("overnight report", [CLI, "report", str(root), "-o", str(page)]))
    found: dict[str, list[tuple[float, int]]] = {name: [] for name, _ in commands}
    for _ in range(times):
        for name, command in commands:
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, check=True)
            elapsed = time.perf_counter() - started
            size = page.stat().st_size if name == "overnight report" else len(done.stdout)
            found[name].append((elapsed, size))
    rows = [
        (name, statistics.median(t for t, _ in runs), runs[-1][1]) for name, runs in found.items()
    ]
    return rows + dashboard(root, times)


def dashboard(root: Path, times: int) -> list[tuple[str, float, int]]:
    """The live dashboard in-process (the ``serve`` extra): its first page once it has read the
    run, the poll, and the update after one more experiment."""
    try:
        from dashboard_timing import dashboard_timing
    except ImportError:
        return [("dashboard: needs the serve extra", float("nan"), 0)]
    ledger = Ledger(root / ".overnight" / "ledger.db")
    run = ledger.run()
    assert run is not None
    rng, walk = random.Random(0), Walk({"WIDTH": 64, "DEPTH": 2, "RATE": 0.01, "DECAY": 0.1}, 2.0)
    found: dict[str, list[tuple[float, int]]] = {}
    try:
        for _ in range(times):

            def one_more() -> None:
                number = ledger.finished(run.id)[1] + 1
                synthetic_experiment(
                    ledger, run.id, number, run.base_commit, rng, walk, time.time()
                )

            for name, figures in dashboard_timing(root, one_more).items():
                found.setdefault(name, []).append(figures)
    finally:
        ledger.close()
    names = {"first_page": "dashboard /", "version": "dashboard poll", "update": "dashboard update"}
    return [
        (names[key], statistics.median(t for t, _ in runs), runs[-1][1])
        for key, runs in found.items()
    ]


# what the issue asks of reading a 10,000-experiment run: (seconds, kB), None where no goal
GOALS = {
    "overnight status": (0.5, None),
    "overnight log --tsv": (1.0, None),
    "overnight log --json": (1.0, None),
    "overnight report": (3.0, 2000),
    "dashboard /": (0.2, 300),
    "dashboard update": (0.2, 300),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--real", type=int, default=40, help="real experiments measured")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reads", type=int, default=5, help="runs of each reading command")
    parser.add_argument(
        "--agent", choices=("search", "command"), default="search", help="command: reads a brief"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",") if n]
    for name, value in IDENTITY.items():
        os.environ.setdefault(name, value)
    found: dict[int, dict[str, list[float]]] = {
        n: {"cost": [], "outside": [], "peak_mb": []} for n in sizes
    }
    started = time.perf_counter()
    read: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for size in sizes:
                root = Path(tmp) / f"n{size}-r{round_}"
                make_repo(root, args.agent)
                tag = f"n{size}"
                overnight.run(root, tag=tag)  # the baseline only: the budget is 0
                synthetic_history(root, tag, size, seed=round_)
                for key, values in measure(root, tag, size, args.real).items():
                    found[size][key] += values
                if round_ == args.rounds - 1 and size == max(sizes):
                    read = reading(root, args.reads)
    total = time.perf_counter() - started
    print(
        f"{args.rounds} rounds; per round and size a synthetic history, then {args.real} real"
        f" experiments ({args.agent} agent, instant evaluation, sandbox off);"
        f" {os.cpu_count()} cores;"
        f" {total:.0f} s in all\n"
    )
    first = sizes[0]
    base = statistics.median(found[first]["cost"])
    print(
        f"{'history':>8}{'cost ms':>10}{'ratio':>8}{'goal':>8}{'without agent ms':>18}"
        f"{'peak MB':>10}"
    )
    for size in sizes:
        cost = statistics.median(found[size]["cost"])
        outside = statistics.median(found[size]["outside"])
        peak = max(found[size]["peak_mb"])
        ratio = cost / base
        goal = "-" if size == first else ("met" if ratio <= 1.2 else "missed")
        print(
            f"{size:>8}{cost * 1000:>10.1f}{ratio:>8.2f}{goal:>8}{outside * 1000:>18.1f}"
            f"{peak:>10.0f}"
        )
    print(
        "\ncost: median over the real experiments of (next start - start - eval_s); ratio:"
        f" against {first}; goal: at most 1.2; without agent: less agent_s too; peak: the"
        " largest resident set of the `overnight run --resume` process over the rounds"
    )
    print(
        f"\nreading the run of {max(sizes) + args.real} experiments"
        f" (medians of {args.reads}, in turns; the dashboard in-process)"
    )
    print(f"{'command':<26}{'seconds':>9}{'kB':>9}{'goal':>26}")
    for command, seconds, size in read:
        goal = ""
        if command in GOALS:
            most_s, most_kb = GOALS[command]
            met = seconds < most_s and (most_kb is None or size / 1000 < most_kb)
            limit = f"<{most_s:g} s" + (f", <{most_kb} kB" if most_kb else "")
            goal = f"{limit} {'met' if met else 'missed'}"
        print(f"{command:<26}{seconds:>9.3f}{size / 1000:>9.0f}{goal:>26}")


if __name__ == "__main__":
    main()
