"""Format assertions: is-json and json-schema, fenced or bare, with the parse error's position."""

from pathlib import Path

import pytest

from overnight.evaluators.assertions import CheckContext, parse_assertion


def check(spec, output):
    return parse_assertion(spec).check(output, CheckContext(vars={}, root=Path.cwd()))


# --- is-json -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ('{"a": 1, "b": [1, 2], "c": "x"}', "valid JSON: an object with 3 keys"),
        ("[1, 2, 3, 4]", "valid JSON: an array of 4 items"),
        ('"héllo"', "valid JSON: a string of 5 chars"),
        ("3.5", "valid JSON: 3.5"),
        ("null", "valid JSON: null"),
        ('```json\n{"a": 1}\n```', "valid JSON: an object with 1 key (inside a ```json fence)"),
        ('\n```\n["x"]\n```\n', "valid JSON: an array of 1 item (inside a ```json fence)"),
    ],
)
def test_is_json_passes_and_describes_the_value(output, reason):
    verdict = check("is-json", output)

    assert verdict.passed
    assert verdict.reason == reason


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "not JSON: the output is empty"),
        ("```json\n```", "not JSON: the output is empty (inside a ```json fence)"),
        (
            '{\n  "a": 1\n  "b": 2\n}',
            "not JSON: Expecting ',' delimiter at line 3, column 3 (char 14)",
        ),
        ("Here you go: {}", "not JSON: Expecting value at line 1, column 1 (char 1)"),
        ('{"a": NaN}', "not JSON: NaN is not allowed in JSON"),
        ("[" * 100_000, "not JSON this parser can read: nested too deeply"),
    ],
)
def test_is_json_fails_with_the_position(output, reason):
    verdict = check("is-json", output)

    assert not verdict.passed
    assert not verdict.error
    assert verdict.reason == reason


def test_not_is_json_passes_on_prose():
    assert check("not-is-json", "Just words.").passed


# --- json-schema -------------------------------------------------------------------------------

PERSON = {
    "type": "object",
    "title": "A person",
    "required": ["name", "age"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 10, "pattern": "^[A-Z]"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "role": {"enum": ["admin", "user"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "score": {"type": ["number", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "active": {"const": True},
    },
}


def schema_check(output, schema=None):
    return check({"type": "json-schema", "schema": schema or PERSON}, output)


def test_a_valid_document_passes():
    output = (
        '```json\n{"name": "Ada", "age": 36.0, "role": "admin", "tags": ["x"], "score": null, '
        '"active": true}\n```'
    )
    verdict = schema_check(output)

    assert verdict.passed
    assert verdict.reason == (
        "valid against the schema: an object with 6 keys (inside a ```json fence)"
    )


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ('{"age": 3}', "$: missing required property 'name'"),
        ('{"name": "Ada", "age": -3}', "$.age: -3 is below minimum 0"),
        ('{"name": "Ada", "age": 3.5}', "$.age: expected integer, got number"),
        ('{"name": "Ada", "age": true}', "$.age: expected integer, got boolean"),
        ('{"name": "ada", "age": 3}', "$.name: 'ada' does not match pattern /^[A-Z]/"),
        ('{"name": "", "age": 3}', "$.name: 0 chars, below minLength 1"),
        ('{"name": "Abcdefghijkl", "age": 3}', "$.name: 12 chars, above maxLength 10"),
        ('{"name": "Ada", "age": 3, "role": "root"}', "$.role: 'root' is not one of 'admin'"),
        ('{"name": "Ada", "age": 3, "tags": []}', "$.tags: 0 items, below minItems 1"),
        ('{"name": "Ada", "age": 3, "tags": [1]}', "$.tags[0]: expected string, got number"),
        ('{"name": "Ada", "age": 3, "score": 1}', "$.score: 1 is not below exclusiveMaximum 1"),
        ('{"name": "Ada", "age": 3, "active": 1}', "$.active: 1 is not True"),
        ('{"name": "Ada", "age": 3, "x y": 1}', "$['x y']: property not allowed"),
        ("[1]", "$: expected object, got array"),
    ],
)
def test_each_problem_is_named_with_its_path(output, problem):
    verdict = schema_check(output)

    assert not verdict.passed
    assert " against the schema: " in verdict.reason
    assert problem in verdict.reason


def test_many_problems_show_the_first_three_and_a_count():
    verdict = schema_check('{"name": 1, "age": "x", "role": 2, "extra": 1, "more": 2}')

    assert verdict.reason.startswith("5 problems against the schema: $.name: expected string")
    assert verdict.reason.endswith("; and 2 more")


def test_nested_objects_and_additional_property_schemas():
    schema = {
        "type": "object",
        "properties": {"post": {"type": "object", "required": ["text"]}},
        "additionalProperties": {"type": "number"},
    }

    assert schema_check('{"post": {"text": "x"}, "likes": 3}', schema).passed
    verdict = schema_check('{"post": {}, "likes": "many"}', schema)
    assert "$.post: missing required property 'text'" in verdict.reason
    assert "$.likes: expected number, got string" in verdict.reason


def test_output_that_is_not_json_fails_the_schema_with_the_parse_error():
    verdict = schema_check("not json")

    assert not verdict.passed
    assert not verdict.error
    assert verdict.reason == "not JSON: Expecting value at line 1, column 1 (char 1)"


def test_annotations_are_accepted():
    schema = {"$schema": "x", "description": "d", "type": "string", "format": "email"}

    assert schema_check('"a@b.c"', schema).passed
