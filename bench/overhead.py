"""The harness's own cost per experiment, next to a plain shell loop doing the same work.

Every loop runs the same trivial agent (a sed line that writes one constant into value.txt) and
the same trivial evaluation (``sh eval.sh``, a sed line that prints the constant as the score),
each through ``sh -c`` as the harness runs them. Odd experiments raise the constant (a keep, so a
commit), even ones lower it (a discard). Two repositories are made afresh in temporary folders:
a small one (four files) and a large one (2,000 more files, 50 MB, committed, outside the
editable and frozen globs as data and vendored code usually are). On each:

- the plain shell loop: bash, in a clone, runs the agent, the evaluation, a grep of the score
  and ``git commit -qam`` on a better score (``git checkout`` of value.txt otherwise), and times
  each part;
- overnight, with the sandbox off and with bubblewrap: ``overnight.run``; an experiment's wall
  time is the time between the starts of two consecutive experiments in the ledger, so it holds
  everything the harness does: workspace reset, brief, sandbox starts, reading the change,
  guards, ledger, results.tsv, the commit of a keep.

Nothing the harness does is subtracted: the brief is written before the agent starts (and only
for an agent that reads one), outside the agent's own time, so it counts as overhead like every
other phase. Only the two commands' own running time, as the shell loop measured them, is taken
away. How the overhead holds up as the history grows is bench/long_run.py's subject.

Overhead per experiment is that wall time minus the agent's and the evaluation's own time, as
the shell loop measured the same commands (medians); "outside" is the wall time minus the
ledger's agent_s and eval_s (which hold the sandbox starts); "ratio" is the median wall time
over the shell loop's. CPU is the time used by this process and its children per experiment:
on a machine busy with other work, wall times stretch with every process started, and CPU
times show the cost without the waiting. The phases come from timing the harness's own steps
in this process; "git" is every git process the harness started. "kB written" is what the
harness and its children wrote per experiment (Linux ``wchar``), and the reset probe resets a
workspace back and forth between two commits that differ in one file, next to its first, full
checkout.

    python bench/overhead.py [--experiments 10] [--rounds 3] [--modes off,bwrap]
                             [--large-files 2000] [--large-mb 50]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import overnight
import overnight.loop
from overnight.isolation.guards import GitGuard, StatGuard
from overnight.isolation.sandbox import Sandbox, bubblewrap
from overnight.isolation.tree import ExperimentTree
from overnight.ledger import Ledger
from overnight.results import ResultsFile
from overnight.scope import Scope
from overnight.workspace import Workspace

AGENT = (
    "n=$OVERNIGHT_EXPERIMENT; [ $((n % 2)) = 1 ] || n=-$n; "
    'sed -i "s/^value = .*/value = $n/" value.txt && echo "value $n"'
)
EVALUATION = "sh eval.sh"
CONFIG = """\
name: overhead
editable: [value.txt]
frozen: [eval.sh]
evaluate: {command: sh eval.sh, metric: score, direction: maximize, timeout: 10}
agent: {kind: command, command: 'AGENT'}
sandbox: {mode: 'MODE'}
""".replace("AGENT", AGENT.replace("'", "''"))
MODES = {"off": "off", "bwrap": "required"}

SHELL_LOOP = r"""
best=0
for i in $(seq 1 "$1"); do
  export OVERNIGHT_EXPERIMENT=$i
  t0=$EPOCHREALTIME
  sh -c "$AGENT" > agent.log
  t1=$EPOCHREALTIME
  sh -c "$EVALUATION" > run.log 2>&1
  t2=$EPOCHREALTIME
  value=$(grep -m1 '^score:' run.log | cut -d' ' -f2)
  if [ "$value" -gt "$best" ]; then
    best=$value
    git commit -qam "experiment $i"
  else
    git checkout -q -- value.txt
  fi
  echo "$t0 $t1 $t2 $EPOCHREALTIME"
