"""How fast the command starts: ``overnight --help``, ``status`` and ``log`` beside Python's own
start (``python -c pass``), each a process of its own as a person runs it, measured in turns.

The project is the digits example after a short demo run (a dozen experiments), made afresh in
a temporary folder, so ``status`` and ``log`` read a real ledger. How they hold up on a run of
10,000 experiments is bench/long_run.py's second table. Goals: ``--help`` at most 0.25 s,
``status`` and ``log`` at most 0.5 s (medians).

    python bench/cli_startup.py [--times 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).with_name("overnight"))
GOALS = {"overnight --help": 0.25, "overnight status": 0.5, "overnight log": 0.5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=15, help="runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "digits"
        subprocess.run(
            [CLI, "demo", str(project), "--experiments", "12"], capture_output=True, check=True
        )
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "overnight --help": [CLI, "--help"],
            "overnight status": [CLI, "status", str(project)],
            "overnight log": [CLI, "log", str(project)],
            "overnight log --tsv": [CLI, "log", "--tsv", str(project)],
        }
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.times):
            for name, command in commands.items():
                started = time.perf_counter()
                subprocess.run(command, capture_output=True, check=True)
                seconds[name].append(time.perf_counter() - started)
    base = statistics.median(seconds["python -c pass"])
    print(f"medians of {args.times} runs each, in turns\n")
    print(f"{'command':<22}{'seconds':>9}{'over python':>13}{'goal':>16}")
    for name, runs in seconds.items():
        median = statistics.median(runs)
        goal = ""
        if name in GOALS:
            goal = f"<={GOALS[name]:g} s {'met' if median <= GOALS[name] else 'missed'}"
        print(f"{name:<22}{median:>9.3f}{median - base:>13.3f}{goal:>16}")


if __name__ == "__main__":
    main()
