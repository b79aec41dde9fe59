"""The progress chart: every experiment a dot coloured by how it ended, the running best as a
step line, the held-out score as a second line on its own axis, and kept changes labelled.

``ChartData`` is the chart in the metric's units (the PNG export draws it with matplotlib);
``trace`` and ``layout`` place the run in pixels for the inline SVG, which the template writes
with every text escaped. No script and no external resource: the SVG is plain shapes with
native ``<title>`` tooltips, so the report works from disk.

A long run keeps every experiment as a point, but only the baseline and the newest keeps and
others are circles with a tooltip each; the rest are drawn as one path per kind of point, made
of zero-length round-capped strokes, a few bytes apiece. Only the keeps that moved the best line
furthest are labelled, so the labels stay readable.

Those paths and the best line are drawn in experiment numbers across and tenths of a pixel down,
inside a group whose transform fits the run's length to the plot's width: a new experiment then
leaves every old point's path as it was, and a live page extends a ``Trace`` by the newest
points only. Strokes there do not scale (``vector-effect``), so the dots stay round. Only a
metric beyond the y axis's round ends moves the old points; the trace is then drawn anew.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from overnight.formatting import score_text
from overnight.holdout import held_out_score
from overnight.records import Experiment
from overnight.report.kinds import category
from overnight.report.page_tally import PageTally

LABEL_CHARS = 28  # a kept change's label: the start of its description
MAX_LABELS = 24  # the keeps with the largest steps of the best line get a label
WIDTH, HEIGHT = 960, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 28, 44  # margins around the plot, in pixels
LINE_PX, CHAR_PX = 12, 6  # a label's line of text, and about one character of it
LABEL_RISE = 56  # about how far a slanted label reaches up or down, in pixels
INSET = 14  # values stay this far inside the plot, so the axis line is left to the unmeasured
TRAIL_ORDER = ("discard", "rejected", "crash", "keep", "baseline")  # drawn last: on top


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
        points.append(point(e))
        if e.status.advances:
            tip = e
        if tip is not None and tip.metric is not None:
            best.append((e.number, tip.metric))
        held_value = held_out_score(tip) if tip is not None else None
        if held_value is not None:
            held.append((e.number, held_value))
    return ChartData(metric, direction, points, best, held)


def point(e: Experiment) -> Point:
    return Point(e.number, e.metric, str(e.status), category(e.status), e.secondary, e.description)


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
    plot: str  # the transform from (experiment number, tenth of a pixel) to the plot's pixels
    dots: list[Dot]  # the marked points: a circle and a tooltip each
    trails: list[Trail]  # every other point, in plot units
    labels: list[Label]
    best_path: str  # in plot units
    held_out_path: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    held_out_ticks: list[Tick]


class _Candidate(NamedTuple):  # a keep that may get a label: the largest steps do
    step: float
    number: int
    y: float
    rising: bool
    text: str


Axes = tuple[float, float, float, float]  # the metric's range, then the held-out score's


@dataclass(frozen=True)
class Trace:
    """The chart's paths for the first ``count`` experiments of a run, with every point but
    the newest ``marks`` keeps, ``marks`` others and the baselines in a trail, for one pair
    of y ranges (``axes``). Immutable: ``extended`` makes the next one."""

    marks: int
    axes: Axes
    count: int = 0
    trails: tuple[tuple[tuple[str, bool], str, int, int, int], ...] = ()  # kind, path, n, x, y
    trailed: tuple[int, int] = (0, 0)  # how many keeps and others the trails hold
    tip: Experiment | None = None
    best: str = ""
    best_y: int | None = None
    held: str = ""
    held_y: int | None = None
    label_y: float | None = None  # where the best line stands on screen, for the labels
    candidates: tuple[_Candidate, ...] = ()

    def extended(self, experiments: Sequence[Experiment], tally: PageTally) -> Trace:
        """This trace with the experiments after its ``count`` drawn; ``tally`` is theirs."""
        if tally.count == self.count:
            return self
        top, bottom = TOP, HEIGHT - BOTTOM
        y = _scale(self.axes[0], self.axes[1], top + INSET, bottom - INSET)
        held_y = _scale(self.axes[2], self.axes[3], top + INSET, bottom - INSET)
        tip, best, held = self.tip, _Steps(self.best, self.best_y), _Steps(self.held, self.held_y)
        label_y, candidates = self.label_y, list(self.candidates)
        for e in experiments[self.count : tally.count]:
            if e.status.advances:
                tip = e
            if tip is not None and tip.metric is not None:
                best.add(e.number, round(y(tip.metric) * 10))
            score = held_out_score(tip) if tip is not None else None
            if score is not None:
                held.add(e.number, round(held_y(score) * 10))
            kind = category(e.status)
            if e.metric is not None and kind in ("baseline", "keep"):
                if kind == "keep":
                    candidates.append(_candidate(e, y(e.metric), label_y, top, bottom))
                label_y = y(e.metric)
        keeps = max(0, len(tally.keeps) - self.marks)
        others = max(0, len(tally.others) - self.marks)
        trails = {kind: (_Moves(path, x, yt), count) for kind, path, count, x, yt in self.trails}
        for index in (
            *tally.keeps[self.trailed[0] : keeps],
            *tally.others[self.trailed[1] : others],
        ):
            e = experiments[index]
            kind = (category(e.status), e.metric is None)
            moves, count = trails.get(kind, (_Moves("", 0, 0), 0))
            moves.add(e.number, round((bottom if e.metric is None else y(e.metric)) * 10))
            trails[kind] = (moves, count + 1)
        return replace(
            self,
            count=tally.count,
            trails=tuple(
                (kind, moves.path, count, moves.x, moves.y)
                for kind, (moves, count) in trails.items()
            ),
            trailed=(keeps, others),
            tip=tip,
            best=best.path,
            best_y=best.y,
            held=held.path,
            held_y=held.y,
            label_y=label_y,
            candidates=tuple(candidates),
        )


class _Moves:
    """A trail's path, extended by a relative move and a zero-length stroke per point: about
    ten bytes each, where a circle with its tooltip takes two hundred."""

    def __init__(self, path: str, x: int, y: int) -> None:
        self.parts, self.x, self.y = [path], x, y

    def add(self, x: int, y: int) -> None:
        self.parts.append(f"m{x - self.x} {y - self.y}h0".replace(" -", "-"))
        self.x, self.y = x, y

    @property
    def path(self) -> str:
        return "".join(self.parts)


class _Steps:
    """A step line that holds each value until the next one: the best only changes on a keep,
    so most experiments add nothing to it."""

    def __init__(self, path: str, y: int | None) -> None:
        self.parts, self.y = [path], y

    def add(self, x: int, y: int) -> None:
        if self.y is None:
            self.parts.append(f"M{x},{y}")
        elif y != self.y:
            self.parts.append(f"H{x}V{y}")
        self.y = y

    @property
    def path(self) -> str:
        return "".join(self.parts)


def axes(tally: PageTally) -> Axes:
    """The y ranges a run's chart needs: round ticks around every value measured."""
    y_lo, y_hi, _ = _axis(list(tally.values or ()))
    h_lo, h_hi, _ = _axis(list(tally.held_values or ()))
    return y_lo, y_hi, h_lo, h_hi


