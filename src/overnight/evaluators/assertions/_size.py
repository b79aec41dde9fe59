"""Size assertions: a count of words, characters, lines or sentences within ``min``/``max``.

What counts as a word, a character, a line or a sentence is defined once, in
``overnight.evaluators.text``.

``word-count`` also takes promptfoo's ``value: N`` (exactly N) or ``value: {min, max}``.
``counting`` says what a word is: ``prose`` (our rules: markdown, lone punctuation and emoji
are not words; each Chinese or Japanese character is one) or ``whitespace`` (promptfoo's: any
run of non-space characters). Written with ``value:``, it counts as promptfoo does unless
``counting`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from overnight.evaluators import text
from overnight.evaluators.assertions._base import (
    AssertionSpecError,
    BuiltinAssertion,
    CheckContext,
    plural,
    promptfoo_value,
)


class Bounded(BuiltinAssertion):
    """A count within ``min`` and/or ``max`` (inclusive); at least one of them is required."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Bounded:
        if self.min is None and self.max is None:
            raise AssertionSpecError("min", f"missing: {self.name} needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise AssertionSpecError("min", f"{self._shown('min')} is above {self._shown('max')}")
        return self

    def _shown(self, bound: str) -> str:
        value = getattr(self, bound)
        return (
            f"{bound} ({value})"
            if bound in self.model_fields_set
            else f"{bound} ({value}, the default)"
        )

    @property
    def label(self) -> str:
        if self.min is None:
            return f"{self.name}<={self.max}"
        if self.max is None:
            return f"{self.name}>={self.min}"
        return f"{self.name} {self.min}..{self.max}"


def within(count: int, what: str, low: int | None, high: int | None) -> tuple[bool, str]:
    """``(passed, reason)`` for a count against inclusive bounds; ``what`` is already counted,
    e.g. "312 words"."""
    if high is not None and count > high:
        return False, f"{what}, over max {high} by {count - high}"
    if low is not None and count < low:
        return False, f"{what}, under min {low} by {low - count}"
    if low is None:
        return True, f"{what} (max {high})"
    if high is None:
        return True, f"{what} (min {low})"
    return True, f"{what} (within {low}..{high})"


class _CountAssertion(Bounded):
    noun: ClassVar[str]
    counter: ClassVar[Callable[[str], int]]

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        count = type(self).counter(output)
        return within(count, plural(count, self.noun), self.min, self.max)


class WordCount(_CountAssertion):
    name: ClassVar[str] = "word-count"
    noun: ClassVar[str] = "word"
    counter: ClassVar[Callable[[str], int]] = text.word_count
    counting: Literal["prose", "whitespace"] = "prose"

    @model_validator(mode="before")
    @classmethod
    def _promptfoo_value(cls, data: Any) -> Any:
        """``value: 50`` is exactly 50; ``value: {min: 10, max: 50}`` a range."""
        if (written := promptfoo_value(data, "min", "max")) is None:
            return data
        data, value = written
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"min", "max"})
            if unknown:
                raise AssertionSpecError("value", f"takes min and max, not {', '.join(unknown)}")
            data.update(value)
        else:
            data["min"] = data["max"] = value
        data.setdefault("counting", "whitespace")
        return data

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        if self.counting == "prose":
            return super()._check(output, context)
        count = len(output.split())
        return within(count, plural(count, "whitespace-separated word"), self.min, self.max)


class CharCount(_CountAssertion):
    name: ClassVar[str] = "char-count"
    noun: ClassVar[str] = "char"
    counter: ClassVar[Callable[[str], int]] = text.char_count


class LineCount(_CountAssertion):
    """Counts non-empty lines."""

    name: ClassVar[str] = "line-count"
    noun: ClassVar[str] = "line"
    counter: ClassVar[Callable[[str], int]] = text.line_count


class SentenceCount(_CountAssertion):
    name: ClassVar[str] = "sentence-count"
    noun: ClassVar[str] = "sentence"
    counter: ClassVar[Callable[[str], int]] = text.sentence_count


FAMILY = (WordCount, CharCount, LineCount, SentenceCount)
