"""``overnight.yaml``: parsed and validated at the edge so the rest of the code can trust it.

Every problem becomes one ``ConfigError`` naming the file and the field, e.g.
``overnight.yaml: evaluate.timeout: expected a number, got 'soon'``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from overnight.errors import ConfigError

CONFIG_NAME = "overnight.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluateConfig(_Strict):
    command: str = Field(min_length=1)
    metric: str = Field(min_length=1, pattern=r"^[A-Za-z_][\w.\-/]*$")
    regex: str | None = None  # one capture group holding the value; replaces "name: value" lines
    direction: Literal["minimize", "maximize"] = "minimize"
    timeout: float = Field(default=600, gt=0)
    env_passthrough: list[str] = Field(default_factory=list)

    @field_validator("regex")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            compiled = re.compile(value, re.MULTILINE)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        if compiled.groups != 1:
            raise ValueError(
                f"needs exactly one capture group for the value, has {compiled.groups}"
            )
        return value


class KnobConfig(_Strict):
    """Bounds and choices for one UPPER_CASE constant the search agent may tune."""

    min: float | None = None
    max: float | None = None
    choices: list[str | bool | int | float] | None = None
    log: bool | None = None  # step multiplicatively; the default for positive floats
    freeze: bool = False  # never touch this constant

    @model_validator(mode="after")
    def _bounds_in_order(self) -> KnobConfig:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if self.choices is not None and len(self.choices) < 2:
            raise ValueError("choices needs at least two values")
        return self


class SearchAgentConfig(_Strict):
    kind: Literal["search"] = "search"
    seed: int = 0
    knobs: dict[str, KnobConfig] = Field(default_factory=dict)


class CommandAgentConfig(_Strict):
    kind: Literal["command"]
    command: str = Field(min_length=1)
    timeout: float = Field(default=1800, gt=0)
    description_file: str | None = (
        None  # read the description here instead of the last printed line
    )
    env_passthrough: list[str] = Field(default_factory=list)


AgentConfig = Annotated[SearchAgentConfig | CommandAgentConfig, Field(discriminator="kind")]


class PolicyConfig(_Strict):
    kind: Literal["greedy"] = "greedy"
    min_delta: float = Field(default=0.0, ge=0)


class BudgetConfig(_Strict):
    experiments: int | None = Field(default=100, ge=0)
    hours: float | None = Field(default=None, gt=0)


class StopConfig(_Strict):
    target: float | None = None
    patience: int | None = Field(default=None, ge=1)


class Config(_Strict):
    name: str = Field(min_length=1)
    editable: list[str] = Field(min_length=1)
    frozen: list[str] = Field(default_factory=list)
    program: str | None = None
    evaluate: EvaluateConfig
    agent: AgentConfig = Field(default_factory=SearchAgentConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    stop: StopConfig = Field(default_factory=StopConfig)

    @field_validator("editable", "frozen")
    @classmethod
    def _relative_globs(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            if not glob.strip():
                raise ValueError("empty glob")
            if glob.startswith("/") or ".." in Path(glob).parts:
                raise ValueError(f"{glob!r} must be relative to the repository and stay inside it")
        return globs


def load_config(path: Path) -> Config:
    """Read and validate a config file; raise ConfigError with the file and field on any problem."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), None, "not found (run `overnight init` to create one)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(name, None, f"cannot be read ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(name, where, f"invalid YAML: {problem}") from None
    if raw is None:
        raise ConfigError(name, None, "is empty")
    if not isinstance(raw, dict):
        raise ConfigError(name, None, f"must be a mapping of fields, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(name, exc) from None


def _first_error(file: str, exc: ValidationError) -> ConfigError:
    # An unknown key usually explains a missing one (a typo), so it is reported first.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    error = errors[0]
    loc = error["loc"]
    location = [str(part) for i, part in enumerate(loc) if not _is_union_tag(loc[:i], part)]
    field = _format_location(location)
    message = _describe(error)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ConfigError(file, field or None, message)


def _is_union_tag(before: tuple[Any, ...], part: Any) -> bool:
    # pydantic puts the agent's kind into the location ("agent", "command", "timeout"); only
    # there is it a tag: "command" is also a field name (evaluate.command, agent.command).
    if isinstance(part, str) and part.startswith("function-"):
        return True
    return before == ("agent",) and part in ("search", "command")


def _format_location(parts: list[str]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "union_tag_invalid":
        context = error["ctx"]
        return f"unknown kind {context['tag']!r} (expected one of {context['expected_tags']})"
    if kind == "union_tag_not_found":
        return "needs a 'kind'"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        wanted = "a whole number" if kind.startswith("int") else "a number"
        return f"expected {wanted}, got {value!r}"
    if kind in ("string_type", "list_type", "dict_type", "model_type", "bool_type", "bool_parsing"):
        wanted = {"string": "text", "list": "a list", "dict": "a mapping", "model": "a mapping"}
        noun = wanted.get(kind.split("_")[0], "true or false")
        return f"expected {noun}, got {value!r}"
    if kind == "too_short" and isinstance(value, list):
        return "must not be empty"
    if kind == "literal_error":
        return f"expected {error['ctx']['expected']}, got {value!r}"
    bounds = {
        "greater_than": "above",
        "greater_than_equal": "at least",
        "less_than": "below",
        "less_than_equal": "at most",
    }
    if kind in bounds:
        limit = next(iter(error["ctx"].values()))
        return f"must be {bounds[kind]} {limit}, got {value!r}"
    message = error["msg"]
    return message.removeprefix("Value error, ")