done
"""

PHASES = {  # what is timed in the harness, by phase
    "reset + file list": [(ExperimentTree, "reset"), (ExperimentTree, "files")],
    "scope of the files": [(Scope, "editable_files"), (Scope, "frozen_files")],
    "change": [(ExperimentTree, "change")],
    "commit": [(ExperimentTree, "commit")],
    "agent in sandbox": [(Sandbox, "run_tool")],
    "evaluation in sandbox": [(Sandbox, "run")],
    "guards": [(StatGuard, "take"), (StatGuard, "changed"), (GitGuard, "snapshot")],
    "ledger": [(Ledger, "begin"), (Ledger, "record")],
    "brief + results.tsv": [(overnight.loop, "render_brief"), (ResultsFile, "add")],
}


class Phases:
    """Seconds spent in each phase, per experiment of the run under way. The wrappers add to the
    experiment that started last, so the reset before an experiment counts for the one before
    it, as the ledger's started_at does."""

    def __init__(self) -> None:
        self.number = -1
        self.spent: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.written: dict[int, int] = {}  # bytes written so far, at each experiment's start
        self.cpu: dict[int, float] = {}  # CPU seconds used so far, children included

    def install(self) -> None:
        for phase, targets in PHASES.items():
            for owner, name in targets:
                setattr(owner, name, self._timed(getattr(owner, name), phase))
        subprocess.run = self._timed(subprocess.run, "git", only_git=True)  # type: ignore[assignment]

    def clear(self) -> None:
        self.number = -1
        self.spent.clear()
        self.written.clear()
        self.cpu.clear()

    def _timed(self, function: Callable, phase: str, only_git: bool = False) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if only_git and not _is_git(args[0] if args else kwargs.get("args")):
                return function(*args, **kwargs)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                bucket = self.spent[self.number]
                bucket[phase] += time.perf_counter() - started
                bucket["git calls"] += only_git

        return timed


class Observer:
    """Moves the phase buckets on as experiments start, and notes the bytes written so far."""

    def __init__(self, phases: Phases) -> None:
        self.phases = phases

    def run_started(self, run: object, budget: object) -> None:
        pass

    def experiment_started(self, number: int, history: object) -> None:
        self.phases.number = number
        self.phases.written[number] = _written()
        self.phases.cpu[number] = _cpu()

    def experiment_finished(self, experiment: object, history: object) -> None:
        pass

    def message(self, text: str) -> None:
        pass


def make_repo(root: Path, large_mb: int, files: int) -> None:
    """value.txt, eval.sh, overnight.yaml, .gitignore, and ``files`` random files of ``large_mb``
    MB in all (none for the small repository), committed."""
    (root / "value.txt").write_text("value = 0\n")
    (root / "eval.sh").write_text("sed -n 's/^value = /score: /p' value.txt\n")
    (root / ".gitignore").write_text("run.log\nagent.log\n")
    rng = random.Random(2024)
    size = large_mb * 2**20 // max(files, 1)
    for i in range(files if large_mb else 0):
        path = root / "lib" / f"d{i // 50:02d}" / f"f{i:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    set_mode(root, "off", first=True)


