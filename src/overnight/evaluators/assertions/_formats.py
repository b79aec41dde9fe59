"""Format assertions: the output is JSON, and fits a schema.

The output may be wrapped in a fenced block (```json … ```), as models often return JSON; the
fence is taken off and the reason says so. Strict JSON: ``NaN`` and ``Infinity`` are refused.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field, field_validator

from overnight.evaluators import text
from overnight.evaluators.assertions._base import (
    AssertionSpecError,
    BuiltinAssertion,
    CheckContext,
    plural,
)
from overnight.evaluators.assertions._schema import SchemaError, check_schema, validate

_FENCE_NOTE = " (inside a ```json fence)"
_SHOWN_PROBLEMS = 3


class NotJson(Exception):
    """The output is not JSON; the message says where parsing stopped."""


def parse_json(output: str) -> tuple[Any, str]:
    """``(value, note)``: the parsed output and a note for reasons saying whether a fence was
    taken off. Raises NotJson."""
    body = text.strip_code_fence(output, "json")
    note = _FENCE_NOTE if body != output else ""
    if not body.strip():
        raise NotJson(f"not JSON: the output is empty{note}")
    try:
        return json.loads(body, parse_constant=_refuse_constant), note
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno} (char {exc.pos + 1})"
        raise NotJson(f"not JSON: {exc.msg} at {where}{note}") from None
    except ValueError as exc:
        raise NotJson(f"not JSON: {exc}{note}") from None
    except RecursionError:
        raise NotJson(f"not JSON this parser can read: nested too deeply{note}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def describe(value: Any) -> str:
    """A short description with a size, for reasons: "an object with 3 keys"."""
    if isinstance(value, dict):
        return f"an object with {plural(len(value), 'key')}"
    if isinstance(value, list):
        return f"an array of {plural(len(value), 'item')}"
    if isinstance(value, str):
        return f"a string of {plural(len(value), 'char')}"
    return "null" if value is None else json.dumps(value)


class IsJson(BuiltinAssertion):
    name: ClassVar[str] = "is-json"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        try:
            value, note = parse_json(output)
        except NotJson as exc:
            return False, str(exc)
        return True, f"valid JSON: {describe(value)}{note}"


class JsonSchema(BuiltinAssertion):
    """``schema`` is given inline; see ``_schema`` for the keywords it may use."""

    name: ClassVar[str] = "json-schema"
    json_schema: dict[str, Any] = Field(alias="schema")

    @field_validator("json_schema")
    @classmethod
    def _supported(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            check_schema(schema)
        except SchemaError as exc:
            raise AssertionSpecError(exc.path, exc.message) from None
        return schema

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        try:
            value, note = parse_json(output)
        except NotJson as exc:
            return False, str(exc)
        problems = validate(value, self.json_schema)
        if not problems:
            return True, f"valid against the schema: {describe(value)}{note}"
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        hidden = len(problems) - _SHOWN_PROBLEMS
        more = f"; and {hidden} more" if hidden > 0 else ""
        return False, f"{plural(len(problems), 'problem')} against the schema{note}: {shown}{more}"


FAMILY = (IsJson, JsonSchema)
