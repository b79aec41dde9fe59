"""Parsing specs, the registry, negation, templates, and the promise that a check never raises."""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overnight.evaluators.assertions import (
    ASSERTIONS,
    Assertion,
    AssertionSpecError,
    CheckContext,
    Negated,
    Verdict,
    parse_assertion,
)
from overnight.evaluators.assertions._base import BuiltinAssertion


def check(spec, output, variables=None, judge=None):
    context = CheckContext(vars=variables or {}, root=Path.cwd(), judge=judge)
    return parse_assertion(spec).check(output, context)


# One valid spec per registered type (processes aside), to run every check on odd outputs.
SAMPLES = {
    "equals": {"value": "x"},
    "contains": {"value": "x"},
    "icontains": {"value": "x"},
    "contains-any": {"values": ["x", "y"]},
    "icontains-any": {"values": ["x"]},
    "contains-all": {"values": ["x", "y"]},
    "icontains-all": {"values": ["x"]},
    "regex": {"pattern": r"\d+", "flags": "im"},
    "starts-with": {"value": "x"},
    "ends-with": {"value": "x"},
    "forbidden-phrases": {"phrases": ["x y", "it's"]},
    "word-count": {"max": 10},
    "char-count": {"min": 1},
    "line-count": {"min": 1, "max": 3},
    "sentence-count": {"max": 2},
    "first-line-standalone-sentence": {},
    "last-line-not-question": {},
    "contains-statistic": {},
    "required-sections": {"sections": ["Intro"]},
    "cites-sources": {},
    "seo-title": {},
    "meta-description": {},
    "is-json": {},
    "json-schema": {"schema": {"type": "object", "required": ["a"]}},
    "compiles": {},
    "max-function-length": {"max": 5},
    "naming-convention": {},
    "no-magic-numbers": {},
    "python": {"function": "os.path:isabs"},
    "llm-judge": {"rubric": "Is it good?"},
    "llm-rubric": {"value": "Is it good?"},
    "model-graded-closedqa": {"value": "Is it polite?"},
    "factuality": {"value": "Paris is the capital of France."},
    "answer-relevance": {},
    "similar": {"value": "a cat on a mat"},
    "contains-json": {"value": {"type": "object"}},
    "is-xml": {"value": "root.child"},
    "contains-xml": {},
    "is-html": {},
    "contains-html": {},
    "is-sql": {"value": {"databaseType": "PostgreSQL"}},
    "contains-sql": {},
    "levenshtein": {"value": "hello", "threshold": 3},
    "rouge-n": {"value": "the cat sat"},
    "bleu": {"value": ["the cat sat on the mat", "a cat sat"]},
    "latency": {"threshold": 1000},
    "cost": {"threshold": 0.01},
    "finish-reason": {"value": "stop"},
    "is-refusal": {},
    "is-valid-openai-tools-call": {"tools": [{"type": "function", "function": {"name": "f"}}]},
    "assert-set": {"assert": [{"type": "contains", "value": "x"}, "is-json"], "threshold": 0.5},
}
SLOW = {"passes-tests", "command"}  # start processes: tested with a few outputs elsewhere

ODD_OUTPUTS = [
    "",
    " \n\t",
    "\x00\x01\x02binary\xff",
    "\ud800 lone surrogate",
    "模型很好。🚀👨‍👩‍👧 é" * 50,
    "```python\n```",
    "```json\n{\n```",
    "# " * 5000,
    "[1] (1) [^1]: " * 300,
    "a" * 200_000,
    "((((((((((" * 2000,
    "[" * 5000,
]


def test_every_registered_type_has_a_sample():
    assert set(SAMPLES) | SLOW == set(ASSERTIONS)


def test_registry_maps_names_to_assertion_classes():
    for name, cls in ASSERTIONS.items():
        assert cls.name == name
        assert issubclass(cls, Assertion)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("output", ODD_OUTPUTS, ids=range(len(ODD_OUTPUTS)))
