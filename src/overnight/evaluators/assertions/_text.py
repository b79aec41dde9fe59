"""Text assertions: what the output says, matched literally or by pattern.

Each takes promptfoo's spelling as well as ours, and written promptfoo's way it behaves as
promptfoo documents:

equals
    Exact comparison, as promptfoo makes it; ``trim: true`` ignores whitespace around the output
    and the value. An object or list ``value`` compares the output parsed as JSON, ignoring key
    order (``true`` is not ``1``).
starts-with, ends-with
    ``starts-with`` is exact unless ``trim: true``, as in promptfoo; ``ends-with`` (ours alone)
    trims by default (``trim: false`` to compare exactly), since generated text often ends
    with a newline.
contains, icontains
    ``contains`` is case-sensitive, ``icontains`` is not.
contains-any, contains-all, icontains-any, icontains-all
    ``values: [a, b]`` or promptfoo's ``value:``, a list or one string of comma-separated
    items in which double quotes keep a comma (``'"Hello, world", hi'`` is two items).
regex
    ``pattern:`` (ours) or ``value:`` (promptfoo's), with ``flags`` (i, m, s, x). ``syntax``
    says whose rules the pattern follows: ``python`` (the default for ``pattern:``) or
    ``javascript`` (the default for ``value:``, as promptfoo runs it: ``$`` only at the very
    end, ASCII ``\\d``/``\\w``; see ``_jsregex``).

Positions in reasons are 1-based character positions.
"""

from __future__ import annotations

import csv
import json
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from overnight.evaluators.assertions._base import (
    AssertionSpecError,
    BuiltinAssertion,
    CheckContext,
    CheckError,
    Text,
    has_template_syntax,
    plural,
    promptfoo_value,
    quote,
    quote_all,
)
from overnight.evaluators.assertions._jsregex import translate
from overnight.evaluators.assertions._schema import same


class Equals(BuiltinAssertion):
    name: ClassVar[str] = "equals"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    value: Text | dict[str, Any] | list[Any]
    trim: bool = False

    @property
    def label(self) -> str:
        if not isinstance(self.value, str):
            return f"equals {quote(json.dumps(self.value), 20)}"
        return f"equals {quote(self.value, 20)}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        if not isinstance(self.value, str):
            return _equals_json(output, self.value)
        actual, expected = output, self.value
        if self.trim:
            actual, expected = actual.strip(), expected.strip()
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


def _equals_json(output: str, expected: Any) -> tuple[bool, str]:
    try:
        actual = json.loads(output)
    except ValueError:
        return False, f"expected JSON equal to the value; the output is not JSON: {quote(output)}"
    if same(actual, expected):
        return True, "the output, parsed as JSON, equals the value (key order aside)"
    return False, f"the output's JSON differs from the value: {quote(json.dumps(actual), 60)}"


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

    @model_validator(mode="before")
    @classmethod
    def _promptfoo_value(cls, data: Any) -> Any:
        """promptfoo writes ``value:``, a list or a comma-separated string."""
        if (written := promptfoo_value(data, "values")) is None:
            return data
        rest, value = written
        return {**rest, "values": split_items(value) if isinstance(value, str) else value}

    @property
    def label(self) -> str:
        return f"{self.name} ({len(self.values)})"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        found = [v for v in self.values if _find(output, v, self.ignore_case) is not None]
        total = len(self.values)
        if not found:
            return False, f"contains none of {total}: {quote_all(self.values, 20)}"
        return True, f"contains {len(found)} of {total}: {quote_all(found, 20)}"


def split_items(value: str) -> list[str]:
    """``'a, "b, c"'`` as ``['a', 'b, c']``: commas separate, double quotes keep."""
    row = next(csv.reader([value], skipinitialspace=True), [])
    return [item.strip() for item in row if item.strip()]


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
    syntax: Literal["python", "javascript"] = "python"

    @model_validator(mode="before")
    @classmethod
    def _promptfoo_value(cls, data: Any) -> Any:
        """promptfoo writes ``value:``, and means a JavaScript pattern."""
        if (written := promptfoo_value(data, "pattern")) is None:
            return data
        rest, value = written
        return {"syntax": "javascript", **rest, "pattern": value}

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

    @model_validator(mode="after")
    def _compiles(self) -> Regex:
        if not has_template_syntax(self.pattern):
            try:
                self._compiled(ValueError)
            except ValueError as exc:
                raise AssertionSpecError("pattern", str(exc)) from None
        return self

    def _compiled(self, error: type[Exception]) -> re.Pattern[str]:
        flags = 0
        for letter in self.flags:
            flags |= _FLAGS[letter]
        pattern = self.pattern
        if self.syntax == "javascript":
            pattern = translate(pattern, "m" in self.flags, "s" in self.flags)
        return _compile(pattern, flags, error)

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        match = self._compiled(CheckError).search(output)
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
    trim: bool = False

    def _sides(self, output: str) -> tuple[str, str]:
        return (output.strip(), self.value.strip()) if self.trim else (output, self.value)

    @property
    def label(self) -> str:
        return f"{self.name} {quote(self.value, 20)}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        text, value = self._sides(output)
        if text.startswith(value):
            return True, f"starts with {quote(value)} ({plural(len(value), 'char')})"
        return False, f"starts with {quote(text[: len(value)])}, not {quote(value)}"


class EndsWith(StartsWith):
    name: ClassVar[str] = "ends-with"
    trim: bool = True

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        text, value = self._sides(output)
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
