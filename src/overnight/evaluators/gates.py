"""Correctness gates: what a change the policy would keep must also pass to be kept.

A speed metric alone rewards a change that does less work (a smaller workload, a skipped step);
a check (``pytest -q``: the tests still pass) and a constraint on a secondary metric (memory
no worse than the baseline's by more than 5%) say what must not be traded for the metric."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overnight.config import ConstraintConfig


@dataclass(frozen=True)
class Gate:
    """The verdict of the gates on one tree."""

    failure: str | None = None  # why it may not be kept (a check's output tail); None: passed
    seconds: float = 0.0  # spent running checks
    log_path: str | None = None  # the failing check's log

    @property
    def passed(self) -> bool:
        return self.failure is None


def broken_constraints(
    constraints: Mapping[str, ConstraintConfig],
    secondary: Mapping[str, float],
    baseline: Mapping[str, float] | None,
) -> list[str]:
    """One line per constraint ``secondary`` breaks; ``baseline`` is the baseline's secondary
    metrics, None while the baseline itself is measured (relative bounds then hold trivially)."""
    broken = []
    for name, bound in constraints.items():
        value = secondary.get(name)
        if value is None:
            broken.append(f"{name} was not printed, and a constraint needs it")
            continue
        if bound.max is not None and value > bound.max:
            broken.append(f"{name} {value:g} is above its max {bound.max:g}")
        if bound.min is not None and value < bound.min:
            broken.append(f"{name} {value:g} is below its min {bound.min:g}")
        share, then = bound.worse_by_at_most, (baseline or {}).get(name)
        if share is None or then is None:
            continue
        worse = value - then if bound.direction == "minimize" else then - value
        if worse > abs(then) * share:
            how = f"{worse / abs(then):.1%}" if then else f"{worse:g}"
            broken.append(
                f"{name} {value:g} is {how} worse than the baseline's {then:g}"
                f" (at most {share:.0%})"
            )
    return broken
