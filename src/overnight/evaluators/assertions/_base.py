"""The assertion interface, and the base every built-in assertion shares.

``Assertion`` is the small interface the suite evaluator codes against. ``BuiltinAssertion``
adds what every check of this library needs, so each one is only its own logic: parameters
validated by pydantic (strict types, unknown keys refused), Jinja2 templates in the string
parameters named by ``templated`` rendered over the case's variables at check time, and the
promise that ``check`` never raises: a missing variable, a crash or a ``CheckError`` becomes a
failing Verdict marked ``error``.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import jinja2
from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from overnight.errors import OvernightError


@dataclass(frozen=True)
class Verdict:
    """One check of one output. ``reason`` says why in numbers, on pass and on fail alike.
    ``error`` marks a check that could not be made at all (a missing variable, a crash, a
    timeout): it fails, and negation leaves it failing rather than turning it into a pass."""

    passed: bool
    reason: str
    deterministic: bool = True
    error: bool = False


Judge = Callable[[str, str, str | None], tuple[bool, str]]


@dataclass(frozen=True)
class CheckContext:
    vars: Mapping[str, Any]  # the case's variables
    root: Path  # the repository root: python functions, commands and test files live here
    judge: Judge | None = None  # judge(rubric, output, model) -> (yes?, the judge's reason)


class AssertionSpecError(OvernightError):
    """A bad assertion spec. ``field`` is the key at fault ("type", "max", "values[2]"), or
    None for the item as a whole, so the caller can name ``evaluate.assert[2].max``."""

    exit_code = 2

    def __init__(self, field: str | None, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class CheckError(Exception):
    """Raised inside a check that cannot be made; becomes a failing Verdict marked error."""


class Assertion(ABC):
    """One binary check of one output."""

    name: ClassVar[str]
    deterministic: ClassVar[bool] = True

    @abstractmethod
    def check(self, output: str, context: CheckContext) -> Verdict:
        """Pass or fail with a reason; never raises, whatever the output."""

    @property
    def label(self) -> str:
        """A short column label for matrices."""
        return self.name


def _number_as_text(value: Any) -> Any:
    """YAML reads ``value: 2024`` as a number; a text parameter takes it as written."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_number_as_text)]


class BuiltinAssertion(BaseModel, Assertion):
    """Base of this library's assertions: the subclass's fields are its parameters, and
    ``_check`` returns ``(passed, reason)`` or raises ``CheckError``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    templated: ClassVar[tuple[str, ...]] = ()  # parameters rendered with Jinja2 per check

    @abstractmethod
    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        """The check itself, on parameters already rendered."""

    def check(self, output: str, context: CheckContext) -> Verdict:
        try:
            passed, reason = self._rendered(context.vars)._check(output, context)
        except CheckError as exc:
            return Verdict(False, str(exc), self.deterministic, error=True)
        except Exception as exc:  # the contract: a check never raises
            problem = f"{self.name} could not check the output: {type(exc).__name__}: {exc}"
            return Verdict(False, problem, self.deterministic, error=True)
        return Verdict(passed, reason, self.deterministic)

    def _rendered(self, variables: Mapping[str, Any]) -> BuiltinAssertion:
        if not self.templated:
            return self
        updates = {name: render(getattr(self, name), variables, name) for name in self.templated}
        return self.model_copy(update=updates)

    @model_validator(mode="after")
    def _templates_compile(self) -> BuiltinAssertion:
        for name in self.templated:
            value = getattr(self, name)
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                field = f"{name}[{index}]" if isinstance(value, list) else name
                _compile_template(item, field)
        return self


_ENVIRONMENT = jinja2.Environment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)


@functools.lru_cache(maxsize=512)
def _template(source: str) -> jinja2.Template:
    return _ENVIRONMENT.from_string(source)


def _compile_template(source: str | None, field: str) -> None:
    if source is None or not has_template_syntax(source):
        return
    try:
        _template(source)
    except jinja2.TemplateSyntaxError as exc:
        raise AssertionSpecError(
            field, f"not a valid template: {exc.message} (line {exc.lineno})"
        ) from None


def has_template_syntax(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def render(value: Any, variables: Mapping[str, Any], field: str) -> Any:
    """``value`` (a string, a list of strings or None) with its templates rendered."""
    if isinstance(value, list):
        return [render(item, variables, field) for item in value]
    if not isinstance(value, str) or not has_template_syntax(value):
        return value
    try:
        return _template(value).render(dict(variables))
    except jinja2.TemplateError as exc:
        known = ", ".join(sorted(map(str, variables))) or "none"
        raise CheckError(f"cannot render {field}: {exc} (this case's vars: {known})") from None


def quote(text: str, limit: int = 40) -> str:
    """``text`` in single quotes on one line, cut at ``limit`` characters, for reasons."""
    flat = text.replace("\r", "\\r").replace("\n", "\\n")
    return f"'{flat[:limit].rstrip()}…'" if len(flat) > limit else f"'{flat}'"


def shown(value: Any, limit: int = 40) -> str:
    """Any value as Python writes it, cut at ``limit`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote_all(texts: list[str], limit: int = 40) -> str:
    return ", ".join(quote(text, limit) for text in texts)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 word``, ``2 words``: numbers in reasons read as English."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def encodable(text: str) -> str:
    """``text`` safe to write as UTF-8 (a lone surrogate becomes '?')."""
    return text.encode("utf-8", "replace").decode("utf-8")
