"""promptfoo's ``file://`` references: paths relative to the config's folder, globs allowed.

Every error names the file that refers and the field that holds the reference, so a missing
prompt file reads ``promptfooconfig.yaml: prompts[1]: no file matches prompts/*.txt``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from overnight.errors import ConfigError

FILE = "file://"
CODE_SUFFIXES = (".js", ".cjs", ".mjs", ".ts", ".py")  # run by promptfoo, not read


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FILE)


def reference_path(reference: str) -> str:
    """``file://checks.py:fn`` -> ``checks.py``: the path, without a function name."""
    path = reference.removeprefix(FILE)
    head, _, tail = path.rpartition(":")
    return head if head and tail.isidentifier() and head.endswith(CODE_SUFFIXES) else path


def resolve(reference: str, base: Path, source: str, field: str) -> list[Path]:
    """The files a reference names, in order; a glob matching nothing is an error."""
    pattern = reference_path(reference)
    if any(char in pattern for char in "*?["):
        found = sorted(path for path in base.glob(pattern) if path.is_file())
    else:
        found = [base / pattern] if (base / pattern).is_file() else []
    if not found:
        raise ConfigError(source, field, f"no file matches {pattern}")
    return found


def read_text(path: Path, source: str, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, field, f"cannot read {path.name} ({exc})") from None


def load_data(path: Path, source: str, field: str) -> Any:
    """A ``.json``/``.yaml`` file parsed, any other file as its text."""
    text = read_text(path, source, field)
    try:
        if path.suffix == ".json":
            return json.loads(text)
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        problem = str(exc).splitlines()[0]
        raise ConfigError(path.name, None, f"cannot be parsed ({problem})") from None
    return text
