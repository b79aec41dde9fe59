"""Throughput with many local workers: experiments per hour at 1, 2, 4 and 8 workers.

The experiments sleep (the agent AGENT_S, the evaluation EVAL_S, 0.5 s each by default), so they
are I/O-bound and a machine with few cores can still keep eight in flight: what limits the rate is
the harness, above all its one integrator, which dispatches every experiment, records it and
merges a stale winner onto the best (the worker then measures it there again). All worker
counts are measured in one run, in turns (1, 2, 4, 8, 1, 2, 4, 8, ...), so a busy spell of the
machine hits them alike.

Each measurement makes a fresh git repository in a temporary folder: ``value.txt`` holds eight
slots (``slot k = v``, a spacer line between two, so that changes to different slots merge), the
evaluation ``score.py`` sleeps and prints ``score: <sum of the slots>``, and the command agent
``agent.py`` sleeps and writes into slot ``n % 8`` of experiment n: ``n`` for every fifth
experiment (a keep; ``--keep-every``, 0 for none) and ``-n`` otherwise (a discard). A keep that
finished while another worker's keep moved the best on is a stale winner: it merges onto the new
best (its slot differs) and is measured there again, by the same worker, as a new experiment (a
replay); two keeps in one slot would conflict, which these numbers never make. The budget
(``--experiments``, 24 by default, so eight workers go in three waves) counts the experiments an
agent proposed, not the replays, which complete an experiment already counted; the sandbox is off
unless ``--sandbox auto`` asks for bubblewrap, which adds its start to every agent and evaluation.

A measurement is ``overnight.run(root, tag=..., workers=N)`` in this process. Its wall time runs
from the start of experiment 1 (just after the baseline) to the last experiment's end, replays
included (``started_at + duration_s``, the ledger's), and experiments per hour are the experiments
the budget counts (the ledger's rows after the baseline, less the replays) over it. Per worker
count the table gives the median rate over rounds, the speed-up (ratio of medians against one
worker), efficiency (speed-up / workers) and the goal "efficiency >= 0.85"; the harness's own time
per experiment, the median of ``duration_s - agent_s - eval_s`` (with several workers it holds the
wait for the integrator); the statuses, summed over rounds; whether each run's branch ended at its
best experiment's commit; the runs the harness gave up with an error (left out of everything else,
their errors printed below).

The diagnostics come from timing the loop's own methods in this process: how long a finished step
waited for the integrator to take it up, how busy the integrator was, and, in a second table, its
seconds per run in dispatch (resetting a lane, the brief), integration (recording, committing a
keep) and replays (merging a stale winner and measuring it again), next to the share of the
workers' capacity (workers x wall time) spent inside steps and a step's mean time (its agent,
evaluation and checks; it grows when the cores are short); what is left of the capacity the lanes
spent waiting for the integrator or, at the end, for the last steps. CPU is the busy share of all
the machine's cores during the run (``/proc/stat``, so sandboxed processes count too, and so does
any other work on the machine: the load averages in the header say how much there was).

    python bench/workers.py [--rounds 3] [--experiments 24] [--workers 1,2,4,8]
                            [--eval-s 0.5] [--agent-s 0.5] [--sandbox off|auto]
                            [--keep-every 5]

With the defaults a run takes about three minutes on two cores (per round about 30 s with one
worker, 15, 8 and 6 s with more, plus the baselines and the repositories' setup); with ``--sandbox
auto`` a little more.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import overnight
from overnight.engine.step import StepRunner
from overnight.errors import OvernightError
from overnight.isolation.sandbox import bubblewrap
from overnight.loop import Loop

SLOTS = 8
IDENTITY = {
    f"GIT_{who}_{key}": value
    for who in ("AUTHOR", "COMMITTER")
    for key, value in {"NAME": "bench", "EMAIL": "bench@example.com"}.items()
}

SCORE = """\
import re
import time

time.sleep(EVAL_S)
values = re.findall(r"^slot \\d+ = (-?\\d+)$", open("value.txt").read(), re.M)
print("score:", sum(int(v) for v in values))
"""
AGENT = """\
import os
import re
import time

