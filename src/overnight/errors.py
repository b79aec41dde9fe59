"""Every error overnight raises on purpose, in one place.

The CLI turns these into one line and an exit code (see ``cli.py``); nothing else prints or exits.

    OvernightError
    ├── ConfigError        (2) the config is missing, malformed or does not fit the tree
    ├── AssertionSpecError (2) an assertion in a suite is malformed (names the key at fault)
    ├── UsageError         (2) the command line or the repository state forbids the action
    ├── WorkspaceError     (1) git refused, or the tree is not what the run expects
    ├── EvaluationError    (1) the evaluation could not run at all, e.g. the baseline crashed
    ├── AgentError         (1) an agent failed by itself (recorded as a no-op, the run goes on)
    │   └── SearchExhausted    the offline search has no untried configuration left (run stops)
    └── LedgerError        (1) the ledger is unreadable or disagrees with git
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overnight.records import Usage


class OvernightError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = 1


class ConfigError(OvernightError):
    """A config problem, always naming the file and, where there is one, the field."""

    exit_code = 2

    def __init__(self, file: str, field: str | None, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")


class UsageError(OvernightError):
    exit_code = 2


class WorkspaceError(OvernightError):
    pass


class NotARepositoryError(WorkspaceError):
    """The directory is not the root of a git repository: a usage problem, so exit code 2."""

    exit_code = 2


class EvaluationError(OvernightError):
    pass


class AgentError(OvernightError):
    """The agent failed by itself; ``usage`` keeps what its model calls cost all the same.
    ``fatal``: the failure will not fix itself (credentials refused), so the run stops."""

    def __init__(
        self, message: str, usage: list[Usage] | None = None, *, fatal: bool = False
    ) -> None:
        super().__init__(message)
        self.usage = list(usage or [])
        self.fatal = fatal


class SearchExhausted(AgentError):
    pass


class LedgerError(OvernightError):
    pass
