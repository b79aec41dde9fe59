"""The assertion types promptfoo has and overnight added for it: pass, fail and edge cases,
negation, and the spec errors. (Agreement with promptfoo's verdicts is measured in
test_promptfoo_conformance.)"""

from pathlib import Path

import pytest

from overnight.evaluators.assertions import (
    AssertionSpecError,
    CheckContext,
    Generation,
    parse_assertion,
)
from overnight.evaluators.assertions._jsregex import translate
from overnight.evaluators.assertions._overlap import bleu, levenshtein

NO_FACTS = Generation()


def check(spec, output, generation=NO_FACTS, root=None, variables=None):
    context = CheckContext(vars=variables or {}, root=root or Path.cwd(), generation=generation)
    return parse_assertion(spec).check(output, context)


def spec_error(spec) -> AssertionSpecError:
    with pytest.raises(AssertionSpecError) as caught:
        parse_assertion(spec)
    return caught.value


# --- text: promptfoo's spellings ------------------------------------------------------------


def test_regex_syntax_follows_the_spelling_and_can_be_chosen():
    assert check({"type": "regex", "pattern": r"^\d+$"}, "12\n").passed  # Python's $
    assert not check({"type": "regex", "value": r"^\d+$"}, "12\n").passed  # JavaScript's
    assert not check({"type": "regex", "pattern": r"^\d+$", "syntax": "javascript"}, "12\n").passed
    assert check({"type": "regex", "value": r"^\d+$", "syntax": "python"}, "12\n").passed
    assert "not both" in spec_error({"type": "regex", "value": "a", "pattern": "b"}).message


def test_javascript_translation_keeps_classes_and_multiline():
    assert translate(r"[\d_]") == "[0-9_]"
    assert translate("a$", multiline=True) == "a$"
    assert translate(r"\$") == r"\$"
    assert translate("(?<=a)b") == "(?<=a)b"  # a lookbehind is not a named group


def test_contains_any_value_string_respects_quotes_and_refuses_both_spellings():
    assert check({"type": "contains-all", "value": '"x, y", z'}, "x, y z").passed
    assert not check({"type": "contains-all", "value": '"x, y", z'}, "x y z").passed
    assert "not both" in spec_error({"type": "contains-any", "value": "a", "values": ["b"]}).message


def test_equals_trim_and_json_values():
    assert check({"type": "equals", "value": " hi ", "trim": True}, "hi\n").passed
    assert not check({"type": "equals", "value": {"a": True}}, '{"a": 1}').passed
    assert check({"type": "not-equals", "value": {"a": 1}}, '{"a": 2}').passed


def test_ends_with_trims_by_default_and_not_when_asked():
    assert check({"type": "ends-with", "value": "end"}, "the end\n").passed
    assert not check({"type": "ends-with", "value": "end", "trim": False}, "the end\n").passed


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_not_values(bad):
    assert "quote it" in spec_error({"type": "contains", "value": bad}).message
    assert spec_error({"type": "equals", "value": bad}).field == "value"


def test_thresholds_must_be_finite():
    assert "finite" in spec_error({"type": "latency", "threshold": float("inf")}).message
    error = spec_error({"type": "bleu", "value": "x", "threshold": float("nan")})
    assert error.field == "threshold" and "nan" in error.message


def test_word_count_value_forms_and_counting_option():
    assert check({"type": "word-count", "value": 2}, "- item one").passed is False  # 3 tokens
    assert check({"type": "word-count", "value": 2, "counting": "prose"}, "- item one").passed
    assert check({"type": "word-count", "max": 2}, "- item one").passed  # ours: prose
    assert "min and max" in spec_error({"type": "word-count", "value": {"least": 1}}).message
    assert "not both" in spec_error({"type": "word-count", "value": 1, "max": 2}).message


# --- formats -------------------------------------------------------------------------------


def test_is_json_schema_from_a_file_and_fences(tmp_path):
    (tmp_path / "schema.yaml").write_text("type: object\nrequired: [id]\n")
    spec = {"type": "is-json", "value": "file://schema.yaml"}
    assert check(spec, '{"id": 1}', root=tmp_path).passed
    assert not check(spec, "{}", root=tmp_path).passed
    missing = check({"type": "is-json", "value": "file://nope.json"}, "{}", root=tmp_path)
    assert missing.error and not check({**spec, "type": "not-is-json"}, "{}", root=tmp_path).error
    fenced = '```json\n{"id": 1}\n```'
    assert check({"type": "is-json"}, fenced).passed
    assert not check({"type": "is-json", "fences": False}, fenced).passed