def test_no_check_raises_on_odd_outputs(name, output):
    for kind in (name, f"not-{name}"):
        verdict = check({"type": kind, **SAMPLES[name]}, output)

        assert isinstance(verdict, Verdict)
        assert isinstance(verdict.reason, str) and verdict.reason


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300))
def test_no_check_raises_on_any_text(output):
    for name, parameters in SAMPLES.items():
        verdict = check({"type": name, **parameters}, output)
        assert verdict.reason


# --- spec errors -------------------------------------------------------------------------------


def spec_error(spec):
    with pytest.raises(AssertionSpecError) as caught:
        parse_assertion(spec)
    return caught.value


def test_a_bare_string_is_a_type():
    assert parse_assertion("is-json").name == "is-json"
    assert parse_assertion("not-is-json").name == "not-is-json"


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"type": "wordcount", "max": 3}, "type", "did you mean 'word-count'"),
        ({"type": "not-contians", "value": "x"}, "type", "did you mean 'not-contains'"),
        ({"type": "zzz"}, "type", "README's Assertions section lists them"),
        ({"max": 3}, "type", "missing"),
        ({"type": 3}, "type", "expected a type name"),
        ({"type": "contains"}, "value", "missing: contains needs it"),
        ({"type": "contains", "value": "x", "valeu": "y"}, "valeu", "did you mean 'value'"),
        ({"type": "is-json", "strict": True}, "strict", "it takes value, fences"),
        ({"type": "word-count", "max": "300"}, "max", "expected a whole number, got '300'"),
        ({"type": "word-count", "max": 30.5}, "max", "expected a whole number, got 30.5"),
        ({"type": "word-count", "max": True}, "max", "expected a whole number"),
        ({"type": "word-count", "max": -1}, "max", "must be at least 0, got -1"),
        ({"type": "word-count"}, "min", "needs min, max or both"),
        ({"type": "word-count", "min": 50, "max": 30}, "min", "min (50) is above max (30)"),
        ({"type": "contains-any", "values": []}, "values", "must not be empty"),
        ({"type": "contains-any", "values": "x"}, "values", "expected a list"),
        ({"type": "contains-all", "values": ["a", None]}, "values[1]", "expected a string"),
        ({"type": "contains", "value": ""}, "value", "must not be empty"),
        ({"type": "contains", "value": "{{ brand"}, "value", "not a valid template"),
        ({"type": "contains-any", "values": ["ok", "{% if %}"]}, "values[1]", "template"),
        ({"type": "regex", "pattern": "(unclosed"}, "pattern", "not a valid regular expression"),
        ({"type": "regex", "pattern": "a", "flags": "iq"}, "flags", "unknown flag q"),
        ({"type": "forbidden-phrases", "phrases": ["ok", " "]}, "phrases", "a phrase is empty"),
        ({"type": "json-schema"}, "schema", "missing"),
        ({"type": "json-schema", "schema": []}, "schema", "expected a mapping"),
        ({"type": "json-schema", "schema": {"$ref": "#/a"}}, "schema.$ref", "unsupported"),
        (
            {"type": "json-schema", "schema": {"properties": {"a": {"type": "text"}}}},
            "schema.properties.a.type",
            "expected one or a list of object",
        ),
        ({"type": "max-function-length"}, "max", "missing"),
        ({"type": "max-function-length", "max": 0}, "max", "must be at least 1"),
        ({"type": "no-magic-numbers", "allowed": ["x"]}, "allowed[0]", "expected a number"),
        ({"type": "passes-tests", "command": "x", "filename": "../a.py"}, "filename", "relative"),
        ({"type": "passes-tests", "command": "x", "timeout": 0}, "timeout", "must be above 0"),
        ({"type": "python", "function": "checks.py"}, "function", "file.py:function"),
        ({"type": "command"}, "command", "missing"),
        ({"type": "llm-judge", "rubric": ""}, "rubric", "must not be empty"),
        ({"type": "contains-statistic", "min": 0}, "min", "must be at least 1"),
        ({"type": "seo-title", "min": 70}, "min", "min (70) is above max (60, the default)"),
    ],
)
def test_bad_specs_name_the_field_at_fault(spec, field, words):
    error = spec_error(spec)

    assert error.field == field
    assert words in error.message
    assert str(error) == f"{field}: {error.message}"


