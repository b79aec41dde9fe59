"""Deterministic assertions written as promptfoo documents them, with the verdict promptfoo's
documentation leads one to expect. Each case is also run negated (``not-<type>``), which must
give the opposite verdict. The cases were written from promptfoo's documented behaviour, not
from its code."""

from pathlib import Path

import pytest

from overnight.evaluators.assertions import CheckContext, Generation, parse_assertion

CONTEXT = CheckContext(
    vars={"city": "Paris", "topic": "weather"},
    root=Path.cwd(),
    generation=Generation(seconds=0.25, cost_usd=0.002, finish_reason="stop"),
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
CALL = '[{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]'  # noqa: E501

# (assertion as promptfoo writes it, output, promptfoo's verdict)
CASES = [
    # equals: exact; an object value compares parsed JSON, key order aside
    ({"type": "equals", "value": "Hello world"}, "Hello world", True),
    ({"type": "equals", "value": "Hello world"}, "hello world", False),
    ({"type": "equals", "value": "Hello world"}, "Hello world ", False),
    ({"type": "equals", "value": "Hello world"}, "Hello world\n", False),
    ({"type": "equals", "value": "{{city}}"}, "Paris", True),
    ({"type": "equals", "value": 42}, "42", True),
    ({"type": "equals", "value": {"a": 1, "b": [1, 2]}}, '{"b": [1, 2], "a": 1}', True),
    ({"type": "equals", "value": {"a": 1}}, '{"a": 2}', False),
    ({"type": "equals", "value": {"a": 1}}, "not json", False),
    ({"type": "equals", "value": [1, 2]}, "[1, 2]", True),
    ({"type": "equals", "value": [1, 2]}, "[2, 1]", False),
    # contains / icontains
    ({"type": "contains", "value": "Paris"}, "The capital is Paris.", True),
    ({"type": "contains", "value": "paris"}, "The capital is Paris.", False),
    ({"type": "contains", "value": "{{city}}"}, "I love Paris", True),
    ({"type": "icontains", "value": "paris"}, "The capital is PARIS.", True),
    ({"type": "icontains", "value": "london"}, "The capital is Paris.", False),
    # contains-any / contains-all and their i- forms: value as a list or a string
    ({"type": "contains-any", "value": ["cat", "dog"]}, "I have a dog", True),
    ({"type": "contains-any", "value": ["cat", "dog"]}, "I have a fish", False),
    ({"type": "contains-any", "value": "cat, dog"}, "I have a cat", True),
    ({"type": "contains-any", "value": '"Hello, world", hi'}, "Hello, world!", True),
    ({"type": "contains-any", "value": '"Hello, world", hi'}, "Hello there", False),
    ({"type": "contains-any", "value": ["Cat"]}, "a cat", False),
    ({"type": "icontains-any", "value": ["CAT", "dog"]}, "a cat", True),
    ({"type": "icontains-any", "value": "red, blue"}, "BLUE sky", True),
    ({"type": "icontains-any", "value": "red, blue"}, "green", False),
    ({"type": "contains-all", "value": ["cat", "dog"]}, "a cat and a dog", True),
    ({"type": "contains-all", "value": ["cat", "dog"]}, "a cat alone", False),
    ({"type": "contains-all", "value": "cat, dog"}, "dog, cat", True),
    ({"type": "contains-all", "value": '"a, b", c'}, "a, b and c", True),
    ({"type": "contains-all", "value": '"a, b", c'}, "a b c", False),
    ({"type": "icontains-all", "value": ["CAT", "DOG"]}, "cat & dog", True),
    ({"type": "icontains-all", "value": "cat, bird"}, "Cat & dog", False),
    # regex: JavaScript's rules
    ({"type": "regex", "value": "\\d{4}"}, "in 2024", True),
    ({"type": "regex", "value": "\\d{4}"}, "in the year", False),
    ({"type": "regex", "value": "^Hello"}, "Hello there", True),
    ({"type": "regex", "value": "^Hello"}, "Oh, Hello", False),
    ({"type": "regex", "value": "done$"}, "all done", True),
    ({"type": "regex", "value": "done$"}, "all done\n", False),
    ({"type": "regex", "value": "^\\d+$"}, "١٢٣", False),
    ({"type": "regex", "value": "^\\w+$"}, "café", False),
    ({"type": "regex", "value": "(?<year>\\d{4})-\\k<year>"}, "2024-2024", True),
    ({"type": "regex", "value": "[A-Z]{3}-\\d+"}, "ticket ABC-123", True),
    ({"type": "regex", "value": "a.b"}, "a\nb", False),
    # starts-with: exact
    ({"type": "starts-with", "value": "Yes"}, "Yes, indeed", True),
    ({"type": "starts-with", "value": "Yes"}, "yes, indeed", False),
    ({"type": "starts-with", "value": "Yes"}, " Yes, indeed", False),
    ({"type": "starts-with", "value": "{{city}} is"}, "Paris is lovely", True),
    # word-count: value N (exact) or {min, max}; words split at whitespace
    ({"type": "word-count", "value": 3}, "one two three", True),
    ({"type": "word-count", "value": 3}, "one two", False),
    ({"type": "word-count", "value": 3}, "one - two", True),
    ({"type": "word-count", "value": 2}, "**bold** text", True),
    ({"type": "word-count", "value": {"min": 2, "max": 4}}, "one two three", True),
    ({"type": "word-count", "value": {"min": 2, "max": 4}}, "one two three four five", False),
    ({"type": "word-count", "value": {"min": 2}}, "one", False),
    ({"type": "word-count", "value": {"max": 2}}, "one two", True),
    # is-json, with or without a schema (object, YAML text, boolean)
    ({"type": "is-json"}, '{"a": 1}', True),
    ({"type": "is-json"}, "[1, 2, 3]", True),
    ({"type": "is-json"}, "{'a': 1}", False),
    ({"type": "is-json"}, "NaN", False),
    ({"type": "is-json"}, "Here is JSON: {}", False),
    ({"type": "is-json"}, '```json\n{"a": 1}\n```', False),
    (
        {"type": "is-json", "value": {"type": "object", "required": ["name"]}},
        '{"name": "x"}',
        True,
    ),
    ({"type": "is-json", "value": {"type": "object", "required": ["name"]}}, '{"n": 1}', False),
    ({"type": "is-json", "value": "type: object\nrequired: [latitude]"}, '{"latitude": 1}', True),
    ({"type": "is-json", "value": "type: object\nrequired: [latitude]"}, "{}", False),
    ({"type": "is-json", "value": '{"type": "array"}'}, "[1]", True),
    ({"type": "is-json", "value": True}, '"any"', True),
    ({"type": "is-json", "value": False}, "{}", False),
    (
        {"type": "is-json", "value": {"properties": {"d": {"type": "string", "format": "date"}}}},
        '{"d": "2024-02-30"}',
        False,
    ),
    (
        {"type": "is-json", "value": {"properties": {"d": {"type": "string", "format": "date"}}}},
        '{"d": "2024-02-29"}',
        True,
    ),
    (
        {"type": "is-json", "value": {"properties": {"e": {"format": "email"}}}},
        '{"e": "not an email"}',
        False,
    ),
    (
        {"type": "is-json", "value": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
        "3",
        True,
    ),
    # contains-json
    ({"type": "contains-json"}, 'Sure! {"answer": 42} Hope it helps.', True),
    ({"type": "contains-json"}, "no json here", False),
    ({"type": "contains-json"}, "{broken: json}", False),
    ({"type": "contains-json", "value": {"required": ["answer"]}}, 'x {"answer": 1} y', True),
    ({"type": "contains-json", "value": {"required": ["answer"]}}, 'x {"other": 1} y', False),
    # is-xml / contains-xml
    ({"type": "is-xml"}, "<note><to>Tove</to></note>", True),
    ({"type": "is-xml"}, "<note><to>Tove</note>", False),
    ({"type": "is-xml"}, "just text", False),
    ({"type": "is-xml", "value": "note.to"}, "<note><to>Tove</to></note>", True),
    ({"type": "is-xml", "value": "note.from"}, "<note><to>Tove</to></note>", False),
    ({"type": "is-xml", "value": {"requiredElements": ["note.to"]}}, "<note><to/></note>", True),
    ({"type": "contains-xml"}, "Result: <a><b>1</b></a> done", True),
    ({"type": "contains-xml"}, "a < b and c > d", False),
    # is-html / contains-html
    ({"type": "is-html"}, "<div><p>Hello</p></div>", True),
    ({"type": "is-html"}, "<!DOCTYPE html><html><body>Hi</body></html>", True),
    ({"type": "is-html"}, "Hello world", False),
    ({"type": "is-html"}, '<?xml version="1.0"?><note/>', False),
    ({"type": "contains-html"}, "Use <b>bold</b> here", True),
    ({"type": "contains-html"}, "if a < b then c > d", False),
    # is-sql / contains-sql
    ({"type": "is-sql"}, "SELECT id, name FROM users WHERE id = 1", True),
    ({"type": "is-sql"}, "SELEC * FROM users", False),
    ({"type": "is-sql"}, "The query selects users.", False),
    (
        {"type": "is-sql", "value": {"databaseType": "PostgreSQL"}},
        "SELECT * FROM t LIMIT 5",
        True,
    ),
    (
        {"type": "is-sql", "value": {"allowedTables": ["select::null::users"]}},
        "SELECT * FROM users",
        True,
    ),
    (
        {"type": "is-sql", "value": {"allowedTables": ["select::null::users"]}},
        "SELECT * FROM secrets",
        False,
    ),
    ({"type": "contains-sql"}, "Here:\n```sql\nSELECT 1;\n```", True),
    ({"type": "contains-sql"}, "No query today.", False),
    # levenshtein: distance at most threshold (default 5)
    ({"type": "levenshtein", "value": "hello world"}, "hello world", True),
    ({"type": "levenshtein", "value": "hello world"}, "hallo wurld", True),
    ({"type": "levenshtein", "value": "hello world"}, "goodbye moon", False),
    ({"type": "levenshtein", "value": "kitten", "threshold": 3}, "sitting", True),
    ({"type": "levenshtein", "value": "kitten", "threshold": 2}, "sitting", False),
    # rouge-n (default threshold 0.75) and bleu (default 0.5)
    ({"type": "rouge-n", "value": "the cat sat on the mat"}, "the cat sat on the mat", True),
    ({"type": "rouge-n", "value": "the cat sat on the mat"}, "a dog ran", False),
    ({"type": "rouge-n", "value": "a b c d", "threshold": 0.5}, "a b x y", True),
    ({"type": "bleu", "value": "the cat sat on the mat"}, "the cat sat on the mat", True),
    ({"type": "bleu", "value": "the cat sat on the mat"}, "completely different words", False),
    (
        {"type": "bleu", "value": ["a dog sat there", "the cat sat on the mat"]},
        "the cat sat on the mat",
        True,
    ),
    # latency, cost, finish-reason
    ({"type": "latency", "threshold": 1000}, "x", True),
    ({"type": "latency", "threshold": 100}, "x", False),
    ({"type": "cost", "threshold": 0.01}, "x", True),
    ({"type": "cost", "threshold": 0.001}, "x", False),
    ({"type": "finish-reason", "value": "stop"}, "x", True),
    ({"type": "finish-reason", "value": "length"}, "x", False),
    # is-refusal
    ({"type": "is-refusal"}, "I'm sorry, but I can't help with that.", True),
    ({"type": "is-refusal"}, "As an AI language model, I cannot do that.", True),
    ({"type": "is-refusal"}, "The capital of France is Paris.", False),
    ({"type": "is-refusal"}, "Here's how to bake bread: mix flour and water.", False),
    # is-valid-openai-tools-call
    ({"type": "is-valid-openai-tools-call", "tools": TOOLS}, CALL, True),
    (
        {"type": "is-valid-openai-tools-call", "tools": TOOLS},
        CALL.replace("get_weather", "get_time"),
        False,
    ),
    (
        {"type": "is-valid-openai-tools-call", "tools": TOOLS},
        CALL.replace("city", "town"),
        False,
    ),
    ({"type": "is-valid-openai-tools-call", "tools": TOOLS}, "The weather is fine.", False),
    # assert-set
    (
        {
            "type": "assert-set",
            "assert": [{"type": "contains", "value": "a"}, {"type": "contains", "value": "b"}],
        },
        "a b",
        True,
    ),
    (
        {
            "type": "assert-set",
            "assert": [{"type": "contains", "value": "a"}, {"type": "contains", "value": "z"}],
        },
        "a b",
        False,
    ),
    (
        {
            "type": "assert-set",
            "threshold": 0.5,
            "assert": [{"type": "contains", "value": "a"}, {"type": "contains", "value": "z"}],
        },
        "a b",
        True,
    ),
    # keys any assertion may carry
    ({"type": "contains", "value": "PARIS", "transform": "output.upper()"}, "paris", True),
    (
        {"type": "equals", "value": "42", "transform": "json.loads(output)['answer']"},
        '{"answer": "42"}',
        True,
    ),
    ({"type": "icontains", "value": "x", "weight": 2, "metric": "style"}, "X", True),
]

# Where our default differs from promptfoo's on purpose, the option that restores its verdict.
KNOWN_DIFFERENCES = [
    ({"type": "is-json"}, '```json\n{"a": 1}\n```', {"fences": False}),
]


def verdict(spec, output):
    return parse_assertion(spec).check(output, CONTEXT)


def negated(spec):
    return {**spec, "type": "not-" + spec["type"]}


def _known_option(spec, output):
    for known, known_output, option in KNOWN_DIFFERENCES:
        if known == spec and known_output == output:
            return option
    return None


def _ids():
    return [f"{index}-{spec['type']}" for index, (spec, _, _) in enumerate(CASES)]


@pytest.mark.parametrize(("spec", "output", "expected"), CASES, ids=_ids())
def test_agrees_with_promptfoo(spec, output, expected):
    option = _known_option(spec, output)
    result = verdict({**spec, **(option or {})}, output)
    assert not result.error, result.reason
    assert result.passed is expected, result.reason


@pytest.mark.parametrize(("spec", "output", "expected"), CASES, ids=_ids())
def test_negated_agrees_with_promptfoo(spec, output, expected):
    option = _known_option(spec, output)
    result = verdict(negated({**spec, **(option or {})}), output)
    assert result.passed is (not expected), result.reason


def test_agreement_with_promptfoo_is_at_least_97_percent():
    """Defaults only: every case plain and negated, options that restore promptfoo's verdict
    left out, so each deliberate difference counts against us."""
    agreeing = total = 0
    for spec, output, expected in CASES:
        for written, wanted in ((spec, expected), (negated(spec), not expected)):
            total += 1
            agreeing += verdict(written, output).passed is wanted
    ratio = agreeing / total
    print(f"agreement with promptfoo: {agreeing}/{total} = {ratio:.3f}")
    assert ratio >= 0.97
