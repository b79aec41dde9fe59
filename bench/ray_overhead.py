"""What Ray adds: the same experiments with local workers and with workers on a Ray cluster of
two nodes on loopback, side by side in one run.

The experiments are ``bench/workers.py``'s (an agent and an evaluation that sleep, 0.5 s each by
default; every fifth experiment a keep), so they are I/O-bound and the harness is what differs.
A cluster of two nodes is started on this machine for the run (the test suite's loopback
cluster, ``tests/ray_cluster.py``; each node declares four logical CPUs, so eight workers of one
CPU each fit on the two nodes together) and stopped after. With ``executor: ray`` a step travels
to an actor as a git bundle of its base and comes back as the change, the scores and the logs,
which the integrator writes here; the baseline runs on the head in both cases.

Per executor and worker count (in turns: local 1, ray 1, local 2, ray 2, ..., every round), the
table gives the median rate in experiments per hour, the harness's own time per experiment (the
median of ``duration_s - agent_s - eval_s``, the ledger's: for a step on Ray it holds the round
trip, the bundles and the logs), and for Ray the added cost: its own time less local's at the
same worker count, against the goal of at most 100 ms; and the Ray rate as a share of local's.

    python bench/ray_overhead.py [--rounds 3] [--experiments 16] [--workers 1,2,4,8]

Needs ``pip install "overnight[ray]"``. About four minutes on two cores with the defaults.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from workers import IDENTITY, make_repo

import overnight

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import ray_cluster  # the test suite's loopback cluster

GOAL_MS = 100.0


def measure(root: Path, workers: int, tag: str) -> dict[str, Any]:
    summary = overnight.run(root, tag=tag, workers=workers)
    rows = [e for e in summary.experiments if e.number > 0]
    first = min(e.started_at for e in rows)
    wall = max(e.started_at + e.duration_s for e in rows) - first
    proposed = sum(e.replay_of is None for e in rows)
    return {
        "rate": proposed / wall * 3600,
        "own": [e.duration_s - e.agent_s - e.eval_s for e in rows],
        "interrupted": sum(e.status.value == "interrupted" for e in rows),
        "branch ok": summary.best_experiment.commit
        == subprocess.run(
            ["git", "rev-parse", summary.run.branch], cwd=root, capture_output=True, text=True
        ).stdout.strip(),
    }


def setup(root: Path, args: argparse.Namespace, workers: int, address: str | None) -> None:
    root.mkdir()
    make_repo(root, args, workers)
    if address is None:
        return
    with (root / "overnight.yaml").open("a") as config:
        config.write(f"executor: {{kind: ray, address: '{address}'}}\n")
    env = {**os.environ, **IDENTITY}
    subprocess.run(["git", "commit", "-qam", "on ray"], cwd=root, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--experiments", type=int, default=16, help="budget per measurement")
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts, comma-separated")
    parser.add_argument("--eval-s", type=float, default=0.5)
    parser.add_argument("--agent-s", type=float, default=0.5)
    args = parser.parse_args()
    args.sandbox, args.keep_every = "off", 5  # what make_repo reads besides
    counts = [int(n) for n in args.workers.split(",") if n]
    for name, value in IDENTITY.items():
        os.environ.setdefault(name, value)
    os.environ.update(ray_cluster.DRIVER_ENV)  # read when Ray is imported: stay on loopback
    found: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp) / "ray-logs"
        logs.mkdir()
        cluster = ray_cluster.start(logs, head_cpus=4, second_cpus=4)
        try:
            for round_ in range(args.rounds):
                for workers in counts:
                    for executor in ("local", "ray"):
                        name = f"{executor}-w{workers}-r{round_}"
                        address = cluster.address if executor == "ray" else None
                        setup(Path(tmp) / name, args, workers, address)
                        found[executor, workers].append(measure(Path(tmp) / name, workers, name))
        finally:
            ray_cluster.stop(cluster)
    total = time.perf_counter() - started
    print(
        f"{args.rounds} rounds of {args.experiments} experiments per cell, agent"
        f" {args.agent_s:g} s + evaluation {args.eval_s:g} s each, sandbox off;"
        f" {os.cpu_count()} cores; {total:.0f} s in all\n"
    )
    print(
        f"{'workers':>7}{'local exp/h':>13}{'ray exp/h':>11}{'ray/local':>11}"
        f"{'local own ms':>14}{'ray own ms':>12}{'added ms':>10}{'goal':>8}"
        f"{'interrupted':>13}{'branch ok':>11}"
    )
    for workers in counts:
        local, ray = found["local", workers], found["ray", workers]
        local_rate = statistics.median(r["rate"] for r in local)
        ray_rate = statistics.median(r["rate"] for r in ray)
        local_own = statistics.median(v for r in local for v in r["own"]) * 1000
        ray_own = statistics.median(v for r in ray for v in r["own"]) * 1000
        added = ray_own - local_own
        branch = sum(r["branch ok"] for r in local + ray)
        print(
            f"{workers:>7}{local_rate:>13.0f}{ray_rate:>11.0f}{ray_rate / local_rate:>11.2f}"
            f"{local_own:>14.1f}{ray_own:>12.1f}{added:>10.1f}"
            f"{'met' if added <= GOAL_MS else 'missed':>8}"
            f"{sum(r['interrupted'] for r in ray):>13}{branch:>8}/{len(local + ray)}"
        )
    print(
        "\nexp/h: medians over rounds of the experiments proposed over the wall time from the"
        " first experiment's start\nto the last one's end; own ms: median over every experiment"
        " of duration_s - agent_s - eval_s; added ms: Ray's\nown time less local's (goal: at most"
        f" {GOAL_MS:.0f} ms); branch ok: runs whose branch ended at the best experiment's commit"
    )


if __name__ == "__main__":
    main()
