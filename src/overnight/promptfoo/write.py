"""An imported promptfoo config laid out as an overnight project.

The prompts are the editable files, the tests a frozen suite file, the first model both the
generator and (unless the config names a grader) the judge, and an LLM agent rewrites the
prompts. With several prompts each is a layer of its own, so each is improved, measured and
kept on its own against the same suite (``overnight run --layer NAME``). What was left out is
written at the top of overnight.yaml as well as printed, so the project keeps the record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from overnight.config import load_layers
from overnight.config_file import CONFIG_NAME
from overnight.errors import ConfigError, UsageError
from overnight.promptfoo.cases import GRADED
from overnight.promptfoo.read import Imported, Prompt

_AGENT_FIELDS = ("model", "api_base", "api_key_env")
_JUDGE_FIELDS = ("model", "api_base", "api_key_env", "max_tokens")


@dataclass(frozen=True)
class Written:
    config: Path
    prompts: list[str]  # the editable files, relative to the project
    suite: str
    layers: list[str]  # empty with one prompt
    cases: int
    assertions: int
    judge: str | None  # the judge model, when a graded assertion needs one


def write_project(imported: Imported, project: Path, source: str) -> Written:
    """Write the project's files into ``project``; nothing is overwritten."""
    config_path = project / CONFIG_NAME
    if config_path.exists():
        raise UsageError(f"{config_path} exists already")
    project.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    prompts = [_prompt_file(prompt, project, created) for prompt in imported.prompts]
    suite_name = _free(project, "suite.yaml")
    judge = _judge(imported)
    suite: dict[str, Any] = {}
    if judge is not None:
        suite["judge"] = judge
    if imported.tests.shared:
        suite["assert"] = imported.tests.shared
    suite["cases"] = imported.tests.cases
    _write(project / suite_name, _header(source) + _dump(suite), created)
    program = _free(project, "program.md")
    _write(project / program, _program(prompts, suite_name, source), created)
    layers = _layer_names(imported.prompts) if len(prompts) > 1 else []
    config = _config(imported, prompts, layers, suite_name, program)
    _write(config_path, _header(source, imported.left_out) + _dump(config), created)
    try:
        load_layers(config_path)
    except ConfigError:
        for path in reversed(created):
            path.unlink()
        raise
    checks = len(imported.tests.shared) * len(imported.tests.cases) + sum(
        len(case.get("assert", [])) for case in imported.tests.cases
    )
    return Written(
        config_path,
        prompts,
        suite_name,
        layers,
        len(imported.tests.cases),
        checks,
        judge["model"] if judge else None,
    )


def _prompt_file(prompt: Prompt, project: Path, created: list[Path]) -> str:
    if prompt.path is not None:
        return prompt.path
    name = _free(project, f"prompts/{_slug(prompt.label) or 'prompt'}.txt")
    text = prompt.text if prompt.text.endswith("\n") else prompt.text + "\n"
    _write(project / name, text, created)
    return name


def _judge(imported: Imported) -> dict[str, Any] | None:
    """The grader the config names, else the generating model, when anything is graded."""
    specs = [
        *imported.tests.shared,
        *(s for c in imported.tests.cases for s in c.get("assert", [])),
    ]
    if not any(_graded(spec) for spec in specs):
        return None
    if imported.judge is not None:
        return imported.judge
    return {key: value for key, value in imported.model.items() if key in _JUDGE_FIELDS}


def _graded(spec: Any) -> bool:
    if not isinstance(spec, dict):
        return False
    kind = str(spec.get("type", "")).removeprefix("not-")
    return kind in GRADED or any(_graded(inner) for inner in spec.get("assert") or [])


def _config(
    imported: Imported, prompts: list[str], layers: list[str], suite: str, program: str
) -> dict[str, Any]:
    def evaluate(template: str) -> dict[str, Any]:
        generate = {"kind": "llm", **imported.model, "template": template}
        return {"kind": "suite", "suite": suite, "generate": generate}

    config: dict[str, Any] = {
        "name": imported.name,
        "editable": prompts,
        "frozen": [suite],
        "program": program,
    }
    if layers:
        config["layers"] = {
            layer: {"editable": [prompt], "evaluate": evaluate(prompt)}
            for layer, prompt in zip(layers, prompts, strict=True)
        }
    else:
        config["evaluate"] = evaluate(prompts[0])
    agent = {key: value for key, value in imported.model.items() if key in _AGENT_FIELDS}
    config["agent"] = {"kind": "llm", **agent}
    config["budget"] = {"experiments": 30}
    config["stop"] = {"patience": 10}
    return config


def _layer_names(prompts: list[Prompt]) -> list[str]:
    names: list[str] = []
    for prompt in prompts:
        stem = _slug(prompt.label)[:36].rstrip("-") or "prompt"
        stem = stem if stem[0].isalpha() else f"p-{stem}"
        name, number = stem, 2
        while name in names:
            name, number = f"{stem}-{number}", number + 1
        names.append(name)
    return names


def _program(prompts: list[str], suite: str, source: str) -> str:
    files = ", ".join(prompts)
    return f"""\
# Improve the prompts

The prompt templates ({files}) come from {source}. For each case in {suite} the
template is filled with the case's variables (`{{{{ name }}}}`), a model answers it, and the
answer is checked by the suite's assertions: the score is how many checks pass.

Change one thing at a time: the instructions, their order, the format asked for, an example.
Keep every `{{{{ variable }}}}` the template uses, and write instructions a careful person would
follow rather than naming the checks.
"""


def _header(source: str, left_out: list[str] | None = None) -> str:
    lines = [f"# Imported from {source} by `overnight init --from-promptfoo`."]
    if left_out:
        lines.append("# Not carried over:")
        lines += [f"#   - {item}" for item in left_out]
    return "\n".join(lines) + "\n"


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _write(path: Path, text: str, created: list[Path]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    created.append(path)


def _free(project: Path, name: str) -> str:
    """``name``, or ``name`` numbered, whichever is not taken in ``project``."""
    path = Path(name)
    candidate, number = name, 2
    while (project / candidate).exists():
        candidate = str(path.with_name(f"{path.stem}-{number}{path.suffix}").as_posix())
        number += 1
    return candidate


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].rstrip("-")
