"""Text assertions: equals, contains and its family, regex, starts/ends-with, forbidden phrases."""

from pathlib import Path

import pytest

from overnight.evaluators.assertions import CheckContext, parse_assertion


def check(spec, output, variables=None):
    return parse_assertion(spec).check(output, CheckContext(vars=variables or {}, root=Path.cwd()))


# --- equals ------------------------------------------------------------------------------------


def test_equals_compares_exactly_unless_trimmed():
    verdict = check({"type": "equals", "value": "Hello", "trim": True}, "  Hello\n")

    assert verdict.passed
    assert verdict.reason == "equals the expected 5 chars"
    assert not check({"type": "equals", "value": "Hello"}, "Hello\n").passed


def test_equals_says_where_the_output_differs():
    verdict = check({"type": "equals", "value": "Hello world"}, "Hello there")

    assert not verdict.passed
    assert verdict.reason == ("differs at char 7: expected 'world', got 'there' (11 vs 11 chars)")


def test_equals_on_a_prefix_differs_at_the_end_of_the_shorter():
    verdict = check({"type": "equals", "value": "Hello"}, "Hello world")

    assert not verdict.passed
    assert "differs at char 6" in verdict.reason
    assert "(5 vs 11 chars)" in verdict.reason


def test_equals_empty_output():
    assert not check({"type": "equals", "value": "x"}, "").passed
    assert check({"type": "equals", "value": ""}, "").passed
    assert check({"type": "equals", "value": "", "trim": True}, "\n").passed


# --- contains ----------------------------------------------------------------------------------


def test_contains_gives_the_position():
    verdict = check({"type": "contains", "value": "synergy"}, "Pure synergy here")

    assert verdict.passed
    assert verdict.reason == "contains 'synergy' (found at char 6)"


def test_contains_is_case_sensitive_and_icontains_is_not():
    assert not check({"type": "contains", "value": "Synergy"}, "pure synergy").passed
    verdict = check({"type": "icontains", "value": "SYNERGY"}, "pure synergy")
    assert verdict.passed
    assert "found at char 6" in verdict.reason


def test_contains_fails_with_the_output_size():
    verdict = check({"type": "contains", "value": "x"}, "")

    assert not verdict.passed
    assert verdict.reason == "does not contain 'x' (0 chars)"


def test_icontains_handles_unicode_case():
    assert check({"type": "icontains", "value": "ÉCOLE"}, "une école").passed
    assert check({"type": "icontains", "value": "模型"}, "新模型").passed


def test_contains_with_a_template():
    assert check(
        {"type": "contains", "value": "{{ brand }}"}, "Acme rocks", {"brand": "Acme"}
    ).passed


def test_contains_any_names_what_matched():
    spec = {"type": "contains-any", "values": ["AI", "ML", "data"]}

    passed = check(spec, "AI and data")
    assert passed.passed
    assert passed.reason == "contains 2 of 3: 'AI', 'data'"
    failed = check(spec, "nothing here")
    assert not failed.passed
    assert failed.reason == "contains none of 3: 'AI', 'ML', 'data'"


def test_icontains_any_ignores_case():
    assert check({"type": "icontains-any", "values": ["ai"]}, "AI first").passed
    assert not check({"type": "contains-any", "values": ["ai"]}, "AI first").passed


def test_contains_all_names_what_is_missing():
    spec = {"type": "contains-all", "values": ["AI", "ML", "data"]}

    failed = check(spec, "AI and data")
    assert not failed.passed
    assert failed.reason == "missing 1 of 3: 'ML'"
    passed = check(spec, "AI, ML and data")
    assert passed.passed
    assert passed.reason == "contains all 3"


def test_icontains_all_ignores_case():
    assert check({"type": "icontains-all", "values": ["ai", "ml"]}, "AI and ML").passed


# --- regex -------------------------------------------------------------------------------------


