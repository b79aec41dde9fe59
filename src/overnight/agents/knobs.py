"""Knobs: the tunable constants of a Python file, how each one may move, and how to rewrite it.

A knob is a module-level ``UPPER_CASE`` name bound once to a literal: an int, a float, a bool, a
negative number, or (only when the config declares ``choices`` for it) anything listed there,
strings included. The constants at the top of a training script are what a person tunes first,
and changing one is a small, readable, easily reverted experiment.

Rewriting touches only the characters of the literal, located through the ast's positions, so
comments, spacing, quotes elsewhere and line endings stay byte-identical.

How values move:

- bool: ``flip``.
- choices: ``next`` / ``prev`` in the declared order (a value not in the list starts at either
  end); numbers with declared choices move through the choices only.
- int: ``up`` / ``down`` add or subtract about a tenth of the value, rounded to one significant
  digit and at least 1 (5 -> 6, 20 -> 22, 300 -> 330), and ``double`` / ``halve`` (halving
  rounds toward zero) make the big jumps. ``log: true`` keeps only double/halve (with finer
  levels, below), ``log: false`` only up/down. An int keeps its sign unless ``min`` / ``max``
  say otherwise: a positive one stays >= 1 (sizes and counts), a negative one stays <= -1, a
  zero one only goes up.
- float (log scale, the default): ``up`` / ``down`` multiply or divide by ``FACTOR`` (2), which
  keeps the sign; a negative float scales its magnitude, so ``up`` still means "larger". With both
  ``min`` and ``max`` declared, a value in the upper half of the range scales its distance to
  ``max`` instead, so a momentum of 0.9 in [0, 1] moves to 0.95 or 0.8 and never onto 1. A zero
  (or a value sitting on ``max``) first moves by 1% of the declared range, or by 0.01 when there
  is no range; a zero goes below zero only when ``min`` is below zero.
- float with ``log: false``: ``up`` / ``down`` add or subtract a tenth of the declared range, or
  a tenth of the value's magnitude when no range is declared (0.1 from zero).

Each move can also be made finer, the way a pattern search shrinks its step once the coarse
neighbours are known: level 1 of a float move uses the square root of the factor (x1.414), level
2 its fourth root, up to ``LEVELS``; additive steps halve instead (never below 1 for an int).
A ``log: true`` int's doubling and halving refine the same way (64 -> 128, 91, 76: rounded);
other ints refine with up/down, so their doubling and halving have one level, as flipping
does; a choice's further levels are the choices further along the list. ``reach`` lists them,
coarsest first.

Every float result is rounded to four significant digits (0.0316, not 0.031622776...), or more
where that is needed to keep the step itself (0.9995 next to a bound of 1), and every result is
clamped to ``min`` / ``max``; a move that clamps back to the value it started from is no move.
Names that look like random seeds (``SEED``, ``DATA_SEED``) are frozen unless the config names
them: a run that "improves" by changing the seed has only found noise.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypeVar

from overnight.config import KnobConfig
from overnight.errors import AgentError

KnobValue = bool | int | float | str
KnobKind = Literal["bool", "int", "float", "choice"]
N = TypeVar("N", int, float)

KNOB_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
SEED_NAME = re.compile(r"(?:^|_)SEEDS?(?:_|$)")
FACTOR = 2.0  # the multiplicative step of log-scale floats
LEVELS = 3  # step sizes per move: FACTOR, its square root, its fourth root (additive: 1, 1/2, 1/4)
SIGNIFICANT = 4  # digits kept after a float step, so values stay tidy
_NEWLINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # where Python's own lines end
_SCIENTIFIC = re.compile(r"^[-+]?\s*[0-9_.]+(?P<e>[eE])(?P<sign>[-+]?)(?P<digits>[0-9_]+)$")
_GROUPED_INT = re.compile(r"^[-+]?\s*[0-9]+(?:_[0-9]+)+$")


@dataclass(frozen=True)
class Knob:
    """One tunable constant, with where its literal sits in the file's decoded text."""

    file: str  # path relative to the root, as given
    name: str
    value: KnobValue
    kind: KnobKind
    text: str  # the literal as written, e.g. "-0.5" or "'adam'"
    start: int  # character offsets of the literal in the decoded text
    end: int
    line: int
    settings: KnobConfig
    frozen: bool

    @property
    def key(self) -> str:
        """Unique within a run: the same name may be a knob in two files."""
        return f"{self.file}:{self.name}"


