"""promptfoo's per-assertion keys, which any assertion may carry: ``weight``, ``metric`` and
``transform``.

weight
    What a pass adds to the suite's score (default 1; 0 keeps the check in the matrix without
    scoring it). The suite's score is the sum of the weights of the checks that pass.
metric
    A name the check also counts towards; the suite reports each name's weighted share of
    passes as a secondary metric ``metric:<name>``.
transform
    The output is rewritten before the check sees it: a Python expression over ``output``
    (the text) and ``context`` (``{"vars": ...}``), with ``json`` and ``re`` at hand, such as
    ``output.strip().lower()`` or ``json.loads(output)["answer"]``; or ``file://path.py``
    (its ``get_transform(output, context)``) or ``file://path.py:function``, under the
    repository root. A result that is not a string is passed on as JSON. JavaScript
    transforms, which promptfoo also runs, are not supported. A transform that raises makes
    the check an error, which negation leaves failing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from overnight.evaluators.assertions._base import (
    Assertion,
    AssertionSpecError,
    CheckContext,
    Verdict,
    shown,
)
from overnight.evaluators.assertions._custom import load_module

KEYS = ("weight", "metric", "transform")
_FILE = "file://"


@dataclass(frozen=True)
class Keys:
    weight: float = 1.0
    metric: str | None = None
    transform: str | None = None


def take_keys(parameters: dict[str, Any]) -> Keys:
    """Remove promptfoo's keys from an assertion's ``parameters`` and check them."""
    weight = parameters.pop("weight", 1.0)
    metric = parameters.pop("metric", None)
    transform = parameters.pop("transform", None)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise AssertionSpecError("weight", f"expected a number, got {shown(weight)}")
    if not math.isfinite(weight) or weight < 0:
        raise AssertionSpecError("weight", f"must be a finite number >= 0, got {shown(weight)}")
    if metric is not None and (not isinstance(metric, str) or not metric.strip()):
        raise AssertionSpecError("metric", f"expected a name, got {shown(metric)}")
    if transform is not None:
        if not isinstance(transform, str) or not transform.strip():
            raise AssertionSpecError("transform", f"expected an expression, got {shown(transform)}")
        if not transform.startswith(_FILE):
            try:
                compile(transform, "<transform>", "eval")
            except SyntaxError as exc:
                raise AssertionSpecError(
                    "transform", f"not a Python expression: {exc.msg} (JavaScript is not run)"
                ) from None
    return Keys(float(weight), metric, transform)


def with_keys(assertion: Assertion, keys: Keys) -> Assertion:
    return assertion if keys == Keys() else Keyed(assertion, keys)


@dataclass(frozen=True)
class Keyed(Assertion):
    """An assertion with promptfoo's keys: the transform runs before it, the weight and the
    metric are read by the suite."""

    inner: Assertion
    keys: Keys

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.inner.name

    @property
    def deterministic(self) -> bool:  # type: ignore[override]
        return self.inner.deterministic

    @property
    def weight(self) -> float:  # type: ignore[override]
        return self.keys.weight

    @property
    def metric(self) -> str | None:  # type: ignore[override]
        return self.keys.metric

    @property
    def label(self) -> str:
        label = self.inner.label
        if self.keys.transform is not None:
            label += " (transformed)"
        return label if self.keys.weight == 1 else f"{label} ×{self.keys.weight:g}"

    def check(self, output: str, context: CheckContext) -> Verdict:
        if self.keys.transform is None:
            return self.inner.check(output, context)
        try:
            transformed = transform(self.keys.transform, output, context)
        except Exception as exc:
            problem = f"the transform failed: {type(exc).__name__}: {exc}"
            return Verdict(False, problem, self.inner.deterministic, error=True)
        return self.inner.check(transformed, context)


def transform(source: str, output: str, context: CheckContext) -> str:
    """``output`` rewritten by ``source`` (an expression or a ``file://`` function)."""
    scope = {"vars": dict(context.vars)}
    if source.startswith(_FILE):
        location, _, function_name = source.removeprefix(_FILE).partition(":")
        function = getattr(load_module(location, context.root), function_name or "get_transform")
        result = function(output, scope)
    else:
        names = {"output": output, "context": scope, "json": json, "re": re}
        result = eval(source, names)
    return result if isinstance(result, str) else json.dumps(result, default=str)