time.sleep(AGENT_S)
n = int(os.environ["OVERNIGHT_EXPERIMENT"])
slot, value = n % SLOTS, n if KEEP_EVERY and n % KEEP_EVERY == 0 else -n
text = open("value.txt").read()
text = re.sub(rf"^slot {slot} = .*$", f"slot {slot} = {value}", text, flags=re.M)
open("value.txt", "w").write(text)
print(f"slot {slot} = {value}")
"""
CONFIG = """\
name: workers
editable: [value.txt]
frozen: [score.py, agent.py]
evaluate: {command: 'PYTHON score.py', metric: score, direction: maximize, timeout: 60}
agent: {kind: command, command: 'PYTHON agent.py', timeout: 60}
sandbox: {mode: 'MODE'}
budget: {experiments: EXPERIMENTS}
workers: WORKERS
"""


class Probe:
    """Times the loop's own steps: when each worker's step ended (so how long it then waited
    for the integrator), and the integrator's time in dispatch, integration and replays."""

    def __init__(self) -> None:
        self.ended: dict[int, float] = {}  # experiment number: its step's end (time.time())
        self.busy: dict[str, float] = defaultdict(float)
        self._depth = threading.local()

    def install(self) -> None:
        StepRunner.attempt = self._ends(StepRunner.attempt)  # type: ignore[method-assign]
        StepRunner.weigh_replay = self._ends(StepRunner.weigh_replay)  # type: ignore[method-assign]
        Loop._dispatch = self._timed(Loop._dispatch, "dispatch")  # type: ignore[method-assign]
        Loop._integrate = self._timed(Loop._integrate, "integrate")  # type: ignore[method-assign]
        Loop._replay = self._timed(Loop._replay, "replay")  # type: ignore[method-assign]

    def clear(self) -> None:
        self.ended.clear()
        self.busy.clear()

    def _ends(self, function: Callable) -> Callable:
        def attempt(runner: StepRunner, step: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return function(runner, step, *args, **kwargs)
            finally:
                self.ended[step.record.number] = time.time()

        return attempt

    def _timed(self, function: Callable, name: str) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, name, 0)  # a replay integrates again: count it once
            setattr(self._depth, name, depth + 1)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                setattr(self._depth, name, depth)
                if depth == 0:
                    self.busy[name] += time.perf_counter() - started

        return timed


def make_repo(root: Path, args: argparse.Namespace, workers: int) -> None:
    """value.txt, score.py, agent.py and overnight.yaml, committed on main."""
    slots = "#\n".join(f"slot {k} = 0\n" for k in range(SLOTS))
    (root / "value.txt").write_text(slots)
    (root / "score.py").write_text(SCORE.replace("EVAL_S", repr(args.eval_s)))
    constants = {"AGENT_S": repr(args.agent_s), "KEEP_EVERY": str(args.keep_every)}
    constants["SLOTS"] = str(SLOTS)
    agent = AGENT
    for name, value in constants.items():
        agent = agent.replace(name, value)
    (root / "agent.py").write_text(agent)
    config = CONFIG
    for name, value in {
        "PYTHON": shlex.quote(sys.executable).replace("'", "''"),
        "MODE": args.sandbox,
        "EXPERIMENTS": str(args.experiments),
        "WORKERS": str(workers),
    }.items():
        config = config.replace(name, value)
    (root / "overnight.yaml").write_text(config)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "workers bench")


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **IDENTITY}
    return subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout


