"""The Generator interface: produce one case's output from the tree as it is now.

A generator first *prepares* a case: it works out everything that determines the output (the
identity, which keys the cache) and hands back a function that produces it. The suite evaluator
looks the identity up in the cache and calls the function only on a miss.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overnight.config import CaseConfig
from overnight.records import Usage


class GenerationError(Exception):
    """One case could not be generated; the suite records it and goes on. A model provider
    that could not be reached is named in the message, so that the measurement is void."""


@dataclass(frozen=True)
class Generated:
    text: str
    usage: Usage | None = None
    finish_reason: str | None = None  # a model's, when the generator called one


@dataclass(frozen=True)
class Prepared:
    identity: dict[str, Any]  # JSON-able: everything the output depends on
    produce: Callable[[], Generated]


def safe_name(name: str) -> str:
    """A case id made fit for a file name."""
    return re.sub(r"[^\w.-]", "_", name)[:80]


class Generator(ABC):
    @abstractmethod
    def prepare(
        self, case: CaseConfig, repeat: int, tree: str, work_dir: str, seed: int = 0
    ) -> Prepared:
        """``tree`` digests the repository's files, for generators that may read any of them;
        ``work_dir`` is where this case may write its logs; ``seed`` is the measurement's
        ``OVERNIGHT_SEED``, for generators that run a process."""
