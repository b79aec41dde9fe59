"""The offline description agent's choices: which sentence is added for misses, which "Not for"
sentence or removal answers false triggers, in what order, never twice, never past the length
limit, always the same, and moving on from queries that resist."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from overnight.activation.metrics import QueryOutcome
from overnight.activation.phrases import (
    GIVE_UP_AFTER,
    RESIST_AFTER,
    DescriptionEdit,
    Failures,
    choose_edit,
    next_edit,
    skill_edits,
)
from overnight.activation.skills import Skill
from overnight.agents.phrases import failed_attempts
from overnight.records import Experiment, Status

PDF = Skill("extract-pdf", "Extract text and tables from PDF files.")


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


# -- adding "Use when" --------------------------------------------------------------------------


def test_adds_a_use_when_sentence_naming_what_missed_queries_share() -> None:
    missed = ["Read this invoice", "the totals of these invoices, please", "invoice dates"]

    edit = next_edit(PDF, missed, [], set())

    sentence = "Use when the user wants to read invoice dates and totals."
    assert edit == DescriptionEdit(
        PDF,
        f"Extract text and tables from PDF files. {sentence}",
        f'add "{sentence}" to extract-pdf\'s description',
        tuple(sorted(missed)),
    )


def test_a_query_without_an_action_gets_a_sentence_about_its_things() -> None:
    edit = edited(PDF, ["any receipts in here?"], [])

    assert edit.description.endswith(" Use when the user works with receipts.")


def test_names_and_formats_keep_their_spelling() -> None:
    edit = edited(PDF, ["convert the .docx proposal from Acme to something else"], [])

    assert edit.description.endswith(
        " Use when the user wants to convert .docx proposals, or mentions Acme."
    )


def test_never_names_a_concept_a_false_trigger_contains() -> None:
    edit = edited(PDF, ["summarise invoice totals"], ["an invoice in excel"])

    assert "invoice" not in edit.description.lower()
    assert "totals" in edit.description


def test_a_last_sentence_without_a_stop_gets_one() -> None:
    skill = Skill("x", "Does things\n")

    assert edited(skill, ["plot revenue"], []).description == (
        "Does things. Use when the user wants to plot revenues.\n"
    )


# -- false triggers: "Not for", then removals ---------------------------------------------------


def test_a_triggering_negative_gets_a_not_for_sentence_naming_the_near_miss() -> None:
    outcomes = [
        QueryOutcome("extract the tables of this pdf", "extract-pdf", "extract-pdf", {}),
        QueryOutcome("sum the columns of this excel workbook", None, "extract-pdf", {}),
    ]

    edit = choose_edit([PDF], outcomes, set())

    assert edit is not None
    assert edit.description == (
        "Extract text and tables from PDF files. Not for summing columns or workbooks, or"
        " requests about Excel."
    )
    assert edit.targets == ("sum the columns of this excel workbook",)


def test_removes_a_whole_sentence_that_false_triggers_match() -> None:
    skill = Skill("extract-pdf", "Extract text from PDF files. It also handles spreadsheets.")
    false_triggers = ["sum this spreadsheet column", "chart the spreadsheets"]
    failures = Failures(false_triggers=false_triggers, missed=[], own=["read a pdf"])
    edits = list(skill_edits(skill, failures, false_triggers, {}))
    removal = next(edit for edit in edits if edit.summary.startswith("remove"))

    assert edits[0].description.startswith(skill.description + " Not for ")
    assert removal == DescriptionEdit(
        skill,
        "Extract text from PDF files.",
        'remove "It also handles spreadsheets." from extract-pdf\'s description',
        tuple(sorted(false_triggers)),
    )


def test_removes_a_closing_clause_and_keeps_the_stop() -> None:
    skill = Skill("x", "Build web pages, including spreadsheet widgets.")

    edits = [
        edited(skill, [], ["spreadsheet formulas"], tried=tried)
        for tried in ({"never"}, set(), {'add "Not for formulas." to x\'s description'})
    ]

    assert edits[-1].description == "Build web pages."
    assert edits[-1].summary == 'remove ", including spreadsheet widgets" from x\'s description'


def test_never_removes_the_first_sentence_or_what_the_skills_own_queries_need() -> None:
    skill = Skill("x", "Handles spreadsheets. Also spreadsheet charts.")
    outcomes = [
        QueryOutcome("chart my spreadsheet", "x", "x", {}),
        QueryOutcome("spreadsheet charts for birds", None, "x", {}),
        QueryOutcome("spreadsheet charts of cats", None, "x", {}),
    ]
    seen = []
    while (edit := choose_edit([skill], outcomes, set(seen))) is not None:
        seen.append(edit.summary)

    assert seen == [
        'add "Not for birds." to x\'s description',
        'add "Not for cats." to x\'s description',
    ]


# -- order, repeats, length ---------------------------------------------------------------------


SKILL = Skill("x", "Handles charts and spreadsheets.")


def test_the_longer_list_of_failures_goes_first_misses_on_a_tie() -> None:
    missed = ["pivot tables"]
    one_false = ["birds of spreadsheets"]
    two_false = ["birds of spreadsheets", "cats in spreadsheets"]

    assert "Use when" in edited(SKILL, missed, one_false).summary
    assert "Not for" in edited(SKILL, missed, two_false).summary


def test_never_repeats_a_tried_edit_and_tries_few_per_query() -> None:
    missed = ["pivot tables", "pivot charts"]
    summaries = []
    while (edit := next_edit(SKILL, missed, [], set(summaries))) is not None:
        summaries.append(edit.summary)

    assert summaries[0] == (
        'add "Use when the user works with pivot tables and charts." to x\'s description'
    )
    assert 1 <= len(summaries) <= 2


def test_never_makes_a_description_longer_than_the_limit() -> None:
    missed = ["pivot tables", "pivot tables", "pie"]
    first = edited(SKILL, missed, [])

    assert next_edit(SKILL, missed, [], set(), max_length=len(first.description) - 1) != first
    assert next_edit(SKILL, missed, [], set(), max_length=len(SKILL.description) + 5) is None


def test_the_order_of_queries_does_not_matter() -> None:
    missed = ["alpha beta", "gamma delta", "beta gamma"]

    assert next_edit(SKILL, missed, [], set()) == next_edit(SKILL, missed[::-1], [], set())


# -- choosing the skill, moving on --------------------------------------------------------------


def outcome(query: str, expected: str | None, predicted: str | None) -> QueryOutcome:
    return QueryOutcome(query, expected, predicted, {})


def test_choose_edit_works_on_the_skill_with_the_most_failures_first() -> None:
    docs = Skill("docs", "Writes documents.")
    outcomes = [
        outcome("draft a memo", "docs", None),
        outcome("plot revenue", "x", None),
        outcome("forecast revenue", "x", None),
        outcome("charts please", "x", "x"),
    ]

    edit = choose_edit([docs, SKILL], outcomes, set())

    assert edit is not None
    assert edit.skill == SKILL
    assert edit.targets == ("forecast revenue", "plot revenue")


def test_a_query_that_resisted_goes_after_the_others_then_is_given_up() -> None:
    docs = Skill("docs", "Writes documents.")
    outcomes = [outcome("plot revenue", "x", None), outcome("draft a memo", "docs", None)]

    fresh = choose_edit([docs, SKILL], outcomes, set())
    resisted = choose_edit([docs, SKILL], outcomes, set(), attempts={"draft a memo": RESIST_AFTER})
    given_up = {"draft a memo": GIVE_UP_AFTER, "plot revenue": GIVE_UP_AFTER}

    assert fresh is not None and fresh.targets == ("draft a memo",)  # docs: first by name
    assert resisted is not None and resisted.targets == ("plot revenue",)
    assert choose_edit([docs, SKILL], outcomes, set(), attempts=given_up) is None


def test_attempts_count_the_experiments_not_kept_that_aimed_at_a_query() -> None:
    def experiment(number: int, status: Status, *targets: str) -> Experiment:
        return Experiment(1, number, "", status, agent_meta={"targets": list(targets)})

    history = [
        Experiment(1, 0, "", Status.BASELINE),
        experiment(1, Status.DISCARD, "a", "b"),
        experiment(2, Status.KEEP, "a"),
        experiment(3, Status.OVERFIT, "a"),
        experiment(4, Status.CRASH, "b"),
    ]

    assert failed_attempts(history) == {"a": 2, "b": 1}


def test_choose_edit_returns_none_when_nothing_fails() -> None:
    assert choose_edit([SKILL], [outcome("charts", "x", "x")], set()) is None


words = st.sampled_from(["pivot", "tables", "charts", "the", "of", "birds", "2024", "x", "cats"])
queries = st.lists(st.lists(words, min_size=1, max_size=6).map(" ".join), max_size=6)


@settings(deadline=None)
@given(queries, queries, st.integers(20, 120))
def test_every_edit_is_new_within_the_limit_and_deterministic(
    missed: list[str], false_triggers: list[str], max_length: int
) -> None:
    tried: set[str] = set()
    for _ in range(4):
        edit = next_edit(SKILL, missed, false_triggers, tried, max_length)
        assert edit == next_edit(SKILL, missed, false_triggers, tried, max_length)
        if edit is None:
            break
        assert edit.summary not in tried
        assert len(edit.description) <= max_length
        assert edit.description != SKILL.description
        assert "\n" not in edit.summary
        tried.add(edit.summary)
