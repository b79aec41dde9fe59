"""The real coding-agent CLIs, driven by ``overnight run`` against loopback model providers.

The tools are looked for in ``.tools/`` at the repository root (where ``.ci/run`` installs them:
``.tools/npm/node_modules/.bin`` for the npm packages, ``.tools/aider/bin`` for aider's own
virtual environment), then on PATH. A tool that is missing skips its test, except in CI
(``CI=true``), where it fails: these tests are the proof that the presets work.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import git
from stand_ins.support import cli_env, overnight_command

REPO = Path(__file__).resolve().parents[2]
TOOL_DIRS = (REPO / ".tools" / "npm" / "node_modules" / ".bin", REPO / ".tools" / "aider" / "bin")
HIDDEN = "zebra-held-out-91"  # the held-out case's word: no tool may ever send it to its model
EDITABLE = "rules.txt"
VERSIONS: dict[str, str] = {}  # preset -> the tool's version, as it printed it

GENERATOR = """\
from pathlib import Path

def answer(word):
    rules = Path("rules.txt").read_text()
    return f"{word} GOOD" if "GOOD" in rules else word
"""

# What every brief holds besides the program: text a tool must pass to its model unchanged.
TRICKY = (
    "Write to ops@example.com before touching @dataclass or @rules.txt; "
    "a decorator such as @functools.cache stays as it is, and so does a@b.\n"
)


@dataclass(frozen=True)
class Tool:
    name: str  # the preset
    path: Path
    version: str


def find_tool(executable: str, preset: str) -> Tool:
    """The installed tool and its version, printed to the test output; skipped (or, in CI,
    failed) when it is not installed."""
    for folder in TOOL_DIRS:
        if (folder / executable).is_file():
            path = folder / executable
            break
    else:
        found = shutil.which(executable)
        if found is None:
            message = f"{executable} is not installed (.ci/run installs it into .tools/)"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        path = Path(found)
    done = subprocess.run(
        [str(path), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    version = (done.stdout.strip() or done.stderr.strip()).splitlines()[-1]
    VERSIONS[preset] = f"{path.name} {version}"
    return Tool(preset, path, version)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The versions the presets were just tested with, in every test run's output."""
    if VERSIONS:
        terminalreporter.write_sep("-", "real coding-agent CLIs tested")
        for preset, version in sorted(VERSIONS.items()):
            terminalreporter.write_line(f"{preset}: {version}")


def make_project(root: Path, preset: str, agent: dict[str, Any] | None = None) -> Path:
    """A suite project whose one editable file, ``rules.txt``, a tool rewrites; one case is
    held out, with a word no tool may ever see. The program holds ``TRICKY``."""
    root.mkdir(parents=True)
    cases = [{"id": f"v{i}", "vars": {"word": f"v{i}"}} for i in (1, 2, 3)]
    cases.append({"id": "held", "vars": {"word": HIDDEN}, "holdout": True})
    suite = {
        "generate": {"kind": "python", "function": "gen.py:answer"},
        "cases": cases,
        "assert": [{"type": "regex", "pattern": "GOOD"}],
    }
    config = {
        "name": f"real {preset}",
        "program": "program.md",
        "editable": [EDITABLE],
        "frozen": ["gen.py", "suite.yaml", "program.md"],
        "evaluate": {"kind": "suite", "suite": "suite.yaml"},
        "agent": {"kind": "command", "preset": preset, "timeout": 240, **(agent or {})},
        "budget": {"experiments": 2},
    }
    files = {
        EDITABLE: "bad rule\n",
        "gen.py": GENERATOR,
        "suite.yaml": yaml.safe_dump(suite),
        "program.md": "# Rules\n\nMake every answer pass. " + TRICKY,
        "overnight.yaml": yaml.safe_dump(config, sort_keys=False),
    }
    for name, text in files.items():
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def tool_env(tool: Tool, home: Path, **extra: str) -> dict[str, str]:
    """The tool first on PATH, a private home (its configuration goes there), and no key from
    the machine's own environment: only those a test gives."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": str(tool.path.parent), "HOME": str(home), "CI": "true", **extra}


def run_overnight(
    root: Path, env: dict[str, str], *args: str, command: str = "run"
) -> subprocess.CompletedProcess:
    """``overnight run ARGS`` (or another ``command``) in ``root`` with the machine's keys
    removed and ``env`` added."""
    base = {k: v for k, v in cli_env().items() if not _looks_like_a_key(k)}
    base["PATH"] = f"{env.get('PATH', '')}{os.pathsep}{base['PATH']}"
    done = subprocess.run(
        [*overnight_command(), command, *args],
        cwd=root,
        env={**base, **{k: v for k, v in env.items() if k != "PATH"}},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(done.stdout[-3000:], done.stderr[-3000:])
    return done


def _looks_like_a_key(name: str) -> bool:
    return name.endswith(("_API_KEY", "_BASE_URL", "_API_BASE")) or name.startswith("GEMINI_")


def ledger_rows(root: Path, table: str) -> list[dict[str, Any]]:
    with sqlite3.connect(root / ".overnight" / "ledger.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid")]


def stop_reason_after_one_experiment(root: Path) -> str:
    """The run stopped after its first experiment because the agent cannot work: the reason."""
    experiments = [row for row in ledger_rows(root, "experiments") if row["number"] > 0]
    assert [row["number"] for row in experiments] == [1]
    (run,) = ledger_rows(root, "runs")
    assert run["stop_reason"].startswith("the agent cannot work:"), run["stop_reason"]
    return run["stop_reason"]


def assert_well_behaved(root: Path, seen_by_model: str) -> None:
    """The tool never committed, never touched the user's repository or ``.git``, and never
    sent its model the held-out case."""
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "log", "--format=%s", "main") == "initial"
    branches = git(root, "for-each-ref", "--format=%(refname)", "refs/heads")
    assert set(branches.splitlines()) <= {"refs/heads/main"} | {
        line for line in branches.splitlines() if line.startswith("refs/heads/overnight/")
    }
    assert HIDDEN not in seen_by_model
    for log in (root / ".overnight" / "logs").rglob("*.agent.log"):
        assert HIDDEN not in log.read_text(errors="replace")
    statuses = [row["status"] for row in ledger_rows(root, "experiments")]
    assert "violation" not in statuses, statuses
