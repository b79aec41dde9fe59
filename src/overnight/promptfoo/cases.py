"""promptfoo's tests as overnight's cases: vars, assertions, ``defaultTest``, CSV and YAML files.

Assertions pass through as promptfoo spells them, and the assertion library decides: what it
accepts is carried over, what it refuses (a JavaScript check, a type it does not have, a key it
does not take) is left out with the reason, in ``left_out``. A JavaScript ``transform`` leaves
out the assertion it would have changed, since checking the untransformed output would be a
different check.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overnight.errors import ConfigError
from overnight.evaluators.assertions import AssertionSpecError, parse_assertion
from overnight.promptfoo.files import (
    CODE_SUFFIXES,
    is_reference,
    load_data,
    read_text,
    reference_path,
    resolve,
)
from overnight.promptfoo.providers import litellm_name

GRADED = ("llm-rubric", "model-graded-closedqa", "factuality", "answer-relevance")
_ELSEWHERE = {
    "javascript": "JavaScript cannot run here; write it as a python assertion",
    "webhook": "a webhook is promptfoo's call to a server; write it as a command assertion",
}
# CSV cells name an assertion as ``type:value`` or ``type(threshold):value``; these spellings
# are promptfoo's own shorthands for a type.
_ALIASES = {"grade": "llm-rubric", "fn": "javascript", "eval": "javascript"}
# promptfoo's assertion types, so that a cell like "note: bring tea" stays an expected output
_TYPES = frozenset(
    {
        "equals",
        "contains",
        "icontains",
        "contains-all",
        "contains-any",
        "icontains-all",
        "icontains-any",
        "starts-with",
        "regex",
        "is-json",
        "contains-json",
        "is-xml",
        "contains-xml",
        "is-html",
        "contains-html",
        "is-sql",
        "contains-sql",
        "is-valid-openai-tools-call",
        "is-valid-openai-function-call",
        "javascript",
        "python",
        "webhook",
        "levenshtein",
        "rouge-n",
        "bleu",
        "gleu",
        "meteor",
        "similar",
        "llm-rubric",
        "model-graded-closedqa",
        "factuality",
        "answer-relevance",
        "context-recall",
        "context-relevance",
        "context-faithfulness",
        "g-eval",
        "latency",
        "cost",
        "perplexity",
        "perplexity-score",
        "classifier",
        "moderation",
        "is-refusal",
        "finish-reason",
        "word-count",
        "select-best",
        "human",
        "pi",
        "guardrails",
        "assert-set",
    }
)
_CELL = re.compile(r"^(not-)?([a-z][a-z0-9-]*)(?:\((-?\d+(?:\.\d+)?)\))?(?::(.*))?$", re.DOTALL)
_NUMERIC = ("word-count", "latency", "cost", "perplexity", "levenshtein")
_CSV_COLUMNS = ("__expected", "__description", "__metric")


@dataclass
class Tests:
    """What the cases of a suite are made of, and what could not be carried over."""

    shared: list[Any] = field(default_factory=list)  # defaultTest's assertions
    shared_vars: dict[str, Any] = field(default_factory=dict)
    judge: Any = None  # defaultTest's grading provider, as promptfoo writes it
    cases: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)


def read_tests(raw: dict[str, Any], base: Path, source: str) -> Tests:
    tests = Tests()
    default = raw.get("defaultTest")
    if is_reference(default):
        path = resolve(default, base, source, "defaultTest")[0]
        default = load_data(path, source, "defaultTest")
    if default is not None:
        _default_test(default, base, source, tests)
    entries = raw.get("tests")
    if entries is None:
        raise ConfigError(source, "tests", "is required: the cases to improve the prompts on")
    for where, entry, origin in _entries(entries, base, source):
        _add_test(entry, where, origin, base, tests)
    if not tests.cases:
        raise ConfigError(source, "tests", "no test left with an assertion overnight can check")
    return tests


def _default_test(default: Any, base: Path, source: str, tests: Tests) -> None:
    if not isinstance(default, Mapping):
        raise ConfigError(source, "defaultTest", "expected a mapping of vars, assert, options")
    for key in default:
        if key not in ("vars", "assert", "options"):
            tests.left_out.append(f"defaultTest.{key}: {_unsupported(key)}")
    tests.shared_vars = _vars(default.get("vars") or {}, "defaultTest.vars", base, source, tests)
    options = default.get("options") or {}
    tests.judge = _options(options, "defaultTest.options", tests)
    tests.shared = _assertions(
        default.get("assert") or [], "defaultTest.assert", base, source, None, tests
    )


def _options(options: Any, where: str, tests: Tests) -> Any:
    """The grading provider the options name, as written; other options are listed as left
    out."""
    if not isinstance(options, Mapping):
        return None
    provider = options.get("provider")
    for key in options:
        if key == "transform":
            tests.left_out.append(
                f"{where}.transform: JavaScript cannot run here; the assertions check the"
                " untransformed output"
            )
        elif key != "provider":
            tests.left_out.append(f"{where}.{key}: {_unsupported(key)}")
    grader = provider_id(provider)
    if provider is not None and (grader is None or litellm_name(grader) is None):
        tests.left_out.append(f"{where}.provider: {_shown(provider)} has no litellm name")
        return None
    return provider


def _entries(entries: Any, base: Path, source: str) -> list[tuple[str, Any, str]]:
    """Every test as (how messages name it, the test, the file it came from)."""
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list):
        raise ConfigError(source, "tests", "expected a list of tests or file:// paths")
    found: list[tuple[str, Any, str]] = []
    for index, entry in enumerate(entries):
        where = f"tests[{index}]"
        if not is_reference(entry):
            found.append((where, entry, source))
            continue
        for path in resolve(entry, base, source, where):
            found.extend(_tests_file(path))
    return found


def _tests_file(path: Path) -> list[tuple[str, Any, str]]:
    name = path.name
    if path.suffix == ".csv":
        rows = _csv_rows(read_text(path, name, None), name)
        return [(f"{name} line {line}", row, name) for line, row in rows]
    if path.suffix == ".jsonl":
        lines = read_text(path, name, "tests").splitlines()
        try:
            loaded = [json.loads(line) for line in lines if line.strip()]
        except ValueError as exc:
            raise ConfigError(name, None, f"cannot be parsed ({exc})") from None
    else:
        loaded = load_data(path, name, "tests")
    if isinstance(loaded, Mapping) and "tests" in loaded:
        loaded = loaded["tests"]
    if not isinstance(loaded, list):
        raise ConfigError(name, None, "expected a list of tests")
    return [(f"{name}[{index}]", entry, name) for index, entry in enumerate(loaded)]


def _csv_rows(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    """Each row as a promptfoo test: columns are vars, ``__expected`` columns assertions."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ConfigError(name, None, "has no header row")
    tests = []
    for row in reader:
        line = reader.line_num
        test: dict[str, Any] = {"vars": {}, "assert": []}
        for column, cell in row.items():
            if column is None:
                raise ConfigError(name, f"line {line}", "has more cells than the header")
            cell = cell or ""
            if column.startswith("__expected"):
                if cell.strip():
                    test["assert"].append(from_cell(cell))
            elif column == "__description":
                test["description"] = cell
            elif column == "__metric":
                test["metric"] = cell
            elif column.startswith("__"):
                test.setdefault("unsupported", []).append(column)
            else:
                test["vars"][column] = cell
        tests.append((line, test))
    return tests


