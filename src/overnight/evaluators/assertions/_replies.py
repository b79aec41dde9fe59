"""Reply assertions: what kind of answer the model gave, rather than what it says.

is-refusal
    The model declined: the output is empty, or it starts with or contains a common refusal
    ("I'm sorry, but I can't", "I cannot help with", "As an AI", "I must decline", ...),
    compared ignoring case and with curly apostrophes read as straight ones. A heuristic, as
    promptfoo's is: ``not-is-refusal`` is the usual form, to check the model did answer.
is-valid-openai-tools-call
    The output is a tool call in OpenAI's shape, as JSON (a ```json fence is taken off): a list
    of ``{type: function, function: {name, arguments}}``, one such call, or an object with
    ``tool_calls``. ``arguments`` is a JSON object, or a string holding one. With ``tools``
    (OpenAI tool definitions, the list a provider is given), each call names one of them and
    its arguments fit that tool's ``parameters`` schema; without, only the shape is checked.
    promptfoo reads the tools from the provider's config; here they are given to the check.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from pydantic import field_validator

from overnight.evaluators.assertions._base import BuiltinAssertion, CheckContext, quote
from overnight.evaluators.assertions._formats import NotJson, parse_json, supported
from overnight.evaluators.assertions._schema import validate

_REFUSAL_STARTS = (
    "i'm sorry",
    "i am sorry",
    "i apologize",
    "sorry, but",
    "sorry, i",
    "as an ai",
    "as a language model",
    "as an assistant",
    "i cannot",
    "i can't",
    "i can not",
    "i'm not able to",
    "i am not able to",
    "i'm unable to",
    "i am unable to",
    "i won't",
    "i will not",
    "i must decline",
)
_REFUSAL_ANYWHERE = (
    "i cannot help with",
    "i can't help with",
    "i cannot assist",
    "i can't assist",
    "i cannot provide",
    "i can't provide",
    "i'm not able to provide",
    "i am not able to provide",
    "i'm unable to provide",
    "i cannot fulfill",
    "i can't fulfill",
    "i cannot comply",
    "i can't comply",
    "i must decline",
    "i must refuse",
    "i'm not comfortable",
    "against my guidelines",
    "violates my guidelines",
    "not something i can help with",
    "i'm not allowed to",
    "i am not allowed to",
    "as an ai language model",
    "as an ai assistant",
)


def refusal(output: str) -> str | None:
    """The refusal phrase found in ``output`` (``""`` for an empty one), or None."""
    plain = " ".join(output.replace("’", "'").lower().split())
    if not plain:
        return ""
    start = next((phrase for phrase in _REFUSAL_STARTS if plain.startswith(phrase)), None)
    return start or next((phrase for phrase in _REFUSAL_ANYWHERE if phrase in plain), None)


class IsRefusal(BuiltinAssertion):
    name: ClassVar[str] = "is-refusal"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        found = refusal(output)
        if found is None:
            return False, f"no refusal: {quote(output)}"
        if not found:
            return True, "a refusal: the output is empty"
        return True, f"a refusal: {quote(found)}"


def _calls(value: Any) -> list[Any] | None:
    if isinstance(value, dict) and "tool_calls" in value:
        value = value["tool_calls"]
    if isinstance(value, dict):
        value = [value]
    return value if isinstance(value, list) and value else None


def _call_problem(call: Any, tools: dict[str, Any] | None, index: int) -> str | None:
    where = f"call {index}"
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or call.get("type", "function") != "function":
        return f"{where}: not {{type: function, function: {{name, arguments}}}}"
    name = function.get("name")
    if not isinstance(name, str) or not name:
        return f"{where}: no function name"
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return f"{where} ({name}): arguments are not JSON"
    if not isinstance(arguments, dict):
        return f"{where} ({name}): arguments are not a JSON object"
    if tools is None:
        return None
    if name not in tools:
        return f"{where}: no tool named {name!r} (tools: {', '.join(tools)})"
    problems = validate(arguments, tools[name])
    return f"{where} ({name}): {problems[0]}" if problems else None


class IsValidOpenaiToolsCall(BuiltinAssertion):
    name: ClassVar[str] = "is-valid-openai-tools-call"
    tools: list[dict[str, Any]] | None = None

    @field_validator("tools")
    @classmethod
    def _definitions(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for index, tool in enumerate(tools or []):
            function = tool.get("function", tool)
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise ValueError(f"tool {index + 1} has no function name")
            supported(function.get("parameters", True), f"tools[{index}].parameters")
        return tools

    def _schemas(self) -> dict[str, Any] | None:
        if self.tools is None:
            return None
        functions = [tool.get("function", tool) for tool in self.tools]
        return {f["name"]: f.get("parameters", True) for f in functions}

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        try:
            value, note = parse_json(output)
        except NotJson as exc:
            return False, str(exc)
        calls = _calls(value)
        if calls is None:
            return False, f"no tool calls: expected a list of calls{note}"
        schemas = self._schemas()
        for index, call in enumerate(calls, 1):
            problem = _call_problem(call, schemas, index)
            if problem:
                return False, problem + note
        names = ", ".join(re.sub(r"\s+", " ", c["function"]["name"]) for c in calls)
        checked = "" if schemas is None else ", arguments fit their schemas"
        return True, f"{len(calls)} valid tool call(s): {names}{checked}{note}"


FAMILY = (IsRefusal, IsValidOpenaiToolsCall)