def test_schema_formats_not_checked_are_refused():
    error = spec_error({"type": "is-json", "value": {"format": "iri"}})
    assert error.field == "value.format" and "not checked" in error.message


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date-time", "2024-05-01T10:20:30.5+02:00", "2024-05-01 25:00:00Z"),
        ("time", "23:59:60Z", "12:00:00"),
        ("ipv6", "::1", "1::2::3"),
        ("hostname", "example.com", "-bad-.com"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567"),
        ("uri", "urn:isbn:0451450523", "relative/path"),
        ("regex", "^(?<y>[0-9])$", "(unclosed"),
    ],
)
def test_schema_formats(fmt, good, bad):
    spec = {"type": "is-json", "value": {"type": "string", "format": fmt}}
    assert check(spec, f'"{good}"').passed
    assert not check(spec, f'"{bad}"').passed


def test_contains_json_skips_broken_objects_and_finds_later_ones():
    assert check({"type": "contains-json"}, '{oops} then {"a": [1, {"b": 2}]}').passed
    assert not check({"type": "contains-json"}, "[1, 2]").passed  # objects only
    assert check({"type": "not-contains-json"}, "none").passed


# --- markup --------------------------------------------------------------------------------


def test_xml_required_elements_and_negation():
    doc = "<a><b><c/></b></a>"
    assert check({"type": "is-xml", "value": "a.b.c, a.b"}, doc).passed
    assert not check({"type": "is-xml", "value": "b"}, doc).passed  # paths start at the root
    assert check({"type": "not-is-xml"}, "<a>").passed
    assert check({"type": "contains-xml", "value": "x.y"}, "<p>hi</p> and <x><y/></x>").passed


def test_html_edges():
    assert not check({"type": "is-html"}, "<note><to>x</to></note>").passed  # no HTML element
    assert not check({"type": "is-html"}, "Text then <b>bold</b>").passed
    assert check({"type": "contains-html"}, "Line<br/>break").passed
    assert check({"type": "not-contains-html"}, "1 < 2").passed


def test_sql_dialects_and_errors():
    pytest.importorskip("sqlglot")
    assert check({"type": "is-sql"}, "INSERT INTO t (a) VALUES (1); DELETE FROM t").passed
    assert not check({"type": "is-sql"}, "").passed
    assert check({"type": "not-is-sql"}, "hello world").passed
    assert "databaseType" in spec_error({"type": "is-sql", "value": {"databaseType": "X"}}).message
    tsql = {"type": "is-sql", "value": {"databaseType": "TransactSQL"}}
    assert check(tsql, "SELECT TOP 5 * FROM t").passed
    allowed = {"type": "is-sql", "value": {"allowedTables": ["users"]}}
    assert not check(allowed, "SELECT * FROM users JOIN secrets ON 1 = 1").passed


# --- overlap -------------------------------------------------------------------------------


def test_levenshtein_counts_edits():
    assert levenshtein("", "abc") == 3
    assert levenshtein("flaw", "lawn") == 2
    assert check({"type": "levenshtein", "value": "abc", "threshold": 0}, "abc").passed
    assert check({"type": "not-levenshtein", "value": "abc", "threshold": 0}, "abd").passed


def test_rouge_n_bigrams_and_empty_reference():
    spec = {"type": "rouge-n", "value": "the quick brown fox", "n": 2, "threshold": 0.6}
    assert check(spec, "The quick brown dog").passed is True  # 2 of 3 bigrams
    assert not check({**spec, "threshold": 0.7}, "The quick brown dog").passed
    assert not check({"type": "rouge-n", "value": "!!!"}, "anything").passed


def test_bleu_brevity_and_short_outputs():
    reference = ["the", "cat", "sat", "on", "the", "mat"]
    assert bleu(reference[:4], [reference]) < bleu(reference, [reference])
    assert bleu(["the", "cat"], [reference]) == 0.0  # no 4-gram at all
    assert bleu([], [reference]) == 0.0