def from_cell(cell: str) -> dict[str, Any]:
    """A CSV ``__expected`` cell as an assertion, by promptfoo's conventions: ``contains: x``,
    ``not-icontains: x``, ``similar(0.8): x``, ``grade: rubric``, ``is-json``; anything else is
    the exact expected output (``equals``)."""
    match = _CELL.match(cell.strip())
    kind = _ALIASES.get(match.group(2), match.group(2)) if match else ""
    if match is None or kind not in _TYPES:
        return {"type": "equals", "value": cell}
    negation, _, threshold, value = match.groups()
    spec: dict[str, Any] = {"type": (negation or "") + kind}
    if value is not None:
        value = value.strip()
        spec["value"] = _number(value) if kind in _NUMERIC else value
    if threshold is not None:
        spec["threshold"] = float(threshold)
    return spec


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _add_test(entry: Any, label: str, origin: str, base: Path, tests: Tests) -> None:
    if not isinstance(entry, Mapping):
        where = label.removeprefix(origin).lstrip() or label
        raise ConfigError(origin, where, "expected a test: a mapping of vars and assert")
    for key in entry:
        if key == "unsupported":
            columns = ", ".join(entry[key])
            tests.left_out.append(f"{label}: columns {columns} have no overnight counterpart")
        elif key not in ("description", "vars", "assert", "options", "metric"):
            tests.left_out.append(f"{label}.{key}: {_unsupported(key)}")
    options = entry.get("options") or {}
    grader = provider_id(_options(options, f"{label}.options", tests))
    specs = entry.get("assert") or []
    if entry.get("metric"):
        specs = [{**spec, "metric": entry["metric"]} for spec in specs]
    checks = _assertions(specs, f"{label}.assert", base, origin, grader, tests)
    if not checks and not tests.shared:
        tests.left_out.append(f"{label}: no assertion overnight can check, so no case")
        return
    own = _vars(entry.get("vars") or {}, f"{label}.vars", base, origin, tests)
    merged = {**tests.shared_vars, **own}
    combinations = _combinations(merged)
    stem = _slug(str(entry.get("description") or "")) or _slug(label.split()[-1]) or "case"
    for number, variables in enumerate(combinations, start=1):
        suffix = f"-{number}" if len(combinations) > 1 else ""
        case: dict[str, Any] = {"id": _unique(stem + suffix, tests), "vars": variables}
        if checks:
            case["assert"] = checks
        tests.cases.append(case)


