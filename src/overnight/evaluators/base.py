"""The Evaluator interface: measure the current tree and return a Score."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from overnight.evaluators.gates import Gate
from overnight.records import Score


class Evaluator(ABC):
    metric: str
    direction: str

    @abstractmethod
    def evaluate(self, root: Path, log_path: Path, seed: int = 0) -> Score:
        """Measure the tree at ``root``; a failed measurement is a Score with a status, not an
        exception, because a crash is a normal outcome of an experiment. ``seed`` reaches the
        evaluation as ``OVERNIGHT_SEED``, so repeated measurements can differ on purpose."""

    def held_out(self, root: Path, log_path: Path, seed: int = 0) -> Score | None:
        """Measure the cases no agent may see (the loop asks on every keep); None when the
        evaluation has none."""
        return None

    @property
    def gated(self) -> bool:
        """Whether there are gates to pass at all; most evaluations have none."""
        return False

    def gate(
        self,
        root: Path,
        log_path: Path,
        secondary: Mapping[str, float],
        baseline: Mapping[str, float] | None,
        seed: int = 0,
    ) -> Gate:
        """Whether a tree the policy would keep may be kept: its secondary metrics keep their
        constraints (``baseline``: the baseline's, None while measuring it) and its checks pass.
        Evaluations without gates pass everything."""
        return Gate()

    def baseline_problem(self, score: Score) -> str | None:
        """Why the baseline's measurement shows the evaluation itself is broken, in one line;
        the run refuses to start on it. None when it looks sound."""
        return None

    def baseline_warnings(self, score: Score) -> list[str]:
        """What looks implausible in the baseline's measurement without proving the evaluation
        broken, one line each; the run says so and goes on."""
        return []
