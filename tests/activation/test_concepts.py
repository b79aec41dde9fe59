"""What a request is about: words that cannot be nouns where they stand are no objects, so that a
description never says "Not for deletes or stales"."""

import pytest

from overnight.activation.concepts import concepts


def objects(text: str) -> list[str]:
    return [concept.surface for concept in concepts(text) if concept.role == "object"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("I want to change how notifications behave", ["notification"]),  # a verb only
        ("Something is wrong: the cache never invalidates", ["cache"]),  # an adverb, a verb
        ("The memory usage keeps climbing", ["memory", "usage"]),  # a verb after a noun
        ("Clean up stale worktrees", ["worktree"]),  # an adjective
        ("Set my laptop wallpaper to a dark theme", ["laptop", "wallpaper", "theme"]),
        ("I don't like the look of this report; try a warmer theme", ["look", "report", "theme"]),
        ("Rate my Slack profile photo", ["profile", "photo"]),  # an imperative opens it
        ("pivot tables", ["pivot", "table"]),  # a compound
        ("draft invoices and receipts", ["invoice", "receipt"]),  # after an action
        ("What does MCP stand for?", []),  # a verb after a name
    ],
)
def test_only_words_standing_as_nouns_are_objects(query: str, expected: list[str]) -> None:
    assert objects(query) == expected