def trace(
    experiments: Sequence[Experiment], tally: PageTally, marks: int, previous: Trace | None = None
) -> Trace:
    """The trace of ``experiments``: ``previous`` extended when it still fits the y axes."""
    fits = previous is not None and previous.marks == marks and previous.axes == axes(tally)
    start = previous if fits and previous is not None else Trace(marks, axes(tally))
    return start.extended(experiments, tally)


def layout(experiments: Sequence[Experiment], tally: PageTally, drawn: Trace) -> Layout:
    """Pixels for the run: the baseline and the newest ``drawn.marks`` keeps and others as
    circles, the rest as ``drawn``'s trails; only these circles, the labels and the ticks are
    placed anew for each page."""
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    last = experiments[-1].number if experiments else 1
    x0, x1 = -0.5, max(last, 1) + 0.5
    per = (right - left) / (x1 - x0)

    def x(number: float) -> float:
        return left + (number - x0) * per

    y_lo, y_hi, h_lo, h_hi = drawn.axes
    _, _, y_ticks = _axis(list(tally.values or ()))
    _, _, h_ticks = _axis(list(tally.held_values or ()))
    y = _scale(y_lo, y_hi, top + INSET, bottom - INSET)
    held_y = _scale(h_lo, h_hi, top + INSET, bottom - INSET)
    keeps, others = drawn.trailed
    marked = sorted((*tally.baselines, *tally.keeps[keeps:], *tally.others[others:]))
    dots = []
    for index in marked:
        e = experiments[index]
        dots.append(Dot(x(e.number), bottom if e.metric is None else y(e.metric), point(e)))
    trails = sorted(drawn.trails, key=lambda t: (TRAIL_ORDER.index(t[0][0]), t[0][1]))
    largest = heapq.nlargest(MAX_LABELS, range(len(drawn.candidates)), drawn.candidates.__getitem__)
    return Layout(
        WIDTH,
        HEIGHT,
        left,
        right,
        top,
        bottom,
        f"matrix({per:.8g} 0 0 0.1 {x(0):.8g} 0)",
        dots,
        [Trail(kind, novalue, path, count) for (kind, novalue), path, count, _, _ in trails],
        apart([_label(drawn.candidates[i], x, left, right) for i in largest]),
        drawn.best + f"H{last}" if drawn.best else "",
        drawn.held + f"H{last}" if drawn.held else "",
        [Tick(x(n), str(n)) for n in _integer_ticks(last)],
        [Tick(y(v), _tick_text(v)) for v in y_ticks],
        [Tick(held_y(v), _tick_text(v)) for v in h_ticks] if tally.held_values else [],
    )


