"""Overlap assertions: how close the output is to a reference text, as a number against a
``threshold`` (promptfoo's names, defaults and directions).

levenshtein
    The edit distance (insertions, deletions, substitutions of characters) between the output
    and ``value`` is at most ``threshold`` (default 5). Case and whitespace count.
rouge-n
    ROUGE-N recall: the share of ``value``'s n-grams (``n``, default 1) that the output holds,
    each counted at most as often as the output has it; at least ``threshold`` (default 0.75).
    Words are runs of letters and digits, compared ignoring case.
bleu
    BLEU-4 against ``value`` (one reference, or a list of them): the geometric mean of the
    clipped 1- to 4-gram precisions times the brevity penalty, unsmoothed, so an output with no
    matching 4-gram scores 0; at least ``threshold`` (default 0.5). Words are split at
    whitespace and compared ignoring case.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, ClassVar

from pydantic import Field, field_validator

from overnight.evaluators.assertions._base import (
    BuiltinAssertion,
    CheckContext,
    Finite,
    Text,
    quote,
)


def levenshtein(a: str, b: str) -> int:
    """The edit distance, in O(len(a) * len(b)) time and O(len(b)) memory."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


class Levenshtein(BuiltinAssertion):
    name: ClassVar[str] = "levenshtein"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    value: Text
    threshold: int = Field(default=5, ge=0)

    @property
    def label(self) -> str:
        return f"levenshtein {quote(self.value, 20)}<={self.threshold}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        apart = abs(len(output) - len(self.value))
        if apart > self.threshold:  # each missing character is an edit: no need to count
            return False, (
                f"edit distance at least {apart} from {quote(self.value, 30)} (the lengths "
                f"differ by that), over {self.threshold}"
            )
        distance = levenshtein(output, self.value)
        verdict = "within" if distance <= self.threshold else "over"
        return distance <= self.threshold, (
            f"edit distance {distance} from {quote(self.value, 30)}, {verdict} {self.threshold}"
        )


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _clipped(candidate: Counter[Any], reference: Counter[Any]) -> int:
    return sum(min(count, reference[gram]) for gram, count in candidate.items())


class RougeN(BuiltinAssertion):
    name: ClassVar[str] = "rouge-n"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    value: Text = Field(min_length=1)
    threshold: Finite = Field(default=0.75, ge=0)
    n: int = Field(default=1, ge=1)

    @property
    def label(self) -> str:
        return f"rouge-{self.n}>={self.threshold:g}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        reference = _ngrams(re.findall(r"\w+", self.value.lower()), self.n)
        if not reference:
            return False, f"the reference has no {self.n}-grams to recall"
        found = _clipped(_ngrams(re.findall(r"\w+", output.lower()), self.n), reference)
        score = found / sum(reference.values())
        verdict = "at least" if score >= self.threshold else "below"
        return score >= self.threshold, (
            f"ROUGE-{self.n} {score:.3f} ({found} of {sum(reference.values())} reference "
            f"{self.n}-grams), {verdict} {self.threshold:g}"
        )


def bleu(candidate: list[str], references: list[list[str]]) -> float:
    """BLEU-4 with uniform weights and no smoothing."""
    if not candidate:
        return 0.0
    precisions = []
    for n in range(1, 5):
        grams = _ngrams(candidate, n)
        total = sum(grams.values())
        if total == 0:
            return 0.0
        most: Counter[tuple[str, ...]] = Counter()
        for reference in references:
            most |= _ngrams(reference, n)
        matched = _clipped(grams, most)
        if matched == 0:
            return 0.0
        precisions.append(matched / total)
    length = len(candidate)
    closest = min((abs(len(r) - length), len(r)) for r in references)[1]
    penalty = 1.0 if length > closest else math.exp(1 - closest / length)
    return penalty * math.exp(sum(math.log(p) for p in precisions) / 4)


class Bleu(BuiltinAssertion):
    name: ClassVar[str] = "bleu"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    value: Text | list[Text]
    threshold: Finite = Field(default=0.5, ge=0)

    @field_validator("value")
    @classmethod
    def _some_reference(cls, value: str | list[str]) -> str | list[str]:
        if not value:
            raise ValueError("must not be empty")
        return value

    @property
    def label(self) -> str:
        return f"bleu>={self.threshold:g}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        references = [self.value] if isinstance(self.value, str) else self.value
        score = bleu(output.lower().split(), [r.lower().split() for r in references])
        verdict = "at least" if score >= self.threshold else "below"
        against = "the reference" if len(references) == 1 else f"{len(references)} references"
        return score >= self.threshold, (
            f"BLEU {score:.3f} against {against}, {verdict} {self.threshold:g}"
        )


FAMILY = (Levenshtein, RougeN, Bleu)
