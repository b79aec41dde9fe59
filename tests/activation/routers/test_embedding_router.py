"""The embedding router with the real model: queries that plainly belong to one of three
competing skills choose it, unrelated ones choose none, descriptions are embedded once, nothing
reaches the network, and a missing extra is one line naming the fix."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import pytest

from llm_server import outside_network_refused
from overnight.activation.routers import EmbeddingRouter, embedding
from overnight.activation.skills import Skill
from overnight.errors import UsageError

INSTALLED = all(
    importlib.util.find_spec(name) is not None
    for name in ("sentence_transformers", embedding.BUNDLE)
)
needs_model = pytest.mark.skipif(
    not INSTALLED, reason=f"the embed extra is not installed: {embedding.INSTALL}"
)

SKILLS = [
    Skill(
        "pdf",
        "Extract text and tables from PDF documents, fill in PDF forms, and merge or split PDF "
        "files. Use when the user works with .pdf files.",
    ),
    Skill(
        "xlsx",
        "Create and edit Excel spreadsheets: write formulas such as SUM and VLOOKUP, format "
        "cells, build charts and pivot tables. Use when the user works with .xlsx or .csv files.",
    ),
    Skill(
        "git-commit",
        "Write clear, conventional git commit messages from the staged changes. Use when the "
        "user asks to commit or to describe a diff.",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def _offline() -> Iterator[None]:
    """Fail the module if loading or running the model reaches for a host other than loopback."""
    with outside_network_refused() as attempts:
        yield
    assert attempts == [], f"tried to reach outside hosts: {attempts}"


@pytest.fixture(scope="module")
def router() -> EmbeddingRouter:
    return EmbeddingRouter()


@needs_model
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Extract the tables from this PDF invoice", "pdf"),
        ("Merge these three PDF files into one document", "pdf"),
        ("Add a SUM formula to column D of my budget spreadsheet", "xlsx"),
        ("Make a spreadsheet that totals my monthly expenses", "xlsx"),
        ("Write a commit message for my staged changes", "git-commit"),
        ("Commit this diff with a good message", "git-commit"),
    ],
)
def test_a_query_chooses_the_skill_it_plainly_belongs_to(
    router: EmbeddingRouter, query: str, expected: str
) -> None:
    routing = router.route(query, SKILLS)

    assert routing.choice == expected, routing.detail
    assert routing.usage == ()
    assert routing.detail.startswith(f"best {expected} ")


@needs_model
@pytest.mark.parametrize(
    "query",
    [
        "What is the capital of France?",
        "Write a haiku about autumn",
        "Translate 'good morning' into Spanish",
    ],
)
def test_an_unrelated_query_chooses_none(router: EmbeddingRouter, query: str) -> None:
    routing = router.route(query, SKILLS)

    assert routing.choice is None, routing.detail
    assert routing.detail.endswith(f"(below the threshold {embedding.DEFAULT_THRESHOLD:g})")


@needs_model
def test_the_threshold_decides_between_the_best_skill_and_none() -> None:
    query = "Extract the tables from this PDF invoice"

    assert EmbeddingRouter(threshold=-1.0).route("Write a haiku", SKILLS).choice is not None
    assert EmbeddingRouter(threshold=0.99).route(query, SKILLS).choice is None
    assert EmbeddingRouter(threshold=0.99).route(SKILLS[1].description, SKILLS).choice == "xlsx"


@needs_model
def test_each_description_and_sentence_is_embedded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[list[str]] = []
    real = embedding._encode

    def counting(name: str, texts: list[str]) -> np.ndarray:
        encoded.append(list(texts))
        return real(name, texts)

    monkeypatch.setattr(embedding, "_encode", counting)
    router = EmbeddingRouter()
    extra = Skill("docx", "Edit Word documents with tracked changes and comments.")

    router.route("first query", SKILLS)
    router.route("second query", SKILLS)
    router.route("third query", [*SKILLS, extra])

    pieces = sorted(
        piece for skill in SKILLS for part in embedding._pieces(skill.description) for piece in part
    )
    assert len(pieces) == 3 * len(SKILLS)  # each description, and its two sentences
    assert encoded == [
        pieces,
        ["first query"],
        ["second query"],
        [extra.description],
        ["third query"],
    ]


@needs_model
def test_no_skills_choose_none() -> None:
    assert EmbeddingRouter().route("anything", []).detail == "no skills"


def test_a_missing_extra_is_one_line_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)

    with pytest.raises(UsageError) as raised:
        EmbeddingRouter()

    assert "sentence_transformers" in str(raised.value)
    assert str(raised.value).endswith('pip install "overnight[embed]"')
    assert "\n" not in str(raised.value)


def test_the_threshold_is_a_cosine_similarity() -> None:
    with pytest.raises(ValueError, match=r"from -1 to 1, got 1\.5"):
        EmbeddingRouter(threshold=1.5)


def test_offline_settings_are_put_back_after_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")

    with embedding._offline():
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "0"  # the user's choice wins

    assert "HF_HUB_OFFLINE" not in os.environ
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "0"


def test_importing_the_routers_imports_neither_torch_nor_litellm() -> None:
    script = textwrap.dedent(
        """
        import sys
        import overnight.activation.routers
        heavy = {"sentence_transformers", "torch", "transformers", "litellm"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
