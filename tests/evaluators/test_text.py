"""The counting rules: words, sentences, lines, characters, statistics, markdown and fences."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overnight.evaluators.text import (
    char_count,
    line_count,
    lines,
    sentence_count,
    sentences,
    statistics,
    strip_code_fence,
    strip_markdown,
    word_count,
    words,
)

PLAIN_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüñ", min_size=1, max_size=12)


# --- words -------------------------------------------------------------------------------------


def test_empty_and_blank_text_have_no_words():
    assert words("") == []
    assert word_count("   \n\t ") == 0


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Hello, world!", 2),
        ("don't stop", 2),
        ("a well-known fact", 3),
        ("3.5 and 1,200", 3),
        ("$3M or 40%", 3),
        ("e.g. the U.S. team", 4),
        ("now—then – later", 3),
        ("café naïve Ångström", 3),
        ("ship it 🚀 🎉", 2),
        ("- item one\n- item two", 4),
        ("**bold** and _italic_", 3),
        ("# Heading here", 2),
        ("see [the docs](https://example.com/a/b) now", 4),
        ("visit https://example.com/path?q=1&r=2. Then", 3),
        ("模型很好", 4),
        ("AI模型", 3),
        ("한국어 문장 입니다", 3),
        ("#growth @alice", 2),
        ("... — !!!", 0),
    ],
)
def test_word_count(text, count):
    assert word_count(text) == count


def test_words_are_trimmed_of_surrounding_punctuation():
    assert words('"Hello," she said (quietly).') == ["Hello", "she", "said", "quietly"]


def test_a_url_is_one_word_without_its_trailing_full_stop():
    assert words("Read https://example.com/x.html.") == ["Read", "https://example.com/x.html"]


def test_markdown_link_counts_as_its_text():
    assert words("[three word link](http://a.b/c)") == ["three", "word", "link"]


@given(st.lists(PLAIN_WORD, max_size=40))
def test_words_separated_by_spaces_are_counted_one_each(items):
    assert word_count(" ".join(items)) == len(items)


@given(st.text())
def test_words_never_hold_whitespace_and_counting_never_fails(text):
    for word in words(text):
        assert word
        assert not any(char.isspace() for char in word)


@given(st.text(alphabet="模型很好的中文字", max_size=30))
def test_each_han_character_is_a_word(text):
    assert word_count(text) == len(text)


# --- sentences ---------------------------------------------------------------------------------


def test_empty_text_has_no_sentences():
    assert sentences("") == []
    assert sentence_count("\n\n") == 0


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("One. Two! Three?", 3),
        ("It grew 3.5 times. Then it stopped.", 2),
        ("We hired 1,200 people. Wow.", 2),
        ("Dr. Smith met Mr. Jones.", 1),
        ("Use tools, e.g. hammers, i.e. heavy ones.", 1),
        ("J. K. Rowling wrote it.", 1),
        ("Apples, pears, etc. and more.", 1),
        ("Apples, pears, etc. Then more.", 2),
        ("He lives in the U.S. and works.", 1),
        ("He lives in the U.S. Then he moved.", 2),
        ("I waited... and waited.", 1),
        ("I waited… Nothing happened.", 2),
        ("Really?! Yes.", 2),
        ('She said "stop." Then left.', 2),
        ("Visit example.com today.", 1),
        ("No full stop at the end", 1),
        ("Line one\nLine two", 2),
        ("# Title\n\nBody text here.", 2),
        ("- first item\n- second item", 2),
        ("Great news! 🎉", 1),
        ("---\n🚀\n", 0),
        ("它很好。你好吗？", 2),
        ("Closing line.\n#career #growth", 1),
    ],
)
def test_sentence_count(text, count):
    assert sentence_count(text) == count


def test_sentences_are_returned_stripped():
    assert sentences("  First one.   Second one!  ") == ["First one.", "Second one!"]


@given(st.text())
def test_every_sentence_holds_a_letter_or_digit(text):
    assert all(any(char.isalnum() for char in piece) for piece in sentences(text))


@given(st.lists(PLAIN_WORD, min_size=1, max_size=10))
def test_sentences_joined_on_one_line_are_counted_one_each(items):
    text = " ".join(f"{item.capitalize()} ends here." for item in items)
    assert sentence_count(text) == len(items)


# --- lines and characters ----------------------------------------------------------------------


def test_lines_are_the_non_empty_ones_with_any_line_ending():
    assert lines("a\n\n   \nb  \r\nc\rd") == ["a", "b", "c", "d"]
    assert line_count("") == 0


@given(st.lists(st.text(alphabet="abc ", max_size=5), max_size=20))
def test_line_count_counts_lines_with_something_on_them(items):
    assert line_count("\n".join(items)) == sum(1 for item in items if item.strip())


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("  hello  \n", 5),
        ("a b", 3),
        ("a\r\nb", 3),
        ("café", 4),
        ("cafe\u0301", 4),
        ("👍🏽", 1),
        ("👨‍👩‍👧", 1),
        ("🇫🇷🇩🇪", 2),
        ("❤️", 1),
        ("模型", 2),
    ],
)
def test_char_count_counts_what_a_reader_sees(text, count):
    assert char_count(text) == count


@given(st.text())
def test_char_count_never_exceeds_code_points(text):
    assert 0 <= char_count(text) <= len(text.strip())


# --- statistics --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Revenue grew 40% this year", ["40%"]),
        ("a 40 percent rise", ["40 percent"]),
        ("it costs 3.5 dollars", ["3.5"]),
        ("we hired 1,200 people", ["1,200"]),
        ("raised $3M and €2.5 billion", ["$3M", "€2.5 billion"]),
        ("2x faster for 10k users", ["2x", "10k"]),
        ("10+ years", ["10+"]),
        ("3 in 4 founders and 1 out of 5 investors", ["3 in 4", "1 out of 5"]),
        ("I have 3 kids", ["3"]),
        ("In 2024 we launched", []),
        ("in 2024, revenue was $2024", ["$2024"]),
        ("on 2024-05-01 at 9:30", []),
        ("the 1990s and 24/7 support", []),
        ("1st place, 2nd try", []),
        ("GPT-4, B2B, COVID-19, H200, Web3", []),
        ("see https://example.com/2024/40", []),
        ("1. first\n2. second", []),
        ("forty percent", []),
        ("", []),
    ],
)
def test_statistics(text, found):
    assert statistics(text) == found


@given(st.text())
def test_every_statistic_holds_a_digit(text):
    assert all(any(char.isdigit() for char in item) for item in statistics(text))


# --- markdown and fences -----------------------------------------------------------------------


def test_strip_markdown_removes_syntax_and_keeps_text():
    source = (
        "## Title ##\n> quoted\n1. one\n- [x] done\n***\n| a | b |\n|---|---|\n"
        "snake_case *em* __strong__ ~~gone~~ `code` ![alt](u.png) <br> <https://x.y>\n"
        "```python\nx = 1\n```"
    )
    plain = strip_markdown(source)

    for syntax in ("#", ">", "1.", "[x]", "***", "|", "---", "`", "*", "~~", "<br>", "(u.png)"):
        assert syntax not in plain
    for text in ("Title", "quoted", "one", "done", "snake_case", "em", "strong", "alt", "x = 1"):
        assert text in plain
    assert "https://x.y" in plain


def test_strip_markdown_keeps_arithmetic_and_snake_case():
    assert strip_markdown("2 * 3 = my_var") == "2 * 3 = my_var"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```python\nx = 1\n```", "x = 1\n"),
        ("```\nx = 1\n```\n", "x = 1\n"),
        ("  ```py\nx = 1\n```  ", "x = 1\n"),
        ("Here:\n```python\ny = 2\n```\nDone.", "y = 2\n"),
        ("```python\n```", ""),
        ("x = 1", "x = 1"),
        ("```js\nlet x\n```", "```js\nlet x\n```"),
        ("```python\nnever closed", "```python\nnever closed"),
    ],
)
def test_strip_code_fence(text, expected):
    assert strip_code_fence(text, "python") == expected


def test_two_fenced_blocks_give_the_first_of_the_language():
    text = "```python\na = 1\n```\ntext\n```python\nb = 2\n```"
    assert strip_code_fence(text, "python") == "a = 1\n"


def test_fence_language_matches_ignoring_case():
    assert strip_code_fence('```JSON\n{"a": 1}\n```', "json") == '{"a": 1}\n'
