"""Evaluators by config ``kind``: ``command`` (a metric a command prints), ``suite`` (cases
scored by binary assertions) and ``triggers`` (which skill each query activates)."""

from __future__ import annotations

from pathlib import Path

from overnight.cache import OutputCache
from overnight.config import EvaluateConfig, EvaluatorConfig, TriggersEvaluateConfig
from overnight.evaluators.base import Evaluator
from overnight.evaluators.command import CommandEvaluator
from overnight.isolation.sandbox import Sandbox

__all__ = ["CommandEvaluator", "Evaluator", "make_evaluator"]


def make_evaluator(
    config: EvaluatorConfig, root: Path, cache: OutputCache, sandbox: Sandbox | None = None
) -> Evaluator:
    """The evaluator for ``config``, measuring the tree at ``root``; its processes run in
    ``sandbox`` (unconfined without one)."""
    if isinstance(config, EvaluateConfig):
        return CommandEvaluator(config, sandbox=sandbox)
    if isinstance(config, TriggersEvaluateConfig):
        from overnight.evaluators.triggers import TriggersEvaluator

        return TriggersEvaluator(config, root, sandbox)
    from overnight.evaluators.suite import SuiteEvaluator  # jinja2 and assertions load on demand

    return SuiteEvaluator(config, root, cache, sandbox)
