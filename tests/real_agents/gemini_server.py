"""The Gemini API (``POST /v1beta/models/MODEL:ACTION``) as Gemini CLI uses it: the conversation
streamed as server-sent events (``streamGenerateContent?alt=sse``) with ``functionCall`` parts for
its ``read_file`` and ``write_file`` tools, token counts in ``usageMetadata``, and the small side
requests it makes besides the conversation: ``generateContent`` calls that want a JSON object of
a given schema (its model router, its next-speaker check) and ``countTokens``.

A request that offers the ``read_file`` tool is the conversation, scripted by ``Script``; any
other is a side request, answered from the schema it asks for.
"""

from __future__ import annotations

import json
import re
from typing import Any

from real_agents.loopback import Provider, Reply, Request, Script

MODEL = "gemini-loopback-1"
SIDE_TOKENS_IN, SIDE_TOKENS_OUT = 40, 6
KEY_REFUSED = "API key not valid. Please pass a valid API key."


class GeminiProvider(Provider):
    def __init__(self, script: Script | None = None) -> None:
        super().__init__()
        self.script = script or Script()
        self.calls = 0  # conversation turns answered (side requests not counted)
        self.side_calls = 0

    def answer(self, request: Request) -> Reply:
        path = request.path.split("?")[0]
        model, _, action = path.rpartition("/")[2].partition(":")
        if request.method != "POST" or "/models/" not in path or not action:
            return Reply(404, _error(404, "NOT_FOUND", f"no route {request.method} {path}"))
        if self.refuse_auth:
            return Reply(401, _error(401, "UNAUTHENTICATED", KEY_REFUSED, "API_KEY_INVALID"))
        body = request.body if isinstance(request.body, dict) else {}
        if action == "countTokens":
            return Reply(body={"totalTokens": self.script.tokens_in})
        if _offers(body, "read_file"):
            with self.lock:
                self.calls += 1
            parts = self._turn(body)
            usage = (self.script.tokens_in, self.script.tokens_out)
        else:
            with self.lock:
                self.side_calls += 1
            parts = [{"text": json.dumps(_fill(_schema(body)))}]
            usage = (SIDE_TOKENS_IN, SIDE_TOKENS_OUT)
        if action == "streamGenerateContent":
            return Reply(events=[(None, chunk) for chunk in _chunks(model, parts, usage)])
        return Reply(body=_response(model, parts, usage))

    def _turn(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The script's next step, told apart by the function results the conversation holds."""
        step = self.script.turn(_function_responses(body.get("contents") or []))
        folder = _workspace(body)
        target = f"{folder}/{self.script.file}" if folder else self.script.file
        if step == "read":
            return [
                {"text": f"I'll read {self.script.file} first."},
                _call("read_file", {"file_path": target}),
            ]
        if step == "write":
            content = self.script.next_content()
            return [_call("write_file", {"file_path": target, "content": content})]
        return [{"text": f"Rewrote the rules.\n\n{self.script.description()}"}]


def _offers(body: dict[str, Any], tool: str) -> bool:
    return any(
        declaration.get("name") == tool
        for group in body.get("tools") or []
        for declaration in group.get("functionDeclarations") or []
    )


def _function_responses(contents: list[Any]) -> int:
    return sum(
        1
        for content in contents
        for part in content.get("parts") or []
        if isinstance(part, dict) and "functionResponse" in part
    )


_WORKSPACE = re.compile(r"Workspace Directories:\*\*\n\s*- (\S+)")


def _workspace(body: dict[str, Any]) -> str | None:
    """The first workspace directory, as Gemini CLI tells its model in the session context (its
    file tools want absolute paths)."""
    for content in body.get("contents") or []:
        for part in content.get("parts") or []:
            if match := _WORKSPACE.search(part.get("text") or ""):
                return match.group(1)
    return None


def _schema(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig") or {}
    return config.get("responseJsonSchema") or config.get("responseSchema") or {}


def _fill(schema: dict[str, Any]) -> Any:
    """A small value of the JSON schema a side request asks for: the first choice of an enum
    ("user" first, so a next-speaker check ends the turn), else a plain value of its type."""
    kind = str(schema.get("type", "object")).lower()
    if choices := schema.get("enum"):
        return "user" if "user" in choices else choices[0]
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _fill(sub) for name, sub in properties.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 10
    if kind == "boolean":
        return False
    return "ok"


_ids = iter(range(1, 1_000_000))


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"functionCall": {"id": f"call_{next(_ids):04d}", "name": name, "args": args}}


def _usage(tokens_in: int, tokens_out: int) -> dict[str, int]:
    return {
        "promptTokenCount": tokens_in,
        "candidatesTokenCount": tokens_out,
        "totalTokenCount": tokens_in + tokens_out,
    }


def _response(model: str, parts: list[dict[str, Any]], usage: tuple[int, int]) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": _usage(*usage),
        "modelVersion": model or MODEL,
        "responseId": f"resp_{next(_ids):04d}",
    }


def _chunks(model: str, parts: list[dict[str, Any]], usage: tuple[int, int]) -> list[Any]:
    """One chunk per part, the last with the finish reason and the token counts, as the API
    streams them."""
    chunks = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
        chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model or MODEL}
        if last:
            candidate["finishReason"] = "STOP"
            chunk["usageMetadata"] = _usage(*usage)
        chunks.append(chunk)
    return chunks


def _error(code: int, status: str, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return {"error": error}