def test_regex_reports_the_match_and_where():
    verdict = check({"type": "regex", "pattern": r"\d+%"}, "Growth of 40% this year")

    assert verdict.passed
    assert verdict.reason == r"matches /\d+%/ at char 11: '40%'"


def test_regex_without_a_match():
    verdict = check({"type": "regex", "pattern": r"^\d"}, "no digits")

    assert not verdict.passed
    assert verdict.reason == r"no match for /^\d/ in 9 chars"


@pytest.mark.parametrize(
    ("flags", "passed"),
    [("", False), ("i", False), ("m", False), ("im", True)],
)
def test_regex_flags(flags, passed):
    spec = {"type": "regex", "pattern": "^hello$", "flags": flags}

    assert check(spec, "first\nHELLO").passed is passed


def test_regex_dotall_flag():
    assert check({"type": "regex", "pattern": "a.b", "flags": "s"}, "a\nb").passed
    assert not check({"type": "regex", "pattern": "a.b"}, "a\nb").passed


# --- starts-with / ends-with -------------------------------------------------------------------


def test_starts_with():
    assert check({"type": "starts-with", "value": "I got fired"}, "I got fired today.").passed
    assert not check({"type": "starts-with", "value": "I got fired"}, "\nI got fired.").passed
    assert check({"type": "starts-with", "value": "I got", "trim": True}, "\nI got fired.").passed
    verdict = check({"type": "starts-with", "value": "Hello"}, "Hi there")
    assert not verdict.passed
    assert verdict.reason == "starts with 'Hi th', not 'Hello'"


def test_ends_with_ignores_a_trailing_newline():
    verdict = check({"type": "ends-with", "value": "#growth"}, "Post body\n#growth\n")

    assert verdict.passed
    assert verdict.reason == "ends with '#growth' (7 chars)"


def test_ends_with_failing_shows_the_actual_end():
    verdict = check({"type": "ends-with", "value": "."}, "A question?")

    assert not verdict.passed
    assert verdict.reason == "ends with '?', not '.'"


def test_starts_with_on_empty_output():
    verdict = check({"type": "starts-with", "value": "x"}, "")

    assert not verdict.passed
    assert verdict.reason == "starts with '', not 'x'"


# --- forbidden-phrases -------------------------------------------------------------------------


def test_forbidden_phrases_lists_what_was_found_with_counts_and_positions():
    spec = {"type": "forbidden-phrases", "phrases": ["synergy", "game changer", "leverage"]}
    verdict = check(spec, "Synergy! A real GAME\nchanger. More synergy.")

    assert not verdict.passed
    assert verdict.reason == (
        "found 2 of 3 forbidden: 'synergy' (×2, first at char 1), 'game changer' (at char 17)"
    )


def test_forbidden_phrases_respects_word_boundaries():
    spec = {"type": "forbidden-phrases", "phrases": ["AI", "hack"]}

    verdict = check(spec, "She said the hackathon was fun.")
    assert verdict.passed
    assert verdict.reason == "none of 2 forbidden phrases found"
    assert not check(spec, "Use AI, today.").passed


def test_forbidden_phrases_treat_apostrophes_alike():
    spec = {"type": "forbidden-phrases", "phrases": ["let's dive in"]}

    assert not check(spec, "Let’s dive in!").passed


def test_forbidden_phrases_with_punctuation_edges():
    spec = {"type": "forbidden-phrases", "phrases": ["🚀", "C++"]}

    assert not check(spec, "Ship it 🚀").passed
    assert not check(spec, "I love C++.").passed
    assert check(spec, "plain text").passed


def test_forbidden_phrases_on_empty_output_pass():
    verdict = check({"type": "forbidden-phrases", "phrases": ["x"]}, "")

    assert verdict.passed
    assert verdict.reason == "none of 1 forbidden phrase found"


def test_negated_forbidden_phrases_require_one():
    spec = {"type": "not-forbidden-phrases", "phrases": ["call to action"]}

    assert check(spec, "End with a call to action.").passed
    assert not check(spec, "No such thing.").passed
