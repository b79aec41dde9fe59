"""autoresearch-compatible ``results.tsv``: commit, the metric, status, description, then any
secondary metrics, one row per experiment, so existing notebooks read it unchanged."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from overnight.ledger import RunRecord
from overnight.records import Experiment, Score


def results_tsv(run: RunRecord, history: Sequence[Experiment]) -> str:
    secondary = sorted({key for e in history for key in e.secondary})
    rows = ["\t".join(["commit", run.metric, "status", "description", *secondary])]
    rows += [_row(e, secondary) for e in history]
    return "\n".join(rows) + "\n"


class ResultsFile:
    """``results.tsv`` kept up to date as a run goes: one row appended per experiment, and the
    whole file written again only when a new secondary metric adds a column, so recording an
    experiment costs the same at experiment 10,000 as at 10."""

    def __init__(self, path: Path, run: RunRecord, history: Sequence[Experiment]) -> None:
        self.path, self.run = path, run
        self._write(history)

    def add(self, experiment: Experiment, history: Sequence[Experiment]) -> None:
        """``experiment``, already the last of ``history``, into the file."""
        if not set(experiment.secondary) <= self._columns:
            self._write(history)
            return
        with self.path.open("a", encoding="utf-8") as file:
            file.write(_row(experiment, self._secondary) + "\n")

    def _write(self, history: Sequence[Experiment]) -> None:
        self.path.write_text(results_tsv(self.run, history), encoding="utf-8")
        self._secondary = sorted({key for e in history for key in e.secondary})
        self._columns = set(self._secondary)


def _row(e: Experiment, secondary: Sequence[str]) -> str:
    cells = [
        (e.commit or "")[:7],
        "" if e.metric is None else f"{e.metric:.6f}",
        str(e.status),
        _clean(e.description),
        *("" if e.secondary.get(k) is None else f"{e.secondary[k]:g}" for k in secondary),
    ]
    return "\t".join(cells)


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    """Every field of the record, as JSON takes it. The record's own fields are plain values
    but for the few that hold records, converted alone: ``asdict`` of the whole record copies
    every list and dict first, which a long run pays ten thousand times."""
    data = dict(vars(experiment))
    data["status"] = str(experiment.status)
    data["usage"] = [asdict(usage) for usage in experiment.usage]
    for name in ("suite", "held_out"):
        suite = data[name]
        data[name] = None if suite is None else asdict(suite)
    return data


def results_json(history: Sequence[Experiment], notes: Mapping[int, str] | None = None) -> str:
    """JSON Lines: one object per experiment, one experiment per line. ``notes``, the agents'
    notes as the ledger stores them (JSON text, by experiment), are written as they are rather
    than decoded and encoded again: in a long run they are most of the output."""
    if notes is None:
        return "".join(json.dumps(experiment_json(e)) + "\n" for e in history)
    lines = []
    for experiment in history:
        data = experiment_json(experiment)
        del data["agent_meta"]
        lines.append(f'{json.dumps(data)[:-1]}, "agent_meta": {notes[experiment.number]}}}\n')
    return "".join(lines)


def score_json(metric: str, score: Score) -> dict[str, Any]:
    """One evaluation for scripts: the value, and for suites every output and check."""
    data: dict[str, Any] = {
        "metric": metric,
        "value": score.value,
        "status": str(score.status) if score.status else "ok",
        "secondary": score.secondary,
        "seconds": round(score.seconds, 3),
        "log": score.log_path,
        "usage": [asdict(u) for u in score.usage],
    }
    if score.suite is not None:
        data["suite"] = {
            "passed": score.suite.passed,
            "total": score.suite.total,
            "outputs": [asdict(o) for o in score.suite.outputs],
            "checks": [asdict(c) for c in score.suite.checks],
        }
    return data


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())
