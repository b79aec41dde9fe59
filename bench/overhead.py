"""The harness's own cost per experiment, next to a plain shell loop doing the same git work.

Both loops run the same trivial agent (a shell line that writes a random score into value.txt)
and the same trivial evaluation (``cat value.txt``), for the same number of experiments, in
fresh temporary repositories. The harness's overhead per experiment is the time between the
starts of two consecutive experiments minus the agent's and the evaluation's own time, as the
ledger records them. The shell loop's cost per experiment is its whole iteration: agent,
evaluation, grep of the metric, and ``git commit`` or ``git checkout``.

    python bench/overhead.py [--experiments 200]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import overnight

AGENT = 'echo "score: $(od -An -N3 -tu4 /dev/urandom | tr -d " ")" > value.txt && echo "new score"'
CONFIG = f"""\
name: overhead
editable: [value.txt]
frozen: [eval.sh]
evaluate: {{command: sh eval.sh, metric: score, direction: maximize, timeout: 10}}
agent: {{kind: command, command: '{AGENT}'}}
budget: {{experiments: 200}}
"""

SHELL_LOOP = r"""
best=-1
for i in $(seq 1 "$1"); do
  start=$(date +%s%N)
  sh -c 'AGENT' > /dev/null
  sh eval.sh > run.log 2>&1
  value=$(grep -m1 '^score:' run.log | cut -d' ' -f2)
  if [ "$value" -gt "$best" ]; then
    best=$value
    git commit -q -am "new score" > /dev/null
  else
    git checkout -q -- value.txt
  fi
  echo $(( ($(date +%s%N) - start) / 1000 ))
done
""".replace("AGENT", AGENT.replace("'", "'\"'\"'"))


def make_repo(root: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    (root / "value.txt").write_text("score: 0\n")
    (root / "eval.sh").write_text("cat value.txt\n")
    (root / "overnight.yaml").write_text(CONFIG)
    (root / ".gitignore").write_text("run.log\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    for key, value in env.items():
        os.environ.setdefault(key, value)


def harness_overheads(root: Path, experiments: int) -> tuple[list[float], float]:
    started = time.perf_counter()
    summary = overnight.run(root, experiments=experiments)
    total = time.perf_counter() - started
    rows = summary.experiments[1:]
    overheads = [
        (after.started_at - before.started_at) - before.agent_s - before.eval_s
        for before, after in itertools.pairwise(rows)
    ]
    return [o * 1000 for o in overheads], total


def shell_iterations(root: Path, experiments: int) -> tuple[list[float], float]:
    started = time.perf_counter()
    out = subprocess.run(
        ["bash", "-c", SHELL_LOOP, "loop", str(experiments)],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total = time.perf_counter() - started
    return [int(line) / 1000 for line in out.split()], total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        make_repo(Path(a))
        make_repo(Path(b))
        shell, shell_total = shell_iterations(Path(b), args.experiments)
        harness, harness_total = harness_overheads(Path(a), args.experiments)
    shell_median = statistics.median(shell)
    harness_median = statistics.median(harness)
    print(f"{args.experiments} experiments, {os.cpu_count()} cores\n")
    print(f"{'loop':<44}{'median ms':>10}{'p90 ms':>10}{'total s':>10}")
    print(
        f"{'overnight: harness overhead per experiment':<44}{harness_median:>10.1f}"
        f"{_p90(harness):>10.1f}{harness_total:>10.1f}"
    )
    print(
        f"{'shell loop: whole iteration (agent+eval+git)':<44}{shell_median:>10.1f}"
        f"{_p90(shell):>10.1f}{shell_total:>10.1f}"
    )
    print(
        f"\nratio overhead / shell iteration: {harness_median / shell_median:.2f}x "
        "(goal <= 1.5x); overhead goal <= 30 ms"
    )


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


if __name__ == "__main__":
    main()
