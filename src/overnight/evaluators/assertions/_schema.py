"""A small JSON Schema validator: the keywords a check of generated JSON needs, and no more.

Supported: ``type``, ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties``, ``items``, ``minItems``, ``maxItems``, ``uniqueItems``,
``minProperties``, ``maxProperties``, ``minimum``, ``maximum``, ``exclusiveMinimum``,
``exclusiveMaximum``, ``multipleOf``, ``minLength``, ``maxLength``, ``pattern``, ``format``,
``allOf``, ``anyOf``, ``oneOf``, ``not``, and the boolean schemas ``true`` and ``false``.
Annotations (``title``, ``description``, ``default``, ``examples``, ``$schema``, ``$id``,
``$comment``) are accepted and ignored. Any other keyword, or a ``format`` not in ``FORMATS``,
is refused when the spec is parsed, so a schema never silently checks less than it says.
``pattern`` is ECMA-262, as JSON Schema says (``_jsregex``). Lengths count code points; JSON
``true`` is not the number 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from overnight.evaluators.assertions._base import shown
from overnight.evaluators.assertions._jsregex import translate
from overnight.evaluators.assertions._schema_formats import FORMATS


def _is_integer(value: Any) -> bool:
    """JSON Schema counts 2.0 as an integer."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": _is_integer,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment"}
)


class SchemaError(Exception):
    """A schema this validator cannot use; ``path`` names the place, e.g. schema.items.type."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


def check_schema(schema: Any, path: str = "schema") -> None:
    """Raise SchemaError at the first keyword this validator does not support or that is
    malformed."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise SchemaError(path, f"expected a mapping, got {_json_type(schema)}")
    for keyword, rule in schema.items():
        if keyword in ANNOTATIONS:
            continue
        meta = _META.get(keyword)
        if meta is None:
            supported = ", ".join(sorted(_META))
            raise SchemaError(f"{path}.{keyword}", f"unsupported keyword (supported: {supported})")
        meta(rule, f"{path}.{keyword}")


def _meta_type(rule: Any, path: str) -> None:
    names = rule if isinstance(rule, list) else [rule]
    if not names or any(name not in TYPES for name in names):
        raise SchemaError(path, f"expected one or a list of {', '.join(TYPES)}, got {rule!r}")


def _meta_list(rule: Any, path: str) -> None:
    if not isinstance(rule, list) or not rule:
        raise SchemaError(path, "expected a non-empty list")


def _meta_properties(rule: Any, path: str) -> None:
    if not isinstance(rule, dict):
        raise SchemaError(path, "expected a mapping of property names to schemas")
    for name, schema in rule.items():
        check_schema(schema, f"{path}.{name}")


def _meta_required(rule: Any, path: str) -> None:
    if not isinstance(rule, list) or not all(isinstance(name, str) for name in rule):
        raise SchemaError(path, "expected a list of property names")


def _meta_additional(rule: Any, path: str) -> None:
    if not isinstance(rule, bool):
        check_schema(rule, path)


def _meta_count(rule: Any, path: str) -> None:
    if not isinstance(rule, int) or isinstance(rule, bool) or rule < 0:
        raise SchemaError(path, f"expected a whole number >= 0, got {rule!r}")


def _meta_number(rule: Any, path: str) -> None:
    if not TYPES["number"](rule):
        raise SchemaError(path, f"expected a number, got {rule!r}")


def _meta_pattern(rule: Any, path: str) -> None:
    if not isinstance(rule, str):
        raise SchemaError(path, f"expected a regular expression, got {rule!r}")
    try:
        _pattern(rule)
    except re.error as exc:
        raise SchemaError(path, f"not a valid regular expression: {exc}") from None


def _pattern(rule: str) -> re.Pattern[str]:
    return re.compile(translate(rule))


def _meta_format(rule: Any, path: str) -> None:
    if rule not in FORMATS:
        known = ", ".join(FORMATS)
        raise SchemaError(path, f"format {rule!r} is not checked here (checked: {known})")


def _meta_schemas(rule: Any, path: str) -> None:
    _meta_list(rule, path)
    for index, schema in enumerate(rule):
        check_schema(schema, f"{path}[{index}]")


def _meta_positive(rule: Any, path: str) -> None:
    if not TYPES["number"](rule) or rule <= 0:
        raise SchemaError(path, f"expected a number above 0, got {rule!r}")


def _meta_bool(rule: Any, path: str) -> None:
    if not isinstance(rule, bool):
        raise SchemaError(path, f"expected true or false, got {rule!r}")


_META: dict[str, Callable[[Any, str], None]] = {
    "type": _meta_type,
    "enum": _meta_list,
    "const": lambda rule, path: None,
    "properties": _meta_properties,
    "required": _meta_required,
    "additionalProperties": _meta_additional,
    "items": check_schema,
    "minItems": _meta_count,
    "maxItems": _meta_count,
    "minLength": _meta_count,
    "maxLength": _meta_count,
    "minimum": _meta_number,
    "maximum": _meta_number,
    "exclusiveMinimum": _meta_number,
    "exclusiveMaximum": _meta_number,
    "pattern": _meta_pattern,
    "format": _meta_format,
    "allOf": _meta_schemas,
    "anyOf": _meta_schemas,
    "oneOf": _meta_schemas,
    "not": check_schema,
    "uniqueItems": _meta_bool,
    "minProperties": _meta_count,
    "maxProperties": _meta_count,
    "multipleOf": _meta_positive,
}


