"""Text assertions: what the output says, matched literally or by pattern.

``equals``, ``starts-with`` and ``ends-with`` ignore whitespace around the output (generators
often end with a newline). ``contains`` is case-sensitive, the ``i``-prefixed ones are not.
Positions in reasons are 1-based character positions.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, field_validator

from overnight.evaluators.assertions._base import (
    BuiltinAssertion,
    CheckContext,
    CheckError,
    Text,
    has_template_syntax,
    plural,
    quote,
    quote_all,
)


class Equals(BuiltinAssertion):
    name: ClassVar[str] = "equals"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    value: Text

    @property
    def label(self) -> str:
        return f"equals {quote(self.value, 20)}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        actual, expected = output.strip(), self.value.strip()
        if actual == expected:
            return True, f"equals the expected {plural(len(expected), 'char')}"
        at = next(
            (i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
            min(len(actual), len(expected)),
        )
        return False, (
            f"differs at char {at + 1}: expected {quote(expected[at:], 20)}, "
            f"got {quote(actual[at:], 20)} ({len(expected)} vs {len(actual)} chars)"
        )


class Contains(BuiltinAssertion):
    name: ClassVar[str] = "contains"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    ignore_case: ClassVar[bool] = False
    value: Text = Field(min_length=1)

    @property
    def label(self) -> str:
        return f"{self.name} {quote(self.value, 20)}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        at = _find(output, self.value, self.ignore_case)
        if at is None:
            return False, f"does not contain {quote(self.value)} ({plural(len(output), 'char')})"
        return True, f"contains {quote(self.value)} (found at char {at + 1})"


class IContains(Contains):
    name: ClassVar[str] = "icontains"
    ignore_case: ClassVar[bool] = True


def _find(text: str, value: str, ignore_case: bool) -> int | None:
    if not ignore_case:
        at = text.find(value)
        return None if at < 0 else at
    match = re.search(re.escape(value), text, re.IGNORECASE)
    return match.start() if match else None


class ContainsAny(BuiltinAssertion):
    name: ClassVar[str] = "contains-any"
    templated: ClassVar[tuple[str, ...]] = ("values",)
    ignore_case: ClassVar[bool] = False
    values: list[Text] = Field(min_length=1)

    @property
    def label(self) -> str:
        return f"{self.name} ({len(self.values)})"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        found = [v for v in self.values if _find(output, v, self.ignore_case) is not None]
        total = len(self.values)
        if not found:
            return False, f"contains none of {total}: {quote_all(self.values, 20)}"
        return True, f"contains {len(found)} of {total}: {quote_all(found, 20)}"


class IContainsAny(ContainsAny):
    name: ClassVar[str] = "icontains-any"
    ignore_case: ClassVar[bool] = True


class ContainsAll(ContainsAny):
    name: ClassVar[str] = "contains-all"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        missing = [v for v in self.values if _find(output, v, self.ignore_case) is None]
        total = len(self.values)
        if missing:
            return False, f"missing {len(missing)} of {total}: {quote_all(missing, 20)}"
        return True, f"contains all {total}"


class IContainsAll(ContainsAll):
    name: ClassVar[str] = "icontains-all"
    ignore_case: ClassVar[bool] = True


_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class Regex(BuiltinAssertion):
    """``flags`` is a string of letters: i (ignore case), m (^ and $ per line), s (. matches a
    newline), x (verbose)."""

    name: ClassVar[str] = "regex"
    templated: ClassVar[tuple[str, ...]] = ("pattern",)
    pattern: Text = Field(min_length=1)
    flags: str = ""

    @property
    def label(self) -> str:
        return f"regex /{self.pattern[:24]}/{self.flags}"

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, flags: str) -> str:
        unknown = sorted(set(flags) - set(_FLAGS))
        if unknown:
            raise ValueError(f"unknown flag {', '.join(unknown)}; use any of i, m, s, x")
        return flags

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        if not has_template_syntax(pattern):
            _compile(pattern, 0, ValueError)
        return pattern

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        flags = 0
        for letter in self.flags:
            flags |= _FLAGS[letter]
        match = _compile(self.pattern, flags, CheckError).search(output)
        shown = f"/{self.pattern}/{self.flags}"
        if match is None:
            return False, f"no match for {shown} in {plural(len(output), 'char')}"
        return True, f"matches {shown} at char {match.start() + 1}: {quote(match.group())}"


def _compile(pattern: str, flags: int, error: type[Exception]) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise error(f"not a valid regular expression: {exc}") from None


class StartsWith(BuiltinAssertion):
    name: ClassVar[str] = "starts-with"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    value: Text = Field(min_length=1)

    @property
    def label(self) -> str:
        return f"{self.name} {quote(self.value, 20)}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        text, value = output.strip(), self.value.strip()
        if text.startswith(value):
            return True, f"starts with {quote(value)} ({plural(len(value), 'char')})"
        return False, f"starts with {quote(text[: len(value)])}, not {quote(value)}"


class EndsWith(StartsWith):
    name: ClassVar[str] = "ends-with"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        text, value = output.strip(), self.value.strip()
        if text.endswith(value):
            return True, f"ends with {quote(value)} ({plural(len(value), 'char')})"
        return False, f"ends with {quote(text[len(text) - len(value) :])}, not {quote(value)}"


class ForbiddenPhrases(BuiltinAssertion):
    """Passes when none of ``phrases`` appears. Matching ignores case, needs word boundaries at
    the phrase's ends (``AI`` does not match ``said``), lets any whitespace stand for a space,
    and treats straight and curly apostrophes alike."""

    name: ClassVar[str] = "forbidden-phrases"
    templated: ClassVar[tuple[str, ...]] = ("phrases",)
    phrases: list[Text] = Field(min_length=1)

    @field_validator("phrases")
    @classmethod
    def _not_blank(cls, phrases: list[str]) -> list[str]:
        if any(not phrase.strip() for phrase in phrases):
            raise ValueError("a phrase is empty")
        return phrases

    @property
    def label(self) -> str:
        return f"{self.name} ({len(self.phrases)})"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        found = []
        for phrase in self.phrases:
            hits = [m.start() for m in phrase_pattern(phrase).finditer(output)]
            if hits:
                times = f"×{len(hits)}, first " if len(hits) > 1 else ""
                found.append(f"{quote(phrase)} ({times}at char {hits[0] + 1})")
        total = len(self.phrases)
        if found:
            return False, f"found {len(found)} of {total} forbidden: {', '.join(found)}"
        return True, f"none of {total} forbidden {'phrase' if total == 1 else 'phrases'} found"


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A case-insensitive, word-boundary-aware pattern for a phrase."""
    parts = [
        r"\s+" if part.isspace() else "['’]" if part in "'’" else re.escape(part)
        for part in re.findall(r"\s+|['’]|[^\s'’]+", phrase.strip())
    ]
    start = r"(?<!\w)" if re.match(r"\w", phrase.strip()) else ""
    end = r"(?!\w)" if re.search(r"\w$", phrase.strip()) else ""
    return re.compile(start + "".join(parts) + end, re.IGNORECASE)


FAMILY = (
    Equals,
    Contains,
    IContains,
    ContainsAny,
    IContainsAny,
    ContainsAll,
    IContainsAll,
    Regex,
    StartsWith,
    EndsWith,
    ForbiddenPhrases,
)