def _tip(root: Path, branch: str) -> str | None:
    """The branch's commit, or None if it is gone."""
    done = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", f"refs/heads/{branch}"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def measure(root: Path, workers: int, tag: str, probe: Probe) -> dict[str, Any]:
    """One run with ``workers`` workers: its rate, each experiment's harness time and wait for
    the integrator, the statuses, and the integrator's and the CPUs' load."""
    probe.clear()
    cpu = _cpu()
    summary = overnight.run(root, tag=tag, workers=workers)
    cpu = _cpu_share(cpu, _cpu())
    rows = [e for e in summary.experiments if e.number > 0]
    first = next(e for e in rows if e.number == 1)
    end = max(e.started_at + e.duration_s for e in rows)
    wall = end - first.started_at
    replays = [e for e in rows if e.replay_of is not None]
    proposed = len(rows) - len(replays)  # a replay completes an experiment already counted
    waits = [  # a step's end to its settling, when the integrator took it up
        e.started_at + e.duration_s - probe.ended[e.number]
        for e in rows
        if e.number in probe.ended and e.status.value != "stale"
    ]
    in_steps = sum(  # what the lanes spent inside steps, replays included
        probe.ended[e.number] - e.started_at for e in rows if e.number in probe.ended
    )
    return {
        "rows": len(rows),
        "proposed": proposed,
        "wall": wall,
        "rate": proposed / wall * 3600,
        "own": [e.duration_s - e.agent_s - e.eval_s for e in rows],
        "wait": waits,
        "statuses": Counter(e.status.value for e in rows),
        "replays": len(replays),
        "integrator": (probe.busy["dispatch"] + probe.busy["integrate"]) / wall,
        "dispatch_s": probe.busy["dispatch"],
        "integrate_s": probe.busy["integrate"] - probe.busy["replay"],  # replays nest in it
        "replay_s": probe.busy["replay"],
        "lanes": in_steps / (workers * wall),
        "step_s": in_steps / len(probe.ended),
        "cpu": cpu,
        "stop": summary.stop_reason,
        # the run branch must end at the best state
        "branch ok": _tip(root, summary.run.branch) == summary.best_experiment.commit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="the worker counts take turns")
    parser.add_argument("--experiments", type=int, default=24, help="budget per measurement")
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts, comma-separated")
    parser.add_argument("--eval-s", type=float, default=0.5, help="the evaluation's sleep")
    parser.add_argument("--agent-s", type=float, default=0.5, help="the agent's sleep")
    parser.add_argument("--sandbox", choices=("off", "auto"), default="off")
    parser.add_argument(
        "--keep-every", type=int, default=5, help="every k-th experiment wins; 0: none does"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",") if n]
    for name, value in IDENTITY.items():  # the harness commits keeps with git too
        os.environ.setdefault(name, value)
    sandbox = args.sandbox
    if sandbox == "auto":
        sandbox = "auto (bubblewrap)" if bubblewrap() else "auto (no bubblewrap here: off)"
    before = os.getloadavg()
    probe = Probe()
    probe.install()
    found: Results = {n: [] for n in counts}
    failed: dict[int, list[str]] = defaultdict(list)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):  # in turns, so drift hits every worker count alike
            for workers in counts:
                root = Path(tmp) / f"w{workers}-r{round_}"
                root.mkdir()
                make_repo(root, args, workers)
                try:
                    result = measure(root, workers, f"w{workers}-r{round_}", probe)
                except OvernightError as exc:  # a run the harness gave up: said below the table
                    failed[workers].append(f"{workers} workers, round {round_ + 1}: {exc}")
                    continue
                found[workers].append(result)
    total = time.perf_counter() - started
    after = os.getloadavg()
    print(
        f"{args.rounds} round{'s' * (args.rounds != 1)} of {args.experiments} experiments per"
        " worker count, agent "
        f"{args.agent_s:g} s + evaluation {args.eval_s:g} s each, sandbox {sandbox}; "
        f"{os.cpu_count()} cores, load average {before[0]:.2f} before and {after[0]:.2f} after; "
        f"{total:.0f} s in all\n"
    )
    report(found, failed)


Results = dict[int, list[dict[str, Any]]]


