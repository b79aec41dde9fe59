"""Structure assertions: hook line, closing line, statistics, sections, sources, SEO fields."""

from pathlib import Path

import pytest

from overnight.evaluators.assertions import CheckContext, parse_assertion


def check(spec, output, variables=None):
    return parse_assertion(spec).check(output, CheckContext(vars=variables or {}, root=Path.cwd()))


POST = """I got fired on a Tuesday.

It was the best thing that happened to me. Revenue grew 40% in 2024.

What would you do?
#career #growth
"""

# --- first-line-standalone-sentence ------------------------------------------------------------


def test_first_line_standing_alone_passes():
    verdict = check("first-line-standalone-sentence", POST)

    assert verdict.passed
    assert verdict.reason == "first line (line 1) is one sentence of 6 words, standing alone"


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "output is empty: no first line"),
        ("I got fired\n\nThen more.", "no sentence ends the first line (line 1): 'I got fired'"),
        (
            "I got fired. It hurt.\n\nMore.",
            "first line holds 2 sentences: 'I got fired.', 'It hurt.'",
        ),
        ("I got fired.\nIt hurt.", "line 2 follows the first line with no blank line between"),
        ("🚀🚀\n\nText.", "no sentence ends the first line (line 1): '🚀🚀'"),
        ("# A heading\n\nText.", "no sentence ends the first line (line 1): 'A heading'"),
    ],
)
def test_first_line_failures_say_why(output, reason):
    verdict = check("first-line-standalone-sentence", output)

    assert not verdict.passed
    assert verdict.reason == reason


@pytest.mark.parametrize(
    "output",
    [
        "\n\n  Was it worth it?\n\nYes.",
        "**I quit my job.**\n\nHere is why.",
        'He said "no."\n',
        "Dr. Smith was right!",
        "Wait for it...\n\nNow.",
        "我被解雇了。\n\n然后呢。",
        "I got fired.\r\n\r\nMore.",
    ],
)
def test_first_line_passes_with_leading_blanks_markdown_quotes_and_abbreviations(output):
    assert check("first-line-standalone-sentence", output).passed


# --- last-line-not-question --------------------------------------------------------------------


def test_last_line_question_fails_even_before_hashtags():
    verdict = check("last-line-not-question", POST)

    assert not verdict.passed
    assert verdict.reason == "last line (line 5) ends with a question: 'What would you do?'"


@pytest.mark.parametrize(
    ("output", "passed", "reason"),
    [
        ("Do it.\nNow go!", True, "last line (line 2) ends with '!': 'Now go!'"),
        ("Question?\nStatement.\n\n", True, "last line (line 2) ends with '.': 'Statement.'"),
        ("Thoughts? 👇", False, "last line (line 1) ends with a question: 'Thoughts? 👇'"),
        ("Agree?**", False, "last line (line 1) ends with a question: 'Agree?'"),
        ("你同意吗？", False, "last line (line 1) ends with a question: '你同意吗？'"),
        ("Ends with a word", True, "last line (line 1) ends with 'd': 'Ends with a word'"),
        ("Done.\n🚀🚀", True, "last line (line 2) ends with no letter or punctuation: '🚀🚀'"),
        ("", True, "no last line to end with a question (no text lines)"),
        ("#only #tags", True, "no last line to end with a question (no text lines)"),
    ],
)
def test_last_line_not_question(output, passed, reason):
    verdict = check("last-line-not-question", output)

    assert verdict.passed is passed
    assert verdict.reason == reason


# --- contains-statistic ------------------------------------------------------------------------


def test_contains_statistic_quotes_the_first():
    verdict = check("contains-statistic", POST)

    assert verdict.passed
    assert verdict.reason == "1 statistic, first '40%'"


def test_a_year_alone_is_not_a_statistic():
    verdict = check("contains-statistic", "Back in 2019 I started.")

    assert not verdict.passed
    assert "no statistic" in verdict.reason
    assert "a year alone does not count" in verdict.reason


def test_contains_statistic_with_a_minimum():
    verdict = check({"type": "contains-statistic", "min": 3}, "3 in 4 agree; $2M raised.")

    assert not verdict.passed
    assert verdict.reason == "2 statistics, first '3 in 4'; min 3"


# --- required-sections -------------------------------------------------------------------------

ARTICLE = """# Why tests matter

## 1. Introduction
Text.

## **Results**:
More.

Conclusion
----------
End.

```python
# Appendix
```
"""


def test_required_sections_match_headings_loosely():
    spec = {"type": "required-sections", "sections": ["introduction", "Results", "CONCLUSION"]}
    verdict = check(spec, ARTICLE)

    assert verdict.passed
    assert verdict.reason == "all 3 sections present among 4 headings"


