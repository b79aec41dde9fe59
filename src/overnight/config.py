"""``overnight.yaml``: parsed and validated at the edge so the rest of the code can trust it.

Every problem becomes one ``ConfigError`` naming the file and the field, e.g.
``overnight.yaml: evaluate.timeout: expected a number, got 'soon'``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from overnight.config_file import CONFIG_NAME, read_mapping
from overnight.errors import ConfigError
from overnight.holdout import held_out_ids


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class PriceConfig(_Strict):
    """What a model costs, for models missing from litellm's price map (local ones, new ones)."""

    input_per_mtok: float = Field(ge=0)  # USD per million prompt tokens
    output_per_mtok: float = Field(ge=0)  # USD per million completion tokens


class ModelConfig(_Strict):
    """One model behind litellm: any provider it supports, or a local OpenAI-compatible server."""

    model: str = Field(min_length=1)  # e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest
    api_base: str | None = None  # e.g. http://localhost:11434/v1 for a local server
    api_key_env: str | None = None  # the variable holding the key, if not the provider's usual one
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=60, gt=0)  # seconds per call
    retries: int = Field(default=3, ge=0)  # on 429, 5xx, timeouts and malformed answers
    price: PriceConfig | None = None


class CheckConfig(_Strict):
    """A command that must exit 0 for a change to be kept: the tests still pass, it builds. A
    speed metric without one rewards doing less work."""

    command: str = Field(min_length=1)
    timeout: float = Field(default=600, gt=0)


class ConstraintConfig(_Strict):
    """Bounds a secondary metric (a ``name: value`` line the evaluation prints) must keep for a
    change to be kept: absolute ones, or no worse than the baseline by more than a share."""

    max: float | None = None
    min: float | None = None
    worse_by_at_most: float | None = Field(default=None, ge=0)  # of the baseline: 0.05 is 5%
    direction: Literal["minimize", "maximize"] = "minimize"  # which way is better

    @model_validator(mode="after")
    def _a_bound(self) -> ConstraintConfig:
        if self.max is None and self.min is None and self.worse_by_at_most is None:
            raise ValueError("needs max, min or worse_by_at_most")
        return self


class EvaluateConfig(_Strict):
    kind: Literal["command"] = "command"
    command: str = Field(min_length=1)
    metric: str = Field(min_length=1, pattern=r"^[A-Za-z_][\w.\-/]*$")
    regex: str | None = None  # one capture group holding the value; replaces "name: value" lines
    direction: Literal["minimize", "maximize"] = "minimize"
    timeout: float = Field(default=600, gt=0)
    env_passthrough: list[str] = Field(default_factory=list)
    repeats: int = Field(default=1, ge=1, le=100)  # the most measurements of one tree
    seeds: Literal["fixed", "vary"] = (
        "fixed"  # OVERNIGHT_SEED: always 0, or the measurement's index
    )
    checks: list[CheckConfig] = Field(default_factory=list)  # run after the metric, on a keep
    constraints: dict[str, ConstraintConfig] = Field(default_factory=dict)

    @field_validator("checks", mode="before")
    @classmethod
    def _commands_alone(cls, value: Any) -> Any:
        """``checks: [pytest -q]`` is short for ``checks: [{command: pytest -q}]``."""
        if isinstance(value, list):
            return [{"command": item} if isinstance(item, str) else item for item in value]
        return value

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


class CommandGenerateConfig(_Strict):
    """Each case's output is what a command prints, given the case's variables."""

    kind: Literal["command"]
    command: str = Field(min_length=1)
    timeout: float = Field(default=60, gt=0)
    env_passthrough: list[str] = Field(default_factory=list)


class PythonGenerateConfig(_Strict):
    """Each case's output is what a function returns: ``file.py:name`` or ``package.module:name``,
    called with the case's variables as keyword arguments."""

    kind: Literal["python"]
    function: str = Field(min_length=3, pattern=r"^[^:]+:[A-Za-z_]\w*$")
    timeout: float = Field(default=60, gt=0)


