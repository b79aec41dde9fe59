"""OpenAI chat completions (``POST /v1/chat/completions``), the protocol aider speaks through
litellm for any ``openai/<name>`` model.

Aider puts the files it may edit into the conversation itself and expects its edits in the
reply's text, in the edit format its system prompt describes, so one request is one whole
experiment: the scripted model answers with the file rewritten (a SEARCH/REPLACE block, or the
whole file) and a ``DESCRIPTION:`` line. Streamed (server-sent ``chat.completion.chunk``
events ending in ``[DONE]``) when the request asks for it, with the usage in the last chunk.
"""

from __future__ import annotations

import re
import time
from typing import Any

from real_agents.loopback import Provider, Reply, Request, Script

SEARCH_REPLACE = "<<<<<<< SEARCH"


class ChatCompletions(Provider):
    def __init__(self, script: Script | None = None) -> None:
        super().__init__()
        self.script = script or Script()

    def answer(self, request: Request) -> Reply:
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return Reply(404, {"error": {"message": f"no route {request.path}"}})
        if self.refuse_auth:
            return Reply(401, _error("Incorrect API key provided: sk-test.", "invalid_api_key"))
        body = request.body if isinstance(request.body, dict) else {}
        messages = body.get("messages") or []
        text = self._reply_text(messages)
        model = body.get("model") or "scripted"
        usage = {
            "prompt_tokens": self.script.tokens_in,
            "completion_tokens": self.script.tokens_out,
            "total_tokens": self.script.tokens_in + self.script.tokens_out,
        }
        if body.get("stream"):
            return Reply(events=_chunks(model, text, usage))
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return Reply(body={**_head(model, "chat.completion"), "choices": [choice], "usage": usage})

    def _reply_text(self, messages: list[dict[str, Any]]) -> str:
        """The rewrite of the editable file in the edit format the system prompt asks for."""
        system = "\n".join(_content(m) for m in messages if m.get("role") == "system")
        conversation = "\n".join(_content(m) for m in messages)
        old = _file_in(conversation, self.script.file)
        new = self.script.next_content()
        if SEARCH_REPLACE in system and old is not None:
            edit = f"{old}=======\n{new}>>>>>>> REPLACE"
            block = f"{self.script.file}\n```\n{SEARCH_REPLACE}\n{edit}\n```"
        else:
            block = f"{self.script.file}\n```\n{new}```"
        return f"I rewrite the rules.\n\n{block}\n\n{self.script.description()}\n"


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _file_in(conversation: str, name: str) -> str | None:
    """The file's current text as aider shows it to the model (its name, then a fenced block)."""
    found = re.findall(rf"^{re.escape(name)}\n```[^\n]*\n(.*?)^```", conversation, re.M | re.S)
    return found[-1] if found else None


def _head(model: str, kind: str) -> dict[str, Any]:
    return {"id": "chatcmpl-loopback", "object": kind, "created": int(time.time()), "model": model}


def _chunks(model: str, text: str, usage: dict[str, int]) -> list[tuple[str | None, Any]]:
    head = _head(model, "chat.completion.chunk")
    pieces = [text[i : i + 40] for i in range(0, len(text), 40)]
    events: list[tuple[str | None, Any]] = [
        (None, {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
    ]
    for piece in pieces:
        delta = {"content": piece}
        events.append((None, {**head, "choices": [{"index": 0, "delta": delta}]}))
    stop = {"index": 0, "delta": {}, "finish_reason": "stop"}
    events.append((None, {**head, "choices": [stop]}))
    events.append((None, {**head, "choices": [], "usage": usage}))
    events.append((None, "[DONE]"))
    return events


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}
