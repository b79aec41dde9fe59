"""Generators by config ``kind``: how each case's output is produced."""

from __future__ import annotations

from pathlib import Path

from overnight.config import CommandGenerateConfig, GenerateConfig, LLMGenerateConfig
from overnight.generators.base import Generated, GenerationError, Generator, Prepared
from overnight.generators.command import CommandGenerator
from overnight.generators.llm import LLMGenerator
from overnight.generators.python import PythonGenerator
from overnight.isolation.sandbox import Sandbox

__all__ = ["Generated", "GenerationError", "Generator", "Prepared", "make_generator"]


def make_generator(config: GenerateConfig, root: Path, sandbox: Sandbox | None = None) -> Generator:
    """The generator for ``config``; the command and python kinds run their process in
    ``sandbox`` (unconfined without one)."""
    if isinstance(config, CommandGenerateConfig):
        return CommandGenerator(config, root, sandbox)
    if isinstance(config, LLMGenerateConfig):
        return LLMGenerator(config, root)
    return PythonGenerator(config, root, sandbox)
