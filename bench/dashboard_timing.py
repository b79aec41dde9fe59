"""Times the live dashboard in-process: its first page, and one live update after a new
experiment, each as (seconds, bytes) of one request through the real app and its middleware."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from overnight.server.app import create_app


def dashboard_timing(
    root: Path, add_experiment: Callable[[], None] | None = None
) -> dict[str, tuple[float, int]]:
    """For the project at ``root``: ``first_page`` (GET /, the app just created), ``version``
    (the poll, GET /api/version) and, when ``add_experiment`` is given, ``update`` (what the
    page fetches after ``add_experiment`` has recorded one more experiment: the sections whose
    digest changed)."""
    client = TestClient(create_app(root, "timing-token"), base_url="http://127.0.0.1")
    times = {"first_page": _timed(client, "/"), "version": _timed(client, "/api/version")}
    if add_experiment is not None:
        held = client.get("/api/sections").json()["digests"]
        add_experiment()
        have = ",".join(f"{name}:{digest}" for name, digest in held.items())
        times["update"] = _timed(client, f"/api/sections?have={have}")
    return times


def _timed(client: TestClient, path: str) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed, len(response.content)
