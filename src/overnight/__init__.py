"""overnight: autonomous keep-or-revert improvement loops over a git repository.

The public API mirrors the command line: ``run``, ``evaluate``, ``history`` and ``prune``.
"""

from overnight.api import PruneResult, RunSummary, evaluate, history, prune, run
from overnight.config import Config, load_config
from overnight.errors import (
    AgentError,
    ConfigError,
    EvaluationError,
    LedgerError,
    OvernightError,
    UsageError,
    WorkspaceError,
)
from overnight.records import Experiment, Proposal, Score, Status

__all__ = [
    "AgentError",
    "Config",
    "ConfigError",
    "EvaluationError",
    "Experiment",
    "LedgerError",
    "OvernightError",
    "Proposal",
    "PruneResult",
    "RunSummary",
    "Score",
    "Status",
    "UsageError",
    "WorkspaceError",
    "evaluate",
    "history",
    "load_config",
    "prune",
    "run",
]
