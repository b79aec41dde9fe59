"""Reading overnight.yaml as a plain mapping, with errors that name the file and line.

Kept apart from the validated config so that commands that only read the ledger (``status``,
``log``) learn the layer names without building every config model first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from overnight.errors import ConfigError, UsageError

CONFIG_NAME = "overnight.yaml"
MAX_NODES = 100_000  # values in one file, aliases counted each time they are used
MAX_DEPTH = 64  # mappings and lists inside one another


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML's safe loader (libyaml's where PyYAML has it) that refuses a key given twice in
    one mapping, which YAML itself would let the last one win silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key.value!r} is given twice", key.start_mark
                    )
                seen.add(key.value)
        return super().construct_mapping(node, deep)


def read_mapping(path: Path, display: str) -> dict[str, Any]:
    """The YAML mapping in ``path``; ``display`` is how an error names a missing file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(display, None, "not found (run `overnight init` to create one)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path.name, None, f"cannot be read ({exc})") from None
    try:
        raw = yaml.load(text, Loader=_Loader)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path.name, where, f"invalid YAML: {problem}") from None
    if raw is None:
        raise ConfigError(path.name, None, "is empty")
    if not isinstance(raw, dict):
        raise ConfigError(path.name, None, f"must be a mapping of fields, got {type(raw).__name__}")
    if not _within_bounds(raw):
        raise ConfigError(
            path.name,
            None,
            f"holds more than {MAX_NODES:,} values or lists nested over {MAX_DEPTH} deep"
            " (aliases that repeat a block many times?)",
        )
    return raw


def _within_bounds(value: Any) -> bool:
    """Whether ``value`` stays within ``MAX_NODES`` and ``MAX_DEPTH``; a few aliases can make a
    file of a few lines unfold into billions of values, so the walk stops at the limit."""
    budget = MAX_NODES
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        budget -= 1
        if budget < 0 or depth > MAX_DEPTH:
            return False
        if isinstance(node, dict):
            pending.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            pending.extend((child, depth + 1) for child in node)
    return True


def layer_names(directory: Path | str) -> list[str]:
    """The names under ``layers`` of the config in ``directory``, in file order; empty without.
    Nothing else is checked: a command that runs or measures loads the whole config."""
    path = Path(directory).resolve() / CONFIG_NAME
    layers = read_mapping(path, display=str(path)).get("layers")
    return [str(name) for name in layers] if isinstance(layers, dict) else []


def check_layer(names: list[str], layer: str | None) -> None:
    """Refuse a ``--layer`` that the config's layer ``names`` do not allow: one is needed
    exactly when there are layers, and it must be one of them."""
    if not names:
        if layer is not None:
            raise UsageError(f"{CONFIG_NAME} has no layers: leave out --layer {layer}")
        return
    if layer is None:
        raise UsageError(f"{CONFIG_NAME} has layers {', '.join(names)}: choose one with --layer")
    if layer not in names:
        raise UsageError(f"{CONFIG_NAME} has no layer {layer!r} (it has {', '.join(names)})")
