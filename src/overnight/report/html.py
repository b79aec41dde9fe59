"""HTML for the morning review, from jinja templates shipped inside the package.

Autoescape is on for every template, and the data reaches them as plain records (diffs and word
diffs included), so every output, description, note and diff is written as text: a page that
shows ``<script>`` never runs it. The static report inlines its stylesheet and has no script at
all; the dashboard renders the same sections and adds forms, a stylesheet and a script that the
server sends from the package.

Both are bounded (``table.Bounds``) so that a run of ten thousand experiments still makes a page
of a few hundred kilobytes; a run of tens shows every row, mark and diff. Each section is
rendered on its own and carries a digest, so a live page asks only for those that changed.
"""

from __future__ import annotations

import hashlib
import time
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from overnight.formatting import money, score_text
from overnight.records import Experiment
from overnight.report.chart import chart_data, layout, short
from overnight.report.data import CATEGORIES, RunView
from overnight.report.diffs import diff_lines, diff_stats
from overnight.report.suites import comparisons, matrices
from overnight.report.table import (
    DASHBOARD_BOUNDS,
    REPORT_BOUNDS,
    Bounds,
    Table,
    experiment_row,
    experiment_table,
)
from overnight.view import duration

SECTIONS = ("summary", "chart", "experiments", "suite", "pair", "cumulative")
DASHBOARD_SECTIONS = ("controls", *SECTIONS)  # the dashboard adds its run and pair pickers
VERDICT_MARKS = {"up": "▲ good", "down": "▼ bad", "accept": "✓ accepted", "reject": "✗ rejected"}


def render_report(view: RunView, bounds: Bounds = REPORT_BOUNDS) -> str:
    """The whole report as one page that works from disk: styles inline, no script, no link."""
    return _page(view, bounds, interactive=False)


def render_dashboard(view: RunView, bounds: Bounds = DASHBOARD_BOUNDS) -> str:
    """The dashboard's page: the report's sections with review forms, styled and scripted from
    the server's static files."""
    return _page(view, bounds, interactive=True)


def render_sections(view: RunView, bounds: Bounds = DASHBOARD_BOUNDS) -> dict[str, str]:
    """Each section of the dashboard on its own, for the page to swap in when the run moves."""
    return _sections(_context(view, bounds, interactive=True))


def render_experiment(view: RunView, number: int) -> str | None:
    """The opened body of one experiment's row (reason, diff, reviews, review form): what a
    bounded table leaves out until it is opened. None when the run has no such experiment."""
    row = experiment_row(view, number)
    if row is None:
        return None
    context = _context(view, DASHBOARD_BOUNDS, interactive=True) | {"row": row, "diffs": True}
    return _environment().get_template("_exp_body.html").render(context)


def digest(html: str) -> str:
    """A short fingerprint of a section: the page sends back the ones it holds."""
    return hashlib.blake2b(html.encode(), digest_size=8).hexdigest()


def _page(view: RunView, bounds: Bounds, interactive: bool) -> str:
    context = _context(view, bounds, interactive)
    # each section escaped its data as it was rendered: the page writes it as it is
    sections = {name: Markup(html) for name, html in _sections(context).items()}
    page = _environment().get_template("page.html")
    return page.render(context | {"rendered": sections, "digest": digest})


def _sections(context: dict[str, Any]) -> dict[str, str]:
    environment = _environment()
    return {
        name: environment.get_template(f"_{name}.html").render(context)
        for name in context["sections"]
    }


def render_waiting(message: str) -> str:
    """The dashboard before there is anything to show; it reloads itself when a run starts."""
    return _environment().get_template("waiting.html").render(message=message)


def _context(view: RunView, bounds: Bounds, interactive: bool) -> dict[str, Any]:
    table = experiment_table(view, bounds)
    return {
        "view": view,
        "interactive": interactive,
        "sections": DASHBOARD_SECTIONS if interactive else SECTIONS,
        "categories": CATEGORIES,
        "verdict_marks": VERDICT_MARKS,
        "table": table,
        "choices": _choices(view, table),
        "chart": layout(
            chart_data(view.experiments, view.run.metric, view.run.direction), bounds.marks
        ),
        "matrices": matrices(view),
        "comparisons": comparisons(view),
    }


def _choices(view: RunView, table: Table) -> list[Experiment]:
    """What the pair pickers offer: the table's rows and the pair shown."""
    if table.complete:
        return view.experiments
    chosen = {row.experiment.number: row.experiment for row in table.rows}
    for side in (view.a, view.b):
        if side is not None:
            chosen[side.experiment.number] = side.experiment
    return [chosen[number] for number in sorted(chosen)]


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
