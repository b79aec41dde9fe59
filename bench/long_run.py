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
what it has learned) is the harness's; a second column leaves it out. The sizes are measured
in turns (100, 1,000, 10,000, 100, ...), so drift hits them alike; the table gives medians over
every real experiment and the ratio against 100 (goal: at most 1.2 at 10,000). A second table
times the commands a person reads the longest run with (``overnight log``, with ``--all``,
``--tsv`` and ``--json``, and ``overnight status``), each once, as a process of its own, next to
``overnight --help``: the CLI's own start, which every command pays.

    python bench/long_run.py [--sizes 100,1000,10000] [--real 40] [--rounds 2]
                             [--agent search|command]

About 20 seconds on two cores with the defaults (most of it writing the synthetic ledgers).
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
from pathlib import Path

import overnight
from overnight.ledger import Ledger
from overnight.records import Experiment, Status

IDENTITY = {
    f"GIT_{who}_{key}": value
    for who in ("AUTHOR", "COMMITTER")
    for key, value in {"NAME": "bench", "EMAIL": "bench@example.com"}.items()
}
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


def synthetic_history(root: Path, tag: str, size: int, seed: int) -> None:
    """``size`` experiments after the baseline, written as the harness writes them."""
    rng = random.Random(seed)
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = next(r for r in ledger.runs() if r.tag == tag)
        baseline = ledger.experiments(run.id)[0]
        config = {"WIDTH": 64, "DEPTH": 2, "RATE": 0.01, "DECAY": 0.1}
        best = baseline.metric or 10.0
        clock = time.time() - size * 2.0
        for number in range(1, size + 1):
            name = rng.choice(list(KNOBS))
            low, high = KNOBS[name]
            old = config[name]
            new = rng.randint(low, high) if isinstance(low, int) else rng.uniform(low, high)
            after = {**config, name: new}
            status = rng.choices(
                [Status.KEEP, Status.DISCARD, Status.CRASH, Status.NO_OP], [1, 7, 1, 1]
            )[0]
            metric = None if status in (Status.CRASH, Status.NO_OP) else best + rng.random()
            if status is Status.KEEP:
                best, config = best * 0.999, after
                metric = best
            ledger.begin(run.id, number, baseline.parent_commit, {})
            ledger.record(
                Experiment(
                    run_id=run.id,
                    number=number,
                    parent_commit=baseline.parent_commit,
                    status=status,
                    commit=baseline.parent_commit if status is Status.KEEP else None,
                    metric=metric,
                    secondary={"params": float(rng.randint(100, 10**6))},
                    description=f"{name} {old} -> {new}",
                    reason="crashed: Traceback ..." if status is Status.CRASH else "not better",
                    diff=f"--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-{name} = {old}\n"
                    f"+{name} = {new}\n",
                    changed_files=["train.py"],
                    started_at=clock,
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
                        "before": dict(config),
                        "after": after,
                    },
                )
            )
            clock += 2.0
    finally:
        ledger.close()


def measure(root: Path, tag: str, size: int, real: int) -> dict[str, list[float]]:
    """The real experiments on top of the history: their cost, with and without the agent."""
    summary = overnight.run(root, tag=tag, resume=True, experiments=size + real)
    rows = sorted((e for e in summary.experiments if e.number > size), key=lambda e: e.number)
    cost, outside = [], []
    for this, after in itertools.pairwise(rows):
        wall = after.started_at - this.started_at
        cost.append(wall - this.eval_s)
        outside.append(wall - this.eval_s - this.agent_s)
    return {"cost": cost, "outside": outside}


def reading(root: Path) -> list[tuple[str, float, int]]:
    """The commands a person reads a long run with, as they run them: each in a process of its
    own, so the CLI's own start (``overnight --help``, the first row) is in every figure."""
    cli = str(Path(sys.executable).with_name("overnight"))
    found = []
    for args in (["--help"], ["log"], ["log", "--all"], ["log", "--tsv"], ["log", "--json"]):
        found.append(_timed(cli, args, root))
    found.append(_timed(cli, ["status"], root))
    return found


def _timed(cli: str, args: list[str], root: Path) -> tuple[str, float, int]:
    where = [] if args == ["--help"] else [str(root)]
    started = time.perf_counter()
    done = subprocess.run([cli, *args, *where], capture_output=True, check=True)
    return " ".join(["overnight", *args]), time.perf_counter() - started, len(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--real", type=int, default=40, help="real experiments measured")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--agent", choices=("search", "command"), default="search", help="command: reads a brief"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",") if n]
    for name, value in IDENTITY.items():
        os.environ.setdefault(name, value)
    found: dict[int, dict[str, list[float]]] = {n: {"cost": [], "outside": []} for n in sizes}
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
                    read = reading(root)
    total = time.perf_counter() - started
    print(
        f"{args.rounds} rounds; per round and size a synthetic history, then {args.real} real"
        f" experiments ({args.agent} agent, instant evaluation, sandbox off);"
        f" {os.cpu_count()} cores;"
        f" {total:.0f} s in all\n"
    )
    first = sizes[0]
    base = statistics.median(found[first]["cost"])
    print(f"{'history':>8}{'cost ms':>10}{'ratio':>8}{'goal':>8}{'without agent ms':>18}")
    for size in sizes:
        cost = statistics.median(found[size]["cost"])
        outside = statistics.median(found[size]["outside"])
        ratio = cost / base
        goal = "-" if size == first else ("met" if ratio <= 1.2 else "missed")
        print(f"{size:>8}{cost * 1000:>10.1f}{ratio:>8.2f}{goal:>8}{outside * 1000:>18.1f}")
    print(
        "\ncost: median over the real experiments of (next start - start - eval_s); ratio:"
        f" against {first}; goal: at most 1.2; without agent: less agent_s too"
    )
    print(f"\nreading the run of {max(sizes) + args.real} experiments (one measurement each)")
    print(f"{'command':<24}{'seconds':>9}{'kB':>9}")
    for command, seconds, size in read:
        print(f"{command:<24}{seconds:>9.2f}{size / 1000:>9.0f}")


if __name__ == "__main__":
    main()
