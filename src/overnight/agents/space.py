"""The knobs as an Optuna search space: one distribution per unfrozen knob.

A model needs bounded ranges where the local moves need none, so each number gets one:

- declared ``min`` and ``max`` are the range; log scale where ``log`` is true, or (left unset)
  for a float whose range is above zero;
- a bound left undeclared comes from the knob's value at the run's start: a positive number
  ranges over ``SPAN`` times smaller to ``SPAN`` times larger on a log scale (an int at least
  1), a negative one the same on its magnitude, a zero from -1 to 1 (from 0 when ``min`` is 0);
- bools and declared choices are categorical.

The ranges come from the run's first configuration, so they stay the same on resume and while
keeps move the values (a model compares trials of one space only). A configuration with a value
outside them (set by another agent, or by the user before resuming) is not told to the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from overnight.agents.knobs import Knob, KnobValue, same_value

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

SPAN = 16.0  # how far an undeclared bound lies from the starting value, as a factor
AXIS = 64  # values offered along a knob's range once its steps are all measured

Space = dict[str, "BaseDistribution"]


def search_space(knobs: Sequence[Knob], start: Mapping[str, KnobValue]) -> Space:
    """The distribution of each unfrozen knob, keyed like a configuration (``file:NAME``)."""
    from optuna.distributions import CategoricalDistribution

    space: Space = {}
    for knob in knobs:
        if knob.frozen:
            continue
        origin = start.get(knob.key, knob.value)
        if knob.kind == "choice":
            space[knob.key] = CategoricalDistribution(list(knob.settings.choices or []))
        elif knob.kind == "bool":
            space[knob.key] = CategoricalDistribution([False, True])
        elif isinstance(origin, int | float) and not isinstance(origin, bool):
            space[knob.key] = _numeric(knob, float(origin))
    return space


def params(configuration: Mapping[str, Any], space: Space) -> dict[str, Any] | None:
    """The configuration's values of the space's knobs, or None when one lies outside it."""
    found = {}
    for key, distribution in space.items():
        if key not in configuration:
            return None
        value = configuration[key]
        if not _within(value, distribution):
            return None
        found[key] = value
    return found


def _within(value: Any, distribution: BaseDistribution) -> bool:
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return any(same_value(value, choice) for choice in distribution.choices)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return distribution.low <= value <= distribution.high  # type: ignore[attr-defined]


def axis(knob: Knob, distribution: BaseDistribution) -> list[KnobValue]:
    """Values spread over the knob's range, as its file would hold them: every choice, every
    int of a short range, else ``AXIS`` points evenly spaced on the range's scale."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    low, high = distribution.low, distribution.high  # type: ignore[attr-defined]
    if knob.kind == "int" and high - low < AXIS:
        return list(range(int(low), int(high) + 1))
    if distribution.log:  # type: ignore[attr-defined]
        points = [low * (high / low) ** (i / (AXIS - 1)) for i in range(AXIS)]
    else:
        points = [low + (high - low) * i / (AXIS - 1) for i in range(AXIS)]
    values: list[KnobValue] = []
    for point in points:
        value = written(point, knob)
        if not any(same_value(value, other) for other in values) and _within(value, distribution):
            values.append(value)
    return values


def written(value: Any, knob: Knob) -> KnobValue:
    """A model's value as the knob's file will hold it: an int stays an int, a float is kept to
    four significant digits, like the local moves' values."""
    if knob.kind in ("bool", "choice") or isinstance(value, bool):
        return value
    if knob.kind == "int":
        return round(value)
    if value == 0:
        return 0.0
    digits = 3 - math.floor(math.log10(abs(value)))
    return round(float(value), digits)


def _numeric(knob: Knob, origin: float) -> BaseDistribution:
    from optuna.distributions import FloatDistribution, IntDistribution

    settings, integer = knob.settings, knob.kind == "int"
    low, high = _default_bounds(origin, integer, settings.min)
    low = low if settings.min is None else settings.min
    high = high if settings.max is None else settings.max
    if integer:
        low, high = math.ceil(low), math.floor(high)
    high = max(high, low)
    log = settings.log if settings.log is not None else (low > 0 and (not integer or low >= 1))
    log = bool(log) and low > 0
    if integer:
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(float(low), float(high), log=log)


def _default_bounds(
    origin: float, integer: bool, declared_min: float | None
) -> tuple[float, float]:
    if origin > 0:
        low = origin / SPAN
        return (max(1.0, math.floor(low)) if integer else low), origin * SPAN
    if origin < 0:
        return origin * SPAN, (min(-1.0, math.ceil(origin / SPAN)) if integer else origin / SPAN)
    return (0.0 if declared_min == 0 else -1.0), (10.0 if integer else 1.0)
