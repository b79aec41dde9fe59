"""A promptfoo config read into plain records: its prompts, its models, its cases.

Prompts are text templates (inline, or ``file://`` paths and globs; a text file holding several
prompts separates them with a line ``---``, as promptfoo does). A prompt file inside the project
is improved where it is; every other prompt is written out as a file of its own. Chat prompts
(JSON or YAML message lists) and prompt functions are listed as left out. Providers become
litellm model names; the first that has one generates, and the rest are listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overnight.config_file import read_mapping
from overnight.errors import ConfigError
from overnight.promptfoo.cases import Tests, read_tests
from overnight.promptfoo.files import CODE_SUFFIXES, is_reference, read_text, resolve
from overnight.promptfoo.providers import litellm_name

_KNOWN = ("description", "prompts", "providers", "targets", "tests", "defaultTest", "$schema")
_SEPARATOR = re.compile(r"^---\s*$", re.MULTILINE)
_TEXT_SUFFIXES = ("", ".txt", ".md", ".j2", ".jinja", ".njk", ".prompt", ".tmpl")
# provider config keys and the ModelConfig field each becomes
_MODEL_FIELDS = {
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "apiBaseUrl": "api_base",
    "baseUrl": "api_base",
    "apiKeyEnvar": "api_key_env",
}


@dataclass(frozen=True)
class Prompt:
    label: str
    text: str
    path: str | None  # a file of the project, improved in place; None: write it out


@dataclass
class Imported:
    name: str
    prompts: list[Prompt]
    model: dict[str, Any]  # ModelConfig fields of the generating model
    judge: dict[str, Any] | None  # ModelConfig fields of the grader, when one is named
    tests: Tests
    left_out: list[str] = field(default_factory=list)


def read_promptfoo(path: Path, project: Path) -> Imported:
    """The config at ``path`` as records for a project in ``project``; ConfigError on a
    problem, naming the file and the field."""
    source = path.name
    raw = read_mapping(path, display=str(path))
    base = path.parent
    left_out = [f"{key}: {_unsupported(key)}" for key in raw if key not in _KNOWN]
    prompts = _prompts(raw.get("prompts"), base, project, source, left_out)
    providers = raw.get("providers", raw.get("targets"))
    models = _models(providers, source, left_out)
    tests = read_tests(raw, base, source)
    judge = None
    if tests.judge is not None:
        judge = _model_fields(tests.judge, "defaultTest.options.provider", left_out)
    description = raw.get("description")
    name = _slug(description if isinstance(description, str) else "") or _slug(base.resolve().name)
    return Imported(
        name=name or "promptfoo",
        prompts=prompts,
        model=models[0],
        judge=judge,
        tests=tests,
        left_out=[*left_out, *tests.left_out],
    )


def _prompts(
    entries: Any, base: Path, project: Path, source: str, left_out: list[str]
) -> list[Prompt]:
    if entries is None:
        raise ConfigError(source, "prompts", "is required: the prompts to improve")
    if isinstance(entries, str):
        entries = [entries]
    if isinstance(entries, Mapping):  # {file://a.txt: label}
        entries = [{"id": key, "label": label} for key, label in entries.items()]
    if not isinstance(entries, list):
        raise ConfigError(source, "prompts", "expected a list of prompts or file:// paths")
    prompts: list[Prompt] = []
    for index, entry in enumerate(entries):
        where = f"prompts[{index}]"
        label = None
        if isinstance(entry, Mapping):
            label = entry.get("label")
            entry = entry.get("raw", entry.get("id"))
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigError(source, where, "expected prompt text, or a file:// path")
        if not is_reference(entry):
            prompts.append(Prompt(str(label or f"prompt-{len(prompts) + 1}"), entry, None))
            continue
        for file in resolve(entry, base, source, where):
            prompts += _file_prompts(file, label, where, project, source, left_out)
    if not prompts:
        raise ConfigError(source, "prompts", "none of them is a text prompt overnight can improve")
    return prompts


def _file_prompts(
    file: Path, label: Any, where: str, project: Path, source: str, left_out: list[str]
) -> list[Prompt]:
    if file.suffix not in _TEXT_SUFFIXES:
        kind = "a prompt function" if file.suffix in CODE_SUFFIXES else "a chat prompt"
        left_out.append(
            f"{where}: {file.name} is {kind}; overnight improves text templates (copy its text"
            " into a .txt file)"
        )
        return []
    text = read_text(file, source, where)
    parts = [part.strip("\n") for part in _SEPARATOR.split(text)]
    parts = [part for part in parts if part.strip()]
    stem = str(label or file.stem)
    if len(parts) == 1:
        inside = file.resolve().is_relative_to(project.resolve())
        in_place = file.resolve().relative_to(project.resolve()).as_posix() if inside else None
        return [Prompt(stem, text, in_place)]
    return [Prompt(f"{stem}-{number}", part + "\n", None) for number, part in enumerate(parts, 1)]


def _models(providers: Any, source: str, left_out: list[str]) -> list[dict[str, Any]]:
    if providers is None:
        raise ConfigError(source, "providers", "is required: the model the prompts are for")
    if isinstance(providers, str | Mapping):
        providers = [providers]
    if not isinstance(providers, list):
        raise ConfigError(source, "providers", "expected a list of provider ids")
    models: list[dict[str, Any]] = []
    for index, entry in enumerate(providers):
        where = f"providers[{index}]"
        fields = _model_fields(entry, where, left_out)
        if fields is None:
            continue
        if models:
            left_out.append(
                f"{where}: {fields['model']}: overnight improves the prompts for one model,"
                f" {models[0]['model']}; set generate.model to use this one"
            )
        models.append(fields)
    if not models:
        ids = ", ".join(repr(_provider(entry)[0] or entry) for entry in providers)
        raise ConfigError(
            source,
            "providers",
            f"none has a litellm model name ({ids}): name a model to generate with",
        )
    return models


def _model_fields(entry: Any, where: str, left_out: list[str]) -> dict[str, Any] | None:
    """ModelConfig fields for a provider entry, or None (listed) when it has no litellm name."""
    provider, options = _provider(entry)
    model = litellm_name(provider) if provider else None
    if model is None:
        left_out.append(f"{where}: {provider or entry!r} is a provider overnight does not know")
        return None
    fields: dict[str, Any] = {"model": model}
    for key, value in options.items():
        if key in _MODEL_FIELDS:
            fields[_MODEL_FIELDS[key]] = value
        elif key == "apiHost":
            fields["api_base"] = f"https://{value}/v1"
        else:
            left_out.append(f"{where}.config.{key}: {_unsupported(key)}")
    return fields


def _provider(entry: Any) -> tuple[str | None, dict[str, Any]]:
    """The id and config of ``openai:gpt-4o``, ``{id, config}`` or ``{openai:gpt-4o: {config}}``."""
    if isinstance(entry, str):
        return entry, {}
    if not isinstance(entry, Mapping):
        return None, {}
    if isinstance(entry.get("id"), str):
        config = entry.get("config")
        return entry["id"], dict(config) if isinstance(config, Mapping) else {}
    if len(entry) == 1:
        key, value = next(iter(entry.items()))
        config = value.get("config") if isinstance(value, Mapping) else None
        return str(key), dict(config) if isinstance(config, Mapping) else {}
    return None, {}


def _unsupported(key: str) -> str:
    return f"promptfoo's {key} has no overnight counterpart"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].rstrip("-")
