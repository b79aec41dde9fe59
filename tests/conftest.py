"""Shared fixtures: temporary git repositories built from a dict of files and a config."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_server import LLMServer

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

# An evaluator that prints the metric stored in a file, so tests steer outcomes by editing it.
SCORE_PY = """\
from pathlib import Path
value = float(Path("value.txt").read_text())
print(f"score: {value}")
print("extra: 7")
"""


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_IDENTITY},
    )
    return result.stdout.strip()


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(autouse=True, scope="session")
def _private_config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The ledger's sealing key goes to a test folder, never to the user's own config."""
    previous = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    if previous is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = previous


MakeRepo = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """``make_repo(files, config=None)``: a git repo with ``files`` committed on ``main``.

    ``config`` (a dict) is written as overnight.yaml; without it a default config evaluates
    ``score.py`` (which prints ``score: <value.txt>``) with ``value.txt`` editable.
    """
    counter = iter(range(1000))

    def make(
        files: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> Path:
        root = tmp_path / (name or f"repo{next(counter)}")
        root.mkdir()
        files = {"score.py": SCORE_PY, "value.txt": "1.0\n", **(files or {})}
        if config is None:
            config = default_config()
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        if config is not False:
            (root / "overnight.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
        return root

    return make


def default_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": "test",
        "editable": ["value.txt"],
        "frozen": ["score.py"],
        "evaluate": {
            "command": f"{sys.executable} score.py",
            "metric": "score",
            "direction": "maximize",
            "timeout": 30,
        },
        "agent": {"kind": "search"},
        "budget": {"experiments": 3},
    }
    config.update(overrides)
    return config


# The loopback model provider for tests of the LLM layer (see tests/llm_server.py).


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """An OpenAI- and Anthropic-compatible server on 127.0.0.1: ``.base_url`` (OpenAI),
    ``.anthropic_base_url``, ``.script(...)``, ``.fail(kind, times=1)``, ``.latency``,
    ``.requests``; closed after the test."""
    with LLMServer() as server:
        yield server
