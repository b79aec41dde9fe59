"""The morning review: a run's summary, progress chart, experiments, suite outputs and diffs.

``load_run_view`` reads a run from the ledger and git; ``render_report`` turns it into one
self-contained HTML page and ``write_png`` draws its chart as an image; ``write_report`` does
all of it to files. The live dashboard
(``overnight.server``) renders the same view.
"""

from overnight.report.chart import chart_data
from overnight.report.data import RunView, load_run_view
from overnight.report.files import write_report
from overnight.report.html import render_dashboard, render_report, render_sections
from overnight.report.png import write_png

__all__ = [
    "RunView",
    "chart_data",
    "load_run_view",
    "render_dashboard",
    "render_report",
    "render_sections",
    "write_png",
    "write_report",
]
