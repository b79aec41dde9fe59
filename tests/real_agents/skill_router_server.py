"""An Anthropic Messages server whose scripted model routes a query to a skill the way Claude Code
offers skills: a ``Skill`` tool (input ``{"skill": <name>}``) and, in the first user message, a
listing of every available skill, one ``- <name>: <description>`` line each.

The model calls a skill when one of its keywords (``Routes.keywords``) is in the query and in the
skill's description as listed, so what is measured is the description the CLI read from the
installed ``SKILL.md``. Before the skill it sometimes calls another tool, the case that reads as
"no skill" to a detector that only looks at the first call: a file named in the query is Read
first, a query about git runs ``git status`` first. A query that asks for the instructions reads
the skill's ``SKILL.md`` instead of calling the tool; a query listed in ``alternate`` triggers on
every other conversation only. Once a skill is loaded, or when none applies, it answers with text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from real_agents.anthropic_server import AnthropicMessages, Block, _tool_results
from real_agents.loopback import Script

LISTING = "The following skills are available for use with the Skill tool:"
_ENTRY = re.compile(r"^- ([\w:.-]+): (.*)$", re.MULTILINE)
_FILE = re.compile(r"\b[\w-]+\.(?:pdf|xlsx|csv|txt|md)\b")


@dataclass
class Routes:
    """What the scripted model does with a query."""

    keywords: dict[str, str]  # keyword -> skill it points to (when the description has it)
    # queries that trigger on every other conversation (none that looks around first)
    alternate: set[str] = field(default_factory=set)


class SkillRouterMessages(AnthropicMessages):
    def __init__(self, routes: Routes) -> None:
        super().__init__(Script(tokens_in=900, tokens_out=40))
        self.routes = routes
        self.asked: Counter[str] = Counter()  # conversations started, per query
        self.offered: list[dict[str, str]] = []  # the skill listing of each conversation

    def _turn(self, messages: list[Any], folder: str | None) -> list[Block]:
        query, skills = _query_and_listing(messages)
        looked = bool(_tool_results(messages))
        if not looked:  # a new conversation (the caller holds the lock)
            self.asked[query] += 1
            self.offered.append(skills)
        done = [{"type": "text", "text": f"Done: {query}"}]
        if _loaded(messages):
            return done
        lead = self._lead(query, folder)
        if lead is not None and not looked:
            return [{"type": "text", "text": "Let me look first."}, lead]
        skill = self._choice(query, skills)
        if skill is None:
            return done
        if "instructions" in query.lower().split():
            path = f"{folder}/.claude/skills/{skill}/SKILL.md"
            return [self._tool_use("Read", {"file_path": path})]
        return [self._tool_use("Skill", {"skill": skill})]

    def _choice(self, query: str, skills: dict[str, str]) -> str | None:
        words = set(re.findall(r"[\w-]+", query.lower()))
        for keyword, skill in self.routes.keywords.items():
            if keyword in words and keyword in skills.get(skill, "").lower():
                if query in self.routes.alternate and self.asked[query] % 2 == 0:
                    return None
                return skill
        return None

    def _lead(self, query: str, folder: str | None) -> Block | None:
        """The tool called before the skill, if the query makes the model look around first."""
        if match := _FILE.search(query):
            return self._tool_use("Read", {"file_path": f"{folder}/{match.group(0)}"})
        if "git" in query.lower().split():
            return self._tool_use("Bash", {"command": "git status", "description": "Status"})
        return None


def _query_and_listing(messages: list[Any]) -> tuple[str, dict[str, str]]:
    """The user's query (the first user message's last text) and the skills listed to the model,
    name -> description."""
    first = next(m for m in messages if isinstance(m, dict) and m.get("role") == "user")
    content = first["content"]
    texts = [content] if isinstance(content, str) else [p.get("text", "") for p in content]
    listing = next((t for t in texts if LISTING in t), "")
    if not listing:  # the listing may come in a later message of its own
        listing = next((t for m in messages for t in _texts(m) if LISTING in t), "")
    skills = dict(_ENTRY.findall(listing.split(LISTING, 1)[-1]))
    query = next(t for t in reversed(texts) if t and not t.lstrip().startswith("<"))
    return query.strip(), skills


def _texts(message: Any) -> list[str]:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [content]
    return [p.get("text", "") for p in content or [] if isinstance(p, dict)]


def _loaded(messages: list[Any]) -> bool:
    """Whether the model loaded a skill already: called the Skill tool, or read a SKILL.md."""
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") != "tool_use":
                continue
            path = str((block.get("input") or {}).get("file_path", ""))
            if block.get("name") == "Skill" or path.endswith("/SKILL.md"):
                return True
    return False
