"""HTML for the morning review, from jinja templates shipped inside the package.

Autoescape is on for every template, and the data reaches them as plain records (diffs and word
diffs included), so every output, description, note and diff is written as text: a page that
shows ``<script>`` never runs it. The static report inlines its stylesheet and has no script at
all; the dashboard renders the same sections and adds forms, a stylesheet and a script that the
server sends from the package.

Both are bounded (``table.Bounds``) so that a run of ten thousand experiments still makes a page
of a few hundred kilobytes; a run of tens shows every row, mark and diff. Each section is
rendered on its own and carries a digest, so a live page asks only for those that changed; the
dashboard keeps the sections it rendered (``SectionCache``) for as long as what they show stays
the same, so its first page, its updates and a second visitor share the work.
"""

from __future__ import annotations

import hashlib
import time
from functools import cache, cached_property
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from overnight.formatting import money, score_text
from overnight.records import Experiment
from overnight.report.chart import Layout, layout, short
from overnight.report.data import RunView
from overnight.report.diffs import diff_lines, diff_stats
from overnight.report.kinds import CATEGORIES
from overnight.report.section_cache import SectionCache
from overnight.report.suites import Comparison, Matrix, comparisons, matrices
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


def render_dashboard(
    view: RunView, bounds: Bounds = DASHBOARD_BOUNDS, cache: SectionCache | None = None
) -> str:
    """The dashboard's page: the report's sections with review forms, styled and scripted from
    the server's static files."""
    return _page(view, bounds, interactive=True, cache=cache)


def render_sections(
    view: RunView, bounds: Bounds = DASHBOARD_BOUNDS, cache: SectionCache | None = None
) -> dict[str, str]:
    """Each section of the dashboard on its own, for the page to swap in when the run moves;
    those ``cache`` holds for this view come from it."""
    return _sections(_Parts(view, bounds, interactive=True), cache)


def render_experiment(view: RunView, number: int) -> str | None:
    """The opened body of one experiment's row (reason, diff, reviews, review form): what a
    bounded table leaves out until it is opened. None when the run has no such experiment."""
    row = experiment_row(view, number)
    if row is None:
        return None
    context = _Parts(view, DASHBOARD_BOUNDS, interactive=True).context(())
    return _environment().get_template("_exp_body.html").render(context, row=row, diffs=True)


def digest(html: str) -> str:
    """A short fingerprint of a section: the page sends back the ones it holds."""
    return hashlib.blake2b(html.encode(), digest_size=8).hexdigest()


def _page(
    view: RunView, bounds: Bounds, interactive: bool, cache: SectionCache | None = None
) -> str:
    parts = _Parts(view, bounds, interactive)
    # each section escaped its data as it was rendered: the page writes it as it is
    sections = {name: Markup(html) for name, html in _sections(parts, cache).items()}
    page = _environment().get_template("page.html")
    return page.render(parts.context(()), rendered=sections, digest=digest)


def _sections(parts: _Parts, cache: SectionCache | None) -> dict[str, str]:
    """Every section of ``parts``; the summary, which shows the time, is always rendered anew,
    the others only when ``cache`` has none for what they show."""
    environment = _environment()
    key = parts.key
    kept = cache.get(key) if cache is not None else None
    rendered = {}
    for name in parts.names:
        if kept is not None and name in kept:
            rendered[name] = kept[name]
        else:
            template = environment.get_template(f"_{name}.html")
            rendered[name] = template.render(parts.context(NEEDS.get(name, ())))
    if cache is not None and kept is None:
        cache.put(key, {name: html for name, html in rendered.items() if name != "summary"})
    return rendered


def render_waiting(message: str) -> str:
    """The dashboard before there is anything to show; it reloads itself when a run starts."""
    return _environment().get_template("waiting.html").render(message=message)


# what each section's template needs beyond the view: computed only for the sections rendered
NEEDS = {
    "controls": ("choices",),
    "chart": ("chart",),
    "experiments": ("table",),
    "suite": ("matrices", "comparisons"),
}


class _Parts:
    """What the templates are rendered from, each part computed when a section first needs it."""

    def __init__(self, view: RunView, bounds: Bounds, interactive: bool) -> None:
        self.view, self.bounds, self.interactive = view, bounds, interactive
        self.names = DASHBOARD_SECTIONS if interactive else SECTIONS

    @property
    def key(self) -> tuple[object, ...]:
        """Everything the sections other than the summary show depends on: the run and its
        finished experiments, the reviews, the runs to pick from, the pair and the bounds."""
        view = self.view
        pair = tuple(side.experiment.number if side else None for side in (view.a, view.b))
        tags = tuple(run.tag for run in view.runs)
        return (view.version, tags, pair, self.bounds, self.interactive)

    def context(self, needs: tuple[str, ...]) -> dict[str, Any]:
        return {
            "view": self.view,
            "interactive": self.interactive,
            "sections": self.names,
            "categories": CATEGORIES,
            "verdict_marks": VERDICT_MARKS,
        } | {name: getattr(self, name) for name in needs}

    @cached_property
    def table(self) -> Table:
        return experiment_table(self.view, self.bounds)

    @cached_property
    def choices(self) -> list[Experiment]:
        """What the pair pickers offer: the table's rows and the pair shown."""
        view, table = self.view, self.table
        if table.complete:
            return view.experiments
        chosen = {row.experiment.number: row.experiment for row in table.rows}
        for side in (view.a, view.b):
            if side is not None:
                chosen[side.experiment.number] = side.experiment
        return [chosen[number] for number in sorted(chosen)]

    @cached_property
    def chart(self) -> Layout:
        history = self.view.history
        return layout(history.experiments, history.tally, history.trace(self.bounds.marks))

    @cached_property
    def matrices(self) -> tuple[Matrix, Matrix] | None:
        return matrices(self.view)

    @cached_property
    def comparisons(self) -> list[Comparison]:
        return comparisons(self.view)


def compile_templates() -> None:
    """Compile every template now, as a server does before its first visitor comes."""
    environment = _environment()
    for name in environment.list_templates(extensions=["html"]):
        environment.get_template(name)


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
