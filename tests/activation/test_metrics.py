"""Trigger metrics: rates and predicted labels per query, the counts behind precision and
recall, the confusion matrix, undefined ratios as 0.0, and the guard against broken routers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overnight.activation.metrics import (
    ActivationMetrics,
    QueryResult,
    Scores,
    sanity_problem,
)
from overnight.errors import EvaluationError


def result(expected: str | None, *choices: str | None, query: str = "q") -> QueryResult:
    return QueryResult(query, expected, choices)


def test_rates_are_shares_of_runs_and_the_predicted_label_needs_the_threshold() -> None:
    runs = result("pdf", "pdf", "pdf", "docx", None)

    assert runs.rates() == {"docx": 0.25, "pdf": 0.5}
    assert runs.predicted() == "pdf"
    assert runs.predicted(threshold=0.6) is None
    assert runs.predicted(threshold=0.25) == "pdf"  # docx triggers too, pdf's rate is higher
    assert result(None, None, None).rates() == {}
    assert result(None, None, None).predicted() is None


def test_a_tie_goes_to_the_first_name() -> None:
    assert result("pdf", "pdf", "docx").predicted() == "docx"
    assert result("pdf", "xlsx", "pdf").predicted() == "pdf"


def test_a_query_without_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="no run of the router"):
        QueryResult("q", None, ())


def test_counts_precision_recall_f1_and_accuracy() -> None:
    results = [
        result("pdf", "pdf", "pdf"),  # true positive
        result("pdf", "pdf", None, None),  # missed: false negative of pdf
        result("pdf", "docx", "docx"),  # wrong skill: false positive of docx, negative of pdf
        result("docx", "docx"),  # true positive
        result(None, "pdf", "pdf", None),  # false trigger: false positive of pdf
        result(None, None, "docx"),  # rate 0.5 reaches the threshold: false positive of docx
        result(None, None, None, "pdf"),  # correctly quiet
    ]

    metrics = ActivationMetrics.from_results(results)

    assert [outcome.predicted for outcome in metrics.outcomes] == [
        "pdf",
        None,
        "docx",
        "docx",
        "pdf",
        "docx",
        None,
    ]
    assert metrics.outcomes[1].rates == {"pdf": pytest.approx(1 / 3)}
    assert metrics.per_skill == {"docx": Scores(1, 2, 0), "pdf": Scores(1, 1, 2)}
    assert metrics.overall == Scores(2, 3, 2)
    assert metrics.accuracy == pytest.approx(3 / 7)
    assert metrics.precision == pytest.approx(2 / 5)
    assert metrics.recall == pytest.approx(2 / 4)
    assert metrics.f1 == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert metrics.labels == ("docx", "pdf", None)
    assert metrics.confusion == {
        "docx": {"docx": 1, "pdf": 0, None: 0},
        "pdf": {"docx": 1, "pdf": 1, None: 1},
        None: {"docx": 1, "pdf": 1, None: 1},
    }


def test_the_threshold_changes_what_triggers() -> None:
    results = [result("pdf", "pdf", None, None), result(None, "pdf", None, None)]

    assert ActivationMetrics.from_results(results).overall == Scores(0, 0, 1)
    assert ActivationMetrics.from_results(results, threshold=0.3).overall == Scores(1, 1, 0)


def test_undefined_ratios_are_zero_and_the_counts_say_so() -> None:
    quiet = ActivationMetrics.from_results([result(None, None), result("pdf", None)])
    nothing_expected = ActivationMetrics.from_results([result(None, "pdf"), result(None, None)])
    perfect_silence = ActivationMetrics.from_results([result(None, None)])

    assert (quiet.precision, quiet.recall, quiet.f1) == (0.0, 0.0, 0.0)
    assert (quiet.overall.predictions, quiet.overall.positives) == (0, 1)
    assert (nothing_expected.precision, nothing_expected.recall) == (0.0, 0.0)
    assert nothing_expected.overall.positives == 0
    assert perfect_silence.accuracy == 1.0
    assert perfect_silence.f1 == 0.0
    assert perfect_silence.per_skill == {}
    assert perfect_silence.confusion == {None: {None: 1}}


def test_no_results_is_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError, match="no query results"):
        ActivationMetrics.from_results([])


labels = st.sampled_from(["docx", "pdf", "xlsx", None])


@given(
    st.lists(
        st.builds(
            QueryResult,
            query=st.text(max_size=5),
            expected=labels,
            choices=st.lists(labels, min_size=1, max_size=5).map(tuple),
        ),
        min_size=1,
    ),
    st.floats(0.05, 1.0),
)
def test_counts_agree_with_each_other(results: list[QueryResult], threshold: float) -> None:
    metrics = ActivationMetrics.from_results(results, threshold)

    diagonal = sum(metrics.confusion[label][label] for label in metrics.labels)
    assert metrics.accuracy == pytest.approx(diagonal / len(results))
    assert sum(sum(row.values()) for row in metrics.confusion.values()) == len(results)
    assert metrics.overall.positives == sum(r.expected is not None for r in results)
    assert metrics.overall.predictions == sum(o.predicted is not None for o in metrics.outcomes)
    for skill, scores in metrics.per_skill.items():
        assert scores.positives == sum(metrics.confusion[skill].values())
        assert scores.predictions == sum(row[skill] for row in metrics.confusion.values())
    for value in (metrics.precision, metrics.recall, metrics.f1, metrics.accuracy):
        assert 0.0 <= value <= 1.0


def test_sanity_flags_a_router_that_never_chooses_a_skill() -> None:
    problem = sanity_problem([result("pdf", None, None), result(None, None, None)])

    assert problem == (
        "the router chose no skill in any of 4 runs over 2 queries, though 1 expect one:"
        " are its answers read correctly?"
    )


def test_sanity_flags_a_router_that_always_chooses_a_skill() -> None:
    problem = sanity_problem([result("pdf", "pdf"), result(None, "docx", "pdf")])

    assert problem == (
        "the router chose a skill in every one of 3 runs, even for the 1 queries that expect"
        " none: can it answer that no skill fits?"
    )


@pytest.mark.parametrize(
    "results",
    [
        [result("pdf", "pdf", None), result(None, None)],  # answers both ways
        [result("pdf", None), result(None, "pdf", None)],  # bad, but not broken
        [result(None, None), result(None, None)],  # silent, and nothing should trigger
        [result("pdf", "pdf"), result("docx", "pdf")],  # always triggers, and all should
    ],
)
def test_sanity_accepts_routers_that_answer_both_ways_or_as_they_should(
    results: list[QueryResult],
) -> None:
    assert sanity_problem(results) is None
