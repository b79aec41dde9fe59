"""The description agent edits the way a skill author would: whole sentences and clauses, no
sentence cut in the middle, nothing copied from the queries but names, the file's YAML left as
it was but for the description, within the length limit, and moving on from what resists."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overnight.activation.concepts import copied_runs
from overnight.activation.metrics import QueryOutcome
from overnight.activation.phrases import (
    GIVE_UP_AFTER,
    RESIST_AFTER,
    Failures,
    choose_edit,
    skill_edits,
)
from overnight.activation.sentences import cut_sentences, sentence_texts, units, without
from overnight.activation.skills import Skill, read_skill, without_description, write_description

SENTENCES = [
    "Create and edit slide decks.",
    "Use when the user asks for charts, including pivot tables and sparklines.",
    "Supports .pptx files (PowerPoint) e.g. exported decks.",
    "Works offline; no account is needed.",
    "Handles speaker notes, such as timing cues.",
    "A structured workflow for co-authoring documentation.",
    "Not for spreadsheets!",
    "Fill PDF forms - via the form fields",
]
VOCABULARY = [
    "slide", "decks", "charts", "pivot", "tables", "notes", "speaker", "workflow", "forms",
    "spreadsheets", "documentation", "account", "timing", "the", "for", "with", "a", "make",
    "PDF", "fields", "offline", "draft", "exported", "co-authoring",
]  # fmt: skip
descriptions = st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=6, unique=True).map(
    " ".join
)
queries = st.lists(
    st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=8).map(" ".join), max_size=5
)


def all_edits(skill: Skill, missed: list[str], false_triggers: list[str], own: list[str]):
    training = [*missed, *false_triggers, *own]
    return list(skill_edits(skill, Failures(missed, false_triggers, own), training, {}))


@settings(max_examples=150, deadline=None)
@given(descriptions, queries, queries, queries)
def test_no_edit_cuts_a_sentence_in_the_middle(
    description: str, missed: list[str], false_triggers: list[str], own: list[str]
) -> None:
    skill = Skill("decks", description)
    before = sentence_texts(description)

    for edit in all_edits(skill, missed, false_triggers, own):
        after = sentence_texts(edit.description)
        assert cut_sentences(description, edit.description) == []
        if edit.summary.startswith("add"):  # the old sentences, then one new one
            assert len(after) == len(before) + 1
            assert [s.rstrip(".") for s in after[:-1]] == [s.rstrip(".") for s in before]
            assert after[-1].startswith(("Use ", "Not "))
        else:  # one unit less, every sentence whole or less a closing clause
            assert edit.description in {without(description, u) for u in units(description)}
            assert before[0].startswith(after[0].rstrip(".!?"))  # whole, or less its clause


def test_cut_sentences_finds_words_removed_mid_sentence_and_allows_whole_units() -> None:
    before = "A structured workflow for co-authoring docs. Use it for specs, including RFCs."

    assert cut_sentences(before, "A structured for co-authoring docs. Use it for specs.") == [
        "A structured for co-authoring docs."
    ]
    assert cut_sentences(before, "A structured workflow for co-authoring docs.") == []
    assert cut_sentences(before, before.replace(", including RFCs", "")) == []
    assert cut_sentences(before, before + " Keywords: friday.") == []


@settings(max_examples=150, deadline=None)
@given(descriptions, queries, queries, queries)
def test_no_added_sentence_repeats_three_words_of_a_training_query(
    description: str, missed: list[str], false_triggers: list[str], own: list[str]
) -> None:
    training = [*missed, *false_triggers, *own]
    for edit in all_edits(Skill("decks", description), missed, false_triggers, own):
        if edit.summary.startswith("add"):
            added = sentence_texts(edit.description)[-1]
            assert copied_runs(added, training) == []


def test_a_query_worded_like_the_grammar_gets_the_other_wording() -> None:
    query = "the user wants to draft invoices and receipts"
    skill = Skill("x", "Writes documents.")

    edits = all_edits(skill, [query], [], [query])

    assert edits[0].description == "Writes documents. Use for drafting invoices."


def test_names_and_formats_may_be_repeated() -> None:
    assert copied_runs("Use with Google Docs API calls.", ["open Google Docs API now"]) == []
    assert copied_runs("Use it for PDF files.", ["I use it for PDF files"]) == [
        ("use", "it", "for"),
        ("it", "for", "pdf"),
        ("for", "pdf", "files"),
    ]


# -- the file: only the description's text changes ---------------------------------------------

STYLES = {
    "plain": "Make slide decks.",
    "single-quoted": "'Make slide decks.'",
    "double-quoted": '"Make slide decks."',
    "folded": ">-\n  Make slide\n  decks.",
    "literal": "|\n  Make slide decks.",
}


def style_of(path: Path) -> str | None:
    text = path.read_text()
    node = yaml.compose(text.split("---")[1])
    assert isinstance(node, yaml.MappingNode)
    return next(value.style for key, value in node.value if key.value == "description")


@pytest.mark.parametrize("style", sorted(STYLES))
def test_the_quoting_style_and_every_other_byte_stay(tmp_path: Path, style: str) -> None:
    path = tmp_path / "SKILL.md"
    path.write_text(
        f"---\nname: decks  # the id\ndescription: {STYLES[style]}\nlicense: MIT\n---\n"
        "# Decks\n\nThe body, with trailing spaces   \n"
    )
    skill, old_style, rest = read_skill(path), style_of(path), without_description(path)
    outcomes = [
        QueryOutcome("draft quarterly board decks", "decks", None, {}),
        QueryOutcome("summarise the budget spreadsheet", None, "decks", {}),
    ]
    seen: set[str] = set()

    while (edit := choose_edit([skill], outcomes, seen)) is not None:
        seen.add(edit.summary)
        write_description(path, edit.description)
        assert read_skill(path).description == edit.description
        assert style_of(path) == old_style
        assert without_description(path) == rest

    assert len(seen) >= 2


# -- limits and resisting queries ---------------------------------------------------------------


def test_no_edit_passes_the_length_limit() -> None:
    skill = Skill("decks", "Make slide decks. " * 50 + "End.")
    outcomes = [QueryOutcome("draft quarterly board reviews", "decks", None, {})]

    for limit in (len(skill.description), len(skill.description) + 40, 1024):
        seen: set[str] = set()
        while (edit := choose_edit([skill], outcomes, seen, max_length=limit)) is not None:
            seen.add(edit.summary)
            assert len(edit.description) <= limit
    assert choose_edit([skill], outcomes, set(), max_length=len(skill.description)) is None


def test_a_triggering_negative_is_answered_with_a_not_for_sentence() -> None:
    skill = Skill("decks", "Make slide decks for talks.")
    outcomes = [
        QueryOutcome("make slides for my talk", "decks", "decks", {}),
        QueryOutcome("summarise the budget spreadsheet for my talk", None, "decks", {}),
    ]

    edit = choose_edit([skill], outcomes, set())

    assert edit is not None
    added = sentence_texts(edit.description)[-1]
    assert added.startswith("Not for ")
    assert added == "Not for summarising budget spreadsheets."  # the near miss, not "talks"


def test_moves_on_from_a_query_that_resists() -> None:
    """Each edit fails: the one stubborn query is aimed at ``RESIST_AFTER`` times before the
    others get their turn, and never after ``GIVE_UP_AFTER``."""
    skill = Skill("decks", "Make slide decks.")
    stubborn = "pivot pivot pivot quarterly board animation timings"
    others = ["export speaker notes", "embed video clips", "print handouts"]
    outcomes = [QueryOutcome(q, "decks", None, {}) for q in [stubborn, stubborn + " x", *others]]
    tried: set[str] = set()
    attempts: dict[str, int] = {}
    aimed: list[tuple[str, ...]] = []
    while (edit := choose_edit([skill], outcomes, tried, attempts=attempts)) is not None:
        tried.add(edit.summary)
        aimed.append(edit.targets)
        for query in edit.targets:  # the experiment was discarded
            attempts[query] = attempts.get(query, 0) + 1

    at_stubborn = [i for i, targets in enumerate(aimed) if stubborn in targets]
    at_others = [i for i, targets in enumerate(aimed) if set(targets) & set(others)]
    assert len(at_stubborn) <= GIVE_UP_AFTER
    assert at_stubborn[RESIST_AFTER - 1] < at_others[0]
    assert all(i < at_others[0] for i in at_stubborn[:RESIST_AFTER])
    assert max(at_others) > at_stubborn[RESIST_AFTER - 1]
    assert sum(1 for i in at_stubborn if i < at_others[-1]) <= GIVE_UP_AFTER


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(descriptions, queries, queries)
def test_the_same_inputs_give_the_same_edit(
    description: str, missed: list[str], false_triggers: list[str]
) -> None:
    skill = Skill("decks", description)
    outcomes = [QueryOutcome(q, "decks", None, {}) for q in missed] + [
        QueryOutcome(q, None, "decks", {}) for q in false_triggers if q not in missed
    ]

    assert choose_edit([skill], outcomes, set()) == choose_edit([skill], outcomes[::-1], set())
