"""``similar``: the output means nearly what an expected text says, by embedding similarity.

As in promptfoo, the output and ``value`` (a text, or a list of texts of which the nearest
counts) are embedded and compared by cosine similarity; the check passes at ``threshold`` (0.75
by default) or above. The embeddings come from the same offline sentence-transformers model as
the embedding router (all-MiniLM-L6-v2, carried by the ``[embed]`` extra; ``model`` names
another one that is a local folder or already cached), so nothing leaves the machine and the
same texts score the same everywhere. promptfoo's default embeddings are OpenAI's, whose
similarities run higher: a threshold tuned there may need lowering here.
"""

from __future__ import annotations

import importlib.util
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from overnight.evaluators.assertions._base import (
    BuiltinAssertion,
    CheckContext,
    CheckError,
    Text,
    quote,
)

DEFAULT_THRESHOLD = 0.75  # promptfoo's


class Similar(BuiltinAssertion):
    name: ClassVar[str] = "similar"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    value: Text | list[Text]
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=-1, le=1)
    model: str = Field(default="all-MiniLM-L6-v2", min_length=1)

    @field_validator("value")
    @classmethod
    def _something_to_compare(cls, value: str | list[str]) -> str | list[str]:
        if not value:
            raise ValueError("must not be empty")
        return value

    @property
    def label(self) -> str:
        first = self.value if isinstance(self.value, str) else self.value[0]
        return f"similar {quote(first, 30)}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        expected = [self.value] if isinstance(self.value, str) else self.value
        vectors = embed(self.model, [output, *expected])
        similarities = vectors[1:] @ vectors[0]
        nearest = int(np.argmax(similarities))
        similarity = float(similarities[nearest])
        reason = (
            f"similarity {similarity:.3f} to {quote(expected[nearest])}"
            f" (threshold {self.threshold:g})"
        )
        return similarity >= self.threshold, reason


def embed(model: str, texts: list[str]) -> np.ndarray:
    """Unit embeddings of ``texts``, one row each, or a CheckError saying how to install them."""
    from overnight.activation.routers import embedding

    needed = ["sentence_transformers"]
    if model in embedding.BUNDLED_NAMES:
        needed.append(embedding.BUNDLE)
    absent = [name for name in needed if importlib.util.find_spec(name) is None]
    if absent:
        raise CheckError(f"similar needs {', '.join(absent)}: {embedding.INSTALL}")
    try:
        return embedding._encode(model, texts)
    except Exception as exc:  # a model that cannot be loaded says so in one line
        raise CheckError(f"similar: {exc}") from None


FAMILY = (Similar,)
