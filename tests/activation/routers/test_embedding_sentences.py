"""The embedding router's decision: a query scored against each sentence of a description as
well as the whole, the top skill only when it clears the threshold and leads the runner-up by
the margin, both calibrated on labelled queries; the top two named in the evaluation's output;
and a baseline that triggers implausibly seldom warned about."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from llm_server import outside_network_refused
from overnight.activation.calibration import Ranked, calibrate, choose
from overnight.activation.metrics import QueryResult, low_trigger_warning
from overnight.activation.routers import EmbeddingRouter, embedding
from overnight.activation.routers.sentences import sentences
from overnight.activation.skills import Skill
from overnight.config import CONFIG_NAME
from overnight.loop import SilentObserver
from overnight.records import Status

INSTALLED = all(
    importlib.util.find_spec(name) is not None
    for name in ("sentence_transformers", embedding.BUNDLE)
)
needs_model = pytest.mark.skipif(
    not INSTALLED, reason=f"the embed extra is not installed: {embedding.INSTALL}"
)

# A long description whose last sentence names one thing among many: against the whole, a query
# for that one thing scores low; against the sentence, high.
OFFICE = Skill(
    "office",
    "Create, edit and review Word documents with tracked changes and comments, build slide "
    "decks with speaker notes and layouts, and lay out printable brochures and posters. Keeps "
    "corporate fonts, colours and logos consistent across every file it touches. Converts "
    "between document formats and checks accessibility. Also renames batches of photos by the "
    "date they were taken.",
)
CODE = Skill(
    "commit",
    "Write clear, conventional git commit messages from the staged changes. Use when the user "
    "asks to commit or to describe a diff.",
)
PHOTOS = "Rename my holiday photos by the date each was taken"


@pytest.fixture(scope="module", autouse=True)
def _offline() -> Iterator[None]:
    with outside_network_refused() as attempts:
        yield
    assert attempts == [], f"tried to reach outside hosts: {attempts}"


def test_a_description_splits_into_sentences_without_breaking_names_or_numbers() -> None:
    text = (
        "Fill .pdf forms, e.g. tax returns, in version 3.5 or later. Use when asked!\n"
        "Not for images. PDF."
    )

    assert sentences(text) == [
        "Fill .pdf forms, e.g. tax returns, in version 3.5 or later.",
        "Use when asked!",
        "Not for images. PDF.",  # a word alone joins the sentence before it
    ]
    assert sentences("One sentence only.") == ["One sentence only."]
    assert sentences("Keywords: pdf. Extract the tables of any report.") == [
        "Keywords: pdf. Extract the tables of any report."
    ]


@pytest.mark.parametrize(
    ("ranking", "expected"),
    [
        ([("pdf", 0.50), ("xlsx", 0.20)], "pdf"),  # clears both
        ([("pdf", 0.29), ("xlsx", 0.05)], None),  # below the threshold
        ([("pdf", 0.50), ("xlsx", 0.47)], None),  # a near tie: within the margin
        ([("pdf", 0.50), ("xlsx", 0.50)], None),  # an exact tie
        ([("pdf", 0.30)], "pdf"),  # no runner-up to beat
        ([], None),
    ],
)
def test_the_top_skill_triggers_only_above_the_threshold_and_ahead_by_the_margin(
    ranking: list[tuple[str, float]], expected: str | None
) -> None:
    assert choose(ranking, threshold=0.3, margin=0.05) == expected


LABELLED = [
    Ranked("pdf", [("pdf", 0.62), ("xlsx", 0.20)]),
    Ranked("pdf", [("pdf", 0.48), ("xlsx", 0.30)]),
    Ranked("xlsx", [("xlsx", 0.55), ("pdf", 0.21)]),
    Ranked("xlsx", [("xlsx", 0.44), ("pdf", 0.40)]),  # close, and right
    Ranked(None, [("pdf", 0.31), ("xlsx", 0.12)]),  # near miss: under 0.44 rules it out
    Ranked(None, [("xlsx", 0.52), ("pdf", 0.50)]),  # ambiguous: only a margin rules it out
    Ranked(None, [("pdf", 0.10), ("xlsx", 0.08)]),
]


def test_calibration_picks_the_cuts_that_separate_a_small_labelled_set() -> None:
    fitted = calibrate(LABELLED, "f1")

    assert fitted.value == 1.0 and fitted.queries == 7
    assert 0.31 < fitted.threshold <= 0.44  # above the near miss, up to the weakest positive
    assert 0.02 < fitted.margin <= 0.04  # past the ambiguous pair, short of the close one
    assert calibrate(LABELLED, "f1") == fitted
    assert calibrate(list(reversed(LABELLED)), "f1") == fitted  # order does not matter


def test_calibration_prefers_the_middle_of_a_plateau_and_no_margin_on_a_tie() -> None:
    easy = [Ranked("pdf", [("pdf", 0.8), ("xlsx", 0.1)]), Ranked(None, [("pdf", 0.1)])]

    fitted = calibrate(easy, "f1", thresholds=[0.1, 0.2, 0.3, 0.4, 0.5], margins=[0.05, 0.0])

    assert (fitted.threshold, fitted.margin) == (0.3, 0.0)


def test_calibration_needs_labelled_queries() -> None:
    with pytest.raises(ValueError, match="no labelled query"):
        calibrate([], "f1")


@pytest.fixture(scope="module")
def router() -> EmbeddingRouter:
    return EmbeddingRouter(threshold=0.4, margin=0.0)


@needs_model
def test_a_query_matching_one_sentence_of_a_long_description_triggers(
    router: EmbeddingRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    routing = router.route(PHOTOS, [OFFICE, CODE])
    monkeypatch.setattr(embedding, "_pieces", lambda description: ([description], []))
    whole_only = EmbeddingRouter(threshold=0.4, margin=0.0).route(PHOTOS, [OFFICE, CODE])

    assert routing.choice == "office", routing.detail
    assert whole_only.choice is None, whole_only.detail  # the whole alone is too diluted


@needs_model
def test_what_a_description_rules_out_draws_no_query(router: EmbeddingRouter) -> None:
    """Embeddings miss negation: "Not for X" alone would pull X queries in. A query closer to
    what a skill rules out than to what it offers does not trigger it."""
    pdf = Skill("pdf", "Fills in PDF forms and merges PDF files. Not for scanned paper receipts.")
    receipts = "read the totals off these scanned paper receipts"
    forms = "fill in the fields of this PDF form"

    assert router.route(receipts, [pdf]).choice is None
    assert router.route(forms, [pdf]).choice == "pdf"
    assert sentences(pdf.description)[-1] == "Not for scanned paper receipts."


@needs_model
def test_two_skills_within_the_margin_trigger_nothing(router: EmbeddingRouter) -> None:
    near = Skill("photos", "Renames photos by the date they were taken, and sorts them.")
    (_, best), (_, next_) = router.rankings([PHOTOS], [OFFICE, near])[0]
    gap = best - next_
    twin = Skill("office-copy", OFFICE.description)

    tied = EmbeddingRouter(threshold=0.2, margin=0.01).route(PHOTOS, [OFFICE, twin])
    within = EmbeddingRouter(threshold=0.2, margin=round(gap + 0.01, 3)).route(
        PHOTOS, [OFFICE, near]
    )
    beyond = EmbeddingRouter(threshold=0.2, margin=round(gap / 2, 3)).route(PHOTOS, [OFFICE, near])

    assert 0.01 < gap < 0.5
    assert tied.choice is None, tied.detail
    assert tied.detail.endswith("(within the margin 0.01)")
    assert within.choice is None, within.detail
    assert beyond.choice is not None, beyond.detail


@needs_model
def test_the_detail_names_the_top_two_and_why_none_triggered() -> None:
    routing = EmbeddingRouter(threshold=0.9).route(PHOTOS, [OFFICE, CODE])

    assert routing.choice is None
    assert routing.detail.startswith("best office 0.")
    assert ", next commit " in routing.detail
    assert routing.detail.endswith("(below the threshold 0.9)")


QUERIES = [
    {"query": "Rename my holiday photos by the date each was taken", "skill": "office"},
    {"query": "Add tracked changes to this Word document", "skill": "office"},
    {"query": "Build a slide deck with speaker notes", "skill": "office"},
    {"query": "Write a commit message for my staged changes", "skill": "commit"},
    {"query": "Describe this diff as a conventional commit", "skill": "commit"},
    {"query": "What is the capital of France?"},
    {"query": "Write a haiku about autumn"},
]


def triggers_project(
    tmp_path: Path, router: dict | None = None, queries: list[dict] = QUERIES
) -> Path:
    root = tmp_path / "skills-repo"
    for skill in (OFFICE, CODE):
        (root / "skills" / skill.name).mkdir(parents=True)
        (root / "skills" / skill.name / "SKILL.md").write_text(
            f"---\nname: {skill.name}\ndescription: {skill.description}\n---\n\nBody.\n"
        )
    (root / "queries.yaml").write_text(yaml.safe_dump(queries))
    config = {
        "name": "activation",
        "editable": ["skills/*/SKILL.md"],
        "evaluate": {
            "kind": "triggers",
            "skills": ["skills/office/SKILL.md", "skills/commit/SKILL.md"],
            "queries": "queries.yaml",
            "router": router or {"kind": "embedding"},
            "holdout": 0,
        },
        "agent": {"kind": "phrases"},
        "budget": {"experiments": 1},
    }
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@needs_model
def test_eval_says_what_was_calibrated_and_each_querys_top_two(tmp_path: Path) -> None:
    from overnight.project import Project
    from stand_ins.support import run_cli

    root = triggers_project(tmp_path)

    done = run_cli("eval", str(root))
    again = Project.open(root).evaluator()  # as every worker of a run, and a resumed one, does

    assert done.returncode == 0, done.stderr
    calibrated = [line for line in done.stdout.splitlines() if "calibrated" in line]
    assert len(calibrated) == 1, done.stdout
    assert "calibrated threshold 0." in calibrated[0]
    assert ", margin 0" in calibrated[0] and " on 7 training queries " in calibrated[0]
    assert calibrated[0].endswith(again.router_note)  # type: ignore[attr-defined]
    for query in QUERIES:  # passed or not, each says why
        line = next(line for line in done.stdout.splitlines() if line.startswith(query["query"]))
        assert "; best " in line and ", next " in line
    log = (root / ".overnight" / "logs" / "eval.log").read_text()
    assert log.splitlines()[0] == again.router_note  # type: ignore[attr-defined]


@needs_model
def test_a_configured_threshold_and_margin_are_kept(tmp_path: Path) -> None:
    from overnight.project import Project

    router = {"kind": "embedding", "threshold": 0.33, "margin": 0.07}
    evaluator = Project.open(triggers_project(tmp_path, router)).evaluator()

    assert evaluator.router_note == "threshold 0.33, margin 0.07 as configured"  # type: ignore[attr-defined]
    assert evaluator.router.threshold == 0.33  # type: ignore[attr-defined]


@needs_model
def test_only_the_unset_one_is_calibrated(tmp_path: Path) -> None:
    from overnight.project import Project

    router = {"kind": "embedding", "threshold": 0.33}
    evaluator = Project.open(triggers_project(tmp_path, router)).evaluator()

    assert evaluator.router.threshold == 0.33  # type: ignore[attr-defined]
    assert evaluator.router_note.endswith(", the threshold as configured")  # type: ignore[attr-defined]


def runs(expected: str | None, *choices: str | None) -> QueryResult:
    return QueryResult(f"q{expected}{choices}", expected, choices)


def test_a_baseline_that_seldom_triggers_is_warned_about_with_the_likely_causes() -> None:
    seldom = [runs("pdf", "pdf"), *(runs("pdf", None) for _ in range(5)), runs(None, None)]
    elsewhere = [runs("pdf", "xlsx"), runs("xlsx", "pdf"), runs("xlsx", "pdf"), runs("pdf", "pdf")]
    fine = [runs("pdf", "pdf"), runs("xlsx", None), runs(None, None)]

    warning = low_trigger_warning(seldom)
    wrong = low_trigger_warning([*elsewhere[:3], *elsewhere[:3], *elsewhere])  # recall 1 in 10

    assert warning is not None and "only 17% of the runs on the 6 queries" in warning
    assert "recall is 17%" in warning
    assert "threshold too high" in warning and "descriptions too short" in warning
    assert "not detected" in warning
    assert wrong is not None and "skill names the router reports" in wrong
    assert low_trigger_warning(fine) is None  # 50% is not implausible
    assert low_trigger_warning([runs(None, None), runs(None, "pdf")]) is None


class Listening(SilentObserver):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)


@needs_model
def test_a_run_warns_but_goes_on_when_the_baseline_seldom_triggers(tmp_path: Path) -> None:
    high = {"kind": "embedding", "threshold": 0.8, "margin": 0.0}
    more = [{"query": f"Commit message for change number {n}", "skill": "commit"} for n in range(6)]
    root, observer = triggers_project(tmp_path, high, [*QUERIES, *more]), Listening()

    summary = overnight.run(root, experiments=1, observer=observer)

    assert summary.experiments[0].status is Status.BASELINE
    assert len(summary.experiments) == 2  # it went on
    warnings = [m for m in observer.messages if m.startswith("warning: ")]
    assert len(warnings) == 1 and "threshold too high" in warnings[0], observer.messages


@needs_model
def test_a_run_that_triggers_plausibly_is_not_warned_about(tmp_path: Path) -> None:
    root, observer = triggers_project(tmp_path), Listening()

    overnight.run(root, experiments=1, observer=observer)

    assert not [m for m in observer.messages if m.startswith("warning: ")], observer.messages
