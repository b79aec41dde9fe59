"""The ``command`` evaluator: run a command, read the metric it prints.

The metric is the last line ``name: value`` (autoresearch style; ``=`` works too) or the last
match of a configured regex. Every other numeric ``key: value`` line becomes a secondary metric.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

from overnight.config import EvaluateConfig
from overnight.evaluators.base import Evaluator
from overnight.evaluators.gates import Gate, broken_constraints
from overnight.isolation.sandbox import Sandbox
from overnight.records import Score, Status

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity)"
KEY_VALUE = re.compile(rf"^\s*([A-Za-z_][\w.\-/]*)\s*[:=]\s*({_NUMBER})\s*$", re.IGNORECASE | re.M)
MAX_LOG_READ = 20_000_000


def parse_metrics(text: str) -> dict[str, float]:
    """Every numeric ``key: value`` line; a later line wins over an earlier one. An exception's
    line (``AssertionError: 3``) is not a metric."""
    return {
        key: float(value)
        for key, value in KEY_VALUE.findall(text)
        if not key.endswith(("Error", "Exception", "Warning"))
    }


class CommandEvaluator(Evaluator):
    def __init__(
        self,
        config: EvaluateConfig,
        extra_env: dict[str, str] | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.config = config
        self.sandbox = sandbox
        self.metric = config.metric
        self.direction = config.direction
        self._regex = re.compile(config.regex, re.MULTILINE) if config.regex else None
        self._extra_env = extra_env or {}

    def evaluate(self, root: Path, log_path: Path, seed: int = 0) -> Score:
        extra = {"OVERNIGHT_SEED": str(seed), **self._extra_env}
        sandbox = self.sandbox or Sandbox.none(root)
        done = sandbox.run(
            self.config.command,
            log_path,
            self.config.timeout,
            self.config.env_passthrough,
            extra,
            cwd=root,
        )
        log = log_path.as_posix()
        if done.timed_out:
            return Score(
                None, Status.TIMEOUT, log_path=log, log_tail=done.tail(), seconds=done.seconds
            )
        text = _read_log(log_path)
        metrics = parse_metrics(text)
        value = self._metric_value(text, metrics)
        secondary = {k: v for k, v in metrics.items() if k != self.metric}
        problem = None
        if done.returncode != 0:
            problem = f"exited with code {done.returncode}"
        elif value is None:
            how = (
                f"regex '{self.config.regex}'"
                if self._regex
                else f"a line '{self.metric}: <number>'"
            )
            problem = f"printed no {self.metric} ({how} not found)"
        elif not math.isfinite(value):
            problem = f"{self.metric} is {value}"
        if problem:
            tail = f"[{problem}]\n{done.tail()}"
            return Score(None, Status.CRASH, secondary, log, tail, done.seconds)
        return Score(value, None, secondary, log, done.tail(), done.seconds)

    @property
    def gated(self) -> bool:
        return bool(self.config.checks or self.config.constraints)

    def gate(
        self,
        root: Path,
        log_path: Path,
        secondary: Mapping[str, float],
        baseline: Mapping[str, float] | None,
        seed: int = 0,
    ) -> Gate:
        """Constraints first (they cost nothing), then each check in turn, in the evaluation's
        own sandbox and environment; the first that fails is the verdict."""
        if broken := broken_constraints(self.config.constraints, secondary, baseline):
            return Gate("constraint: " + "; ".join(broken))
        extra = {"OVERNIGHT_SEED": str(seed), **self._extra_env}
        sandbox = self.sandbox or Sandbox.none(root)
        seconds = 0.0
        for index, check in enumerate(self.config.checks, start=1):
            check_log = log_path.with_name(f"{log_path.stem}.check-{index}.log")
            done = sandbox.run(
                check.command, check_log, check.timeout, self.config.env_passthrough, extra, root
            )
            seconds += done.seconds
            if done.timed_out or done.returncode != 0:
                why = (
                    f"timed out after {check.timeout:g}s"
                    if done.timed_out
                    else (f"exited with code {done.returncode}")
                )
                failure = f"check `{check.command}` {why}\n{done.tail()}"
                return Gate(failure, seconds, check_log.as_posix())
        return Gate(seconds=seconds)

    def _metric_value(self, text: str, metrics: dict[str, float]) -> float | None:
        if self._regex is None:
            return metrics.get(self.metric)
        found = self._regex.findall(text)
        if not found:
            return None
        try:
            return float(found[-1])
        except ValueError:
            return None


def _read_log(path: Path) -> str:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - MAX_LOG_READ))
        return handle.read().decode("utf-8", errors="replace")