# --- measured ------------------------------------------------------------------------------


def test_measured_types_without_the_facts_are_errors():
    for spec in (
        {"type": "latency", "threshold": 5},
        {"type": "cost", "threshold": 5},
        {"type": "finish-reason", "value": "stop"},
    ):
        verdict = check(spec, "x")
        assert verdict.error and not verdict.passed
        assert check({**spec, "type": "not-" + spec["type"]}, "x").error


def test_latency_of_a_cached_output_says_so():
    verdict = check({"type": "latency", "threshold": 5}, "x", Generation(0.001, cached=True))
    assert verdict.error and "cache" in verdict.reason


def test_finish_reason_reads_other_providers_words():
    generation = Generation(finish_reason="max_tokens")
    assert check({"type": "finish-reason", "value": "length"}, "x", generation).passed
    assert check({"type": "finish-reason", "value": "LENGTH"}, "x", generation).passed


# --- replies -------------------------------------------------------------------------------


def test_refusal_edges():
    assert check({"type": "is-refusal"}, "").passed
    assert check({"type": "is-refusal"}, "Sadly, I can’t help with that request.").passed
    assert not check({"type": "is-refusal"}, "I can help with that: here it is.").passed


def test_tools_call_shapes():
    call = '{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}'
    assert check({"type": "is-valid-openai-tools-call"}, call).passed
    assert check({"type": "is-valid-openai-tools-call"}, '{"tool_calls": [' + call + "]}").passed
    bad_arguments = call.replace('{"x": 1}', '"not json"')
    assert not check({"type": "is-valid-openai-tools-call"}, bad_arguments).passed
    assert not check({"type": "is-valid-openai-tools-call"}, "[]").passed
    assert (
        "no function name"
        in spec_error(
            {"type": "is-valid-openai-tools-call", "tools": [{"type": "function"}]}
        ).message
    )


# --- assert-set and the keys ---------------------------------------------------------------


def test_assert_set_weights_its_members_and_names_a_bad_one():
    spec = {
        "type": "assert-set",
        "threshold": 0.7,
        "assert": [
            {"type": "contains", "value": "a", "weight": 3},
            {"type": "contains", "value": "z"},
        ],
    }
    assert check(spec, "a").passed  # 3 of 4 by weight
    assert not check({**spec, "threshold": 0.8}, "a").passed
    error = spec_error({"type": "assert-set", "assert": [{"type": "contains", "valu": "x"}]})
    assert error.field == "assert[0].valu"


def test_assert_set_with_a_broken_member_is_an_error():
    spec = {"type": "assert-set", "assert": [{"type": "contains", "value": "{{ missing }}"}]}
    assert check(spec, "x").error
    assert check({**spec, "type": "not-assert-set"}, "x").error


def test_transform_forms_and_failures(tmp_path):
    (tmp_path / "shape.py").write_text(
        "def get_transform(output, context):\n    return output[::-1]\n\n"
        "def first_var(output, context):\n    return context['vars']['k']\n"
    )
    assert check(
        {"type": "equals", "value": "cba", "transform": "file://shape.py"}, "abc", root=tmp_path
    ).passed
    by_name = {"type": "equals", "value": "v", "transform": "file://shape.py:first_var"}
    assert check(by_name, "abc", root=tmp_path, variables={"k": "v"}).passed
    assert check({"type": "is-json", "transform": "{'n': len(output)}"}, "abc").passed
    broken = check({"type": "contains", "value": "x", "transform": "output[99]"}, "abc")
    assert broken.error and "transform failed" in broken.reason
    assert (
        "JavaScript"
        in spec_error({"type": "contains", "value": "x", "transform": "o => o"}).message
    )


def test_weight_and_metric_are_read_and_checked():
    keyed = parse_assertion({"type": "not-contains", "value": "x", "weight": 2, "metric": "m"})
    assert (keyed.weight, keyed.metric, keyed.label) == (2.0, "m", "not-contains 'x' ×2")
    assert keyed.check("abc", CheckContext(vars={}, root=Path.cwd())).passed
    assert "finite number >= 0" in spec_error({"type": "is-json", "weight": -1}).message
    assert spec_error({"type": "is-json", "weight": "heavy"}).field == "weight"
    assert spec_error({"type": "is-json", "metric": ""}).field == "metric"
