"""From a YAML item to an Assertion: the registry, negation, and spec errors in plain words."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from overnight.evaluators.assertions import (
    _code,
    _custom,
    _formats,
    _graded,
    _markup,
    _measured,
    _overlap,
    _replies,
    _sets,
    _similar,
    _size,
    _structure,
    _text,
)
from overnight.evaluators.assertions._base import (
    Assertion,
    AssertionSpecError,
    CheckContext,
    Verdict,
    shown,
)
from overnight.evaluators.assertions._keys import take_keys, with_keys

ASSERTIONS: dict[str, type[Assertion]] = {
    cls.name: cls
    for family in (
        _text.FAMILY,
        _size.FAMILY,
        _markup.FAMILY,
        _overlap.FAMILY,
        _measured.FAMILY,
        _replies.FAMILY,
        _sets.FAMILY,
        _structure.FAMILY,
        _formats.FAMILY,
        _code.FAMILY,
        _custom.FAMILY,
        _graded.FAMILY,
        _similar.FAMILY,
    )
    for cls in family
}
NEGATION = "not-"


@dataclass(frozen=True)
class Negated(Assertion):
    """``not-<type>``: passes exactly when the inner assertion fails and fails when it passes,
    keeping its reason. A check that could not be made (``error``) stays a failure: a broken
    check must not count as a pass."""

    inner: Assertion

    @property
    def name(self) -> str:  # type: ignore[override]
        return NEGATION + self.inner.name

    @property
    def deterministic(self) -> bool:  # type: ignore[override]
        return self.inner.deterministic

    @property
    def label(self) -> str:
        return NEGATION + self.inner.label

    def check(self, output: str, context: CheckContext) -> Verdict:
        verdict = self.inner.check(output, context)
        if verdict.error:
            return verdict
        if verdict.passed:
            return Verdict(False, f"{verdict.reason} — must not", verdict.deterministic)
        return Verdict(True, verdict.reason, verdict.deterministic)


def parse_assertion(spec: Mapping[str, Any] | str) -> Assertion:
    """One item of an ``assert`` list (``{type: word-count, max: 300}``, or a bare type name
    like ``is-json``) as an Assertion; raises AssertionSpecError naming the field at fault."""
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping):
        raise AssertionSpecError(
            None, f"expected a mapping like {{type: contains, value: ...}}, got {shown(spec)}"
        )
    parameters = dict(spec)
    kind = parameters.pop("type", None)
    if kind is None:
        raise AssertionSpecError("type", "missing: every assertion needs a type, e.g. word-count")
    if not isinstance(kind, str):
        raise AssertionSpecError("type", f"expected a type name, got {shown(kind)}")
    negated = kind.startswith(NEGATION)
    cls = ASSERTIONS.get(kind.removeprefix(NEGATION))
    if cls is None:
        raise AssertionSpecError("type", _unknown_type(kind))
    keys = take_keys(parameters)
    assertion = _build(cls, parameters)
    return with_keys(Negated(assertion) if negated else assertion, keys)


def _build(cls: type[Assertion], parameters: dict[str, Any]) -> Assertion:
    if not issubclass(cls, BaseModel):
        try:
            return cls(**parameters)
        except TypeError as exc:
            raise AssertionSpecError(None, f"{cls.name}: {exc}") from None
    try:
        return cls.model_validate(parameters)
    except ValidationError as exc:
        # Misspelt keys first: fixing one often explains the rest.
        first = min(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        raise AssertionSpecError(_field(first["loc"]), _message(cls, first)) from None


def _unknown_type(kind: str) -> str:
    names = [*ASSERTIONS, *(NEGATION + name for name in ASSERTIONS)]
    close = difflib.get_close_matches(kind, names, n=3, cutoff=0.6)
    if close:
        return f"unknown assertion type {kind!r}; did you mean {' or '.join(map(repr, close))}?"
    common = ", ".join(
        name for name in ("contains", "regex", "python", "llm-judge") if name in ASSERTIONS
    )
    return (
        f"unknown assertion type {kind!r}; there are {len(ASSERTIONS)} (e.g. {common}; each also"
        " as not-<type>): the README's Assertions section lists them"
    )


def _field(location: tuple[int | str, ...]) -> str | None:
    """``("values", 2)`` as ``values[2]``."""
    field = ""
    for part in location:
        if isinstance(part, str) and "[" in part:
            continue  # the member of a union pydantic tried, e.g. function-before[...]
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
    return field or None


_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
}


def _message(cls: type[BaseModel], error: Any) -> str:
    kind, context, given = error["type"], error.get("ctx", {}), error.get("input")
    name = getattr(cls, "name", cls.__name__)
    if kind == "extra_forbidden":
        return _unknown_parameter(cls, str(error["loc"][-1]))
    if kind == "missing":
        return f"missing: {name} needs it"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {shown(given)}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = f"at least {context['ge']}" if "ge" in context else f"above {context['gt']}"
        return f"must be {bound}, got {shown(given)}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    return str(error["msg"]).removeprefix("Value error, ")


def _unknown_parameter(cls: type[BaseModel], key: str) -> str:
    accepted = [field.alias or field_name for field_name, field in cls.model_fields.items()]
    name = getattr(cls, "name", cls.__name__)
    close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    takes = f"it takes {', '.join(accepted)}" if accepted else "it takes no parameters"
    return f"unknown parameter for {name}{hint} ({takes})"
