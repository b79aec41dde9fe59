"""The experiments a live dashboard has read, kept so that each new experiment costs one new
row rather than the whole run again.

A finished experiment never changes in the ledger, so the rows already read stay valid while the
count and the last number only grow; anything else (another run, an experiment that another
worker finished out of order) reads the run again. What the pages compute from the rows (the
summary's figures, the chart's paths) is kept with them and extended the same way. The pages
never show the agents' notes, so they are not read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from overnight.ledger import Ledger
from overnight.records import Experiment
from overnight.report.chart import Trace, trace
from overnight.report.page_tally import PageTally


@dataclass(frozen=True)
class History:
    """A run's finished experiments, oldest first, with their tally and the chart traces drawn
    from them so far (by how many points each marks); never changed once made."""

    run_id: int | None
    experiments: list[Experiment]
    tally: PageTally
    traces: dict[int, Trace] = field(default_factory=dict)

    @classmethod
    def of(cls, run_id: int | None, experiments: list[Experiment]) -> History:
        return cls(run_id, experiments, PageTally.of(experiments))

    @property
    def last(self) -> int:
        return self.experiments[-1].number if self.experiments else -1

    def trace(self, marks: int) -> Trace:
        """The chart's trace with ``marks`` circles, drawn once per history."""
        if marks not in self.traces:  # two threads may both draw it: the same trace
            self.traces[marks] = trace(self.experiments, self.tally, marks)
        return self.traces[marks]

    def extended(self, newer: list[Experiment]) -> History:
        tally = self.tally.extended(newer)
        experiments = self.experiments + newer
        traces = {m: trace(experiments, tally, m, t) for m, t in list(self.traces.items())}
        return History(self.run_id, experiments, tally, traces)


class HistoryCache:
    """The history of the run last asked for, topped up with the experiments finished since."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history = History.of(None, [])

    def read(self, ledger: Ledger, run_id: int) -> History:
        count, last = ledger.finished(run_id)
        with self._lock:
            known = self._history
            if known.run_id == run_id and len(known.experiments) == count and known.last == last:
                return known
            if known.run_id == run_id and known.experiments:
                newer = ledger.experiments(run_id, after=known.last, notes=False)
                if len(known.experiments) + len(newer) == count:
                    self._history = known.extended(newer)
                    return self._history
            self._history = History.of(run_id, ledger.experiments(run_id, notes=False))
            return self._history