class LLMGenerateConfig(ModelConfig):
    """Each case's output is a model's answer to a Jinja2 prompt; ``file('SKILL.md')`` in a
    template reads a file of the tree, so the prompt follows the editable files."""

    kind: Literal["llm"]
    prompt: str | None = None  # the user message, a Jinja2 template
    template: str | None = None  # or a file holding it
    system: str | None = None  # the system message, a Jinja2 template
    repeats: int = Field(default=1, ge=1)  # outputs per case: each is scored

    @model_validator(mode="after")
    def _one_prompt(self) -> LLMGenerateConfig:
        if (self.prompt is None) == (self.template is None):
            raise ValueError("give exactly one of prompt (inline) and template (a file)")
        return self


GenerateConfig = Annotated[
    CommandGenerateConfig | PythonGenerateConfig | LLMGenerateConfig,
    Field(discriminator="kind"),
]


class CaseConfig(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    vars: dict[str, Any] = Field(default_factory=dict)
    assertions: list[Any] = Field(default_factory=list, alias="assert")  # on top of the suite's
    holdout: bool = False  # never shown to an agent; checked on every keep


class OverfitConfig(_Strict):
    """What a keep that raises the visible score while the held-out score falls becomes."""

    action: Literal["reject", "warn"] = "reject"  # reject: status overfit; warn: kept, flagged
    tolerance: int = Field(default=0, ge=0)  # held-out checks a keep may lose


class SuiteEvaluateConfig(_Strict):
    """Cases x binary assertions; the score is how many pass (shown as 23/25), to maximize."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal["suite"]
    suite: str | None = None  # a YAML file holding generate, cases, assert, judge (frozen)
    generate: GenerateConfig
    cases: list[CaseConfig] = Field(min_length=1)
    assertions: list[Any] = Field(default_factory=list, alias="assert")  # applied to every case
    judge: ModelConfig | None = None  # answers llm-judge assertions
    concurrency: int = Field(default=8, ge=1, le=256)
    repeats: int = Field(default=1, ge=1, le=100)  # the most measurements of one tree
    seeds: Literal["fixed", "vary"] = (
        "fixed"  # OVERNIGHT_SEED: always 0, or the measurement's index
    )
    holdout: float | None = Field(default=None, gt=0, lt=1)  # hold out this share of the cases
    holdout_by: str | None = None  # a var whose values the held-out share is stratified by
    holdout_seed: int = 0
    overfit: OverfitConfig = Field(default_factory=OverfitConfig)

    @property
    def metric(self) -> str:
        return "score"

    @property
    def direction(self) -> str:
        return "maximize"

    @model_validator(mode="after")
    def _cases_are_distinct(self) -> SuiteEvaluateConfig:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"two cases have the id {case.id!r}")
            seen.add(case.id)
        if not self.assertions and not all(case.assertions for case in self.cases):
            raise ValueError("no assertion to check: add 'assert' to the suite or to every case")
        if len(held_out_ids(self)) >= len(self.cases):
            raise ValueError("every case is held out: leave at least one for the agent to see")
        return self


class QueryConfig(_Strict):
    """A query an agent might get, labelled with the skill that should trigger, or none."""

    query: str = Field(min_length=1)
    skill: str | None = None


class EmbeddingRouterConfig(_Strict):
    """Offline: the skill whose description is most similar to the query, above a threshold and
    ahead of the next skill by a margin, both calibrated on the training queries unless set."""

    kind: Literal["embedding"] = "embedding"
    model: str = "all-MiniLM-L6-v2"
    threshold: float | None = Field(default=None, ge=-1, le=1)  # cosine; None: calibrated
    margin: float | None = Field(default=None, ge=0, le=2)  # over the runner-up; None: calibrated


class LLMRouterConfig(ModelConfig):
    """A model shown the skills the way an agent's skill list shows them picks one or none."""

    kind: Literal["llm"]


class RegexDetectConfig(_Strict):
    kind: Literal["regex"]
    pattern: str = Field(min_length=1)  # one group: the skill's name


class JsonLinesDetectConfig(_Strict):
    kind: Literal["json-lines"]
    tool: str = Field(default="Skill", min_length=1)  # the tool call that uses a skill
    field: str = Field(default="skill", min_length=1)  # the call's input field naming it


class CommandRouterConfig(_Strict):
    """A real agent CLI run headless on each query ({query} is replaced, shell-quoted)."""

    kind: Literal["command"]
    command: str = Field(min_length=1, pattern=r"\{query\}")
    detect: Annotated[RegexDetectConfig | JsonLinesDetectConfig, Field(discriminator="kind")]
    timeout: float = Field(default=300, gt=0)
    env_passthrough: list[str] = Field(default_factory=list)


class ClaudeCodeRouterConfig(_Strict):
    """The real ``claude -p`` on each query, in a temporary project with the skills installed."""

    kind: Literal["claude-code"]
    model: str | None = None  # passed to --model; None: the CLI's own default
    max_turns: int = Field(default=2, ge=1, le=20)  # the session ends after this many turns
    timeout: float = Field(default=300, gt=0)
    env_passthrough: list[str] = Field(default_factory=list)


RouterConfig = Annotated[
    EmbeddingRouterConfig | LLMRouterConfig | CommandRouterConfig | ClaudeCodeRouterConfig,
    Field(discriminator="kind"),
]


class TriggersEvaluateConfig(_Strict):
    """Skill activation: does each query trigger the skill it should, and only that one?"""

    kind: Literal["triggers"]
    skills: list[str] = Field(min_length=1)  # SKILL.md files (front matter: name, description)
    queries: list[QueryConfig] = Field(min_length=2)
    queries_file: str | None = None  # where the queries came from, when a file (frozen)
    router: RouterConfig = Field(default_factory=EmbeddingRouterConfig)
    runs_per_query: int = Field(default=1, ge=1, le=100)
    threshold: float = Field(default=0.5, gt=0, le=1)  # the trigger rate that counts as a trigger
    metric: Literal["f1", "accuracy", "precision", "recall"] = "f1"
    holdout: float = Field(default=0.4, ge=0, lt=1)  # share of queries held out, per label
    holdout_seed: int = 0
    holdout_splits: int = Field(default=1, ge=1, le=20)  # folds the held-out queries are dealt in
    overfit: OverfitConfig = Field(default_factory=OverfitConfig)  # a check: a query, routed
    max_description: int = Field(default=1024, ge=1)
    concurrency: int = Field(default=8, ge=1, le=256)
    repeats: int = Field(default=1, ge=1, le=100)
    seeds: Literal["fixed", "vary"] = "fixed"

    @property
    def direction(self) -> str:
        return "maximize"

    @model_validator(mode="after")
    def _queries_are_distinct(self) -> TriggersEvaluateConfig:
        seen: set[str] = set()
        for query in self.queries:
            if query.query in seen:
                raise ValueError(f"the query {query.query!r} is listed twice")
            seen.add(query.query)
        if not any(q.skill for q in self.queries):
            raise ValueError("no query should trigger a skill: label some with `skill`")
        return self


EvaluatorConfig = Annotated[
    EvaluateConfig | SuiteEvaluateConfig | TriggersEvaluateConfig, Field(discriminator="kind")
]


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
    """Tunes the editable files' constants; ``sampler`` is what proposes the next values (None:
    TPE where Optuna is installed, else the local moves)."""

    kind: Literal["search"] = "search"
    seed: int = 0
    knobs: dict[str, KnobConfig] = Field(default_factory=dict)
    sampler: Literal["tpe", "cmaes", "gp", "random", "local"] | None = None
    changes_per_experiment: int = Field(default=1, ge=1)  # knobs one experiment may change


PRESETS = ("claude-code", "codex", "aider", "gemini")


class CommandAgentConfig(_Strict):
    """Any program that edits the tree; ``preset`` fills in the command for a known coding agent
    run headless (``command`` then adds arguments to it)."""

    kind: Literal["command"]
    preset: Literal["claude-code", "codex", "aider", "gemini"] | None = None
    command: str | None = Field(default=None, min_length=1)
    model: str | None = None  # passed to a preset's own --model option
    timeout: float = Field(default=1800, gt=0)
    description_file: str | None = None  # read the description here, not the last printed line
    env_passthrough: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _command_or_preset(self) -> CommandAgentConfig:
        if self.command is None and self.preset is None:
            raise ValueError(f"needs a command, or a preset (one of {', '.join(PRESETS)})")
        if self.model is not None and self.preset is None:
            raise ValueError(
                "model is passed to a preset's tool; without a preset, put it in command"
            )
        return self


class LLMAgentConfig(ModelConfig):
    """A model rewrites the editable files through search/replace edits, one change at a time."""

    kind: Literal["llm"]
    repairs: int = Field(default=1, ge=0)  # round-trips to fix an answer that cannot be applied
    max_file_chars: int = Field(default=20_000, ge=100)  # larger editable files are excerpted


class PhrasesAgentConfig(_Strict):
    """Offline, for ``evaluate.kind: triggers``: one key phrase added or removed per experiment."""

    kind: Literal["phrases"]


AgentConfig = Annotated[
    SearchAgentConfig | CommandAgentConfig | LLMAgentConfig | PhrasesAgentConfig,
    Field(discriminator="kind"),
]


class PolicyConfig(_Strict):
    kind: Literal["greedy", "noise-aware"] = "greedy"
    min_delta: float = Field(default=0.0, ge=0)
    alpha: float = Field(default=0.005, gt=0, lt=1)  # noise-aware: the level of each look


class BriefConfig(_Strict):
    """How much an agent is told: the brief stays under ``max_tokens`` however long the run."""

    max_tokens: int = Field(default=8000, ge=500)
    stall_after: int = Field(default=3, ge=1)  # failures in a row before a firmer instruction


class LimitsConfig(_Strict):
    """How big one change may be; a larger one is a violation, reverted, and said in the brief."""

    max_changed_lines: int | None = Field(default=None, ge=1)
    max_files: int | None = Field(default=None, ge=1)


class SandboxConfig(_Strict):
    """Where code under test runs. ``auto`` uses bubblewrap when it is installed, ``required``
    refuses to start without it, ``off`` runs unconfined (a warning at every start)."""

    mode: Literal["auto", "required", "off"] = "auto"
    network: bool = False  # an evaluation that calls a model API or downloads needs it
    expose: list[str] = Field(default_factory=list)  # read-only: data outside git, e.g. data/

    @field_validator("expose")
    @classmethod
    def _no_empty_paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.strip():
                raise ValueError("empty path")
        return paths


class ResourcesConfig(_Strict):
    """What each parallel worker gets to itself, so experiments running side by side neither
    share a GPU nor fight over cores (which would skew the timings they are compared on)."""

    gpus: int = Field(default=0, ge=0)  # GPUs per worker, never shared with another worker
    cpus: int | None = Field(default=None, ge=1)  # cores each worker is pinned to; None: unpinned


class LocalExecutorConfig(_Strict):
    kind: Literal["local"] = "local"  # workers are threads of the harness, on this machine


class RayExecutorConfig(_Strict):
    """Workers as Ray actors on a cluster; the integrator and the ledger stay on this machine."""

    kind: Literal["ray"]
    address: str = "auto"  # the cluster's head, as ``ray start`` printed it; auto: the local one
    cpus: float = Field(default=1, ge=0)  # Ray CPUs each worker holds while the run lasts
    resources: dict[str, float] = Field(default_factory=dict)  # custom Ray resources per worker
    start_timeout: float = Field(default=120, gt=0)  # seconds a new worker may wait for room


ExecutorConfig = Annotated[LocalExecutorConfig | RayExecutorConfig, Field(discriminator="kind")]


class BudgetConfig(_Strict):
    experiments: int | None = Field(default=100, ge=0)
    hours: float | None = Field(default=None, gt=0)
    cost_usd: float | None = Field(default=None, gt=0)  # model spending, all purposes together


class PlateauConfig(_Strict):
    """Stop when the last ``window`` experiments together gained less than ``min_gain``."""

    window: int = Field(ge=1)
    min_gain: float = Field(gt=0)


class StopConfig(_Strict):
    target: float | None = None
    patience: int | None = Field(default=None, ge=1)
    plateau: PlateauConfig | None = None
    # the agent itself failing this many times in a row (its tool crashed, timed out or could
    # not reach its model) ends the run: it will not fix itself; null: never
    agent_failures: int | None = Field(default=5, ge=1)


class Config(_Strict):
    name: str = Field(min_length=1)
    layer: str | None = None  # set from ``layers``: which layer this config is
    editable: list[str] = Field(min_length=1)
    frozen: list[str] = Field(default_factory=list)
    program: str | None = None
    evaluate: EvaluatorConfig
    agent: AgentConfig = Field(default_factory=SearchAgentConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    brief: BriefConfig = Field(default_factory=BriefConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    stop: StopConfig = Field(default_factory=StopConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    workers: int = Field(default=1, ge=1, le=64)  # experiments run in parallel, each isolated
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    executor: ExecutorConfig = Field(default_factory=LocalExecutorConfig)

    @model_validator(mode="before")
    @classmethod
    def _command_is_the_default_evaluator(cls, data: Any) -> Any:
        evaluate = data.get("evaluate") if isinstance(data, dict) else None
        if isinstance(evaluate, dict) and "kind" not in evaluate:
            return {**data, "evaluate": {**evaluate, "kind": "command"}}
        return data

    @model_validator(mode="after")
    def _phrases_improve_skills(self) -> Config:
        if self.agent.kind == "phrases" and self.evaluate.kind != "triggers":
            raise ValueError(
                "agent phrases edits skill descriptions: it needs evaluate.kind triggers"
            )
        return self

    @model_validator(mode="after")
    def _noise_aware_needs_repeats(self) -> Config:
        if self.policy.kind == "noise-aware" and self.evaluate.repeats < 2:
            raise ValueError(
                "policy noise-aware compares repeated measurements: set evaluate.repeats to 2 or"
                " more (5 is a good start)"
            )
        return self

    @field_validator("editable", "frozen")
    @classmethod
    def _relative_globs(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            if not glob.strip():
                raise ValueError("empty glob")
            if glob.startswith("/") or ".." in Path(glob).parts:
                raise ValueError(f"{glob!r} must be relative to the repository and stay inside it")
        return globs


LAYER_FIELDS = (
    "editable",
    "frozen",
    "program",
    "evaluate",
    "agent",
    "policy",
    "brief",
    "limits",
    "budget",
    "stop",
)
_LAYER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def load_config(path: Path) -> Config:
    """Read and validate a config file without layers; raise ConfigError with the file and
    field on any problem."""
    configs = load_layers(path)
    if list(configs) != [None]:
        raise ConfigError(path.name, "layers", "this file has layers: choose one")
    return configs[None]


def load_layers(path: Path) -> dict[str | None, Config]:
    """Every layer's config, keyed by layer name; ``{None: config}`` for a file without layers.

    A layer (``layers: {activation: {...}, quality: {...}}``) sets its own evaluate, agent,
    policy, stop rules and budget, and may narrow editable and frozen; the fields outside
    ``layers`` are shared. Every layer is checked, whichever one will run."""
    raw = read_mapping(path, display=str(path))
    name = path.name
    if "layer" in raw:
        raise ConfigError(name, "layer", "unknown field (layers are set under `layers`)")
    layers = raw.pop("layers", None)
    if layers is None:
        return {None: _validate(raw, path)}
    _check_layers(name, raw, layers)
    return {
        layer: _validate({**raw, **copy.deepcopy(fields)}, path, layer, set(fields))
        for layer, fields in layers.items()
    }


def _check_layers(file: str, shared: dict[str, Any], layers: Any) -> None:
    if not isinstance(layers, dict) or not layers:
        raise ConfigError(file, "layers", "expected a mapping of layer names to their fields")
    if "evaluate" in shared:
        raise ConfigError(
            file, "evaluate", "each layer has its own evaluate; move it under layers.<name>"
        )
    for layer, fields in layers.items():
        where = f"layers.{layer}"
        if not isinstance(layer, str) or not _LAYER_NAME.match(layer):
            raise ConfigError(
                file, where, "a layer name is lower-case letters, digits, - and _ (it names runs)"
            )
        if not isinstance(fields, dict):
            raise ConfigError(file, where, f"expected a mapping, got {_shown(fields)}")
        for key in fields:
            if key not in LAYER_FIELDS:
                raise ConfigError(
                    file,
                    f"{where}.{key}",
                    f"unknown field (a layer sets {', '.join(LAYER_FIELDS)})",
                )
        if "evaluate" not in fields:
            raise ConfigError(file, f"{where}.evaluate", "is required")


def _validate(
    raw: dict[str, Any], path: Path, layer: str | None = None, own: set[str] | None = None
) -> Config:
    """One config from its fields; a problem in a field the layer set is named under it."""
    name = path.name
    prefix = f"layers.{layer}." if layer else ""
    try:
        evaluate = raw.get("evaluate")
        if isinstance(evaluate, dict):
            evaluate.setdefault("kind", "command")
            if evaluate.get("kind") == "suite" and isinstance(evaluate.get("suite"), str):
                _merge_suite_file(path.parent, evaluate)
            if evaluate.get("kind") == "triggers" and isinstance(evaluate.get("queries"), str):
                _read_queries_file(path.parent, evaluate)
        try:
            config = Config.model_validate(raw)
        except ValidationError as exc:
            raise _first_error(name, raw, exc) from None
        if isinstance(config.evaluate, SuiteEvaluateConfig):
            _check_assertions(config.evaluate, name, path.parent)
            _check_sources(config.evaluate, name, path.parent)
    except ConfigError as exc:
        if layer and exc.file == name and exc.field and exc.field.split(".")[0] in (own or ()):
            raise ConfigError(exc.file, prefix + exc.field, exc.message) from None
        raise
    return config.model_copy(update={"layer": layer}) if layer else config


SUITE_FILE_FIELDS = ("generate", "cases", "assert", "judge", "concurrency")


def _merge_suite_file(root: Path, evaluate: dict[str, Any]) -> None:
    """Bring the suite file's fields into ``evaluate``; a field set in both places is an error,
    and so is anything else in the suite file, named in the suite file's terms."""
    suite_name = evaluate["suite"]
    suite = read_mapping(root / suite_name, display=suite_name)
    for key, value in suite.items():
        if key not in SUITE_FILE_FIELDS:
            raise ConfigError(
                suite_name,
                key,
                f"unknown field (a suite file holds {', '.join(SUITE_FILE_FIELDS)})",
            )
        if key in evaluate:
            raise ConfigError(suite_name, key, f"is also set in evaluate.{key}; keep one")
        evaluate[key] = value


def _read_queries_file(root: Path, evaluate: dict[str, Any]) -> None:
    """``queries: queries.yaml``: a file holding the list (or ``{queries: [...]}``)."""
    name = evaluate["queries"]
    try:
        loaded = yaml.safe_load((root / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(CONFIG_NAME, "evaluate.queries", f"{name} not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(name, None, f"cannot be read ({str(exc).splitlines()[0]})") from None
    if isinstance(loaded, dict) and set(loaded) == {"queries"}:
        loaded = loaded["queries"]
    if not isinstance(loaded, list):
        raise ConfigError(name, None, "must be a list of {query, skill} entries")
    evaluate["queries"], evaluate["queries_file"] = loaded, name


def _check_assertions(suite: SuiteEvaluateConfig, file: str, root: Path) -> None:
    from overnight.evaluators.assertions import AssertionSpecError, parse_assertion
    from overnight.evaluators.assertions._custom import Python

    where = suite.suite or file
    prefix = "" if suite.suite else "evaluate."
    specs = [(f"{prefix}assert[{i}]", spec) for i, spec in enumerate(suite.assertions)]
    for c, case in enumerate(suite.cases):
        specs += [
            (f"{prefix}cases[{c}].assert[{i}]", spec) for i, spec in enumerate(case.assertions)
        ]
    for field, spec in specs:
        try:
            assertion = parse_assertion(spec)
        except AssertionSpecError as exc:
            raise ConfigError(
                where, f"{field}.{exc.field}" if exc.field else field, exc.message
            ) from None
        if isinstance(assertion, Python):
            _check_function_file(assertion.function, root, where, f"{field}.function")


def _check_function_file(function: str, root: Path, file: str, field: str) -> None:
    """A ``file.py:name`` must name a file that is there now, not when the first case runs."""
    location = function.rsplit(":", 1)[0]
    if location.endswith(".py") and not (root / location).is_file():
        raise ConfigError(file, field, f"no file {location} in the repository")


def _check_sources(suite: SuiteEvaluateConfig, file: str, root: Path) -> None:
    """The generator's templates compile and its files exist, before the first case runs."""
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    where = suite.suite or file
    prefix = "" if suite.suite else "evaluate."
    generate = suite.generate
    if isinstance(generate, PythonGenerateConfig):
        _check_function_file(generate.function, root, where, f"{prefix}generate.function")
    if not isinstance(generate, LLMGenerateConfig):
        return
    sources = {"prompt": generate.prompt, "system": generate.system}
    if generate.template is not None:
        template = root / generate.template
        if not template.is_file():
            raise ConfigError(where, f"{prefix}generate.template", f"no file {generate.template}")
        sources["template"] = template.read_text(encoding="utf-8", errors="replace")
    for field, source in sources.items():
        if source is None:
            continue
        try:
            SandboxedEnvironment().parse(source)
        except TemplateSyntaxError as exc:
            raise ConfigError(
                where,
                f"{prefix}generate.{field}",
                f"template error on line {exc.lineno}: {exc.message}",
            ) from None


def _first_error(file: str, raw: dict[str, Any], exc: ValidationError) -> ConfigError:
    # An unknown key usually explains a missing one (a typo), so it is reported first.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    error = errors[0]
    field = _format_location(_field_path(raw, error["loc"]))
    message = _describe(error)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ConfigError(file, field or None, message)


_UNION_FIELDS = ("agent", "evaluate", "generate")  # fields whose type is chosen by ``kind``


def _field_path(raw: Any, location: tuple[Any, ...]) -> list[str]:
    """The location as the user wrote it: pydantic adds a union's tag (the ``kind`` value) and
    validator names, which are not fields of the file."""
    parts: list[str] = []
    node, tag_done = raw, False
    for part in location:
        if isinstance(part, str) and part.startswith("function-"):
            continue
        after_union = bool(parts) and parts[-1] in _UNION_FIELDS and not tag_done
        if after_union and isinstance(node, dict) and node.get("kind") == part:
            tag_done = True
            continue
        tag_done = False
        parts.append(str(part))
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return parts


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
        return f"expected {wanted}, got {_shown(value)}"
    if kind == "finite_number":
        return f"expected a finite number, got {_shown(value)}"
    if kind == "model_attributes_type":
        return f"expected a mapping, got {_shown(value)}"
    if kind in ("string_type", "list_type", "dict_type", "model_type", "bool_type", "bool_parsing"):
        wanted = {"string": "text", "list": "a list", "dict": "a mapping", "model": "a mapping"}
        noun = wanted.get(kind.split("_")[0], "true or false")
        return f"expected {noun}, got {_shown(value)}"
    if kind == "too_short" and isinstance(value, list):
        return "must not be empty"
    if kind == "literal_error":
        return f"expected {error['ctx']['expected']}, got {_shown(value)}"
    bounds = {
        "greater_than": "above",
        "greater_than_equal": "at least",
        "less_than": "below",
        "less_than_equal": "at most",
    }
    if kind in bounds:
        limit = next(iter(error["ctx"].values()))
        return f"must be {bounds[kind]} {limit}, got {_shown(value)}"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def _shown(value: Any, limit: int = 60) -> str:
    """A value as an error line quotes it: cut short, so a wrong value of megabytes stays one
    readable line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"
