"""The ``llm`` agent: a model reads the brief and answers with search/replace edits.

One experiment is one conversation:

1. The system message (``SYSTEM_PROMPT``) explains the role and the answer format (see
   ``edits.py``); the user message is the brief. Every editable file is quoted in it under a
   ``### FILE: <path>`` line; a file the brief does not quote is appended, cut to
   ``max_file_chars``, so the model never edits a file it has not seen.
2. The answer is parsed and its edits applied, strictly and all at once.
3. An answer that cannot be parsed or applied gets up to ``repairs`` more turns, each telling the
   model what went wrong (``REPAIR_PROMPT``); after that the experiment is a no-op with the
   reason. Nothing is written by an answer that fails.

Edits are applied whatever files they touch inside the repository: the harness, not the agent,
judges scope, so an edit to a frozen file becomes a violation. Every model call is recorded as
proposal usage, also when the agent fails, so that it counts toward ``budget.cost_usd``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from overnight import llm
from overnight.agents.base import Agent, AgentContext
from overnight.agents.edits import Applied, EditError, apply_edits, parse_answer
from overnight.config import LLMAgentConfig
from overnight.errors import AgentError
from overnight.records import Proposal, Usage

MAX_DESCRIPTION = 200
FILE_MARKER = "### FILE: "

SYSTEM_PROMPT = """\
You improve a project one experiment at a time. The user message is the brief: the goal and its \
metric, the files you may edit with their current content, the best score so far and what was \
already tried. Propose exactly ONE change that you expect to improve the metric. A harness \
applies your answer as it is, measures the result, and keeps the change only if it helps.

Answer in this format:

DESCRIPTION: <one line: what the change is and why it should help>

<<<<<<< SEARCH <path of the file, relative to the repository>
<the exact lines of the file to replace>
=======
<the lines to put in their place>
>>>>>>> REPLACE

Rules:
- Write the DESCRIPTION line once, outside the blocks, before or after them: it is the one-line \
description the brief asks for.
- Give one or more blocks; together they are the one change.
- SEARCH holds whole lines copied exactly from the file's current content, indentation and \
comments included: enough of them to occur only once in the file, and no more than needed.
- Each marker stands alone on its line: "<<<<<<< SEARCH" followed by the path, "=======", \
">>>>>>> REPLACE".
- To delete lines, leave the replacement empty. To create a new file, leave SEARCH empty and \
put the whole file in the replacement.
- Blocks apply in order; a later block sees the file as the earlier ones left it.
- Edit only the files the brief says may change. Do not repeat whole files, and ask nothing: \
no one will answer.
"""

REPAIR_PROMPT = (
    "Your answer could not be applied: {reason}\n\n"
    "Nothing was changed. Answer again with the whole change in the format: the DESCRIPTION "
    "line and every block, not only the block that failed."
)

_FENCE_RUN = re.compile(r"`{3,}")


class LLMAgent(Agent):
    """Asks a model for one change per experiment and applies its edits."""

    def __init__(self, config: LLMAgentConfig) -> None:
        llm.require_litellm()
        self.config = config

    def propose(self, context: AgentContext) -> Proposal:
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": self._brief(context)},
        ]
        usage: list[Usage] = []
        reason = ""
        for repair in range(self.config.repairs + 1):
            answer = self._ask(messages, usage)
            try:
                parsed = parse_answer(answer)
                applied = apply_edits(context.root, parsed.edits)
            except EditError as exc:
                reason = exc.reason
                messages += [
                    {"role": "assistant", "content": answer},
                    {"role": "user", "content": REPAIR_PROMPT.format(reason=reason)},
                ]
                continue
            except OSError as exc:
                raise AgentError(f"cannot write the model's edits: {exc}", usage=usage) from None
            return Proposal(
                description=_one_line(parsed.description),
                meta=self._meta(applied, repair),
                usage=usage,
            )
        raise AgentError(_failure(reason, self.config.repairs), usage=usage)

    def _ask(self, messages: list[dict[str, str]], usage: list[Usage]) -> str:
        """The model's answer; its usage is added to ``usage`` even when the agent then fails."""
        try:
            completion = llm.complete(messages, self.config, purpose="proposal")
        except llm.LLMError as exc:
            spent = [*usage, exc.usage] if exc.usage else usage
            fatal = exc.kind == llm.REFUSED
            raise AgentError(f"the model call failed: {exc}", spent, fatal=fatal) from None
        usage.append(completion.usage)
        return completion.text

    def _brief(self, context: AgentContext) -> str:
        """The brief, plus every editable file it does not quote."""
        try:
            brief = context.brief_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AgentError(f"cannot read the brief {context.brief_path}: {exc}") from None
        quoted = {
            line[len(FILE_MARKER) :].strip()
            for line in brief.splitlines()
            if line.startswith(FILE_MARKER)
        }
        missing = [path for path in context.editable_files if path not in quoted]
        if not missing:
            return brief
        sections = [
            _file_section(context.root, path, self.config.max_file_chars) for path in missing
        ]
        return "\n\n".join([brief.rstrip(), "## Editable files", *sections]) + "\n"

    def _meta(self, applied: Sequence[Applied], repairs: int) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "edits": [_edit_meta(done) for done in applied],
            "repairs": repairs,
            "whitespace_tolerance_used": any(done.tolerant for done in applied),
        }


def _file_section(root: Path, path: str, limit: int) -> str:
    """One file under its marker, in a fence longer than any backtick run inside it."""
    try:
        text = (root / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return f"{FILE_MARKER}{path}\n\n(not shown: not readable as UTF-8 text)"
    shown = _excerpt(text, limit)
    longest = max((len(run) for run in _FENCE_RUN.findall(shown)), default=2)
    fence = "`" * (longest + 1)
    body = shown.rstrip("\n")
    return f"{FILE_MARKER}{path}\n\n{fence}\n{body}\n{fence}"


def _excerpt(text: str, limit: int) -> str:
    """``text`` cut at a line boundary within ``limit`` characters, saying what was left out."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit) + 1 or limit
    left = len(text) - cut
    return text[:cut] + f"[… {left} more characters not shown: quote only the lines above]\n"


def _edit_meta(applied: Applied) -> dict[str, Any]:
    return {
        "path": applied.path,
        "lines_removed": applied.lines_removed,
        "lines_added": applied.lines_added,
    }


def _failure(reason: str, repairs: int) -> str:
    tries = f" (also after {repairs} repair{'s' if repairs > 1 else ''})" if repairs else ""
    return f"the model's answer could not be applied{tries}: {reason}"


def _one_line(description: str) -> str:
    line = " ".join(description.split())
    return line[:MAX_DESCRIPTION]