def _candidate(
    keep: Experiment, y: float, before: float | None, top: float, bottom: float
) -> _Candidate:
    """A kept change's label slants away from the best line: falling from a keep the line
    climbed to, climbing from one it fell to, so that keeps in a row get parallel labels that
    cross neither the line nor each other; the other way where the plot has no room."""
    rising = before is not None and y > before  # the line fell: the label climbs
    room = (y - top) if rising else (bottom - y)
    step = abs(y - before) if before is not None else 0.0
    return _Candidate(
        step, keep.number, y, rising if room >= LABEL_RISE else not rising, keep.description
    )


def _label(candidate: _Candidate, x: Callable[[float], float], left: float, right: float) -> Label:
    """The candidate placed: leftwards near the right edge."""
    at = x(candidate.number)
    start = at < left + 0.7 * (right - left)
    return Label(
        at + (7 if start else -7),
        candidate.y + (-7 if candidate.rising else 13),
        (-24 if candidate.rising else 24) * (1 if start else -1),
        "start" if start else "end",
        short(candidate.text),
    )


def apart(labels: list[Label]) -> list[Label]:
    """The labels, most important first, without those that would run into one already placed;
    left to right."""
    placed: list[Label] = []
    for label in labels:
        if not any(collide(label, other) for other in placed):
            placed.append(label)
    return sorted(placed, key=lambda label: label.x)


def collide(a: Label, b: Label) -> bool:
    """Whether two labels' text would overlap: parallel ones closer than a line of text across
    their slant while they run alongside each other; others whose starts nearly meet."""
    if a.angle != b.angle or a.anchor != b.anchor:
        return abs(a.x - b.x) < LINE_PX and abs(a.y - b.y) < LINE_PX
    slant = math.radians(a.angle)
    dx, dy = b.x - a.x, b.y - a.y
    across = abs(-dx * math.sin(slant) + dy * math.cos(slant))
    along = abs(dx * math.cos(slant) + dy * math.sin(slant))
    return across < LINE_PX and along < CHAR_PX * max(len(a.text), len(b.text))


def _scale(lo: float, hi: float, top: float, bottom: float) -> Callable[[float], float]:
    return lambda value: bottom - (value - lo) / (hi - lo) * (bottom - top)


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