def test_a_spec_that_is_not_a_mapping_names_no_field():
    error = spec_error(["contains"])

    assert error.field is None
    assert "expected a mapping" in error.message


def test_misspelt_keys_are_reported_before_other_problems():
    assert spec_error({"type": "word-count", "max": "x", "mn": 1}).field == "mn"


def test_numbers_are_accepted_as_text():
    assert check({"type": "contains", "value": 2024}, "in 2024").passed


def test_the_spec_itself_is_not_changed():
    spec = {"type": "contains", "value": "x"}
    parse_assertion(spec)
    assert spec == {"type": "contains", "value": "x"}


# --- negation ----------------------------------------------------------------------------------


def test_negation_really_inverts_and_keeps_the_reason():
    plain = check({"type": "contains", "value": "synergy"}, "pure synergy")
    negated = check({"type": "not-contains", "value": "synergy"}, "pure synergy")

    assert plain.passed and not negated.passed
    assert negated.reason == "contains 'synergy' (found at char 6) — must not"
    passing = check({"type": "not-contains", "value": "synergy"}, "plain words")
    assert passing.passed
    assert passing.reason == "does not contain 'synergy' (11 chars)"


@pytest.mark.parametrize("output", ["", "short", "one two three four five six"])
def test_negation_inverts_every_sample(output):
    for name, parameters in SAMPLES.items():
        if name in ("llm-judge", "python"):
            continue
        plain = check({"type": name, **parameters}, output)
        negated = check({"type": f"not-{name}", **parameters}, output)
        if plain.error:
            assert not negated.passed and negated.error
        else:
            assert negated.passed is not plain.passed, name


def test_negation_keeps_determinism_name_and_label():
    negated = parse_assertion({"type": "not-llm-judge", "rubric": "Upbeat?"})

    assert isinstance(negated, Negated)
    assert negated.deterministic is False
    assert negated.name == "not-llm-judge"
    assert negated.label == "not-llm-judge 'Upbeat?'"
    assert check({"type": "not-llm-judge", "rubric": "?"}, "x", judge=judge_says(True, "yes")) == (
        Verdict(False, "yes — must not", deterministic=False)
    )


def test_a_check_that_could_not_be_made_stays_failed_under_negation():
    verdict = check({"type": "not-icontains", "value": "{{ brand }}"}, "anything")

    assert not verdict.passed
    assert verdict.error
    assert "'brand' is undefined" in verdict.reason


def judge_says(answer, reason):
    return lambda rubric, output, model: (answer, reason)


# --- templates ---------------------------------------------------------------------------------


def test_templates_render_per_check_with_the_case_variables():
    assertion = parse_assertion({"type": "icontains", "value": "{{ brand | upper }}"})
    root = Path.cwd()

    assert assertion.check("we love ACME", CheckContext({"brand": "acme"}, root)).passed
    other = assertion.check("we love ACME", CheckContext({"brand": "Globex"}, root))
    assert not other.passed
    assert "GLOBEX" in other.reason


def test_a_missing_variable_is_a_failing_verdict_naming_it_and_the_known_ones():
    verdict = check({"type": "contains", "value": "{{ brand }}"}, "x", {"topic": "t", "tone": 1})

    assert not verdict.passed
    assert verdict.error
    assert verdict.reason == (
        "cannot render value: 'brand' is undefined (this case's vars: tone, topic)"
    )


