"""The report on disk: the HTML page, and the chart as a PNG when asked for."""

from __future__ import annotations

from pathlib import Path

from overnight.report.chart import chart_data
from overnight.report.data import load_run_view
from overnight.report.html import render_report
from overnight.report.png import write_png
from overnight.workspace import STATE_DIR


def write_report(
    root: Path,
    output: Path | None = None,
    tag: str | None = None,
    pair: tuple[int, int] | None = None,
    png: Path | None = None,
    layer: str | None = None,
) -> Path:
    """Write the review of run ``tag`` (default: the latest, of ``layer`` if given) to
    ``output`` (default: ``.overnight/report.html``), comparing the experiments ``pair``
    (default: the baseline and the best state), and its chart to ``png`` if given. The PNG
    goes first, so a missing extra fails before anything is written."""
    view = load_run_view(root, tag, *(pair or (None, None)), layer=layer)
    if png is not None:
        write_png(chart_data(view.experiments, view.run.metric, view.run.direction), png)
    target = output or root / STATE_DIR / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(view), encoding="utf-8")
    return target