def _vars(variables: Any, where: str, base: Path, source: str, tests: Tests) -> dict[str, Any]:
    """Variables with ``file://`` values read (parsed when JSON or YAML); code left out."""
    if is_reference(variables):
        variables = load_data(resolve(variables, base, source, where)[0], source, where)
    if not isinstance(variables, Mapping):
        raise ConfigError(
            source, where, f"expected a mapping of variables, got {_shown(variables)}"
        )
    read: dict[str, Any] = {}
    for name, value in variables.items():
        if is_reference(value):
            if reference_path(value).endswith(CODE_SUFFIXES):
                tests.left_out.append(
                    f"{where}.{name}: {value} is code promptfoo runs; overnight reads files only"
                )
                continue
            paths = resolve(value, base, source, f"{where}.{name}")
            loaded = [load_data(path, source, f"{where}.{name}") for path in paths]
            value = loaded[0] if len(loaded) == 1 else loaded
        read[str(name)] = value
    return read


def _combinations(variables: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo runs a test once per combination of its list-valued variables."""
    lists = {name: value for name, value in variables.items() if isinstance(value, list)}
    if not lists:
        return [variables]
    return [
        {**variables, **dict(zip(lists, chosen, strict=True))}
        for chosen in itertools.product(*lists.values())
    ]


def _assertions(
    specs: Any,
    where: str,
    base: Path,
    source: str,
    grader: str | None,
    tests: Tests,
) -> list[Any]:
    if not isinstance(specs, list):
        raise ConfigError(source, where, f"expected a list of assertions, got {_shown(specs)}")
    carried = []
    for index, spec in enumerate(specs):
        field_name = f"{where}[{index}]"
        translated = _assertion(spec, field_name, base, source, grader, tests)
        if translated is None:
            continue
        try:
            parse_assertion(translated)
        except AssertionSpecError as exc:
            problem = f"{exc.field}: {exc.message}" if exc.field else exc.message
            tests.left_out.append(f"{field_name} ({_kind(spec)}): {problem}")
            continue
        carried.append(translated)
    return carried


def _assertion(
    spec: Any, where: str, base: Path, source: str, grader: str | None, tests: Tests
) -> Any:
    """One assertion as overnight takes it, or None (and why, in ``left_out``)."""
    if not isinstance(spec, Mapping):
        return spec
    spec = dict(spec)
    kind = str(spec.get("type", ""))
    plain = kind.removeprefix("not-")
    if plain in _ELSEWHERE:
        tests.left_out.append(f"{where} ({kind}): {_ELSEWHERE[plain]}")
        return None
    if plain == "python":
        tests.left_out.append(
            f"{where} ({kind}): promptfoo's inline Python or get_assert file; write it as"
            " overnight's python assertion (function: file.py:name, called with output, vars)"
        )
        return None
    transform = spec.get("transform")
    if transform is not None and not (
        is_reference(transform) and reference_path(transform).endswith(".py")
    ):
        tests.left_out.append(f"{where} ({kind}): its transform is JavaScript")
        return None
    for key in ("rubricPrompt", "config"):
        if key in spec:
            tests.left_out.append(f"{where}.{key} ({kind}): {_unsupported(key)}")
            del spec[key]
    if "provider" in spec:
        _assertion_provider(spec, where, plain, tests)
    elif grader is not None and plain in GRADED:
        spec["provider"] = grader
    value = spec.get("value")
    if is_reference(value):
        if reference_path(value).endswith(CODE_SUFFIXES):
            tests.left_out.append(f"{where} ({kind}): its value is code promptfoo runs")
            return None
        paths = resolve(value, base, source, f"{where}.value")
        spec["value"] = load_data(paths[0], source, f"{where}.value")
    if plain == "assert-set" and isinstance(spec.get("assert"), list):
        inner = [
            _assertion(item, f"{where}.assert[{i}]", base, source, grader, tests)
            for i, item in enumerate(spec["assert"])
        ]
        spec["assert"] = [item for item in inner if item is not None]
    return spec


def _assertion_provider(spec: dict[str, Any], where: str, kind: str, tests: Tests) -> None:
    provider = provider_id(spec["provider"])
    if kind in GRADED and provider is not None and litellm_name(provider) is not None:
        spec["provider"] = provider
        return
    del spec["provider"]
    instead = "the suite's judge grades it" if kind in GRADED else "overnight's own model is used"
    tests.left_out.append(f"{where}.provider ({kind}): {_shown(provider)} not used; {instead}")


def provider_id(provider: Any) -> str | None:
    if isinstance(provider, str):
        return provider
    if isinstance(provider, Mapping) and isinstance(provider.get("id"), str):
        return provider["id"]
    return None


def _kind(spec: Any) -> str:
    return str(spec.get("type")) if isinstance(spec, Mapping) else _shown(spec)


def _unsupported(key: str) -> str:
    return f"promptfoo's {key} has no overnight counterpart"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].rstrip("-")


def _unique(stem: str, tests: Tests) -> str:
    candidate, number = stem, 2
    while candidate in tests._ids:
        candidate, number = f"{stem}-{number}", number + 1
    tests._ids.add(candidate)
    return candidate


def _shown(value: Any, limit: int = 50) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