@dataclass(frozen=True)
class Source:
    """A Python file's text and the encoding to write it back with."""

    text: str
    encoding: str


# ---------------------------------------------------------------- discovery


def find_knobs(
    root: Path, files: Iterable[str], knob_config: Mapping[str, KnobConfig] | None = None
) -> list[Knob]:
    """The knobs of the given Python files (relative to ``root``), in file and line order.

    Files that cannot be read or parsed are skipped: they have no knobs a search could use.
    ``knob_config`` is keyed by plain ``NAME`` (any file) or ``file:NAME`` (that file only).
    """
    knobs: list[Knob] = []
    for file in sorted(set(files)):
        source = read_source(root / file)
        if source is not None:
            knobs.extend(knobs_in_source(source.text, file, knob_config or {}))
    return knobs


def read_source(path: Path) -> Source | None:
    """Decode a Python file the way Python would (coding cookie, BOM), keeping its newlines."""
    try:
        raw = path.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        return Source(raw.decode(encoding), encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
        return None


def knobs_in_source(text: str, file: str, knob_config: Mapping[str, KnobConfig]) -> list[Knob]:
    """The knobs of one file's text. A name bound more than once at module level is skipped:
    changing one of its bindings would be ambiguous or have no effect."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    bindings = Counter(name for statement in tree.body for name in _bound_names(statement))
    starts = _line_starts(text)
    knobs = []
    for statement in tree.body:
        found = _knob_from(statement, text, starts, file, knob_config)
        if found is not None and bindings[found.name] == 1:
            knobs.append(found)
    return knobs


def _knob_from(
    statement: ast.stmt,
    text: str,
    starts: Sequence[int],
    file: str,
    knob_config: Mapping[str, KnobConfig],
) -> Knob | None:
    name, node = _single_binding(statement)
    if name is None or node is None or not KNOB_NAME.match(name):
        return None
    found, value = _literal_value(node)
    if not found:
        return None
    settings = knob_config.get(f"{file}:{name}") or knob_config.get(name) or KnobConfig()
    kind = _kind_of(value, settings)
    if kind is None:
        return None
    start = _offset(text, starts, node.lineno, node.col_offset)
    end = _offset(text, starts, node.end_lineno or node.lineno, node.end_col_offset or 0)
    declared = name in knob_config or f"{file}:{name}" in knob_config
    frozen = settings.freeze or (bool(SEED_NAME.search(name)) and not declared)
    return Knob(file, name, value, kind, text[start:end], start, end, node.lineno, settings, frozen)


def _single_binding(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """``NAME = value`` or ``NAME: type = value``; anything else binds no knob."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        if isinstance(target, ast.Name):
            return target.id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None


def _bound_names(statement: ast.stmt) -> list[str]:
    """Every name a module-level assignment binds, tuple targets included."""
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        targets = [statement.target]
    else:
        return []
    names = [node for target in targets for node in ast.walk(target)]
    return [node.id for node in names if isinstance(node, ast.Name)]


def _literal_value(node: ast.expr) -> tuple[bool, KnobValue]:
    """(True, value) for an int, float, bool or str literal, or a negated number."""
    if isinstance(node, ast.Constant) and type(node.value) in (bool, int, float, str):
        value = node.value
    elif (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) in (int, float)
    ):
        value = -node.operand.value
    else:
        return False, 0
    if isinstance(value, float) and not math.isfinite(value):
        return False, 0
    return True, value


def _kind_of(value: KnobValue, settings: KnobConfig) -> KnobKind | None:
    if settings.choices is not None:
        return "choice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return None  # a string without declared choices: no way to know what else it could be


def _line_starts(text: str) -> list[int]:
    """Character offset of each line's start, splitting where Python does (not at form feeds)."""
    starts = [0]
    for piece in _NEWLINE_END.split(text)[:-1]:
        starts.append(starts[-1] + len(piece))
    return starts


def _offset(text: str, starts: Sequence[int], lineno: int, byte_col: int) -> int:
    """Turn the ast's (line, UTF-8 byte column) into a character offset in ``text``."""
    start = starts[lineno - 1]
    end = starts[lineno] if lineno < len(starts) else len(text)
    prefix = text[start:end].encode("utf-8")[:byte_col].decode("utf-8")
    return start + len(prefix)


# ---------------------------------------------------------------- rewriting


def with_value(text: str, knob: Knob, literal: str) -> str:
    """The text with the knob's literal replaced by ``literal``, everything else unchanged."""
    if text[knob.start : knob.end] != knob.text:
        raise AgentError(f"{knob.file} changed while {knob.name} was being set")
    return text[: knob.start] + literal + text[knob.end :]