def report(found: Results, failed: dict[int, list[str]]) -> None:
    header = f"{'workers':>7}{'exp/h':>8}{'speed-up':>10}{'efficiency':>12}{'goal':>8}"
    header += f"{'own ms':>8}{'wait ms':>8}{'keep':>6}{'stale':>7}{'conflict':>9}{'discard':>9}"
    header += f"{'violation':>11}{'other':>7}{'replays':>9}{'wall s':>8}{'integrator':>12}"
    print(f"{header}{'CPU':>6}{'branch ok':>11}{'failed':>8}")
    first = min(found)
    base = statistics.median(r["rate"] for r in found[first]) if found[first] else None
    for workers, results in found.items():
        gave_up = f"{len(failed[workers])}/{len(failed[workers]) + len(results)}"
        if not results:
            print(f"{workers:>7}{'every run failed':>38}{gave_up:>{len(header) - 37}}")
            continue
        rate = statistics.median(r["rate"] for r in results)
        speedup = rate / base if base else float("nan")
        efficiency = speedup / workers * first
        goal = "-" if workers == first else ("met" if efficiency >= 0.85 else "missed")
        statuses: Counter[str] = sum((r["statuses"] for r in results), Counter())
        other = sum(statuses.values()) - sum(
            statuses[s] for s in ("keep", "stale", "conflict", "discard", "violation")
        )
        branch = f"{sum(r['branch ok'] for r in results)}/{len(results)}"
        own = [v for r in results for v in r["own"]]
        wait = [v for r in results for v in r["wait"]] or [0.0]
        wall = statistics.median(r["wall"] for r in results)
        share = statistics.median(r["cpu"] for r in results)
        busy = statistics.median(r["integrator"] for r in results)
        print(
            f"{workers:>7}{rate:>8.0f}{speedup:>9.2f}x{efficiency:>12.2f}{goal:>8}"
            f"{statistics.median(own) * 1000:>8.1f}{statistics.mean(wait) * 1000:>8.1f}"
            f"{statuses['keep']:>6}{statuses['stale']:>7}{statuses['conflict']:>9}"
            f"{statuses['discard']:>9}{statuses['violation']:>11}{other:>7}"
            f"{sum(r['replays'] for r in results):>9}{wall:>8.1f}{busy:>11.0%}{share:>6.0%}"
            f"{branch:>11}{gave_up:>8}"
        )
    done = [r for results in found.values() for r in results]
    replay_s = [r["replay_s"] / r["replays"] for r in done if r["replays"]]
    print(
        "\nexp/h and wall s: medians over rounds; speed-up: against the first row, efficiency:"
        " speed-up / workers;\nown ms: median of duration_s - agent_s - eval_s; wait ms: mean"
        " time from a step's end to its settling;\nstatuses and replays: summed over rounds;"
        " integrator: share of the wall time in dispatch, integration\nand replays (median);"
        " CPU: the machine's busy share of all cores during the run (baseline included;\n"
        "median); branch ok: runs whose branch ended at the best experiment's"
        " commit;\nfailed: runs the harness gave up with an error (left out of every other column)"
    )
    if done:
        rows, stops = sorted({r["rows"] for r in done}), sorted({r["stop"] for r in done})
        print(f"experiments per run: {rows}; stopped: {'; '.join(stops)}")
    if replay_s:
        print(f"merging a replay held the integrator {statistics.median(replay_s):.2f} s (median)")
    integrator(found)
    for lines in failed.values():
        for line in lines:
            print(f"failed: {line}")


def integrator(found: Results) -> None:
    """Where the integrator's time went, and how much of the workers' capacity the steps used:
    whatever the lanes did not spend in steps they spent waiting for the integrator (to take up
    a finished step, or to dispatch the next one) or at the end, when the budget was spent."""
    print("\nthe integrator per run (medians over rounds; seconds)")
    header = f"{'workers':>7}{'dispatch':>10}{'per dispatch':>14}{'integration':>13}{'replays':>9}"
    print(f"{header}{'busy':>7}{'wall':>7}{'lanes in steps':>16}{'step':>7}")
    for workers, results in found.items():
        if not results:
            continue
        dispatch = statistics.median(r["dispatch_s"] for r in results)
        per = statistics.median(r["dispatch_s"] / r["proposed"] for r in results)
        busy = statistics.median(
            r["dispatch_s"] + r["integrate_s"] + r["replay_s"] for r in results
        )
        print(
            f"{workers:>7}{dispatch:>10.2f}{per * 1000:>11.1f} ms"
            f"{statistics.median(r['integrate_s'] for r in results):>13.2f}"
            f"{statistics.median(r['replay_s'] for r in results):>9.2f}{busy:>7.2f}"
            f"{statistics.median(r['wall'] for r in results):>7.2f}"
            f"{statistics.median(r['lanes'] for r in results):>16.0%}"
            f"{statistics.median(r['step_s'] for r in results):>7.2f}"
        )


def _cpu() -> tuple[float, float]:
    """Busy and total CPU time of the whole machine so far (Linux ``/proc/stat``, every process,
    sandboxed ones too), or this process's and its finished children's and the wall clock's."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        own, children = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        used = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        return used, time.monotonic() * (os.cpu_count() or 1)
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    total = sum(fields[:8])  # guest time is counted in user time already
    return total - idle, total


def _cpu_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    return (after[0] - before[0]) / max(after[1] - before[1], 1e-9)


if __name__ == "__main__":
    main()
