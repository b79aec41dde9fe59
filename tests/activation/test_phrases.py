"""The offline description agent's edits: which phrase is added for misses and which removed for
false triggers, in what order, never twice, never past the length limit, always the same."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from overnight.activation.metrics import QueryOutcome
from overnight.activation.phrases import DescriptionEdit, choose_edit, next_edit
from overnight.activation.skills import Skill

PDF = Skill("extract-pdf", "Extract text and tables from PDF files.")


def added(skill: Skill, *missed: str, false_triggers: tuple[str, ...] = ()) -> str | None:
    edit = next_edit(skill, list(missed), list(false_triggers), set())
    return edit.summary if edit else None


def edited(
    skill: Skill,
    missed: list[str],
    false_triggers: list[str],
    tried: set[str] | None = None,
    max_length: int = 1024,
) -> DescriptionEdit:
    edit = next_edit(skill, missed, false_triggers, tried or set(), max_length)
    assert edit is not None
    return edit


# -- adding -----------------------------------------------------------------------------------


def test_adds_the_phrase_most_missed_queries_share_as_a_keyword() -> None:
    edit = next_edit(
        PDF,
        ["Read this scanned invoice", "the scanned receipt, please", "scanned contract text"],
        [],
        set(),
    )

    assert edit == DescriptionEdit(
        PDF,
        "Extract text and tables from PDF files. Keywords: scanned.",
        'add "scanned" to extract-pdf\'s description',
    )


def test_a_longer_phrase_wins_a_tie_and_stop_words_never_lead_or_end_one() -> None:
    summary = added(PDF, "Can you read the scanned invoice for me?", "a scanned invoice, quickly")

    assert summary == 'add "scanned invoice" to extract-pdf\'s description'
    assert added(PDF, "what is in the bill of lading") == (
        'add "bill of lading" to extract-pdf\'s description'
    )


def test_skips_words_the_description_has_numbers_and_single_letters() -> None:
    assert added(PDF, "text from the PDF tables 2024 x") is None
    assert added(PDF, "extract text from PDF invoices") == (
        'add "pdf invoices" to extract-pdf\'s description'
    )


def test_never_adds_a_phrase_that_a_false_trigger_contains() -> None:
    summary = added(
        PDF, "summarise invoice totals", "invoice totals", false_triggers=("an invoice in excel",)
    )

    assert summary == 'add "invoice totals" to extract-pdf\'s description'


def test_keywords_extend_the_closing_sentence_or_start_one() -> None:
    with_keywords = Skill("x", "Does things. Keywords: alpha, beta gamma.")
    without_stop = Skill("x", "Does things\n")

    assert edited(with_keywords, ["delta"], []).description == (
        "Does things. Keywords: alpha, beta gamma, delta."
    )
    assert edited(without_stop, ["delta"], []).description == "Does things. Keywords: delta."


# -- removing ---------------------------------------------------------------------------------


def test_removes_the_phrase_most_false_triggers_share() -> None:
    skill = Skill("extract-pdf", "Extract text from PDF files, spreadsheets and slides.")

    edit = next_edit(
        skill, [], ["sum this spreadsheets column", "chart the spreadsheets", "slides"], set()
    )

    assert edit == DescriptionEdit(
        skill,
        "Extract text from PDF files, and slides.",
        'remove "spreadsheets" from extract-pdf\'s description',
    )


def test_never_removes_words_of_the_name_or_words_missed_queries_need() -> None:
    skill = Skill("extract-pdf", "Extract text and tables from PDF files.")

    assert next_edit(skill, [], ["convert this pdf to word"], set()) is None
    needed = edited(skill, ["tables in a report"], ["tables in excel", "excel tables"])
    assert needed.summary == 'add "report" to extract-pdf\'s description'


def test_list_items_leave_no_dangling_comma_or_conjunction() -> None:
    skill = Skill("x", "For forms, invoices, and receipts. Keywords: alpha, beta.")

    def without(word: str) -> str:
        return edited(skill, [], [word]).description

    assert without("forms") == "For invoices, and receipts. Keywords: alpha, beta."
    assert without("invoices") == "For forms, and receipts. Keywords: alpha, beta."
    assert without("receipts") == "For forms, invoices. Keywords: alpha, beta."
    assert without("alpha") == "For forms, invoices, and receipts. Keywords: beta."
    assert without("beta") == "For forms, invoices, and receipts. Keywords: alpha."
    assert next_edit(Skill("x", "Does things. Keywords: alpha."), [], ["alpha"], set()) == (
        DescriptionEdit(
            Skill("x", "Does things. Keywords: alpha."),
            "Does things.",
            'remove "alpha" from x\'s description',
        )
    )


def test_never_removes_the_last_word() -> None:
    assert next_edit(Skill("x", "Spreadsheets."), [], ["spreadsheets"], set()) is None


# -- order, repeats, length -------------------------------------------------------------------


SKILL = Skill("x", "Handles charts and spreadsheets.")


def test_the_longer_list_of_failures_goes_first_misses_on_a_tie() -> None:
    missed = ["pivot tables"]
    one_false = ["spreadsheets of birds"]
    two_false = ["spreadsheets of birds", "spreadsheets of cats"]

    assert edited(SKILL, missed, one_false).summary.startswith("add")
    assert edited(SKILL, missed, two_false).summary.startswith("remove")


def test_falls_back_to_the_other_kind_of_edit() -> None:
    edit = edited(SKILL, ["pivot tables"], ["birds", "cats"])

    assert edit.summary == 'add "pivot tables" to x\'s description'


def test_never_repeats_a_tried_edit() -> None:
    missed = ["pivot tables", "pivot charts"]
    summaries = []
    while (edit := next_edit(SKILL, missed, [], set(summaries))) is not None:
        summaries.append(edit.summary)

    assert summaries == [
        'add "pivot" to x\'s description',
        'add "pivot charts" to x\'s description',  # a tie: alphabetical
        'add "pivot tables" to x\'s description',
        'add "tables" to x\'s description',
    ]


def test_never_makes_a_description_longer_than_the_limit() -> None:
    missed = ["pivot tables", "pivot tables", "pie"]
    limit = len(SKILL.description) + len(" Keywords: pie.")

    edit = edited(SKILL, missed, [], max_length=limit)

    assert edit.summary == 'add "pie" to x\'s description'
    assert next_edit(SKILL, missed, [], set(), max_length=limit - 1) is None


def test_the_order_of_queries_does_not_matter() -> None:
    missed = ["alpha beta", "gamma delta", "beta gamma"]

    assert next_edit(SKILL, missed, [], set()) == next_edit(SKILL, missed[::-1], [], set())


# -- choosing the skill -----------------------------------------------------------------------


def outcome(query: str, expected: str | None, predicted: str | None) -> QueryOutcome:
    return QueryOutcome(query, expected, predicted, {})


def test_choose_edit_works_on_the_skill_with_the_most_failures_first() -> None:
    docs = Skill("docs", "Writes documents.")
    outcomes = [
        outcome("draft a memo", "docs", None),
        outcome("plot revenue", "x", None),
        outcome("chart spreadsheets", None, "x"),
        outcome("charts please", "x", "x"),
    ]

    edit = choose_edit([docs, SKILL], outcomes, set())
    again = choose_edit([docs, SKILL], outcomes, {edit.summary} if edit else set())

    assert edit is not None
    assert edit.skill == SKILL
    assert edit.summary == 'add "plot revenue" to x\'s description'
    assert again is not None
    assert again.summary == 'add "plot" to x\'s description'


def test_choose_edit_moves_on_when_a_skill_has_no_edit_left() -> None:
    docs = Skill("docs", "Writes documents.")
    outcomes = [
        outcome("handles charts", "x", None),  # nothing new to add to x
        outcome("memo", "docs", None),
    ]

    edit = choose_edit([SKILL, docs], outcomes, set())

    assert edit is not None
    assert edit.summary == 'add "memo" to docs\'s description'
    assert choose_edit([SKILL, docs], [outcome("charts", "x", "x")], set()) is None


words = st.sampled_from(["pivot", "tables", "charts", "the", "of", "birds", "2024", "x", "cats"])
queries = st.lists(st.lists(words, min_size=1, max_size=6).map(" ".join), max_size=6)


@given(
    queries,
    queries,
    st.sets(
        st.sampled_from(
            ['add "pivot" to x\'s description', 'remove "charts" from x\'s description']
        )
    ),
    st.integers(20, 60),
)
def test_every_edit_is_new_within_the_limit_and_deterministic(
    missed: list[str], false_triggers: list[str], tried: set[str], max_length: int
) -> None:
    edit = next_edit(SKILL, missed, false_triggers, tried, max_length)

    assert edit == next_edit(SKILL, missed, false_triggers, tried, max_length)
    if edit is not None:
        assert edit.summary not in tried
        assert len(edit.description) <= max_length
        assert edit.description != SKILL.description
        assert "\n" not in edit.summary
