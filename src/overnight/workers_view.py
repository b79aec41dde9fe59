"""Per-worker figures of a run with ``workers: N``: what each worker ran, how busy it was, what
it won and lost to staleness, and what it is doing now, so a reader can tell a worker that waits
from one that works. The terminal, the report and the dashboard show these same figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from overnight.ledger import Unfinished
from overnight.records import Experiment, Status


@dataclass(frozen=True)
class WorkerFigures:
    worker: int
    experiments: int  # the rows it finished, replays included and the baseline not
    replays: int  # of those, stale winners it measured again on the best
    per_hour: float | None  # experiments an hour of the run's wall time
    busy: float | None  # the share of that wall time it spent in experiments, baseline included
    kept: int
    stale: int  # winners it found on a state the run had moved past, measured again
    conflicts: int  # such winners that clashed with the best, so were not
    running: int | None = None  # the experiment it runs now, when the run is live


@dataclass(frozen=True)
class WorkerTally:
    """What one worker finished, summed: its figures are made from this, whether it was
    counted from the rows or by the ledger itself."""

    worker: int
    experiments: int  # baseline not included
    replays: int
    kept: int
    stale: int
    conflicts: int
    busy_s: float  # in experiments, baseline included


def worker_figures(
    history: Sequence[Experiment], in_flight: Sequence[Unfinished] = ()
) -> list[WorkerFigures]:
    """One entry per worker that ran or runs an experiment, or none at all when only one did:
    a run with one worker shows as it always has. ``in_flight`` are the rows a live run is
    working on; wall time runs from the first experiment's start to the last one's end."""
    tallies = []
    for worker in sorted({e.worker for e in history}):
        ran = [e for e in history if e.worker == worker]
        tried = [e for e in ran if e.status is not Status.BASELINE]
        tallies.append(
            WorkerTally(
                worker=worker,
                experiments=len(tried),
                replays=sum(e.replay_of is not None for e in tried),
                kept=sum(e.status is Status.KEEP for e in tried),
                stale=sum(e.status is Status.STALE for e in tried),
                conflicts=sum(e.status is Status.CONFLICT for e in tried),
                busy_s=sum(e.duration_s for e in ran),
            )
        )
    return figures_of(tallies, wall_time(history), in_flight)


def figures_of(
    tallies: Sequence[WorkerTally], wall: float, in_flight: Sequence[Unfinished] = ()
) -> list[WorkerFigures]:
    """The figures of each worker from what it finished and the run's wall time in seconds."""
    known = {t.worker: t for t in tallies}
    workers = sorted(set(known) | {u.worker for u in in_flight})
    if len(workers) < 2:
        return []
    figures = []
    for worker in workers:
        tally = known.get(worker) or WorkerTally(worker, 0, 0, 0, 0, 0, 0.0)
        now = [u.number for u in in_flight if u.worker == worker]
        figures.append(
            WorkerFigures(
                worker=worker,
                experiments=tally.experiments,
                replays=tally.replays,
                per_hour=tally.experiments / wall * 3600 if wall else None,
                busy=tally.busy_s / wall if wall else None,
                kept=tally.kept,
                stale=tally.stale,
                conflicts=tally.conflicts,
                running=max(now, default=None),
            )
        )
    return figures


def wall_time(history: Sequence[Experiment]) -> float:
    """Seconds from the first experiment's start to the last one's end (0 without any)."""
    if not history:
        return 0.0
    start = min(e.started_at for e in history)
    return max(0.0, max(e.started_at + e.duration_s for e in history) - start)


def worker_lines(figures: Sequence[WorkerFigures], live: bool) -> list[str]:
    """A line per worker for the terminal; while the run is live, each says what it runs."""
    lines = []
    for f in figures:
        replays = f" ({_count(f.replays, 'replay')})" if f.replays else ""
        rate = "-" if f.per_hour is None else f"{f.per_hour:.1f}"
        busy = "-" if f.busy is None else f"{f.busy:.0%}"
        line = (
            f"worker {f.worker}: {_count(f.experiments, 'experiment')}{replays}, {rate} an hour,"
            f" busy {busy}; {f.kept} kept, {f.stale} stale, {_count(f.conflicts, 'conflict')}"
        )
        if live:
            line += f"; now: {'idle' if f.running is None else f'#{f.running}'}"
        lines.append(line)
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
