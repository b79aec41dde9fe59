"""The experiments a live dashboard has read, kept so that each new experiment costs one new
row rather than the whole run again.

A finished experiment never changes in the ledger, so the rows already read stay valid while the
count and the last number only grow; anything else (another run, an experiment that another
worker finished out of order) reads the run again. The pages never show the agents' notes, so
they are not read.
"""

from __future__ import annotations

import threading

from overnight.ledger import Ledger
from overnight.records import Experiment


class HistoryCache:
    """The experiments of the run last asked for, topped up with the ones finished since."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run_id: int | None = None
        self._experiments: list[Experiment] = []

    def experiments(self, ledger: Ledger, run_id: int) -> list[Experiment]:
        count, last = ledger.finished(run_id)
        with self._lock:
            known = self._experiments if self._run_id == run_id else []
            if len(known) == count and (known[-1].number if known else -1) == last:
                return known
            newer = ledger.experiments(run_id, after=known[-1].number, notes=False) if known else []
            if not known or len(known) + len(newer) != count:
                known, newer = [], ledger.experiments(run_id, notes=False)
            self._run_id, self._experiments = run_id, known + newer
            return self._experiments
