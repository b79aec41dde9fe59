"""overnight: autonomous keep-or-revert improvement loops over a git repository.

The public API mirrors the command line: ``run``, ``evaluate``, ``history`` and ``prune``.
Its names are imported on first use, so a command that needs only the ledger starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from overnight.api import RunSummary, evaluate, history, prune, run
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
    from overnight.pruning import PruneResult
    from overnight.records import Experiment, Proposal, Score, Status

_HOMES = {
    "overnight.api": ["RunSummary", "evaluate", "history", "prune", "run"],
    "overnight.pruning": ["PruneResult"],
    "overnight.config": ["Config", "load_config"],
    "overnight.errors": [
        "AgentError",
        "ConfigError",
        "EvaluationError",
        "LedgerError",
        "OvernightError",
        "UsageError",
        "WorkspaceError",
    ],
    "overnight.records": ["Experiment", "Proposal", "Score", "Status"],
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

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


def __getattr__(name: str) -> Any:
    if name not in _HOME_OF:
        raise AttributeError(f"module 'overnight' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME_OF[name]), name)
    globals()[name] = value
    return value