def set_knob(root: Path, knob: Knob, value: KnobValue) -> str:
    """Write ``value`` into the knob's file; return the literal written."""
    path = root / knob.file
    source = read_source(path)
    if source is None:
        raise AgentError(f"cannot read {knob.file} to set {knob.name}")
    literal = format_value(value, knob.text)
    try:
        path.write_bytes(with_value(source.text, knob, literal).encode(source.encoding))
    except (OSError, UnicodeEncodeError) as exc:
        raise AgentError(f"cannot write {knob.file} to set {knob.name}: {exc}") from None
    return literal


def format_value(value: KnobValue, like: str = "") -> str:
    """A Python literal for ``value``, in the style of the literal it replaces."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return f"{value:_}" if _GROUPED_INT.match(like) else str(value)
    if isinstance(value, float):
        return _format_float(value, _SCIENTIFIC.match(like))
    return _quote(value, like)


def _format_float(value: float, scientific: re.Match[str] | None) -> str:
    """The shortest repr, or, replacing a literal like ``3e-4``, the same notation: ``6e-4``."""
    if scientific is None or value == 0:
        return repr(value)
    negative, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    shown = "".join(map(str, digits))  # the shortest digits that read back as the same float
    power = int(exponent) + len(digits) - 1
    mantissa = ("-" if negative else "") + shown[0] + (f".{shown[1:]}" if len(shown) > 1 else "")
    sign = "-" if power < 0 else scientific["sign"].replace("-", "")
    width = len(scientific["digits"])
    return f"{mantissa}{scientific['e']}{sign}{abs(power):0{width}d}"


def _quote(value: str, like: str) -> str:
    """Quote like the original literal where that needs no escaping change; else use repr."""
    quoted = repr(value)
    wanted = next((char for char in like if char in "'\""), '"')
    if wanted == '"' and "'" not in value and '"' not in value:
        return f'"{quoted[1:-1]}"'
    return quoted


# ---------------------------------------------------------------- moves


def moves(knob: Knob) -> tuple[str, ...]:
    """The moves a knob has, in a fixed order (the search relies on it for determinism)."""
    if knob.kind == "bool":
        return ("flip",)
    if knob.kind == "choice":
        return ("next", "prev")
    if knob.kind == "int":
        if knob.settings.log is True:
            return ("double", "halve")
        if knob.settings.log is False:
            return ("up", "down")
        return ("up", "down", "double", "halve")
    return ("up", "down")


def reach(knob: Knob, move: str) -> list[KnobValue]:
    """The distinct values ``move`` can take the knob to, coarsest step first."""
    if knob.kind == "choice":
        levels: list[KnobValue | None] = list(
            _choice_path(knob.settings.choices or [], knob.value, move)
        )
    else:
        levels = [step(knob, knob.value, move, level) for level in range(LEVELS)]
    distinct: list[KnobValue] = []
    for value in levels:
        if value is not None and not any(
            same_value(value, seen) for seen in [knob.value, *distinct]
        ):
            distinct.append(value)
    return distinct


def step(knob: Knob, value: KnobValue, move: str, level: int = 0) -> KnobValue | None:
    """One ``move`` from ``value`` within the knob's bounds, or None when it cannot move.

    ``level`` makes a step finer: the factor's ``2**level``-th root, or an additive step's
    ``2**level``-th part.
    """
    if knob.kind == "bool":
        return not value if move == "flip" else None
    if knob.kind == "choice":
        return next(iter(_choice_path(knob.settings.choices or [], value, move)), None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if knob.kind == "int":
        return _step_int(int(value), move, knob.settings, level)
    return _step_float(float(value), move, knob.settings, level)


def same_value(a: KnobValue, b: KnobValue) -> bool:
    """Equal and of the same type: True is not 1, and 1 is not 1.0 once written to a file."""
    return type(a) is type(b) and a == b


def _choice_path(choices: Sequence[KnobValue], value: KnobValue, move: str) -> list[KnobValue]:
    """The choices after (``next``) or before (``prev``) the value, nearest first."""
    index = next((i for i, choice in enumerate(choices) if same_value(choice, value)), None)
    if move == "next":
        return list(choices[0 if index is None else index + 1 :])
    if move == "prev":
        return list(reversed(choices[: len(choices) if index is None else index]))
    return []


def _step_int(value: int, move: str, settings: KnobConfig, level: int = 0) -> int | None:
    low, high = _int_bounds(value, settings)
    size = max(1, _int_step(value) >> level)
    if move == "up":
        new = value + size
    elif move == "down":
        new = value - size
    elif move in ("double", "halve") and settings.log is True and level:
        factor = FACTOR ** (1 / 2**level)  # a log-scale int has no other fine steps
        new = round(value * factor if move == "double" else value / factor)
    elif move == "double":
        new = value * 2
    elif move == "halve":
        new = value // 2 if value >= 0 else -(-value // 2)
    else:
        return None
    return _within(value, new, low, high)


def _int_step(value: int) -> int:
    """About a tenth of the value, rounded to one digit, at least 1: small next to doubling."""
    tenth = abs(value) / 10
    if tenth < 1:
        return 1
    unit = 10 ** math.floor(math.log10(tenth))
    return max(1, round(tenth / unit)) * unit


def _int_bounds(value: int, settings: KnobConfig) -> tuple[int | None, int | None]:
    """Declared bounds, or the sign rule: counts stay >= 1, negatives <= -1, zero goes up."""
    low = None if settings.min is None else math.ceil(settings.min)
    high = None if settings.max is None else math.floor(settings.max)
    if low is None and value >= 0 and (high is None or high >= 1):
        low = min(value, 1)
    if high is None and value < 0 and (low is None or low <= -1):
        high = -1
    return low, high


def _step_float(value: float, move: str, settings: KnobConfig, level: int) -> float | None:
    if move not in ("up", "down"):
        return None
    up = move == "up"
    fine = 2.0**level  # 1 for the full step, then 2, 4: roots of the factor, fractions of a step
    low = None if settings.min is None else float(settings.min)
    high = None if settings.max is None else float(settings.max)
    if settings.log is False:
        new = _linear_step(value, up, low, high, fine)
    elif low is not None and high is not None and high > low:
        new = _bounded_log_step(value, up, low, high, fine)
    else:
        new = _log_step(value, up, low, fine, start=0.01)
    return None if new is None else _within(value, new, low, high)


def _log_step(value: float, up: bool, low: float | None, fine: float, start: float) -> float | None:
    """Multiply or divide, keeping the sign; a zero steps to ``start`` (or below, if allowed)."""
    if value == 0:
        if up:
            return start / fine
        return -start / fine if low is not None and low < 0 else None
    factor = FACTOR ** (1 / fine)
    grow = up == (value > 0)  # "up" grows a positive value and shrinks a negative one's magnitude
    return _tidy(value * factor if grow else value / factor)


def _bounded_log_step(value: float, up: bool, low: float, high: float, fine: float) -> float | None:
    """Multiply as usual in the lower half of the range; in the upper half scale the distance to
    ``max`` instead, so a value closes in on the bound without ever jumping onto it."""
    if value < low:
        return low if up else None
    if value > high:
        return None if up else high
    factor = FACTOR ** (1 / fine)
    middle = (low + high) / 2
    if value > middle:
        if up:
            distance = (high - value) / factor
            return None if distance == 0 else _tidy(high - distance, scale=distance)
        distance = (high - value) * factor if value < high else (high - low) / 100 / fine
        if high - distance >= middle:
            return _tidy(high - distance, scale=distance)
    return _log_step(value, up, low, fine, start=(high - low) / 100)


def _linear_step(
    value: float, up: bool, low: float | None, high: float | None, fine: float
) -> float | None:
    if low is not None and high is not None and high > low:
        size = (high - low) / 10 / fine
    else:
        size = (abs(value) / 10 if value else 0.1) / fine
    if value == 0 and not up and not (low is not None and low < 0):
        return None
    return _tidy(value + size if up else value - size, scale=size)


def _tidy(value: float, scale: float | None = None) -> float:
    """Round to ``SIGNIFICANT`` digits, keeping at least two of ``scale`` (the step taken)."""
    if value == 0 or not math.isfinite(value):
        return value
    decimals = SIGNIFICANT - 1 - math.floor(math.log10(abs(value)))
    if scale:
        decimals = max(decimals, 1 - math.floor(math.log10(abs(scale))))
    return float(round(value, decimals))


def _within(value: N, new: N, low: N | None, high: N | None) -> N | None:
    """Clamp ``new`` to the bounds; None if clamping undid the move or turned it around."""
    clamped = new
    if low is not None and clamped < low:
        clamped = low
    if high is not None and clamped > high:
        clamped = high
    if (clamped - value) * (new - value) <= 0:
        return None
    return clamped
