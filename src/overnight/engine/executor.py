"""Where steps run while the integrator waits: threads of this process by default, Ray actors on
other machines with ``executor: {kind: ray}`` (``engine/cluster.py``). Either way a step arrives
back as the same record and change, and the integrator cannot tell where it ran."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from overnight.engine.step import Interruptible, Registry, Step, StepRunner, TriedChanges
from overnight.process import kill_logged


class WorkerLost(Exception):
    """The machine or process running a step went away: the step is recorded as interrupted,
    and the worker goes on if a new one could take its place."""

    def __init__(self, reason: str, replaced: bool) -> None:
        super().__init__(reason)
        self.replaced = replaced


class Executor(Protocol):
    remote: bool  # steps run elsewhere, even with one worker

    def registry(self, claimed: dict[str, int]) -> Registry:
        """The registry of changes tried, seeded with the run's history, that steps ask."""
        ...

    def attempt(
        self, runner: StepRunner, step: Step, interruptible: Interruptible
    ) -> Future[None]: ...

    def weigh_replay(
        self, runner: StepRunner, step: Step, interruptible: Interruptible
    ) -> Future[None]: ...

    def abandon(self) -> None:
        """End every process a step started, now."""
        ...

    def close(self) -> None: ...


class ThreadExecutor:
    """Each step in a daemon thread of this process; its work is processes (agents and
    evaluations), so threads are enough."""

    remote = False

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    def registry(self, claimed: dict[str, int]) -> Registry:
        return TriedChanges(claimed)

    def attempt(self, runner: StepRunner, step: Step, interruptible: Interruptible) -> Future[None]:
        return in_thread(runner.attempt, step, interruptible)

    def weigh_replay(
        self, runner: StepRunner, step: Step, interruptible: Interruptible
    ) -> Future[None]:
        return in_thread(runner.weigh_replay, step, interruptible)

    def abandon(self) -> None:
        kill_logged(self.log_dir)

    def close(self) -> None:
        pass


def in_thread(work: Callable[..., None], *args: object) -> Future[None]:
    """``work(*args)`` in a daemon thread of its own: a step abandoned while it waits on a
    model call must not keep the harness from exiting."""
    future: Future[None] = Future()

    def run() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(work(*args))
        except BaseException as exc:  # Interrupted too: the integrator decides what it means
            future.set_exception(exc)

    threading.Thread(target=run, name="overnight-worker", daemon=True).start()
    return future
