"""The progress chart: every experiment a dot coloured by how it ended, the running best as a
step line, the held-out score as a second line on its own axis, and kept changes labelled.

``ChartData`` is the chart in the metric's units (the PNG export draws it with matplotlib);
``layout`` places it in pixels for the inline SVG, which the template writes with every text
escaped. No script and no external resource: the SVG is plain shapes with native ``<title>``
tooltips, so the report works from disk.

A long run keeps every experiment as a point, but only the baseline and the newest keeps and
others are circles with a tooltip each; the rest are drawn as one path per kind of point, made
of zero-length round-capped strokes, a few bytes apiece. Only the keeps that moved the best line
furthest are labelled, so the labels stay readable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from overnight.formatting import score_text
from overnight.holdout import held_out_score
from overnight.records import Experiment
from overnight.report.data import category

LABEL_CHARS = 28  # a kept change's label: the start of its description
MAX_LABELS = 24  # the keeps with the largest steps of the best line get a label
WIDTH, HEIGHT = 960, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 28, 44  # margins around the plot, in pixels
LABEL_RISE = 56  # about how far a slanted label reaches up or down, in pixels
INSET = 14  # values stay this far inside the plot, so the axis line is left to the unmeasured


class Point(NamedTuple):  # a tuple: a long run makes ten thousand of them per page
    number: int
    value: float | None  # None: the experiment has no measurement (crash, timeout, not run)
    status: str
    category: str
    secondary: dict[str, float]
    description: str

    @property
    def value_text(self) -> str:
        return score_text(self.value, self.secondary)

    @property
    def tooltip(self) -> str:
        return f"#{self.number} {self.status}: {self.value_text} — {self.description or '-'}"


@dataclass(frozen=True)
class ChartData:
    metric: str
    direction: str
    points: list[Point]
    best: list[tuple[int, float]]  # the best state's value after each experiment
    held_out: list[tuple[int, float]]  # the best state's held-out score, where measured

    @property
    def labelled(self) -> list[Point]:
        return [p for p in self.points if p.category == "keep" and p.value is not None]


def chart_data(experiments: Sequence[Experiment], metric: str, direction: str) -> ChartData:
    points, best, held = [], [], []
    tip: Experiment | None = None
    for e in experiments:
        points.append(
            Point(
                e.number,
                e.metric,
                str(e.status),
                category(e.status),
                e.secondary,
                e.description,
            )
        )
        if e.status.advances:
            tip = e
        if tip is not None and tip.metric is not None:
            best.append((e.number, tip.metric))
        held_value = held_out_score(tip) if tip is not None else None
        if held_value is not None:
            held.append((e.number, held_value))
    return ChartData(metric, direction, points, best, held)


def short(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- pixels for the SVG ---------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


class Dot(NamedTuple):
    x: float
    y: float
    point: Point


@dataclass(frozen=True)
class Trail:
    """Points of one kind drawn as one path: ``novalue`` ones sit on the axis, hollow."""

    category: str
    novalue: bool
    path: str
    count: int


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    angle: float
    anchor: str
    text: str


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    dots: list[Dot]  # the marked points: a circle and a tooltip each
    trails: list[Trail]  # every other point
    labels: list[Label]
    best_path: str
    held_out_path: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    held_out_ticks: list[Tick]


def layout(data: ChartData, marks: int | None = None) -> Layout:
    """Pixels for ``data``: the baseline and the newest ``marks`` keeps and ``marks`` others
    as circles (all of them when None), the rest as trails."""
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    last = max((p.number for p in data.points), default=1)
    x0, x1 = -0.5, max(last, 1) + 0.5

    def x(number: float) -> float:
        return left + (number - x0) / (x1 - x0) * (right - left)

    values = [p.value for p in data.points if p.value is not None] + [v for _, v in data.best]
    y_lo, y_hi, y_ticks = _axis(values)
    h_lo, h_hi, h_ticks = _axis([v for _, v in data.held_out])

    inner_top, inner_bottom = top + INSET, bottom - INSET
    y = _scale(y_lo, y_hi, inner_top, inner_bottom)
    held_y = _scale(h_lo, h_hi, inner_top, inner_bottom)
    dots = [Dot(x(p.number), y(p.value) if p.value is not None else bottom, p) for p in data.points]
    marked = _marked(data.points, marks)
    return Layout(
        WIDTH,
        HEIGHT,
        left,
        right,
        top,
        bottom,
        [dot for dot in dots if dot.point.number in marked],
        _trails([dot for dot in dots if dot.point.number not in marked]),
        _labels(dots, left, right, top, bottom),
        _steps([(x(n), y(v)) for n, v in data.best], x(last)),
        _steps([(x(n), held_y(v)) for n, v in data.held_out], x(last)),
        [Tick(x(n), str(n)) for n in _integer_ticks(last)],
        [Tick(y(v), _tick_text(v)) for v in y_ticks],
        [Tick(held_y(v), _tick_text(v)) for v in h_ticks] if data.held_out else [],
    )


def _marked(points: list[Point], marks: int | None) -> set[int]:
    if marks is None:
        return {p.number for p in points}
    keeps = [p.number for p in points if p.category == "keep"]
    others = [p.number for p in points if p.category not in ("keep", "baseline")]
    baseline = {p.number for p in points if p.category == "baseline"}
    return baseline | set(
        keeps[max(0, len(keeps) - marks) :] + others[max(0, len(others) - marks) :]
    )


def _trails(dots: list[Dot]) -> list[Trail]:
    """Each point a relative move in tenths of a pixel (the group is scaled by 0.1) and a
    zero-length stroke: about ten bytes, where a circle with its tooltip takes two hundred."""
    groups: dict[tuple[str, bool], list[Dot]] = {}
    for dot in dots:
        groups.setdefault((dot.point.category, dot.point.value is None), []).append(dot)
    trails = []
    for (kind, novalue), members in groups.items():
        path, x0, y0 = [], 0, 0
        for dot in members:
            x, y = round(dot.x * 10), round(dot.y * 10)
            path.append(f"m{x - x0} {y - y0}h0".replace(" -", "-"))
            x0, y0 = x, y
        trails.append(Trail(kind, novalue, "".join(path), len(path)))
    return trails


def _labels(dots: list[Dot], left: float, right: float, top: float, bottom: float) -> list[Label]:
    """A label per kept change (the ``MAX_LABELS`` largest steps of the best line), slanted
    away from the line: falling from a keep the line climbed to, climbing from one it fell to,
    so that keeps in a row get parallel labels that cross neither the line nor each other; the
    other way where the plot has no room, and leftwards near the right edge."""
    labels: list[tuple[float, Label]] = []
    best_y: float | None = None  # where the best line stands on screen before this keep
    for dot in dots:
        if dot.point.category == "baseline" and dot.point.value is not None:
            best_y = dot.y
        if dot.point.category != "keep" or dot.point.value is None:
            continue
        rising = best_y is not None and dot.y > best_y  # the line fell: the label climbs
        step = abs(dot.y - best_y) if best_y is not None else 0.0
        room = (dot.y - top) if rising else (bottom - dot.y)
        rising = rising if room >= LABEL_RISE else not rising
        best_y = dot.y
        start = dot.x < left + 0.7 * (right - left)
        label = Label(
            dot.x + (7 if start else -7),
            dot.y + (-7 if rising else 13),
            (-24 if rising else 24) * (1 if start else -1),
            "start" if start else "end",
            short(dot.point.description),
        )
        labels.append((step, label))
    largest = sorted(range(len(labels)), key=lambda i: labels[i][0], reverse=True)[:MAX_LABELS]
    return [labels[i][1] for i in sorted(largest)]


def _scale(lo: float, hi: float, top: float, bottom: float) -> Callable[[float], float]:
    return lambda value: bottom - (value - lo) / (hi - lo) * (bottom - top)


def _steps(points: list[tuple[float, float]], end: float) -> str:
    """An SVG path that holds each value until the next one: the best only changes on a keep."""
    if not points:
        return ""
    (x0, y0), *rest = points
    path = [f"M{x0:.1f},{y0:.1f}"]
    for px, py in rest:
        if f"{py:.1f}" != f"{y0:.1f}":  # a step: most experiments leave the line as it is
            path.append(f"H{px:.1f}V{py:.1f}")
            y0 = py
    path.append(f"H{end:.1f}")
    return "".join(path)


def _axis(values: list[float], count: int = 5) -> tuple[float, float, list[float]]:
    """A range that covers the values with round tick marks at both ends."""
    if not values:
        return 0.0, 1.0, [0.0, 1.0]
    lo, hi = min(values), max(values)
    if lo == hi:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if (hi - lo) / (m * magnitude) <= count)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    ticks = [round(i * step, 12) for i in range(first, last + 1)]
    return ticks[0], ticks[-1], ticks


def _integer_ticks(last: int, count: int = 10) -> list[int]:
    step = max(1, math.ceil(last / count))
    for nice in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if nice >= step:
            step = nice
            break
    return list(range(0, last + 1, step))


def _tick_text(value: float) -> str:
    return f"{value:.6g}"
