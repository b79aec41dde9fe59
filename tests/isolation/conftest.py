"""Fixtures of the isolation tests: every run gets a ledger key of its own and a deadline, so a
hostile tree can neither touch the user's key nor hang the suite."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

DEADLINE_S = 60


class Hung(Exception):
    """The harness did not finish in time: a tree made it wait forever."""


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """Fail, rather than hang, when a test runs past ``DEADLINE_S``."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"still running after {DEADLINE_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, DEADLINE_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
