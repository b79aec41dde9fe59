"""Sample efficiency of parallel workers: the best score after the same number of evaluations
with one worker and with several, and how soon each gets there.

Parallel experiments buy speed, not free results: an experiment dispatched while others are in
flight is briefed on an older history (it cannot learn from what they will find), and a winner
found on a base the run has since moved past is only a candidate (``stale``): its change is merged
onto the best (three-way, by git; where git calls edits on neighbouring lines a conflict, the
change is applied line by line) and measured again there as a new experiment (a replay,
``agent_meta {"replay_of": n}``), which must win again to be kept. It is not measured again when
the best already holds its change, nor when that change on the best is another experiment's; a
winner that does not merge is lost (``conflict``). This bench measures what that costs, one worker
against ``--workers`` (4), over ``--seeds`` rounds (3); the configurations take turns within a
round (1, 4 in even rounds, 4, 1 in odd ones), so a busy spell of the machine hits them alike. The
problems:

- ``digits``: the bundled example (``overnight init --example digits``: a small NumPy net trained
  for each evaluation, about 0.3 to 1 s of CPU), copied into a fresh repository per measurement
  with its offline ``search`` agent; the bench changes its ``overnight.yaml`` only to set the
  agent's ``seed`` (the round's number), the budget, the workers, the sandbox and the evaluation's
  interpreter (this one), and to drop the ``patience`` stop rule, so the budget alone ends a run.
  Its evaluation is CPU-bound: on a machine with fewer cores than workers the workers share them
  and each evaluation takes longer ("eval s"). Its cost also depends on the configuration
  (``EPOCHS``, ``HIDDEN_SIZE``), so runs that explore differently differ in wall time for that
  reason too.
- ``valley``: a synthetic problem with a known optimum. ``params.py`` holds four float constants
  ``X1..X4`` on four consecutive lines (all 0.0 at the start, knobs bounded to [-10, 10] with
  linear steps: 2, 1, 0.5) and the frozen ``score.py`` sleeps ``--eval-s`` (0.3 s, so it is
  I/O-bound and workers do not fight over cores) and prints ``loss: <value>`` of
  ``|u|^2 + 4 (u1 - u2)^2``, ``u = X - OPTIMUM``: a quadratic bowl with a diagonal valley, which a
  search moving one knob at a time crosses slowly. Its minimum is 0 at ``OPTIMUM``, off the 0.5
  grid the steps reach from 0.0, so no run gets to 0; the table adds the Euclidean distance of the
  best point from the optimum.
- ``valley-spaced`` (only when ``--problems`` names it): the same with a comment line between two
  knobs, which git's merge alone already merges. A stale winner on another knob should merge on
  both layouts (on the adjacent one by the line-by-line fallback), so the two tell whether the
  layout still decides what is lost to conflicts.

Each measurement is ``overnight.run(root, tag=..., workers=N)`` in this process, on a fresh git
repository in a temporary folder, with ``budget: {experiments: --evaluations}`` (E, 60). The budget
counts the experiments an agent proposed (refused ones too, such as a no-op), not the baseline and
not the replays (which complete an experiment already counted), so a run with several workers
evaluates more than E trees. The comparison is therefore made at equal evaluations, not at equal
budget: an *evaluation* is a ledger row after the baseline that was measured (``eval_s > 0``, with
a diff), replays and stale winners included, and each run is cut after its first E evaluations in
order of completion (``started_at + duration_s``). Only keeps count toward the best: the best after
E evaluations is the best metric among the baseline and the rows with status ``keep`` that
completed within those E (a stale winner's own score, measured on an old base, does not count; its
replay's does, if it is kept among the first E). A run that made fewer than E evaluations (a
search that ran out of neighbours, proposals refused unmeasured) is counted with what it made, and
is named below the tables. A run also ends early if the search has tried every neighbour of the
best point ("nothing left to try"); the stop reasons are printed below the tables, and runs the
harness gave up with an error after them.

Everything is read back from the ledger (``Ledger(root/.overnight/ledger.db).experiments``):

1. Per problem and worker count, on each run's first E evaluations: the best score as median, min
   and max over seeds, and (valley) the distance of its point from the optimum; the evaluations
   counted and those the whole run made; an evaluation's mean seconds (whole run); the wall time
   from the start of experiment 1 (just after the baseline) to the end of the E-th evaluation,
   median over seeds; the time at which the best of that series (baseline and keeps, at the end of
   each) first reached the 1-worker median best, median over seeds (a run that never reached it
   within its E evaluations counts as never; for an even number of seeds the worse of the two
   middle values is the target, so that at least half the 1-worker runs reach it); and "sooner",
   the 1-worker time to reach it over this one's. The goals are judged on medians: "4 workers >=
   1-worker result at equal evaluations" (the median best of N workers is no worse than one
   worker's) and "reaches it >= 3x sooner". CPU is the machine's busy share of all cores during the
   whole run, baseline included (``/proc/stat``: every process counts, other work on the machine
   too; time the hypervisor stole does not, and the header says how much it stole).
2. Duplicate evaluations, over whole runs: among the evaluations, the share whose
   ``(parent_commit, diff)`` equals another one's (every member of such a group counts), and the
   share of near-duplicates, whose description equals another's from the same parent. Goal: under
   2% on digits with several workers.
3. Stale winners, summed over the runs with several workers (whole runs): rows recorded ``stale``
   (a winner on a moved base) and ``conflict`` (one that would not merge); the stale ones not
   measured again because the best already held their change ("held") or because their change on
   the best was another experiment's ("twin"); the replays (rows with ``replay_of``) and how each
   ended: kept, discarded, stale again (the best moved while the replay was measured, so it is
   replayed once more) or conflict; and replays evaluated with an empty diff (their change was
   already in the best: there should be none).

    python bench/sample_efficiency.py [--seeds 3] [--evaluations 60] [--workers 4]
                                      [--eval-s 0.3] [--problems digits,valley]
                                      [--sandbox auto|off]

With the defaults a run takes about eight and a half minutes on two cores, digits most of it; each
further problem of the valley's kind adds about a minute and a half.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import overnight
from overnight.errors import OvernightError
from overnight.examples import create_from_example
from overnight.ledger import Ledger
from overnight.records import Experiment, Status

IDENTITY = {
    f"GIT_{who}_{key}": value
    for who in ("AUTHOR", "COMMITTER")
    for key, value in {"NAME": "bench", "EMAIL": "bench@example.com"}.items()
}
OPTIMUM = (3.3, -2.2, 1.4, 4.7)  # the valley's minimum (loss 0); off the grid the steps reach
VALLEY = 4.0  # weight of (u1 - u2)^2: the narrow diagonal a one-knob search crosses slowly
KNOBS = ("X1", "X2", "X3", "X4")
GOAL_DUPLICATES = 0.02
GOAL_SOONER = 3.0

PARAMS = '''\
"""The point being tuned: four coordinates, each a constant the search agent may move."""

X1 = 0.0
X2 = 0.0
X3 = 0.0
X4 = 0.0
'''
SPACED = PARAMS.replace(" = 0.0\n", " = 0.0\n#\n")  # an unchanged line between two knobs
SCORE = """\
import time

