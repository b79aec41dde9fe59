"""Format assertions: the output is JSON, holds JSON, and fits a schema.

is-json
    The output is JSON. ``value`` (promptfoo's) is a schema it must fit: a mapping, YAML or
    JSON text, ``true``/``false``, or ``file://schema.json`` (or ``.yaml``) under the
    repository root.
contains-json
    Somewhere in the output is a JSON object (promptfoo looks for objects, so a bare array or
    number does not count); with ``value``, one that fits that schema.
json-schema
    Ours: is-json with the schema under ``schema``.

The output of is-json and json-schema may be wrapped in a fenced block (```json … ```), as
models often return JSON; the fence is taken off and the reason says so. ``fences: false``
refuses it, as promptfoo does. Strict JSON: ``NaN`` and ``Infinity`` are refused. The schema
keywords are those of ``_schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import Field, field_validator

from overnight.evaluators import text
from overnight.evaluators.assertions._base import (
    AssertionSpecError,
    BuiltinAssertion,
    CheckContext,
    CheckError,
    plural,
)
from overnight.evaluators.assertions._schema import SchemaError, check_schema, validate

_FENCE_NOTE = " (inside a ```json fence)"
_SHOWN_PROBLEMS = 3


class NotJson(Exception):
    """The output is not JSON; the message says where parsing stopped."""


def parse_json(output: str, fences: bool = True) -> tuple[Any, str]:
    """``(value, note)``: the parsed output and a note for reasons saying whether a fence was
    taken off. Raises NotJson."""
    body = text.strip_code_fence(output, "json") if fences else output
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


_FILE = "file://"
Schema = dict[str, Any] | bool


def supported(schema: Any, field: str) -> Schema:
    """A schema the validator can use, or AssertionSpecError naming ``field``."""
    try:
        check_schema(schema, field)
    except SchemaError as exc:
        raise AssertionSpecError(exc.path, exc.message) from None
    return schema


def schema_of(value: Schema | str, field: str) -> Schema | str:
    """promptfoo's schema ``value``: a mapping, a boolean, YAML or JSON text (parsed now), or
    a ``file://`` path (kept, read at check time from the repository root)."""
    if not isinstance(value, str):
        return supported(value, field)
    if value.startswith(_FILE):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise AssertionSpecError(field, f"not a schema in YAML or JSON: {exc}") from None
    return supported(parsed, field)


def load_schema(schema: Schema | str, root: Path) -> Schema:
    if not isinstance(schema, str):
        return schema
    path = root / schema.removeprefix(_FILE)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CheckError(f"cannot read the schema {schema}: {exc}") from None
    try:
        return supported(loaded, schema)
    except AssertionSpecError as exc:
        raise CheckError(f"the schema {schema} cannot be used: {exc}") from None


def against(value: Any, schema: Schema, note: str) -> tuple[bool, str]:
    problems = validate(value, schema)
    if not problems:
        return True, f"valid against the schema: {describe(value)}{note}"
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    hidden = len(problems) - _SHOWN_PROBLEMS
    more = f"; and {hidden} more" if hidden > 0 else ""
    return False, f"{plural(len(problems), 'problem')} against the schema{note}: {shown}{more}"


class IsJson(BuiltinAssertion):
    name: ClassVar[str] = "is-json"
    json_schema: dict[str, Any] | bool | str | None = Field(default=None, alias="value")
    fences: bool = True

    @field_validator("json_schema")
    @classmethod
    def _usable(cls, schema: Schema | str | None) -> Schema | str | None:
        return None if schema is None else schema_of(schema, "value")

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        try:
            value, note = parse_json(output, self.fences)
        except NotJson as exc:
            return False, str(exc)
        if self.json_schema is None:
            return True, f"valid JSON: {describe(value)}{note}"
        return against(value, load_schema(self.json_schema, context.root), note)


class JsonSchema(BuiltinAssertion):
    """``schema`` is given inline; see ``_schema`` for the keywords it may use."""

    name: ClassVar[str] = "json-schema"
    json_schema: dict[str, Any] = Field(alias="schema")
    fences: bool = True

    @field_validator("json_schema")
    @classmethod
    def _supported(cls, schema: dict[str, Any]) -> dict[str, Any]:
        supported(schema, "schema")
        return schema

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        try:
            value, note = parse_json(output, self.fences)
        except NotJson as exc:
            return False, str(exc)
        return against(value, self.json_schema, note)


_MOST_FALSE_STARTS = 2000  # braces that open no object: a bound on time for odd outputs


def json_objects(output: str) -> list[dict[str, Any]]:
    """Every JSON object written in ``output``, outermost ones only, in order (looking no
    further after ``_MOST_FALSE_STARTS`` braces that open none)."""
    decoder = json.JSONDecoder(parse_constant=_refuse_constant)
    found, at, false_starts = [], output.find("{"), 0
    while at >= 0 and false_starts < _MOST_FALSE_STARTS:
        try:
            value, end = decoder.raw_decode(output, at)
        except (ValueError, RecursionError):
            false_starts += 1
            at = output.find("{", at + 1)
            continue
        found.append(value)
        at = output.find("{", end)
    return found


class ContainsJson(BuiltinAssertion):
    name: ClassVar[str] = "contains-json"
    json_schema: dict[str, Any] | bool | str | None = Field(default=None, alias="value")

    @field_validator("json_schema")
    @classmethod
    def _usable(cls, schema: Schema | str | None) -> Schema | str | None:
        return None if schema is None else schema_of(schema, "value")

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        found = json_objects(output)
        if not found:
            return False, f"no JSON object in {plural(len(output), 'char')}"
        if self.json_schema is None:
            return True, f"holds {plural(len(found), 'JSON object')}, first {describe(found[0])}"
        schema = load_schema(self.json_schema, context.root)
        reasons = []
        for index, value in enumerate(found, 1):
            passed, reason = against(value, schema, f" (object {index} of {len(found)})")
            if passed:
                return True, reason
            reasons.append(reason)
        return False, reasons[0] if len(found) == 1 else f"none of {len(found)} fits: {reasons[0]}"


FAMILY = (IsJson, ContainsJson, JsonSchema)