def test_templates_in_lists_render_each_item():
    spec = {"type": "forbidden-phrases", "phrases": ["{{ rival }}", "synergy"]}
    verdict = check(spec, "Better than Globex.", {"rival": "globex"})

    assert not verdict.passed
    assert "'globex' (at char 13)" in verdict.reason


def test_a_template_renders_in_a_regex_pattern():
    verdict = check({"type": "regex", "pattern": "^{{ greeting }},"}, "Hi, all", {"greeting": "Hi"})

    assert verdict.passed


def test_a_regex_that_becomes_invalid_after_rendering_is_an_error():
    verdict = check({"type": "regex", "pattern": "{{ p }}"}, "x", {"p": "(oops"})

    assert verdict.error
    assert "not a valid regular expression" in verdict.reason


# --- labels, contract, extension ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        ({"type": "word-count", "max": 300}, "word-count<=300"),
        ({"type": "word-count", "min": 50}, "word-count>=50"),
        ({"type": "sentence-count", "min": 2, "max": 5}, "sentence-count 2..5"),
        ({"type": "not-contains", "value": "synergy"}, "not-contains 'synergy'"),
        ({"type": "regex", "pattern": "^Hi", "flags": "i"}, "regex /^Hi/i"),
        ({"type": "python", "function": "checks.py:is_upbeat"}, "python checks.py:is_upbeat"),
        ("is-json", "is-json"),
        ({"type": "contains-statistic", "min": 2}, "contains-statistic>=2"),
    ],
)
def test_labels_are_short_and_say_the_limit(spec, label):
    assert parse_assertion(spec).label == label


def test_verdicts_are_frozen_records():
    verdict = Verdict(True, "1 word (max 3)")

    assert verdict.deterministic and not verdict.error
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.passed = False  # type: ignore[misc]


def test_an_internal_crash_becomes_a_failing_verdict():
    class Crashing(BuiltinAssertion):
        name: ClassVar[str] = "crashing"

        def _check(self, output, context):
            raise ZeroDivisionError("boom")

    verdict = Crashing().check("x", CheckContext({}, Path.cwd()))

    assert verdict == Verdict(
        False, "crashing could not check the output: ZeroDivisionError: boom", error=True
    )


def test_a_registered_plain_assertion_class_is_built_from_its_parameters(monkeypatch):
    class Shout(Assertion):
        name: ClassVar[str] = "shout"

        def __init__(self, level: int = 1) -> None:
            self.level = level

        def check(self, output, context):
            return Verdict(output.isupper(), f"{len(output)} chars, level {self.level}")

    monkeypatch.setitem(ASSERTIONS, "shout", Shout)

    assert parse_assertion({"type": "shout", "level": 3}).level == 3
    assert check({"type": "not-shout"}, "HEY").reason == "3 chars, level 1 — must not"
    assert "unexpected keyword" in spec_error({"type": "shout", "volume": 3}).message


# Inputs that make a careless regular expression quadratic (or worse) in their length.
PATHOLOGICAL = {
    "brackets": "[" * 20_000,
    "links": "[a](" * 5_000,
    "dots": "." * 20_000 + "x",
    "spaces": "# " + " " * 20_000 + "x",
    "table": "|" + " " * 20_000 + "x",
    "rule": "---" + " " * 20_000 + "x",
    "titles": "<title>" * 3_000,
    "metas": "<meta " * 3_000,
    "autolinks": "<http://" * 3_000,
    "label": "Title:" + " " * 20_000 + "x",
}


@pytest.mark.parametrize("output", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_checks_stay_fast_on_pathological_text(output):
    started = time.perf_counter()
    for name, parameters in SAMPLES.items():
        check({"type": name, **parameters}, output)

    assert time.perf_counter() - started < 2.0


def test_a_max_below_a_default_min_says_the_min_is_the_default():
    error = spec_error({"type": "seo-title", "max": 20})

    assert error.message == "min (30, the default) is above max (20)"
