"""Size assertions: word, char, line and sentence counts within min/max, reasons in numbers."""

from pathlib import Path

import pytest

from overnight.evaluators.assertions import CheckContext, parse_assertion


def check(spec, output):
    return parse_assertion(spec).check(output, CheckContext(vars={}, root=Path.cwd()))


@pytest.mark.parametrize(
    ("spec", "output", "passed", "reason"),
    [
        ({"type": "word-count", "max": 3}, "one two three", True, "3 words (max 3)"),
        ({"type": "word-count", "max": 3}, "one two three four", False, "4 words, over max 3 by 1"),
        ({"type": "word-count", "min": 2}, "one", False, "1 word, under min 2 by 1"),
        ({"type": "word-count", "min": 2}, "one two", True, "2 words (min 2)"),
        ({"type": "word-count", "min": 1, "max": 5}, "a b", True, "2 words (within 1..5)"),
        ({"type": "word-count", "min": 1}, "", False, "0 words, under min 1 by 1"),
        ({"type": "word-count", "max": 0}, "🚀 —", True, "0 words (max 0)"),
        ({"type": "char-count", "max": 5}, "héllo\n", True, "5 chars (max 5)"),
        ({"type": "char-count", "max": 4}, "héllo", False, "5 chars, over max 4 by 1"),
        ({"type": "line-count", "max": 2}, "a\n\n\nb\n", True, "2 lines (max 2)"),
        ({"type": "line-count", "min": 3}, "a\nb", False, "2 lines, under min 3 by 1"),
        ({"type": "sentence-count", "max": 2}, "Dr. Who. Yes.", True, "2 sentences (max 2)"),
        (
            {"type": "sentence-count", "min": 1, "max": 2},
            "One. Two. Three.",
            False,
            "3 sentences, over max 2 by 1",
        ),
    ],
)
def test_counts_against_bounds(spec, output, passed, reason):
    verdict = check(spec, output)

    assert verdict.passed is passed
    assert verdict.reason == reason
    assert verdict.deterministic


def test_word_count_counts_markdown_text_not_syntax():
    post = "## Three lessons\n\n- **Ship** fast\n- Read [the docs](https://x.y/z)\n"

    assert check({"type": "word-count", "max": 7}, post).reason == "7 words (max 7)"


def test_word_count_counts_each_han_character():
    assert check({"type": "word-count", "max": 4}, "模型很好").passed


def test_negated_word_count_needs_more_than_the_max():
    verdict = check({"type": "not-word-count", "max": 2}, "one two")

    assert not verdict.passed
    assert verdict.reason == "2 words (max 2) — must not"
    assert check({"type": "not-word-count", "max": 2}, "one two three").passed


def test_char_count_at_the_limit_of_a_platform():
    post = "x" * 2999 + "👍🏽"

    assert check({"type": "char-count", "max": 3000}, post).reason == "3000 chars (max 3000)"