from params import X1, X2, X3, X4

time.sleep(EVAL_S)
u = [x - o for x, o in zip((X1, X2, X3, X4), OPTIMUM)]
print(f"loss: {sum(v * v for v in u) + VALLEY * (u[0] - u[1]) ** 2:.6f}")
"""


@dataclass
class Result:
    """What one run left in the ledger, reduced to what the tables need. ``best``, ``distance``,
    ``wall`` and ``progress`` are of the run's first E evaluations (``counted``) only."""

    problem: str
    workers: int
    seed: int
    best: float  # the best keep's (or the baseline's) metric within the first E evaluations
    distance: float | None  # valley only: of that best point from OPTIMUM
    wall: float  # seconds from experiment 1's start to the E-th evaluation's end
    cpu: float | None  # the whole run's
    progress: list[tuple[float, float]]  # (seconds since experiment 1, best so far), by time
    counted: int  # evaluations counted: E, or fewer if the run made fewer
    rows: list[Experiment] = field(default_factory=list)  # every experiment after the baseline
    stop: str = ""

    def reached(self, target: float) -> float:
        """Seconds from experiment 1 until the best of the first E evaluations was at least as
        good as ``target`` (minimizing); infinity if it never was."""
        return next((at for at, best in self.progress if best <= target), math.inf)

    @property
    def evaluations(self) -> list[Experiment]:
        """The run's evaluations, in order of completion (see ``evaluations_of``)."""
        return evaluations_of(self.rows)


