"""What an agent may read of the measurement: the suite and query files without held-out items.

Held-out cases and queries judge whether a change generalises, so no agent may see them; the
brief never names them, and a coding agent that reads files finds, in its workspace, the suite
file (or ``overnight.yaml``, when cases are written inline) with those entries removed. The
harness writes these views after each reset and checks afterwards that the agent left them as
they were; the evaluation always sees the real files, bound read-only from git objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import yaml

from overnight.activation.split import split
from overnight.config import CONFIG_NAME, Config, QueryConfig, SuiteEvaluateConfig
from overnight.config import TriggersEvaluateConfig as Triggers
from overnight.holdout import held_out_ids


def agent_views(configs: Sequence[Config], read: Callable[[str], str]) -> dict[str, str]:
    """Path -> the text an agent may see, for each file that holds held-out cases or queries.
    ``read`` gives a file's text at the base commit."""
    hidden: dict[str, dict[tuple[str, ...], set[str]]] = {}
    for config in configs:
        where, items, held = _held_out(config)
        if not held:
            continue
        inline = where is None
        path = CONFIG_NAME if inline else where
        keys: tuple[str, ...] = (items,)
        if inline:
            keys = ("evaluate", items)
            if config.layer:
                keys = ("layers", config.layer, *keys)
        hidden.setdefault(path, {}).setdefault(keys, set()).update(held)
    views = {}
    for path, per_key in hidden.items():
        document = yaml.safe_load(read(path))
        for keys, held in per_key.items():
            _drop(document, keys, held, inline=path == CONFIG_NAME)
        views[path] = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return views


def _held_out(config: Config) -> tuple[str | None, str, set[str]]:
    """(the file the items live in, or None for overnight.yaml; the key; held-out ids)."""
    evaluate = config.evaluate
    if isinstance(evaluate, SuiteEvaluateConfig):
        return evaluate.suite, "cases", held_out_ids(evaluate)
    if isinstance(evaluate, Triggers) and evaluate.holdout > 0:
        labelled = [_Labelled(q) for q in evaluate.queries]
        _, held = split(labelled, evaluate.holdout, evaluate.holdout_seed)
        return evaluate.queries_file, "queries", {q.query for q in held}
    return None, "", set()


def _drop(document: Any, keys: tuple[str, ...], held: set[str], inline: bool) -> None:
    """Remove the held-out entries under ``keys`` (a file of queries may be a bare list)."""
    parent, key = document, keys[-1]
    for name in keys[:-1]:
        parent = parent.get(name) if isinstance(parent, dict) else None
    if isinstance(parent, dict) and isinstance(parent.get(key), list):
        parent[key] = [e for e in parent[key] if _identity(e) not in held]
    elif not inline and isinstance(document, list):
        document[:] = [e for e in document if _identity(e) not in held]


def _identity(entry: Any) -> str | None:
    if isinstance(entry, dict):
        return entry.get("id") if "id" in entry else entry.get("query")
    return None


class _Labelled:
    def __init__(self, config: QueryConfig) -> None:
        self.query = config.query
        self.expected = config.skill
