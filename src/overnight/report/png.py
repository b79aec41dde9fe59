"""The progress chart as a PNG, for a slide or a chat message: the same data as the report's
SVG, drawn by matplotlib (the optional ``png`` extra, imported only when asked for)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from overnight.errors import UsageError
from overnight.report.chart import ChartData, short
from overnight.report.kinds import CATEGORIES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLOURS = {
    "baseline": "#2563eb",
    "keep": "#16a34a",
    "discard": "#9ca3af",
    "crash": "#dc2626",
    "rejected": "#9333ea",
}
HELD_OUT = "#d97706"


def write_png(data: ChartData, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError('the PNG chart needs matplotlib: pip install "overnight[png]"') from None
    figure, axes = plt.subplots(figsize=(11, 4.4), dpi=120)
    try:
        _draw(axes, data)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)


def _draw(axes: Axes, data: ChartData) -> None:
    for name, label in CATEGORIES.items():
        points = [p for p in data.points if p.category == name]
        measured = [p for p in points if p.value is not None]
        if measured:
            axes.scatter(
                [p.number for p in measured],
                [p.value for p in measured],
                color=COLOURS[name],
                s=36,
                label=label,
                zorder=3,
                edgecolors="white",
                linewidths=0.6,
            )
        unmeasured = [p.number for p in points if p.value is None]
        if unmeasured:  # no value to plot: a cross on the x axis
            axes.scatter(
                unmeasured,
                [0] * len(unmeasured),
                transform=axes.get_xaxis_transform(),
                color=COLOURS[name],
                marker="x",
                s=36,
                clip_on=False,
                zorder=3,
                label=None if measured else label,
            )
    if data.best:
        numbers, values = zip(*data.best, strict=True)
        axes.step(numbers, values, where="post", color="#15803d", lw=1.6, label="best", zorder=2)
    for point in data.labelled:
        axes.annotate(
            short(point.description),
            (point.number, point.value),
            textcoords="offset points",
            xytext=(5, 6),
            fontsize=7,
            rotation=20,
            color="#14532d",
        )
    axes.set_xlabel("experiment")
    axes.set_ylabel(f"{data.metric} ({data.direction})")
    axes.grid(alpha=0.25)
    axes.margins(x=0.04, y=0.14)  # room for the labels, and the axis line for the unmeasured
    axes.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = axes.get_legend_handles_labels()
    if data.held_out:
        twin = axes.twinx()
        numbers, values = zip(*data.held_out, strict=True)
        (line,) = twin.step(numbers, values, where="post", color=HELD_OUT, lw=1.4, ls="--")
        twin.set_ylabel("held out", color=HELD_OUT)
        twin.margins(y=0.14)
        handles, labels = [*handles, line], [*labels, "held out (right axis)"]
    axes.legend(handles, labels, loc="best", fontsize=7, framealpha=0.85)
