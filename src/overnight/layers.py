"""What one layer must leave alone because another layer improves it.

With an activation layer and a quality layer over the same skills, the activation layer owns
each skill's description (what makes it trigger) and the quality layer owns the rest (what it
does once triggered). A change made for quality that rewrites a description would move the
activation score behind that layer's back, so it is a violation, reverted like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from overnight.activation.skills import read_skill
from overnight.config import Config, TriggersEvaluateConfig
from overnight.errors import ConfigError
from overnight.isolation.tree import TreeChange


@dataclass(frozen=True)
class OwnedDescription:
    path: str
    layer: str
    description: str | None  # as it stands in the best state; None if it cannot be read


def owned_descriptions(
    config: Config, other_layers: Sequence[Config], root: Path
) -> list[OwnedDescription]:
    """The descriptions other layers' trigger evaluations measure, as they are now."""
    own = (
        set(config.evaluate.skills)
        if isinstance(config.evaluate, TriggersEvaluateConfig)
        else set()
    )
    owned = {}
    for other in other_layers:
        if isinstance(other.evaluate, TriggersEvaluateConfig):
            for path in other.evaluate.skills:
                if path not in own:
                    owned.setdefault(
                        path, OwnedDescription(path, other.layer or "", _read(root / path))
                    )
    return list(owned.values())


def layer_violations(
    owned: Sequence[OwnedDescription], change: TreeChange, root: Path
) -> list[str]:
    """Every owned description the change rewrote, in words."""
    return [
        f"changed the description in {item.path}, which layer {item.layer} improves"
        for item in owned
        if item.path in change.paths and _read(root / item.path) != item.description
    ]


def _read(path: Path) -> str | None:
    try:
        return read_skill(path).description
    except ConfigError:
        return None
