"""A stand-in agent CLI for the command router's tests. It "uses" the skill that a keyword of
the query points to, if that skill is installed under ``.claude/skills/`` of its working
directory, and prints its transcript as JSON lines shaped like Claude Code's ``stream-json``, or
as plain text (``--text``). ``--fault`` makes it misbehave instead.

    agent_cli.py [--text] [--fault crash|garbage|hang|error|silent|nameless] QUERY
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

KEYWORDS = {"pdf": "pdf", "spreadsheet": "xlsx", "formula": "xlsx", "commit": "git-commit"}
FAULTS = ("crash", "garbage", "hang", "error", "silent", "nameless")
HANG_S = 30


def chosen(query: str) -> str | None:
    installed = Path(".claude/skills")
    for word in query.lower().replace(".", " ").split():
        skill = KEYWORDS.get(word)
        if skill and (installed / skill / "SKILL.md").is_file():
            return skill
    return None


def event(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def assistant(*content: dict[str, object]) -> None:
    event(type="assistant", message={"role": "assistant", "content": list(content)})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--text", action="store_true")
    parser.add_argument("--fault", choices=FAULTS)
    parser.add_argument("query")
    args = parser.parse_args()
    if args.fault == "crash":
        print("Error: no API key configured", file=sys.stderr)
        return 3
    if args.fault == "silent":
        return 0
    if args.fault == "hang":
        event(type="system", subtype="init", model="stand-in")
        time.sleep(HANG_S)
        return 0
    skill = chosen(args.query)
    if args.text:
        print(f"Using skill: {skill}" if skill else "No skill needed.")
        print("Done.")
        return 0
    event(type="system", subtype="init", model="stand-in", tools=["Skill", "Read", "Bash"])
    if args.fault == "garbage":
        print("Thinking about it...")
    assistant({"type": "text", "text": "Let me look at the request."})
    assistant({"type": "tool_use", "id": "t0", "name": "Read", "input": {"file_path": "x"}})
    if args.fault == "nameless":
        assistant({"type": "tool_use", "id": "t1", "name": "Skill", "input": {}})
    elif skill:
        assistant({"type": "tool_use", "id": "t1", "name": "Skill", "input": {"skill": skill}})
        result = {"type": "tool_result", "tool_use_id": "t1", "content": f"Launching {skill}"}
        event(type="user", message={"role": "user", "content": [result]})
    is_error = args.fault == "error"
    outcome = "API Error: 529 overloaded" if is_error else "Done."
    event(type="result", subtype="success", is_error=is_error, result=outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
