"""The README's commands are copy-paste correct: every ``overnight`` line names a command and
options that exist, and the ones that only read (log, status, report, review's listing, git log)
run without error against a demo project, printing something."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from conftest import git
from stand_ins.support import run_cli, run_rows

README = Path(__file__).resolve().parents[1] / "README.md"
READS = ("log", "status", "report", "review")  # commands that change nothing


def readme_commands() -> list[str]:
    """Lines of the README's code blocks, and its inline code, that start with ``overnight`` or
    ``git log``, without their comments."""
    text = README.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith(("overnight ", "git log")):
                found.append(line.split("  #")[0].split(" && ")[0].strip())
    found += [m.split(" && ")[0] for m in re.findall(r"`((?:overnight|git log) [^`]*)`", text)]
    return sorted(set(found))


COMMANDS = readme_commands()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("readme") / "digits"
    made = run_cli("demo", str(target), "--experiments", "2", DIGITS_TIME_BUDGET="0.3")
    assert made.returncode == 0, made.stdout + made.stderr
    return target


def test_the_readme_has_commands_to_check() -> None:
    assert len(COMMANDS) > 20 and any(c.startswith("git log") for c in COMMANDS)


@pytest.mark.parametrize("line", [c for c in COMMANDS if c.startswith("overnight ")])
def test_each_command_and_option_exists(line: str) -> None:
    words = shlex.split(line)
    command = words[1]
    if command.startswith("-"):
        result = run_cli(command)
        assert result.returncode == 0, line
        return
    help_text = run_cli(command, "--help")
    assert help_text.returncode == 0, (line, help_text.stderr)
    for option in (w.split("=")[0] for w in words[2:] if w.startswith("--")):
        assert option in help_text.stdout, (line, option)


def only_reads(line: str) -> bool:
    """A line that changes nothing and suits a demo project (no layers; no extras)."""
    words = line.split()
    if "--layer" in words or "--png" in words:
        return False
    if words[0] == "git":
        return True
    return words[1] in READS and (words[1] != "review" or len(words) == 2)


@pytest.mark.parametrize("line", [c for c in COMMANDS if only_reads(c)])
def test_each_reading_command_runs_against_a_demo(demo: Path, line: str) -> None:
    (run,) = run_rows(demo)
    words = shlex.split(re.sub(r"overnight/\d{4}-\d{2}-\d{2}", f"overnight/{run['tag']}", line))
    if words[0] == "git":
        shown = git(demo, *words[1:])
        assert shown.strip(), line  # `git log overnight/*` printed nothing: git read a path
        return
    result = run_cli(*words[1:], cwd=demo)
    assert result.returncode == 0, (line, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
