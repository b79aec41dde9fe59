"""autoresearch-compatible ``results.tsv``: commit, the metric, status, description, then any
secondary metrics, one row per experiment, so existing notebooks read it unchanged."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from overnight.ledger import RunRecord
from overnight.records import Experiment, Score


def results_tsv(run: RunRecord, history: Sequence[Experiment]) -> str:
    secondary = sorted({key for e in history for key in e.secondary})
    rows = ["\t".join(["commit", run.metric, "status", "description", *secondary])]
    for e in history:
        cells = [
            (e.commit or "")[:7],
            "" if e.metric is None else f"{e.metric:.6f}",
            str(e.status),
            _clean(e.description),
            *("" if e.secondary.get(k) is None else f"{e.secondary[k]:g}" for k in secondary),
        ]
        rows.append("\t".join(cells))
    return "\n".join(rows) + "\n"


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    data = asdict(experiment)
    data["status"] = str(experiment.status)
    return data


def results_json(history: Sequence[Experiment]) -> str:
    return json.dumps([experiment_json(e) for e in history], indent=1) + "\n"


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
