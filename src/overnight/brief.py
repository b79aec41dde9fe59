"""The brief: what an agent is told before it proposes one change.

Built by code for every experiment from the config and the ledger, so an agent needs no memory of
its own: the instructions, the files it may edit, the best score so far and the history of what
was tried, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from overnight.config import Config
from overnight.records import Experiment, Status

HISTORY_LINES = 50


def render_brief(
    config: Config,
    root: Path,
    editable_files: Sequence[str],
    history: Sequence[Experiment],
    best: float | None,
) -> str:
    metric = config.evaluate.metric
    goal = "lower" if config.evaluate.direction == "minimize" else "higher"
    baseline = next((e.metric for e in history if e.status is Status.BASELINE), None)
    parts = [
        f"# Brief for {config.name}",
        "",
        f"Make exactly ONE change that should make `{metric}` {goal}, then print a one-line "
        "description of it as the last line of your output.",
        f"Only these files may change: {', '.join(editable_files)} "
        f"(globs: {', '.join(config.editable)}). Any other change is rejected and reverted.",
        "",
        f"Best {metric}: {_number(best)}   baseline: {_number(baseline)}",
    ]
    if config.program:
        program = root / config.program
        text = program.read_text(encoding="utf-8") if program.is_file() else ""
        parts += ["", "## Instructions", "", text.strip()]
    tried = [e for e in history if e.status is not Status.BASELINE]
    if tried:
        parts += ["", "## Tried so far (newest first)", ""]
        for experiment in reversed(tried[-HISTORY_LINES:]):
            value = _number(experiment.metric)
            why = f" ({experiment.reason.splitlines()[0]})" if experiment.reason else ""
            line = (
                f"- #{experiment.number} {experiment.status}: {experiment.description} -> {value}"
            )
            parts.append(line + why)
        if len(tried) > HISTORY_LINES:
            parts.append(f"- … {len(tried) - HISTORY_LINES} older experiments")
    return "\n".join(parts) + "\n"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"
