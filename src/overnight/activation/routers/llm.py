"""The ``llm`` router: a model is shown the skills the way an agent harness lists them and picks
one for the query, or none.

The system prompt lists each skill's name and description under ``<available_skills>``, as
agents see them before they load one; the user message is the query alone. The answer must be
one line, ``skill: <name>`` or ``skill: none``, read tolerantly (case, spaces, backticks, bold,
a trailing full stop, a few words of reasoning around it). An answer that cannot be read, or
names a skill that is not in the list, is asked again once, saying why; a second such answer is
a ``RoutingError``. Every model call is recorded with purpose ``route``, also when routing
fails, so that it counts toward the cost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from overnight import llm
from overnight.activation.routers.base import Router, Routing, RoutingError
from overnight.activation.skills import Skill
from overnight.config import ModelConfig
from overnight.records import Usage

PURPOSE = "route"
MAX_DETAIL = 200

SYSTEM_PROMPT = """\
You are an agent that helps a user with their tasks. You have skills: folders of instructions, \
scripts and resources that you load when a task calls for them. Each available skill is listed \
below with its name and a description of what it does and when to use it.

<available_skills>
{skills}
</available_skills>

When the user's request matches a skill's description, load that skill before doing anything \
else; when no skill matches, work without one. For now, only decide: do not carry out the \
request. Reply with exactly one line:
skill: <name>   (the one skill you would load, its name exactly as listed)
skill: none     (when no skill fits the request)"""

SKILL_ENTRY = "<skill>\n<name>{name}</name>\n<description>{description}</description>\n</skill>"

REASK = (
    "I could not read your answer: {reason}. Reply again with exactly one line: "
    "`skill: <name>` with a name from the list, or `skill: none`."
)

_DECISION = re.compile(r"""^[\s*_#>`'"]*skill[\s*_`'"]*:(.*)$""", re.IGNORECASE)
_DECORATION = " \t*_`'\"<>[]()."
NONE = "none"


class LLMRouter(Router):
    """Asks a model which skill it would load for each query."""

    def __init__(self, model: ModelConfig) -> None:
        llm.require_litellm()
        self.model = model

    def route(self, query: str, skills: Sequence[Skill]) -> Routing:
        names = [skill.name for skill in skills]
        messages = [
            {"role": "system", "content": system_prompt(skills)},
            {"role": "user", "content": query},
        ]
        first = self._ask(messages, ())
        try:
            return Routing(parse_choice(first.text, names), (first.usage,), _detail(first.text))
        except ValueError as unclear:
            reason = str(unclear)
        messages += [
            {"role": "assistant", "content": first.text},
            {"role": "user", "content": REASK.format(reason=reason)},
        ]
        second = self._ask(messages, (first.usage,))
        usage = (first.usage, second.usage)
        try:
            choice = parse_choice(second.text, names)
        except ValueError as unclear:
            message = f"{self.model.model}: could not read the answer: {unclear} (asked twice)"
            raise RoutingError(message, usage) from None
        return Routing(choice, usage, f"{_detail(second.text)} when asked again ({reason})")

    def _ask(self, messages: list[dict[str, str]], spent: tuple[Usage, ...]) -> llm.Completion:
        try:
            return llm.complete(messages, self.model, PURPOSE)
        except llm.LLMError as exc:
            raise RoutingError(str(exc), spent) from None


def system_prompt(skills: Sequence[Skill]) -> str:
    entries = (
        SKILL_ENTRY.format(name=skill.name, description=skill.description.strip())
        for skill in skills
    )
    return SYSTEM_PROMPT.format(skills="\n".join(entries))


def parse_choice(answer: str, names: Sequence[str]) -> str | None:
    """The skill named by the answer's ``skill: <name>`` line, spelled as in ``names``, or None
    for ``skill: none``. ValueError saying why when there is no such line, when lines disagree,
    or when the name is not one of ``names``."""
    values = {
        match.group(1).strip(_DECORATION)
        for line in answer.splitlines()
        if (match := _DECISION.match(line))
    }
    if not values:
        raise ValueError("no line `skill: <name>` in the answer")
    choices = {_resolve(value, names) for value in values}
    if len(choices) > 1:
        named = ", ".join(sorted(choice or NONE for choice in choices))
        raise ValueError(f"the answer names more than one choice ({named})")
    return choices.pop()


def _resolve(value: str, names: Sequence[str]) -> str | None:
    """``value`` as one of ``names`` (any case), None for "none"; the first word alone is enough
    when the model added its reasons after the name."""
    if not value:
        raise ValueError("the `skill:` line names nothing")
    spelled = {name.lower(): name for name in names}
    for candidate in (value, value.split()[0].strip(_DECORATION)):
        key = candidate.lower()
        if key == NONE:
            return None
        if key in spelled:
            return spelled[key]
    raise ValueError(f"{value!r} is not one of the available skills")


def _detail(answer: str) -> str:
    line = " ".join(answer.split())
    return "answered " + (line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…")
