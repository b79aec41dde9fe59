"""The Anthropic Messages API (``POST /v1/messages``) as Claude Code uses it: streamed answers
(server-sent events), ``tool_use`` blocks for its Read, Write and Edit tools (absolute paths),
token counts in ``message_start`` and ``message_delta``, and ``count_tokens``.

A request that offers the Read tool is the conversation, scripted by ``Script``: read the file,
then Write it whole on an odd rewrite and Edit it on an even one (old text from what Read
returned), then the ``DESCRIPTION:`` line. Any other request (a title, a quota probe) is a side
request, answered with a short text.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from real_agents.loopback import Provider, Reply, Request, Script

SIDE_TOKENS = (30, 4)  # (in, out) of a side request

Block = dict[str, Any]


class AnthropicMessages(Provider):
    def __init__(self, script: Script | None = None) -> None:
        super().__init__()
        self.script = script or Script()
        self.side_requests = 0
        self._ids = itertools.count(1)

    def answer(self, request: Request) -> Reply:
        path = request.path.split("?")[0]
        body = request.body if isinstance(request.body, dict) else {}
        if request.method != "POST" or not path.startswith("/v1/messages"):
            return Reply(404, _error("not_found_error", f"no route {request.method} {path}"))
        if self.refuse_auth:
            return Reply(401, _error("authentication_error", "invalid x-api-key"))
        if path.endswith("/count_tokens"):
            return Reply(body={"input_tokens": self.script.tokens_in})
        if any(tool.get("name") == "Read" for tool in body.get("tools") or []):
            with self.lock:
                blocks = self._turn(body.get("messages") or [], _workspace(body))
            tokens = (self.script.tokens_in, self.script.tokens_out)
        else:
            with self.lock:
                self.side_requests += 1
            blocks, tokens = [{"type": "text", "text": "Rewrite the rules"}], SIDE_TOKENS
        message = self._message(body.get("model") or "claude-loopback", blocks, tokens)
        return Reply(events=_events(message)) if body.get("stream") else Reply(body=message)

    def _turn(self, messages: list[Any], folder: str | None) -> list[Block]:
        results = _tool_results(messages)
        target = f"{folder}/{self.script.file}" if folder else self.script.file
        step = self.script.turn(len(results))
        if step == "read":
            note = {"type": "text", "text": f"I'll read {self.script.file} first."}
            return [note, self._tool_use("Read", {"file_path": target})]
        if step == "write":
            old = _file_text(results[0])
            new = self.script.next_content()
            if self.script.calls % 2 == 0 and old.strip():
                edit = {"file_path": target, "old_string": old.strip(), "new_string": new.strip()}
                return [self._tool_use("Edit", edit)]
            return [self._tool_use("Write", {"file_path": target, "content": new})]
        return [{"type": "text", "text": f"Rewrote the rules.\n\n{self.script.description()}"}]

    def _tool_use(self, name: str, tool_input: dict[str, Any]) -> Block:
        return {
            "type": "tool_use",
            "id": f"toolu_{next(self._ids):04d}",
            "name": name,
            "input": tool_input,
        }

    def _message(self, model: str, blocks: list[Block], tokens: tuple[int, int]) -> dict[str, Any]:
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        return {
            "id": f"msg_{next(self._ids):04d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": _usage(*tokens),
        }


def _tool_results(messages: list[Any]) -> list[Block]:
    return [
        part
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "tool_result"
    ]


def _file_text(result: Block) -> str:
    """The file as Read returned it, without the line numbers it puts before each line."""
    content = result.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    lines = str(content or "").splitlines()
    return "\n".join(line.split("\t", 1)[-1] for line in lines)


_WORKSPACE = re.compile(r"(?:Primary working directory|Working directory): (\S+)")


def _workspace(body: dict[str, Any]) -> str | None:
    """The folder Claude Code runs in, as it tells its model (its file tools want absolute
    paths): in the system prompt, or in a message of its own."""
    for text in strings([body.get("system"), body.get("messages")]):
        if match := _WORKSPACE.search(text):
            return match.group(1)
    return None


def strings(value: Any) -> list[str]:
    """Every string in a decoded JSON value, depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return (
        [text for item in value or [] for text in strings(item)] if isinstance(value, list) else []
    )


def _usage(tokens_in: int, tokens_out: int) -> dict[str, int]:
    return {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _events(message: dict[str, Any]) -> list[tuple[str | None, Any]]:
    """One message as the API streams it: opened with no content and the input tokens, each
    block opened, filled by one delta and closed, then the stop reason and output tokens."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opened: Block = {"type": "text", "text": ""}
            delta: Block = {"type": "text_delta", "text": block["text"]}
        else:
            opened = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        for name, data in (
            ("content_block_start", {"content_block": opened}),
            ("content_block_delta", {"delta": delta}),
            ("content_block_stop", {}),
        ):
            events.append((name, {"type": name, "index": index, **data}))
    final = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(("message_delta", {"type": "message_delta", "delta": final, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}
