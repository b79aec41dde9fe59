"""HTML for the morning review, from jinja templates shipped inside the package.

Autoescape is on for every template, and the data reaches them as plain records (diffs and word
diffs included), so every output, description, note and diff is written as text: a page that
shows ``<script>`` never runs it. The static report inlines its stylesheet and has no script at
all; the dashboard renders the same sections and adds forms, a stylesheet and a script that the
server sends from the package.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from overnight.formatting import money, score_text
from overnight.records import Experiment
from overnight.report.chart import chart_data, layout, short
from overnight.report.data import CATEGORIES, RunView
from overnight.report.diffs import diff_lines, diff_stats
from overnight.report.suites import comparisons, matrices
from overnight.report.table import experiment_rows
from overnight.view import duration

SECTIONS = ("summary", "chart", "experiments", "suite", "pair", "cumulative")
DASHBOARD_SECTIONS = ("controls", *SECTIONS)  # the dashboard adds its run and pair pickers
VERDICT_MARKS = {"up": "▲ good", "down": "▼ bad", "accept": "✓ accepted", "reject": "✗ rejected"}


def render_report(view: RunView) -> str:
    """The whole report as one page that works from disk: styles inline, no script, no link."""
    return _environment().get_template("page.html").render(_context(view, interactive=False))


def render_dashboard(view: RunView) -> str:
    """The dashboard's page: the report's sections with review forms, styled and scripted from
    the server's static files."""
    return _environment().get_template("page.html").render(_context(view, interactive=True))


def render_sections(view: RunView) -> dict[str, str]:
    """Each section of the dashboard on its own, for the page to swap in when the run moves."""
    context = _context(view, interactive=True)
    environment = _environment()
    return {
        name: environment.get_template(f"_{name}.html").render(context)
        for name in DASHBOARD_SECTIONS
    }


def render_waiting(message: str) -> str:
    """The dashboard before there is anything to show; it reloads itself when a run starts."""
    return _environment().get_template("waiting.html").render(message=message)


def _context(view: RunView, interactive: bool) -> dict[str, Any]:
    return {
        "view": view,
        "interactive": interactive,
        "sections": DASHBOARD_SECTIONS if interactive else SECTIONS,
        "categories": CATEGORIES,
        "verdict_marks": VERDICT_MARKS,
        "rows": experiment_rows(view),
        "chart": layout(chart_data(view.experiments, view.run.metric, view.run.direction)),
        "matrices": matrices(view),
        "comparisons": comparisons(view),
    }


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("overnight.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=_when,
        duration=duration,
        percent=lambda share: f"{share:.0%}",
        money=money,
        score=_score,
        px=lambda value: f"{value:.1f}",
        short=short,
        diff_lines=diff_lines,
        diff_summary=_diff_summary,
    )
    return environment


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _score(experiment: Experiment | None) -> str:
    return score_text(experiment.metric, experiment.secondary) if experiment else "-"


def _diff_summary(diff: str) -> str:
    stats = diff_stats(diff)
    files = ", ".join(stats.files) or "no files"
    return f"{files}: +{stats.added} −{stats.deleted}"
