"""Ctrl-C and SIGTERM, turned into decisions the loop can act on safely.

The first Ctrl-C asks the run to stop after the current experiment. A second Ctrl-C, or a
SIGTERM, abandons the current experiment at once: the agent or evaluation is killed, the tree is
reverted and the experiment is recorded as ``interrupted``. The exception is raised only inside
``interruptible()`` blocks (waiting for an agent or an evaluation), never in the middle of a git
operation or a ledger write.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupted(BaseException):
    """Raised to abandon the current experiment. A BaseException so no ``except Exception``
    in agent or evaluator code swallows it."""


class StopSignals:
    def __init__(self, on_request: Callable[[str], None] | None = None) -> None:
        self.stop_requested: str | None = None
        self.abort = False
        self._interruptible = False
        self._on_request = on_request
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGINT and self.stop_requested is None:
            self.stop_requested = f"stopped by {name}"
            if self._on_request:
                self._on_request("stopping after this experiment; press Ctrl-C again to abandon it")
            return
        self.stop_requested = f"stopped by {name}"
        self.abort = True
        if self._interruptible:
            raise Interrupted(name)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        if self.abort:
            raise Interrupted("abort requested")
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
