"""A loopback OpenAI Responses API (``POST /v1/responses``) as Codex CLI speaks it: every answer
streamed as server-sent events, tool use as ``function_call`` (or, for a freeform tool,
``custom_tool_call``) output items whose results come back as ``*_output`` input items, usage in
``response.completed``.

The scripted model reads the editable file through Codex's shell tool (``exec_command``), rewrites
it with a patch through ``apply_patch`` when the model is offered that tool (a freeform "custom"
tool for the GPT-5 family) or else through the shell, then ends with a ``DESCRIPTION:`` line.
"""

from __future__ import annotations

import json
import shlex
from itertools import count
from typing import Any

from real_agents.loopback import Provider, Reply, Request, Script

RESULTS = ("function_call_output", "custom_tool_call_output")
SHELLS = ("exec_command", "shell_command", "shell")


class ResponsesServer(Provider):
    def __init__(self, script: Script | None = None) -> None:
        super().__init__()
        self.script = script or Script()
        self._ids = count(1)

    def model_calls(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/responses")]

    def answer(self, request: Request) -> Reply:
        if request.method != "POST" or not request.path.endswith("/responses"):
            return Reply(404, {"error": {"message": f"no such endpoint: {request.path}"}})
        if self.refuse_auth:
            return Reply(401, _refusal())
        body = request.body if isinstance(request.body, dict) else {}
        items = body.get("input") or []
        results = sum(1 for item in items if item.get("type") in RESULTS)
        turn = self.script.turn(results)
        tools = {tool.get("name"): tool for tool in body.get("tools") or []}
        if turn == "done":
            output = self._message(self.script.description())
        elif turn == "read":
            output = self._shell_call(_shell_tool(tools), f"cat {self.script.file}")
        else:
            output = self._write(tools, _last_output(items))
        return Reply(events=self._stream(body.get("model", ""), output))

    def _write(self, tools: dict[str, Any], old: str | None) -> dict[str, Any]:
        new = self.script.next_content()
        patcher = tools.get("apply_patch")
        if patcher is None or old is None:
            command = f"printf %s {shlex.quote(new)} > {self.script.file}"
            return self._shell_call(_shell_tool(tools), command)
        number = next(self._ids)
        patch = _patch(self.script.file, old, new)
        call = {"id": f"ctc_{number}", "call_id": f"call_{number}", "name": "apply_patch"}
        if patcher.get("type") == "custom":
            return {"type": "custom_tool_call", **call, "input": patch, "status": "completed"}
        arguments = json.dumps({"input": patch})
        return {"type": "function_call", **call, "arguments": arguments, "status": "completed"}

    def _message(self, text: str) -> dict[str, Any]:
        return {
            "type": "message",
            "id": f"msg_{next(self._ids)}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }

    def _shell_call(self, tool: str, command: str) -> dict[str, Any]:
        number = next(self._ids)
        arguments = {"cmd": command} if tool != "shell" else {"command": ["bash", "-lc", command]}
        if tool == "shell_command":
            arguments = {"command": command}
        return {
            "type": "function_call",
            "id": f"fc_{number}",
            "call_id": f"call_{number}",
            "name": tool,
            "arguments": json.dumps(arguments),
            "status": "completed",
        }

    def _stream(self, model: str, item: dict[str, Any]) -> list[tuple[str | None, Any]]:
        response_id = f"resp_{next(self._ids)}"
        head = {"id": response_id, "object": "response", "model": model, "status": "in_progress"}
        events: list[tuple[str | None, Any]] = [
            ("response.created", {"type": "response.created", "response": head}),
            ("response.output_item.added", {"type": "response.output_item.added", "item": item}),
        ]
        if item["type"] == "message":
            text = item["content"][0]["text"]
            delta = {"type": "response.output_text.delta", "item_id": item["id"], "delta": text}
            events.append(("response.output_text.delta", delta))
        events.append(
            ("response.output_item.done", {"type": "response.output_item.done", "item": item})
        )
        usage = {
            "input_tokens": self.script.tokens_in,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": self.script.tokens_out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.script.tokens_in + self.script.tokens_out,
        }
        done = {**head, "status": "completed", "output": [item], "usage": usage}
        events.append(("response.completed", {"type": "response.completed", "response": done}))
        return events


def _shell_tool(tools: dict[str, Any]) -> str:
    """The shell tool this version of Codex offers its model (a model that is offered none, as
    one whose tools are called from generated code, still gets ``exec_command`` run)."""
    return next((name for name in SHELLS if name in tools), SHELLS[0])


def _last_output(items: list[dict[str, Any]]) -> str | None:
    """What the last command printed: Codex wraps it in a header ending with ``Output:``."""
    outputs = [item.get("output") for item in items if item.get("type") in RESULTS]
    text = outputs[-1] if outputs else None
    if not isinstance(text, str):
        return None
    _, marker, printed = text.rpartition("Output:\n")
    return printed if marker else None


def _patch(file: str, old: str, new: str) -> str:
    removed = "".join(f"-{line}\n" for line in old.splitlines())
    added = "".join(f"+{line}\n" for line in new.splitlines())
    return f"*** Begin Patch\n*** Update File: {file}\n@@\n{removed}{added}*** End Patch"


def _refusal() -> dict[str, Any]:
    return {
        "error": {
            "message": "Incorrect API key provided: sk-wrong. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
