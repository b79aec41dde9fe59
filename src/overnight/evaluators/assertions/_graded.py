"""Model-graded assertions under promptfoo's names, each a criterion put to the suite's judge.

They reuse ``llm-judge`` rather than a grading call of their own, so the judge model, its
cache, its retries and its cost accounting are the same for every graded check; what each type
adds is the criterion it asks about. The judge answers yes or no, so the score promptfoo
compares with ``threshold`` is 1 for a yes and 0 for a no: any threshold above 0 asks for a yes,
and 0 passes whatever the judge says.

llm-rubric (value*)
    ``value`` is the rubric itself, as promptfoo writes it ("is written for a ten-year-old").
model-graded-closedqa (value*, question*)
    Does the output meet the criterion ``value``, for the request it answers?
factuality (value*, question*)
    Is the output consistent in fact with the reference answer ``value``? Saying less, more or
    the same in other words passes; contradicting the reference fails.
answer-relevance (question*)
    Does the output answer the request it was given, rather than drift or answer another one?

The request the grader is shown is ``question`` when given, else the case's ``query`` variable
(promptfoo's convention), else the case's variables; promptfoo shows its grader the rendered
prompt, which a suite check does not see. All take ``model`` (our litellm name) or ``provider``
(promptfoo's provider id, translated) to choose another judge for this check.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from overnight.evaluators.assertions._base import (
    BuiltinAssertion,
    CheckContext,
    Text,
    quote,
)
from overnight.evaluators.assertions._custom import LlmJudge
from overnight.promptfoo.providers import litellm_name

MAX_VARS_SHOWN = 2000  # characters of the case's variables a criterion quotes


class _Graded(BuiltinAssertion):
    """A question to the judge, built from the type's criterion and the case."""

    deterministic: ClassVar[bool] = False
    model: str | None = None
    provider: str | None = None  # promptfoo's spelling, e.g. openai:gpt-4o-mini
    threshold: float | None = Field(default=None, ge=0, le=1)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, provider: str | None) -> str | None:
        if provider is not None and litellm_name(provider) is None:
            raise ValueError(
                f"unknown provider {provider!r}; give model: with a litellm name instead"
            )
        return provider

    @abstractmethod
    def criterion(self, context: CheckContext) -> str:
        """What the judge is asked, on parameters already rendered."""

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        model = self.model or (litellm_name(self.provider) if self.provider else None)
        judge = LlmJudge.model_construct(rubric=self.criterion(context), model=model)
        yes, reason = judge._check(output, context)
        if self.threshold is not None and self.threshold <= 0:
            return True, f"threshold 0 passes any verdict (the judge said {_said(yes)}: {reason})"
        return yes, reason


def _said(yes: bool) -> str:
    return "yes" if yes else "no"


def _request(question: str | None, variables: Mapping[str, Any]) -> str:
    """The request the output answers, as the criterion shows it to the judge."""
    if question is None and isinstance(variables.get("query"), str):
        question = variables["query"]
    if question is not None:
        return f"The request was:\n<request>\n{question}\n</request>"
    if not variables:
        return "The request is not shown; judge the output on its own."
    shown = "\n".join(f"{name}: {value}" for name, value in variables.items())
    return (
        f"The request was written from these inputs:\n<inputs>\n{shown[:MAX_VARS_SHOWN]}\n</inputs>"
    )


class LlmRubric(_Graded):
    name: ClassVar[str] = "llm-rubric"
    templated: ClassVar[tuple[str, ...]] = ("value",)
    value: Text = Field(min_length=1)

    @property
    def label(self) -> str:
        return f"llm-rubric {quote(self.value, 30)}"

    def criterion(self, context: CheckContext) -> str:
        return self.value


class ClosedQA(_Graded):
    name: ClassVar[str] = "model-graded-closedqa"
    templated: ClassVar[tuple[str, ...]] = ("value", "question")
    value: Text = Field(min_length=1)
    question: Text | None = None

    @property
    def label(self) -> str:
        return f"closedqa {quote(self.value, 30)}"

    def criterion(self, context: CheckContext) -> str:
        return (
            f"The output, as a reply to the request below, meets this criterion: {self.value}\n"
            "Judge only the criterion, not the output's other qualities.\n\n"
            + _request(self.question, context.vars)
        )


class Factuality(_Graded):
    name: ClassVar[str] = "factuality"
    templated: ClassVar[tuple[str, ...]] = ("value", "question")
    value: Text = Field(min_length=1)
    question: Text | None = None

    @property
    def label(self) -> str:
        return f"factuality {quote(self.value, 30)}"

    def criterion(self, context: CheckContext) -> str:
        return (
            "The output agrees in fact with the reference answer below. It may state only part "
            "of the reference, add facts the reference does not mention, or say the same in "
            "other words; differences of style, detail or wording that do not change the "
            "facts are fine. Answer NO only if some statement in the output contradicts the "
            "reference.\n\n"
            f"{_request(self.question, context.vars)}\n\n"
            f"Reference answer:\n<reference>\n{self.value}\n</reference>"
        )


class AnswerRelevance(_Graded):
    name: ClassVar[str] = "answer-relevance"
    templated: ClassVar[tuple[str, ...]] = ("question",)
    question: Text | None = None

    def criterion(self, context: CheckContext) -> str:
        return (
            "The output is a relevant answer to the request below: it addresses what was "
            "asked, stays on that subject, and does not answer a different question or dodge "
            "it. Correctness and style do not matter here, only relevance.\n\n"
            + _request(self.question, context.vars)
        )


FAMILY = (LlmRubric, ClosedQA, Factuality, AnswerRelevance)
