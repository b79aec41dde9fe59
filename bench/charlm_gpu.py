"""The charlm example on a CUDA GPU: where an experiment's seconds go, and what a short run finds.

Copies ``examples/charlm`` to a temporary folder, builds its corpus cache, runs the offline search
agent for ``--experiments`` experiments with ``CHARLM_TIME_BUDGET`` set to ``--time-budget``
seconds (the sandbox as configured: bubblewrap where it is usable), then measures the unchanged
baseline ``--repeats - 1`` more times for its run-to-run spread. It prints one table:

- seconds per experiment (medians over the measured ones): training, startup and compile (train.py
  from its first line to the end of the first, compiling, step; importing torch included),
  evaluation (prepare.evaluate), harness (the ledger's wall time of the experiment minus what
  train.py itself measured: workspace reset, sandbox start, interpreter start, guards, ledger);
- experiments per hour over the run's wall time;
- the baseline's val_bpb (mean and spread, max minus min, over the repeats), its tokens/s and
  MFU; the best val_bpb after the experiments;
- the goals: harness, startup and evaluation together at most 20% of an experiment; the best
  beats the baseline by more than the spread; at a 90 s budget, the baseline within 0.05 of the
  1.40 bits per byte a 25.6M-parameter model reached in 90 s on an H200.

The defaults (10 experiments of 15 s training, 3 baseline measurements) take about ten minutes
on one GPU, depending on how long compiling takes there. Without a CUDA GPU it refuses (exit 2).

    python bench/charlm_gpu.py [--experiments 10] [--time-budget 15] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import overnight
from overnight.examples import create_from_example
from overnight.records import Experiment, Status

OVERHEAD_GOAL = 0.20  # harness + startup + evaluation, as a share of each experiment
ANCHOR_BPB, ANCHOR_BUDGET, ANCHOR_MARGIN = 1.40, 90.0, 0.05  # 25.6M parameters, 90 s, an H200


def gpu_name() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def phases(experiment: Experiment) -> dict[str, float] | None:
    """Seconds of training, startup and compile, evaluation and harness; None when train.py
    printed no timings (a crash)."""
    figures = experiment.secondary
    if not {"train_seconds", "startup_seconds", "eval_seconds", "total_seconds"} <= set(figures):
        return None
    return {
        "training": figures["train_seconds"],
        "startup+compile": figures["startup_seconds"],
        "evaluation": figures["eval_seconds"],
        "harness": max(experiment.duration_s - figures["total_seconds"], 0.0),
        "total": experiment.duration_s,
    }


def verdict(met: bool) -> str:
    return "met" if met else "missed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=10)
    parser.add_argument("--time-budget", type=float, default=15.0, help="seconds of training")
    parser.add_argument("--repeats", type=int, default=3, help="measurements of the baseline")
    parser.add_argument("--keep", type=Path, help="build the run here and keep it")
    args = parser.parse_args()

    name = gpu_name()
    if name is None:
        print("charlm_gpu: no CUDA GPU here (torch.cuda.is_available() is false)", file=sys.stderr)
        return 2
    os.environ["CHARLM_TIME_BUDGET"] = str(args.time_budget)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    folder = args.keep or Path(tempfile.mkdtemp(prefix="charlm-gpu-")) / "charlm"
    root = create_from_example("charlm", folder)
    subprocess.run([sys.executable, "prepare.py"], cwd=root, check=True)
    print(f"{args.experiments} experiments of {args.time_budget:g} s training on {name}, in {root}")

    started = time.perf_counter()
    summary = overnight.run(root, experiments=args.experiments)
    run_seconds = time.perf_counter() - started
    baseline = summary.experiments[0]
    repeats = [baseline.metric]
    for _ in range(args.repeats - 1):  # the checkout still holds the baseline's tree
        score = overnight.evaluate(root, use_cache=False)
        repeats.append(score.value)
    if not args.keep:
        shutil.rmtree(root.parent, ignore_errors=True)

    measured = [e for e in summary.experiments if e.status is not Status.BASELINE]
    split = [p for p in (phases(e) for e in summary.experiments) if p]
    columns = ["training", "startup+compile", "evaluation", "harness", "total"]
    per = {c: median([p[c] for p in split]) for c in columns}
    overhead = median([sum(p[c] for c in columns[1:4]) / p["total"] for p in split])
    values = [v for v in repeats if v is not None]
    spread = max(values) - min(values) if len(values) > 1 else float("nan")
    mean = statistics.fmean(values) if values else float("nan")
    best = summary.best
    counts = {s.value: sum(e.status is s for e in measured) for s in Status}

    print()
    print(f"charlm on {name}: TIME_BUDGET {args.time_budget:g} s, {len(measured)} experiments")
    print(f"  ({', '.join(f'{n} {s}' for s, n in counts.items() if n)})")
    print("seconds per experiment (median of the baseline and the experiments with timings)")
    print("  " + "  ".join(f"{c:>15}" for c in columns))
    print("  " + "  ".join(f"{per[c]:15.1f}" for c in columns))
    print(f"experiments per hour: {3600 * len(summary.experiments) / run_seconds:.1f}")
    print(
        f"baseline val_bpb: {mean:.4f} (spread {spread:.4f} over {len(values)} measurements: "
        f"{', '.join(f'{v:.4f}' for v in values)})"
    )
    print(f"best val_bpb after {len(measured)} experiments: {best:.4f}")
    figures = {k: baseline.secondary.get(k, float("nan")) for k in ("params", "tokens_per_s")}
    mfu = baseline.secondary.get("mfu")
    print(
        f"baseline: {figures['params'] / 1e6:.1f}M parameters, "
        f"{figures['tokens_per_s']:,.0f} tokens/s, "
        f"MFU {f'{mfu:.1f}%' if mfu is not None else 'unknown (a GPU without a known peak)'}, "
        f"peak memory {baseline.secondary.get('peak_mem_mb', float('nan')):.0f} MB"
    )
    print("goals")
    print(
        f"  harness + startup + evaluation <= {OVERHEAD_GOAL:.0%} of an experiment: "
        f"{verdict(overhead <= OVERHEAD_GOAL)} ({overhead:.1%}, median over the experiments)"
    )
    gain = mean - best if best is not None else float("nan")
    print(
        f"  best beats the baseline by more than its spread: {verdict(gain > spread)} "
        f"(by {gain:.4f}, spread {spread:.4f})"
    )
    if args.time_budget == ANCHOR_BUDGET:
        print(
            f"  baseline within {ANCHOR_MARGIN} of {ANCHOR_BPB} (the anchor at 90 s): "
            f"{verdict(abs(mean - ANCHOR_BPB) <= ANCHOR_MARGIN)}"
        )
    else:
        print(f"  baseline against the anchor ({ANCHOR_BPB} at 90 s): not checked at this budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
