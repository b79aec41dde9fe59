"""A long run made cheaply: a real small run, then synthetic experiments written through the
ledger as the harness writes them (most discarded, some kept, crashed or no-ops)."""

from __future__ import annotations

import random
import time
from pathlib import Path

from overnight.ledger import Ledger
from overnight.records import Experiment, Status


def lengthen(root: Path, size: int, seed: int = 7) -> None:
    """Add ``size`` experiments to the latest run of the project at ``root``."""
    rng = random.Random(seed)
    ledger = Ledger(root / ".overnight" / "ledger.db")
    try:
        run = ledger.run()
        assert run is not None
        history = ledger.experiments(run.id)
        start, parent = history[-1].number + 1, history[-1].parent_commit
        best = 10.0
        for number in range(start, start + size):
            add(ledger, run.id, number, parent, rng, best)
            best += 0.001
    finally:
        ledger.close()


def add(
    ledger: Ledger, run_id: int, number: int, parent: str, rng: random.Random, best: float
) -> Status:
    status = rng.choices([Status.KEEP, Status.DISCARD, Status.CRASH, Status.NO_OP], [1, 7, 1, 1])[0]
    metric = None if status in (Status.CRASH, Status.NO_OP) else best - rng.random()
    if status is Status.KEEP:
        metric = best
    ledger.begin(run_id, number, parent, {})
    ledger.record(
        Experiment(
            run_id=run_id,
            number=number,
            parent_commit=parent,
            status=status,
            commit=parent if status is Status.KEEP else None,
            metric=metric,
            description=f"knob {number}",
            reason="not better",
            diff=f"--- a/value.txt\n+++ b/value.txt\n@@ -1 +1 @@\n-{number - 1}\n+{number}\n",
            changed_files=["value.txt"],
            started_at=time.time(),
            duration_s=1.0,
            measurements=[] if metric is None else [metric],
        )
    )
    return status
