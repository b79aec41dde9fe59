"""Evaluators by config. Only the ``command`` kind exists so far."""

from __future__ import annotations

from overnight.config import EvaluateConfig
from overnight.evaluators.base import Evaluator
from overnight.evaluators.command import CommandEvaluator

__all__ = ["CommandEvaluator", "Evaluator", "make_evaluator"]


def make_evaluator(config: EvaluateConfig) -> Evaluator:
    return CommandEvaluator(config)