def set_mode(root: Path, mode: str, first: bool = False) -> None:
    (root / "overnight.yaml").write_text(CONFIG.replace("MODE", MODES[mode]))
    if first:
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
    git(root, "commit", "-qam", f"sandbox {mode}", "--allow-empty")


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def shell_loop(root: Path, experiments: int) -> dict[str, list[float]]:
    """Per iteration, in ms: the whole iteration, the agent, the evaluation, and CPU time (the
    loop's mean)."""
    env = {**os.environ, "AGENT": AGENT, "EVALUATION": EVALUATION}
    cpu = _cpu()
    out = subprocess.run(
        ["bash", "-c", SHELL_LOOP, "loop", str(experiments)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cpu = (_cpu() - cpu) * 1000 / experiments
    times = [[float(t) * 1000 for t in line.split()] for line in out.splitlines()]
    return {
        "cpu": [cpu] * experiments,
        "wall": [t3 - t0 for t0, _, _, t3 in times],
        "agent": [t1 - t0 for t0, t1, _, _ in times],
        "evaluation": [t2 - t1 for _, t1, t2, _ in times],
    }


def harness_loop(root: Path, experiments: int, tag: str, phases: Phases) -> dict[str, list[float]]:
    """Per experiment, in ms: wall time (start to next start), the part outside the ledger's
    agent_s and eval_s, each phase and what is left, CPU time (children included); kB written;
    and seconds for the whole run."""
    phases.clear()
    started = time.perf_counter()
    summary = overnight.run(root, experiments=experiments, tag=tag, observer=Observer(phases))
    total = time.perf_counter() - started
    rows = summary.experiments[1:]
    assert all(r.status.value in ("keep", "discard") for r in rows), [r.reason for r in rows]
    found: dict[str, list[float]] = defaultdict(list, total=[total])
    for row, after in itertools.pairwise(rows):
        wall = (after.started_at - row.started_at) * 1000
        spent = {p: phases.spent[row.number].get(p, 0.0) * 1000 for p in [*PHASES, "git"]}
        found["wall"].append(wall)
        found["outside"].append(wall - (row.agent_s + row.eval_s) * 1000)
        found["written"].append((phases.written[after.number] - phases.written[row.number]) / 1000)
        found["cpu"].append((phases.cpu[after.number] - phases.cpu[row.number]) * 1000)
        found["git calls"].append(phases.spent[row.number]["git calls"])
        for phase, ms in spent.items():
            found[phase].append(ms)
        found["other"].append(wall - sum(ms for p, ms in spent.items() if p != "git"))
    return found


def reset_probe(root: Path, branch: str, rounds: int) -> dict[str, float]:
    """A workspace of ``root`` reset back and forth between main's tip and a run's ``branch``
    (they differ in value.txt), next to its first, full checkout."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = ExperimentTree(Workspace(root), Path(tmp) / "probe")
        commits = [git(root, "rev-parse", ref).strip() for ref in ("main", branch)]
        first, written = time.perf_counter(), _written()
        tree.reset(commits[0])
        full = {"ms": (time.perf_counter() - first) * 1000, "kB": (_written() - written) / 1000}
        times, sizes, rewritten = [], [], []
        for commit in [commits[i % 2] for i in range(1, 2 * rounds + 1)]:
            before = _inodes(tree.path)
            started, written = time.perf_counter(), _written()
            tree.reset(commit)
            times.append((time.perf_counter() - started) * 1000)
            sizes.append((_written() - written) / 1000)
            after = _inodes(tree.path)
            rewritten.append(sum(before.get(p) != sig for p, sig in after.items()))
        return {
            "files": len(_inodes(tree.path)),
            "full ms": full["ms"],
            "full kB": full["kB"],
            "reset ms": statistics.median(times),
            "reset kB": statistics.median(sizes),
            "rewritten": statistics.median(rewritten),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=10, help="per loop and round")
    parser.add_argument("--rounds", type=int, default=3, help="the loops take turns this often")
    parser.add_argument("--modes", default="off,bwrap", help="sandbox modes: off, bwrap")
    parser.add_argument("--large-mb", type=int, default=50)
    parser.add_argument("--large-files", type=int, default=2000)
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if "bwrap" in modes and bubblewrap() is None:
        print("bubblewrap is not usable here: the bwrap rows are left out\n")
        modes.remove("bwrap")
    for key, value in {"NAME": "bench", "EMAIL": "bench@example.com"}.items():
        for who in ("AUTHOR", "COMMITTER"):
            os.environ.setdefault(f"GIT_{who}_{key}", value)
    load = os.getloadavg()[0]  # other work on the machine shows in every figure
    phases = Phases()
    phases.install()
    repos = {"small": 0, f"large ({args.large_files} files, {args.large_mb} MB)": args.large_mb}
    results: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    probe: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, size in enumerate(repos.values()):
            root = Path(tmp) / f"repo{index}"
            root.mkdir()
            make_repo(root, size, args.large_files)
            git(Path(tmp), "clone", "-q", str(root), str(Path(tmp) / f"plain{index}"))
        for round_ in range(args.rounds):  # in turns, so a busy spell of the machine hits all
            for index, repo in enumerate(repos):
                root = Path(tmp) / f"repo{index}"
                found = shell_loop(Path(tmp) / f"plain{index}", args.experiments)
                for name, values in found.items():
                    results[repo, "plain shell loop"][name] += values
                for mode in modes:
                    set_mode(root, mode)
                    found = harness_loop(root, args.experiments, f"{mode}-{round_}", phases)
                    for name, values in found.items():
                        results[repo, mode][name] += values
        for index, repo in enumerate(repos):
            if modes:
                branch = f"overnight/{modes[-1]}-0"
                probe[repo] = reset_probe(Path(tmp) / f"repo{index}", branch, rounds=10)
    print(
        f"{args.rounds} rounds of {args.experiments} experiments per loop, {os.cpu_count()} cores,"
        f" load average {load:.1f} before and {os.getloadavg()[0]:.1f} after; per experiment, in"
        " ms (median / p90)\n"
    )
    report(results, modes)
    report_probe(probe)


def report(results: dict[tuple[str, str], dict[str, list[float]]], modes: list[str]) -> None:
    repos = list(dict.fromkeys(repo for repo, _ in results))
    header = f"{'repo':<28}{'loop':<18}{'wall':>14}{'overhead':>14}{'outside':>14}"
    print(f"{header}{'ratio':>8}{'CPU':>7}{'ratio':>8}{'kB written':>12}{'total s':>9}")
    goals = []
    for repo in repos:
        plain = results[repo, "plain shell loop"]
        own = statistics.median(plain["agent"]) + statistics.median(plain["evaluation"])
        plain_overhead = [w - own for w in plain["wall"]]
        print(
            f"{repo:<28}{'plain shell loop':<18}{_spread(plain['wall'])}"
            f"{_spread(plain_overhead)}{'':>14}{'1.00x':>8}"
            f"{statistics.median(plain['cpu']):>7.1f}{'1.00x':>8}{'':>12}"
            f"{sum(plain['wall']) / 1000:>9.1f}"
        )
        for mode in modes:
            row = results[repo, mode]
            overhead = [w - own for w in row["wall"]]
            ratio = statistics.median(row["wall"]) / statistics.median(plain["wall"])
            print(
                f"{'':<28}{'overnight ' + mode:<18}{_spread(row['wall'])}{_spread(overhead)}"
                f"{_spread(row['outside'])}{ratio:>7.2f}x{statistics.median(row['cpu']):>7.1f}"
                f"{statistics.median(row['cpu']) / statistics.median(plain['cpu']):>7.2f}x"
                f"{statistics.median(row['written']):>12.0f}{sum(row['total']):>9.1f}"
            )
            goals.append((repo, mode, statistics.median(overhead), ratio))
        print(
            f"{'':<28}(agent {statistics.median(plain['agent']):.1f} ms and evaluation "
            f"{statistics.median(plain['evaluation']):.1f} ms on their own)"
        )
    labels = [(repo, mode) for repo in repos for mode in modes]
    print("\nwhere an experiment's wall time goes, mean ms per experiment (the phases add up)")
    print(f"{'phase':<28}" + "".join(f"{r.split()[0] + ' ' + m:>14}" for r, m in labels))
    for phase in [*PHASES, "other", "wall", "git", "git calls"]:
        name = {"git": "(in git processes)", "git calls": "(git processes: count)"}.get(
            phase, phase
        )
        cells = [statistics.mean(results[label][phase]) for label in labels]
        print(f"{name:<28}" + "".join(f"{c:>14.1f}" for c in cells))
    print("\ngoals: overhead <= 50 ms median and <= 2.5x the plain loop, on the small repo")
    for repo, mode, overhead, ratio in goals:
        verdict = "met" if overhead <= 50 and ratio <= 2.5 else "missed"
        note = verdict if repo == repos[0] else "(no goal)"
        print(f"  {repo.split()[0]:<6} {mode:<6} {overhead:6.1f} ms {ratio:6.2f}x  {note}")


def report_probe(probe: dict[str, dict[str, float]]) -> None:
    if not probe:
        return
    print("\nworkspace reset between two commits that differ in one file (median of 20)")
    header = f"{'repo':<28}{'files':>7}{'reset ms':>10}{'kB written':>12}{'files rewritten':>17}"
    print(f"{header}{'first checkout ms':>19}{'kB':>8}")
    for repo, found in probe.items():
        print(
            f"{repo:<28}{found['files']:>7.0f}{found['reset ms']:>10.1f}{found['reset kB']:>12.0f}"
            f"{found['rewritten']:>17.0f}{found['full ms']:>19.1f}{found['full kB']:>8.0f}"
        )


def _spread(values: list[float]) -> str:
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
    return f"{statistics.median(values):>7.1f} /{p90:>5.0f}"


def _is_git(argv: object) -> bool:
    return isinstance(argv, list | tuple) and bool(argv) and argv[0] == "git"


def _written() -> int:
    """Bytes this process and its finished children have written (Linux), or -1."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return -1
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith("wchar")))


def _cpu() -> float:
    """CPU seconds this process and its finished children have used."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _inodes(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            found[os.path.join(folder, name)] = (st.st_ino, st.st_mtime_ns)
    return found


if __name__ == "__main__":
    main()