def test_required_sections_list_the_missing_and_the_found():
    spec = {"type": "required-sections", "sections": ["Introduction", "Appendix", "Methods"]}
    verdict = check(spec, ARTICLE)

    assert not verdict.passed
    assert verdict.reason == (
        "missing 2 of 3 sections: 'Appendix', 'Methods' (headings found: 'Why tests matter', "
        "'1. Introduction', '**Results**:', 'Conclusion')"
    )


def test_a_section_named_in_plain_text_is_not_a_heading():
    verdict = check({"type": "required-sections", "sections": ["Summary"]}, "Summary: none.")

    assert not verdict.passed
    assert "(headings found: none)" in verdict.reason


def test_required_sections_from_variables():
    spec = {"type": "required-sections", "sections": ["{{ topic }} basics"]}

    assert check(spec, "## Python Basics\n", {"topic": "python"}).passed


# --- cites-sources -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "passed", "reason"),
    [
        (
            "See https://a.example/x and [docs](https://b.example/y).",
            True,
            "2 sources (2 links, 0 numbered references)",
        ),
        (
            "Studies agree [1], [2].\n\n[1] Smith 2020, https://a.example\n[2] Jones 2021",
            True,
            "2 sources (0 links, 2 numbered references)",
        ),
        (
            "As shown (1).\n\n(1) The report.",
            True,
            "1 source (0 links, 1 numbered reference)",
        ),
        (
            "A claim.[^1]\n\n[^1]: A footnote source.",
            True,
            "1 source (0 links, 1 numbered reference)",
        ),
        (
            "Studies agree [1], [3].\n\n[1] Smith 2020",
            True,
            "1 source (0 links, 1 numbered reference); cited but not listed: [3]",
        ),
        ("Trust me.", False, "0 sources (0 links, 0 numbered references), min 1"),
        ("[1] A list entry alone", False, "0 sources (0 links, 0 numbered references), min 1"),
        ("", False, "0 sources (0 links, 0 numbered references), min 1"),
    ],
)
def test_cites_sources(output, passed, reason):
    verdict = check("cites-sources", output)

    assert verdict.passed is passed
    assert verdict.reason == reason


def test_the_same_link_twice_is_one_source():
    verdict = check({"type": "cites-sources", "min": 2}, "https://a.example and https://a.example.")

    assert not verdict.passed
    assert verdict.reason == "1 source (1 link, 0 numbered references), min 2"


# --- seo-title and meta-description ------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("# How to write tests that catch real bugs\n\nBody", "the H1"),
        ("Title: How to write tests that catch real bugs\n", "a Title: line"),
        ("**SEO title:** How to write tests that catch real bugs", "a Title: line"),
        ("<html><title>How to write tests that catch real bugs</title>", "<title>"),
        ("How to write tests that catch real bugs\n===\n", "the H1"),
    ],
)
def test_seo_title_sources(output, reason):
    verdict = check("seo-title", output)

    assert verdict.passed
    assert verdict.reason == (
        f"title 'How to write tests that catch…' from {reason}: 39 chars (within 30..60)"
    )


def test_an_explicit_title_wins_over_the_h1():
    output = "# Short\n\nTitle: A much longer explicit title for search engines"

    assert "from a Title: line" in check("seo-title", output).reason


def test_seo_title_too_long_or_missing():
    """A max below the default min must come with a min (see the spec error tests)."""
    long_title = check({"type": "seo-title", "min": 5, "max": 10}, "# Far too long a title\n")
    assert not long_title.passed
    assert (
        long_title.reason == "title 'Far too long a title' from the H1: 20 chars, over max 10 by 10"
    )
    missing = check("seo-title", "## Only a subheading")
    assert not missing.passed
    assert missing.reason == "no title found (no <title>, Title: line or H1)"


def test_seo_title_decodes_entities_and_drops_quotes():
    verdict = check({"type": "seo-title", "min": 1}, 'Title: "Tom &amp; Jerry"')

    assert verdict.reason == "title 'Tom & Jerry' from a Title: line: 11 chars (within 1..60)"


DESCRIPTION = "A" * 130


@pytest.mark.parametrize(
    ("output", "where"),
    [
        (f'<meta name="description" content="{DESCRIPTION}">', '<meta name="description">'),
        (f"<META content='{DESCRIPTION}' NAME='Description' />", '<meta name="description">'),
        (f"Meta description: {DESCRIPTION}", "a Meta description: line"),
        (f"**Meta Description:** {DESCRIPTION}", "a Meta description: line"),
    ],
)
def test_meta_description_sources(output, where):
    verdict = check("meta-description", output)

    assert verdict.passed
    assert verdict.reason.endswith(f"from {where}: 130 chars (within 120..160)")


def test_meta_description_too_short_or_missing():
    short = check("meta-description", "Meta description: Too short.")
    assert not short.passed
    assert short.reason.endswith("10 chars, under min 120 by 110")
    missing = check("meta-description", '<meta name="keywords" content="a, b">')
    assert not missing.passed
    assert missing.reason == (
        'no meta description found (no <meta name="description"> or Meta description: line)'
    )
