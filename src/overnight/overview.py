"""A run summed up by the ledger's own queries, for ``overnight status``: what it reads does not
grow with the run (its baseline and keeps, its newest experiments, and sums), so the status of a
10,000-experiment run costs about what a short one's does."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from overnight.ledger import Ledger, Unfinished
from overnight.records import Experiment, Status
from overnight.workers_view import WorkerFigures, WorkerTally, figures_of


@dataclass(frozen=True)
class Overview:
    counts: Counter[Status]  # experiments by how they ended, baseline included
    rows: list[Experiment]  # the baseline, every keep and the newest ones, oldest first
    spent_usd: float
    unpriced: int  # experiments with a model call of unknown cost
    kept_replays: int  # stale winners kept once measured again on the best
    workers: list[WorkerFigures]  # none with one worker


def overview(
    ledger: Ledger, run_id: int, newest: int, in_flight: list[Unfinished] | None = None
) -> Overview:
    """Run ``run_id`` summed up, with its ``newest`` experiments read in full (notes and diffs
    left out: nothing here shows them)."""
    _, last = ledger.finished(run_id)
    advancing = ledger.experiments(
        run_id, notes=False, diffs=False, statuses=(Status.BASELINE, Status.KEEP)
    )
    recent = ledger.experiments(run_id, after=max(-1, last - newest), notes=False, diffs=False)
    rows = sorted({e.number: e for e in [*advancing, *recent]}.values(), key=lambda e: e.number)
    start, end = ledger.span(run_id)
    workers = ledger.per_worker(run_id)
    replays = ledger.replays(run_id) if len(workers) > 1 else {}
    tallies = [
        WorkerTally(worker, tried, replays.get(worker, 0), kept, stale, conflicts, busy)
        for worker, tried, kept, stale, conflicts, busy in workers
    ]
    return Overview(
        counts=Counter({Status(status): n for status, n in ledger.status_counts(run_id).items()}),
        rows=rows,
        spent_usd=ledger.spent(run_id),
        unpriced=ledger.unpriced(run_id),
        kept_replays=ledger.kept_replays(run_id),
        workers=figures_of(tallies, max(0.0, end - start), in_flight or []),
    )
