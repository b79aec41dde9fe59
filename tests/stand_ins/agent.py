"""A stand-in for an external coding agent, run by the ``command`` agent in its working folder
(an experiment's workspace, in a run).

    python agent.py [--ctl DIR] MODE[,MODE...]

The n-th experiment (``$OVERNIGHT_EXPERIMENT``) plays the n-th mode of the list; the last mode
repeats. Most modes make one change to ``value.txt`` (the metric the test repositories print)
and some also do what an agent must not. Modes:

    improve     value.txt + 1                    worse       value.txt - 1
    set=X       value.txt = X (as text)          nothing     change nothing
    fail        print a line and exit 1          sleep       improve, then sleep 60 s
    edit-fail   improve, then exit 1           auth        a refused API key: exit 1
    frozen      improve, and edit score.py       config      edit overnight.yaml
    gitignore   edit .gitignore                  newfile     improve, and write notes/new.txt
    hook        plant .git/hooks/pre-commit      symlink     make value.txt a link to score.py
    commit      improve and ``git commit`` it    user-file   edit the user's untracked notes.txt
    gitconfig   set core.fsmonitor in .git/config (a command git would run on every status)
    brief       copy $OVERNIGHT_BRIEF, the environment and the working directory into the
                control directory, improve
    describe    improve and write the description to DESCRIPTION.txt

With ``--ctl DIR``: when ``DIR/hang-agent-N`` exists at experiment N, the agent consumes it, makes
its change, writes its pid to ``DIR/agent-N-hanging`` and sleeps (so a test can kill the harness
at a known moment). Every run also appends its experiment number to ``DIR/agent-calls`` and
writes its pid to ``DIR/agent-N.pid`` (a pid of the sandbox's own PID namespace when the agent
runs confined: ``support.processes_naming(str(DIR))`` finds its processes from outside).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def value() -> float:
    return float(Path("value.txt").read_text())


def write_value(new: float) -> str:
    Path("value.txt").write_text(f"{new}\n")
    return f"set value to {new}"


def improve() -> str:
    return write_value(value() + 1)


def act(mode: str, number: int, ctl: Path | None) -> str:
    if mode == "improve":
        return improve()
    if mode == "worse":
        return write_value(value() - 1)
    if mode.startswith("set="):
        Path("value.txt").write_text(mode.removeprefix("set=") + "\n")
        return f"set value to {mode.removeprefix('set=')}"
    if mode == "nothing":
        return "thought hard, changed nothing"
    if mode == "fail":
        print("the model refused")
        sys.exit(1)
    if mode == "auth":
        print("API Error: 401 Unauthorized: invalid x-api-key")
        sys.exit(1)
    if mode == "edit-fail":
        improve()
        print("edited, then gave up")
        sys.exit(1)
    if mode == "sleep":
        improve()
        print("sleeping", flush=True)
        time.sleep(60)
        return "woke up"
    if mode == "frozen":
        improve()
        with open("score.py", "a") as handle:
            handle.write("# the agent was here\n")
        return "edit the evaluation too"
    if mode == "config":
        with open("overnight.yaml", "a") as handle:
            handle.write("# looser rules\n")
        return "edit the config"
    if mode == "gitignore":
        with open(".gitignore", "a") as handle:
            handle.write("score.py\n")
        return "edit .gitignore"
    if mode == "newfile":
        improve()
        Path("notes").mkdir(exist_ok=True)
        Path("notes/new.txt").write_text("an agent's file\n")
        return "add a new file"
    if mode == "hook":
        hook = Path(".git/hooks/pre-commit")
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text("#!/bin/sh\ntouch hook-ran\n")  # would show up in the tree if it ran
        hook.chmod(0o755)
        return "plant a hook"
    if mode == "symlink":
        Path("value.txt").unlink()
        os.symlink("score.py", "value.txt")
        return "link value.txt"
    if mode == "commit":
        described = improve()
        subprocess.run(["git", "commit", "-q", "-am", "agent commits by itself"], check=True)
        return described
    if mode == "gitconfig":
        subprocess.run(["git", "config", "core.fsmonitor", "touch fsmonitor-ran"], check=True)
        return "configure git"
    if mode == "user-file":
        Path("notes.txt").write_text("trampled by the agent\n")
        return "edit the user's notes"
    if mode == "brief":
        assert ctl is not None
        brief = os.environ.get("OVERNIGHT_BRIEF", "")
        (ctl / f"brief-{number}.json").write_text(
            json.dumps(
                {
                    "path": brief,
                    "exists": bool(brief) and Path(brief).is_file(),
                    "text": Path(brief).read_text() if brief and Path(brief).is_file() else "",
                    "env": dict(os.environ),
                    "cwd": os.getcwd(),
                }
            )
        )
        print("a first line of chatter")
        print("")
        return improve() + " after reading the brief"
    if mode == "describe":
        improve()
        Path("DESCRIPTION.txt").write_text("described in a file\n")
        return "this line is not the description"
    raise SystemExit(f"unknown mode {mode!r}")


def main() -> None:
    args = sys.argv[1:]
    ctl = None
    if args[:1] == ["--ctl"]:
        ctl, args = Path(args[1]), args[2:]
    modes = args[0].split(",")
    number = int(os.environ.get("OVERNIGHT_EXPERIMENT", "1"))
    if ctl is not None:
        with (ctl / "agent-calls").open("a") as handle:
            handle.write(f"{number}\n")
        (ctl / f"agent-{number}.pid").write_text(str(os.getpid()))
    description = act(modes[min(number, len(modes)) - 1], number, ctl)
    flag = ctl / f"hang-agent-{number}" if ctl is not None else None
    if flag is not None and flag.exists():
        flag.unlink()
        (ctl / f"agent-{number}-hanging").write_text(str(os.getpid()))
        time.sleep(60)
    print(description)


if __name__ == "__main__":
    main()