def evaluations_of(rows: Sequence[Experiment]) -> list[Experiment]:
    """The rows after the baseline that were measured (``eval_s > 0``, with a diff: replays and
    stale winners included), in order of completion (``started_at + duration_s``)."""
    measured = [e for e in rows if e.number > 0 and e.eval_s > 0 and e.diff]
    return sorted(measured, key=lambda e: (_end(e), e.number))


def _end(e: Experiment) -> float:
    return e.started_at + e.duration_s


# ---------------------------------------------------------------- the repositories


def make_digits(root: Path, args: argparse.Namespace, workers: int, seed: int) -> None:
    """The digits example as ``overnight init --example digits`` makes it, then the bench's
    settings, committed so the run starts from a clean tree."""
    create_from_example("digits", root)
    config = yaml.safe_load((root / "overnight.yaml").read_text())
    command = str(config["evaluate"]["command"])
    config["evaluate"]["command"] = re.sub(r"^python\b", _python(), command)
    config["agent"]["seed"] = seed
    config["budget"] = {"experiments": args.evaluations}
    config.pop("stop", None)  # the budget alone ends a run, so every run gets its evaluations
    config["workers"] = workers
    config["sandbox"] = {"mode": args.sandbox}
    (root / "overnight.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "commit", "-qam", "bench settings")


def make_valley(
    root: Path, args: argparse.Namespace, workers: int, seed: int, spaced: bool = False
) -> None:
    """params.py, score.py and overnight.yaml, committed on main."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.py").write_text(SPACED if spaced else PARAMS)
    score = SCORE.replace("EVAL_S", repr(args.eval_s)).replace("OPTIMUM", repr(OPTIMUM))
    (root / "score.py").write_text(score.replace("VALLEY", repr(VALLEY)))
    config = {
        "name": "valley",
        "editable": ["params.py"],
        "frozen": ["score.py"],
        "evaluate": {
            "command": f"{_python()} score.py",
            "metric": "loss",
            "direction": "minimize",
            "timeout": 60,
        },
        "agent": {
            "kind": "search",
            "seed": seed,
            "knobs": {name: {"min": -10.0, "max": 10.0, "log": False} for name in KNOBS},
        },
        "budget": {"experiments": args.evaluations},
        "workers": workers,
        "sandbox": {"mode": args.sandbox},
    }
    (root / "overnight.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "valley bench")


def make_spaced_valley(root: Path, args: argparse.Namespace, workers: int, seed: int) -> None:
    """The valley with a comment line between two knobs, so that changes to different knobs
    merge: it tells the cost of stale winners apart from the cost of their conflicts."""
    make_valley(root, args, workers, seed, spaced=True)


PROBLEMS: dict[str, Callable[[Path, argparse.Namespace, int, int], None]] = {
    "digits": make_digits,
    "valley": make_valley,
    "valley-spaced": make_spaced_valley,
}


def _python() -> str:
    """This interpreter, so the evaluation finds the same NumPy the bench runs with."""
    return shlex.quote(sys.executable)


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **IDENTITY}
    return subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout


def distance_from_optimum(root: Path, commit: str) -> float:
    """The Euclidean distance of the point in ``params.py`` at ``commit`` from OPTIMUM."""
    text = git(root, "show", f"{commit}:params.py")
    values = dict(re.findall(r"^(X\d) = (-?[0-9.e+-]+)$", text, re.M))
    return math.dist([float(values[name]) for name in KNOBS], OPTIMUM)


# ---------------------------------------------------------------- one measurement


def measure(root: Path, problem: str, workers: int, seed: int, tag: str, limit: int) -> Result:
    """One run, cut after its first ``limit`` evaluations; everything after it is read back
    from the ledger."""
    before = _cpu()
    summary = overnight.run(root, tag=tag, workers=workers)
    cpu = _cpu_share(before, _cpu())
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        experiments = ledger.experiments(summary.run.id)
    finally:
        ledger.close()
    baseline = next(e for e in experiments if e.number == 0)
    assert baseline.metric is not None  # a run that got past its baseline has its score
    rows = [e for e in experiments if e.number > 0]
    start = next((e.started_at for e in rows if e.number == 1), _end(baseline))
    counted = evaluations_of(rows)[:limit]
    best, commit = baseline.metric, baseline.commit or baseline.parent_commit
    progress = [(0.0, best)]
    for e in counted:  # only keeps move the best; a stale winner's score is of an old base
        if e.status is Status.KEEP and e.metric is not None and e.metric < best:
            best, commit = e.metric, e.commit or commit
            progress.append((max(0.0, _end(e) - start), best))
    distance = None
    if problem.startswith("valley"):
        distance = distance_from_optimum(root, commit)
    return Result(
        problem=problem,
        workers=workers,
        seed=seed,
        best=best,
        distance=distance,
        wall=_end(counted[-1]) - start if counted else 0.0,
        cpu=cpu,
        progress=progress,
        counted=len(counted),
        rows=rows,
        stop=summary.stop_reason,
    )


# ---------------------------------------------------------------- the tables


def report(results: list[Result], failed: list[str], args: argparse.Namespace) -> None:
    problems = [p for p in args.problems if any(r.problem == p for r in results)]
    counts = [1, args.workers]
    sample_efficiency(results, problems, counts, args.evaluations)
    duplicates(results, problems, counts)
    stale_winners(results, problems, args.workers)
    if short := [r for r in results if r.counted < args.evaluations]:
        print(
            f"\nruns with fewer than {args.evaluations} evaluations (counted with what they made):"
        )
        for r in short:
            print(f"  {r.problem}, {r.workers} workers, seed {r.seed}: {r.counted}")
    print("\nwhy the runs stopped:")
    stops = Counter((r.problem, r.workers, r.stop) for r in results)
    for (problem, workers, reason), n in sorted(stops.items()):
        print(f"  {problem}, {workers} worker{'s' * (workers != 1)}: {reason} ({n}x)")
    for line in failed:
        print(f"failed: {line}")


def sample_efficiency(
    results: list[Result], problems: Sequence[str], counts: list[int], limit: int
) -> None:
    print(
        f"1. sample efficiency after the first {limit} evaluations, in order of completion"
        " (best score: lower is better)"
    )
    header = f"{'problem':<14}{'workers':>8}{'best':>10}{'min':>10}{'max':>10}{'distance':>10}"
    header += f"{'evals':>7}{'of run':>8}{'eval s':>8}{'wall s':>8}{'CPU':>6}{'reach s':>9}"
    header += f"{'reached':>9}{'sooner':>8}"
    print(f"{header}  {'goal: >= 1-worker result':<30}goal: reaches it >= 3x sooner")
    for problem in problems:
        single = [r for r in results if r.problem == problem and r.workers == 1]
        target = statistics.median_high([r.best for r in single]) if single else None
        single_reach = _median_reach(single, target)
        for workers in counts:
            runs = [r for r in results if r.problem == problem and r.workers == workers]
            if not runs:
                print(f"{problem:<14}{workers:>8}{'every run failed':>30}")
                continue
            bests = [r.best for r in runs]
            best = statistics.median(bests)
            distances = [r.distance for r in runs if r.distance is not None]
            distance = f"{statistics.median(distances):.3f}" if distances else "-"
            counted = statistics.median(r.counted for r in runs)
            made = statistics.median(len(r.evaluations) for r in runs)
            eval_s = statistics.median(
                statistics.mean(e.eval_s for e in r.evaluations) if r.evaluations else 0.0
                for r in runs
            )
            cpus = [r.cpu for r in runs if r.cpu is not None]
            cpu = f"{statistics.median(cpus):.0%}" if cpus else "-"
            reach = _median_reach(runs, target)
            reached, goal_result, goal_sooner = "-", "-", "-"
            if target is not None:
                reached = f"{sum(r.reached(target) < math.inf for r in runs)}/{len(runs)}"
            sooner = _ratio(single_reach, reach)
            if workers > 1 and target is not None:
                goal_result = f"{_verdict(best <= target)} ({best:.4g} vs {target:.4g})"
            if workers > 1 and single_reach < math.inf:
                goal_sooner = f"{_verdict(sooner >= GOAL_SOONER)} ({_times(sooner)})"
            print(
                f"{problem:<14}{workers:>8}{best:>10.4f}{min(bests):>10.4f}{max(bests):>10.4f}"
                f"{distance:>10}{counted:>7g}{made:>8g}{eval_s:>8.2f}"
                f"{statistics.median(r.wall for r in runs):>8.1f}{cpu:>6}"
                f"{_seconds(reach):>9}{reached:>9}{_times(sooner) if workers > 1 else '-':>8}"
                f"  {goal_result:<30}{goal_sooner}"
            )
    print(
        f"Each run is cut after its first {limit} evaluations (rows after the baseline measured"
        " with a diff, replays\nand stale winners included), in order of completion; best, min,"
        " max: the best keep's (or the\nbaseline's) score within them, over seeds (median, min,"
        " max); distance: that point's from the optimum\n(valley; median); evals: evaluations"
        " counted (median); of run: evaluations the whole run made (median;\nthe budget counts"
        " proposals, not replays); eval s: an evaluation's mean seconds, whole run (median);\n"
        f"wall s: experiment 1's start to the end of evaluation {limit} (median); CPU: the"
        " machine's busy share of all\ncores, whole run; reach s: when the best of the counted"
        " evaluations first reached the 1-worker median\nbest (median over seeds, never = not"
        " within them); reached: runs that did; sooner: 1-worker reach s /\nthis one's; goals"
        " on medians: the best no worse than 1 worker's, reached at least 3x sooner"
    )


def duplicates(results: list[Result], problems: Sequence[str], counts: list[int]) -> None:
    print("\n2. duplicate evaluations (whole runs, summed over seeds)")
    header = f"{'problem':<14}{'workers':>8}{'evals':>10}{'same diff':>11}{'share':>8}"
    print(f"{header}{'same description':>18}{'share':>8}  goal: < 2% (digits, several workers)")
    for problem in problems:
        for workers in counts:
            runs = [r for r in results if r.problem == problem and r.workers == workers]
            if not runs:
                continue
            measured = sum(len(r.evaluations) for r in runs)
            exact = sum(_twins(r.evaluations, lambda e: (e.parent_commit, e.diff)) for r in runs)
            near = sum(
                _twins(r.evaluations, lambda e: (e.parent_commit, e.description)) for r in runs
            )
            share = exact / measured if measured else 0.0
            near_share = near / measured if measured else 0.0
            goal = "-"
            if problem == "digits" and workers > 1:
                goal = _verdict(max(share, near_share) < GOAL_DUPLICATES)
            print(
                f"{problem:<14}{workers:>8}{measured:>10}{exact:>11}{share:>8.1%}{near:>18}"
                f"{near_share:>8.1%}  {goal}"
            )
    print(
        "evals: evaluations (rows after the baseline measured with a diff, replays included);"
        " same diff: those\nwhose (parent commit, diff) equals another one's, every member of a"
        " group counted; same description:\nthe same, by (parent commit, description); share:"
        " of evals"
    )


def stale_winners(results: list[Result], problems: Sequence[str], workers: int) -> None:
    print(f"\n3. stale winners ({workers} workers, whole runs, summed over seeds)")
    header = f"{'problem':<14}{'runs':>6}{'experiments':>13}{'keep':>6}{'stale':>7}{'conflict':>10}"
    header += f"{'held':>6}{'twin':>6}{'replays':>9}{'kept':>6}{'discarded':>11}{'stale':>7}"
    print(f"{header}{'conflict':>10}{'empty':>7}{'no-op':>7}{'other':>7}")
    for problem in problems:
        runs = [r for r in results if r.problem == problem and r.workers == workers]
        if not runs:
            continue
        rows = [e for r in runs for e in r.rows]
        statuses = Counter(e.status.value for e in rows)
        stale = [e for e in rows if e.status is Status.STALE]
        held = sum("the best already holds its change" in e.reason for e in stale)
        twin = sum("its change on the best is experiment" in e.reason for e in stale)
        replays = Counter(e.status.value for e in rows if e.replay_of is not None)
        empty = sum(e.replay_of is not None and e.eval_s > 0 and not e.diff for e in rows)
        named = ("keep", "stale", "conflict", "discard", "no-op")
        other = sum(statuses.values()) - sum(statuses[s] for s in named)
        print(
            f"{problem:<14}{len(runs):>6}{len(rows):>13}{statuses['keep']:>6}"
            f"{statuses['stale']:>7}{statuses['conflict']:>10}{held:>6}{twin:>6}"
            f"{replays.total():>9}{replays['keep']:>6}{replays['discard']:>11}"
            f"{replays['stale']:>7}{replays['conflict']:>10}{empty:>7}{statuses['no-op']:>7}"
            f"{other:>7}"
        )
    print(
        "experiments: rows after the baseline, replays included; keep, stale, conflict: every"
        " row's status, replays\nincluded (conflict: a stale winner that would not merge onto"
        " the best, so it was lost); held, twin: stale\nwinners not measured again, as the best"
        " already held their change, or their change on the best was\nanother experiment's;"
        " replays: rows with replay_of, then their statuses (stale: the best moved again\nwhile"
        " the replay was measured, so it was replayed again); empty: replays evaluated with an"
        " empty diff\n(their change was already in the best; there should be none); other:"
        " crash, timeout, violation and the rest"
    )


def _twins(rows: list[Experiment], key: Callable[[Experiment], tuple[str, str]]) -> int:
    """How many rows share their key with another row."""
    groups = Counter(key(e) for e in rows)
    return sum(1 for e in rows if groups[key(e)] > 1)


def _median_reach(runs: list[Result], target: float | None) -> float:
    """The median time to reach ``target``; the worse middle one for an even count."""
    if target is None or not runs:
        return math.inf
    return statistics.median_high([r.reached(target) for r in runs])


def _ratio(single: float, parallel: float) -> float:
    """How many times sooner: 0 if the runs never got there, infinity if no ratio can be
    told (the 1-worker runs never got there, or these had it at once)."""
    if single == math.inf or parallel == 0:
        return math.inf
    return 0.0 if parallel == math.inf else single / parallel


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def _seconds(value: float) -> str:
    return "never" if value == math.inf else f"{value:.1f}"


def _times(value: float) -> str:
    if value == 0:
        return "never"
    return "-" if value == math.inf else f"{value:.2f}x"


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="rounds; the agent's seed each")
    parser.add_argument(
        "--evaluations", type=int, default=60, help="E: evaluations compared; the budget per run"
    )
    parser.add_argument("--workers", type=int, default=4, help="compared with one worker")
    parser.add_argument("--eval-s", type=float, default=0.3, help="the valley's evaluation sleep")
    parser.add_argument("--problems", default="digits,valley", help="comma-separated")
    parser.add_argument("--sandbox", choices=("auto", "off"), default="auto")
    args = parser.parse_args()
    args.problems = [p for p in args.problems.split(",") if p]
    if unknown := [p for p in args.problems if p not in PROBLEMS]:
        parser.error(f"unknown problem {', '.join(unknown)} (known: {', '.join(PROBLEMS)})")
    for name, value in IDENTITY.items():  # the harness commits keeps with git too
        os.environ.setdefault(name, value)
    before, machine = os.getloadavg(), _cpu()
    results: list[Result] = []
    failed: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            order = [1, args.workers] if seed % 2 == 0 else [args.workers, 1]
            for problem in args.problems:
                for workers in order:  # in turns, so drift hits both worker counts alike
                    name = f"{problem}-w{workers}-s{seed}"
                    root = Path(tmp) / name
                    PROBLEMS[problem](root, args, workers, seed)
                    try:
                        result = measure(root, problem, workers, seed, name, args.evaluations)
                        results.append(result)
                    except OvernightError as exc:  # a run the harness gave up: said below
                        failed.append(f"{problem}, {workers} workers, seed {seed}: {exc}")
    total = time.perf_counter() - started
    after, steal = os.getloadavg(), _steal_share(machine, _cpu())
    print(
        f"{args.seeds} seed{'s' * (args.seeds != 1)} x {len(args.problems)} problems x 1 and"
        f" {args.workers} workers, compared after {args.evaluations} evaluations (budget"
        f" {args.evaluations} proposals per run),"
        f" sandbox {args.sandbox}, valley evaluation {args.eval_s:g} s;\n{os.cpu_count()} cores,"
        f" load average {before[0]:.2f} before and {after[0]:.2f} after, {steal} of the CPU time"
        f" stolen by the hypervisor; {total:.0f} s in all\n"
    )
    report(results, failed, args)


def _cpu() -> tuple[float, float, float] | None:
    """Busy, stolen and total CPU time of the whole machine so far (Linux ``/proc/stat``), or
    None. Time the hypervisor stole is not this machine's work, so it is not counted busy."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    fields += [0.0] * (8 - len(fields))
    idle, steal = fields[3] + fields[4], fields[7]  # idle and iowait; steal
    total = sum(fields[:8])  # guest time is counted in user time already
    return total - idle - steal, steal, total


def _cpu_share(
    before: tuple[float, float, float] | None, after: tuple[float, float, float] | None
) -> float | None:
    """The busy share of all cores between two readings."""
    if before is None or after is None:
        return None
    return (after[0] - before[0]) / max(after[2] - before[2], 1e-9)


def _steal_share(
    before: tuple[float, float, float] | None, after: tuple[float, float, float] | None
) -> str:
    if before is None or after is None:
        return "unknown"
    return f"{(after[1] - before[1]) / max(after[2] - before[2], 1e-9):.0%}"


if __name__ == "__main__":
    main()