def validate(value: Any, schema: dict[str, Any] | bool, where: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema`` (checked by ``check_schema``), as
    ``"$.items[2].name: <problem>"``; empty when it is valid."""
    if isinstance(schema, bool):
        return [] if schema else [f"{where}: no value is allowed here (schema false)"]
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[name](value) for name in names):
            return [f"{where}: expected {' or '.join(names)}, got {_json_type(value)}"]
    problems = [f"{where}: {p}" for p in _value_problems(value, schema)]
    if isinstance(value, dict):
        problems += _object_problems(value, schema, where)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += validate(item, schema["items"], f"{where}[{index}]")
    return problems + _combined_problems(value, schema, where)


def _combined_problems(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    problems = []
    for part in schema.get("allOf", []):
        problems += validate(value, part, where)
    if "anyOf" in schema and all(validate(value, part, where) for part in schema["anyOf"]):
        problems.append(f"{where}: matches none of the {len(schema['anyOf'])} anyOf schemas")
    if "oneOf" in schema:
        fits = sum(not validate(value, part, where) for part in schema["oneOf"])
        if fits != 1:
            problems.append(f"{where}: matches {fits} of the oneOf schemas, not exactly 1")
    if "not" in schema and not validate(value, schema["not"], where):
        problems.append(f"{where}: matches the schema under not")
    return problems


def _value_problems(value: Any, schema: dict[str, Any]) -> list[str]:
    problems = []
    if "enum" in schema and not any(same(value, option) for option in schema["enum"]):
        options = ", ".join(shown(option) for option in schema["enum"])
        problems.append(f"{shown(value)} is not one of {options}")
    if "const" in schema and not same(value, schema["const"]):
        problems.append(f"{shown(value)} is not {shown(schema['const'])}")
    if TYPES["number"](value):
        problems += _bound_problems(value, schema)
    if isinstance(value, str):
        problems += _size_problems(len(value), "chars", "Length", schema)
        pattern = schema.get("pattern")
        if pattern is not None and not _pattern(pattern).search(value):
            problems.append(f"{shown(value)} does not match pattern /{pattern}/")
        fmt = schema.get("format")
        if fmt is not None and not FORMATS[fmt](value):
            problems.append(f"{shown(value)} is not a valid {fmt}")
    if isinstance(value, list):
        problems += _size_problems(len(value), "items", "Items", schema)
        if schema.get("uniqueItems") and _has_duplicates(value):
            problems.append("items are not unique (uniqueItems)")
    if isinstance(value, dict):
        problems += _size_problems(len(value), "properties", "Properties", schema)
    if TYPES["number"](value) and "multipleOf" in schema:
        quotient = value / schema["multipleOf"]
        if not (math.isfinite(quotient) and abs(quotient - round(quotient)) < 1e-9):
            problems.append(f"{value} is not a multiple of {schema['multipleOf']}")
    return problems


def _has_duplicates(items: list[Any]) -> bool:
    return any(same(a, b) for i, a in enumerate(items) for b in items[i + 1 :])


def _bound_problems(value: float, schema: dict[str, Any]) -> list[str]:
    checks = (
        ("minimum", lambda limit: value >= limit, "below"),
        ("maximum", lambda limit: value <= limit, "above"),
        ("exclusiveMinimum", lambda limit: value > limit, "not above"),
        ("exclusiveMaximum", lambda limit: value < limit, "not below"),
    )
    return [
        f"{value} is {words} {keyword} {schema[keyword]}"
        for keyword, holds, words in checks
        if keyword in schema and not holds(schema[keyword])
    ]


def _size_problems(size: int, unit: str, suffix: str, schema: dict[str, Any]) -> list[str]:
    problems = []
    if f"min{suffix}" in schema and size < schema[f"min{suffix}"]:
        problems.append(f"{size} {unit}, below min{suffix} {schema[f'min{suffix}']}")
    if f"max{suffix}" in schema and size > schema[f"max{suffix}"]:
        problems.append(f"{size} {unit}, above max{suffix} {schema[f'max{suffix}']}")
    return problems


def _object_problems(value: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    properties = schema.get("properties", {})
    problems = [
        f"{where}: missing required property {name!r}"
        for name in schema.get("required", [])
        if name not in value
    ]
    for name, item in value.items():
        path = f"{where}.{name}" if name.isidentifier() else f"{where}[{name!r}]"
        rule = properties.get(name, schema.get("additionalProperties", True))
        if rule is False:
            why = "" if name in properties else " (additionalProperties is false)"
            problems.append(f"{path}: property not allowed{why}")
        elif isinstance(rule, dict | bool):
            problems += validate(item, rule, path)
    return problems


def same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    comparable = type(a) is type(b) or (TYPES["number"](a) and TYPES["number"](b))
    return comparable and a == b


def _json_type(value: Any) -> str:
    return next((name for name, test in TYPES.items() if name != "integer" and test(value)), "?")
