"""A model provider on loopback: the OpenAI chat-completions and Anthropic messages protocols,
spoken for real over HTTP, with scripted answers, real ``usage`` numbers, latency and faults.

The provider layer is tested through litellm against this server, so everything between our code
and the socket (request building, response parsing, error mapping, timeouts) is the real thing.

    server = LLMServer().start()
    server.script("first answer", Reply("second", tokens_in=10, tokens_out=2))
    server.script(lambda body: "YES" if "sky" in prompt_of(body) else "NO")
    server.fail(429, times=2, retry_after=1)     # or 500, 401, "hang", "malformed", ...
    server.latency = 0.2                          # every answer; Reply(latency=...) adds to one
    ...  # point litellm at server.base_url (OpenAI) or server.anthropic_base_url
    server.requests[-1].body["messages"]
    server.close()

Every wait is bounded (``MAX_WAIT_S``) and wakes early on ``close()``, so a test never hangs.
``outside_network_refused()`` proves the other half: that nothing reached past loopback.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
DEFAULT_TEXT = "OK"
MAX_WAIT_S = 10.0
POLL_S = 0.02  # how quickly the server notices close(); the default half second slows every test
TOKENS_PER_WORD = 1.3
LOOPBACK_HOSTS = (None, "127.0.0.1", "::1", "localhost")

# Faults other than an HTTP status code.
HANG = "hang"  # answer nothing until the client has given up, then drop the connection
MALFORMED = "malformed"  # 200 with a body that is not JSON
TRUNCATED = "truncated"  # 200 whose body stops short of its Content-Length
EMPTY = "empty"  # 200, valid JSON, but no text in the answer
FAULT_KINDS = (HANG, MALFORMED, TRUNCATED, EMPTY)

_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_OPENAI_ERRORS = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "model_not_found",
    429: "rate_limit_exceeded",
}
_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens"}


@dataclass(frozen=True)
class Reply:
    """One scripted answer; token counts default to a rough count of the words."""

    text: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    finish_reason: str = "stop"  # OpenAI's words; mapped to Anthropic's stop_reason
    latency: float = 0.0  # seconds to wait before this answer, on top of the server's latency


Responder = Callable[[dict[str, Any]], "str | Reply"]


@dataclass(frozen=True)
class Request:
    """What the client sent: path, parsed JSON body (None if it was not JSON), headers in lower
    case."""

    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]

    @property
    def prompt(self) -> str:
        return prompt_of(self.body or {})


@dataclass
class _Fault:
    kind: int | str
    remaining: int
    retry_after: float | None
    seconds: float


@dataclass
class _State:
    replies: deque[Reply] = field(default_factory=deque)
    responder: Responder | None = None
    faults: deque[_Fault] = field(default_factory=deque)
    requests: list[Request] = field(default_factory=list)


@contextlib.contextmanager
def outside_network_refused() -> Iterator[list[str]]:
    """While open, every attempt to resolve or reach a host other than loopback fails and is
    recorded in the yielded list: the proof that code under test stayed on this machine."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK_HOSTS:
            attempts.append(str(host))
            raise socket.gaierror(f"refused: {host} is not loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK_HOSTS:
            attempts.append(str(address[0]))
            raise OSError(f"refused: {address[0]} is not loopback")
        real_connect(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        socket.getaddrinfo = real_getaddrinfo
        socket.socket.connect = real_connect  # type: ignore[method-assign]


def count_tokens(text: str) -> int:
    """Roughly what a tokenizer would say: 1.3 tokens per word, at least one."""
    return max(1, math.ceil(len(text.split()) * TOKENS_PER_WORD))


def prompt_of(body: dict[str, Any]) -> str:
    """All the text of a request's system prompt and messages, in order, one per line."""
    parts = [_text_of(body.get("system"))]
    parts += [_text_of(message.get("content")) for message in body.get("messages") or []]
    return "\n".join(part for part in parts if part)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            block.get("text", "") for block in content if isinstance(block, dict)
        ).strip()
    return ""


class LLMServer:
    """An HTTP server on 127.0.0.1 (a free port) answering in a background thread."""

    def __init__(self) -> None:
        self.latency = 0.0  # seconds to wait before every answer
        self._state = _State()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What an OpenAI-compatible client takes as its base: it appends /chat/completions."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """What litellm's Anthropic provider takes as api_base: it appends /v1/messages."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._state.requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._state.requests)

    def start(self) -> LLMServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, wake every waiting handler and drop open connections."""
        self._closing.set()
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _drop(connection)
        self._httpd.server_close()
        self._thread.join(timeout=MAX_WAIT_S)

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def script(self, *replies: str | Reply | Responder) -> None:
        """Queue answers, given in order, one per successful request. A callable instead answers
        every request that finds the queue empty with ``callable(request_json)``; without one,
        such a request gets ``DEFAULT_TEXT``."""
        with self._lock:
            for reply in replies:
                if callable(reply):
                    self._state.responder = reply
                else:
                    self._state.replies.append(_as_reply(reply))

    def fail(
        self,
        kind: int | str,
        times: int = 1,
        retry_after: float | None = None,
        seconds: float = 2.0,
    ) -> None:
        """Make the next ``times`` requests (after any faults already queued) fail with ``kind``:
        an HTTP status (429, 500, 503, 401, ...) or one of ``FAULT_KINDS``. ``retry_after`` adds
        that header to a status; ``seconds`` is how long a hang lasts (bounded)."""
        if not isinstance(kind, int) and kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected a status code or {FAULT_KINDS}")
        fault = _Fault(kind, times, retry_after, min(seconds, MAX_WAIT_S))
        with self._lock:
            self._state.faults.append(fault)

    def _record(self, request: Request) -> _Fault | None:
        with self._lock:
            self._state.requests.append(request)
            faults = self._state.faults
            if not faults:
                return None
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.popleft()
            return fault

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._state.replies:
                return self._state.replies.popleft()
            responder = self._state.responder
        return _as_reply(responder(body)) if responder else Reply(DEFAULT_TEXT)

    def _wait(self, seconds: float) -> None:
        self._closing.wait(min(seconds, MAX_WAIT_S))

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


def _as_reply(reply: str | Reply) -> Reply:
    return reply if isinstance(reply, Reply) else Reply(str(reply))


def _drop(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    def __init__(self, llm: LLMServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.llm = llm


class _Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 so clients keep connections alive as they would with a provider."""

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    @property
    def llm(self) -> LLMServer:
        return self.server.llm

    def setup(self) -> None:
        super().setup()
        self.llm._opened(self.connection)

    def finish(self) -> None:
        self.llm._closed(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests``, not a log."""

    def do_POST(self) -> None:
        body = self._read_json()
        request = Request(self.path, body, {k.lower(): v for k, v in self.headers.items()})
        fault = self.llm._record(request)
        try:
            self._answer(request, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _answer(self, request: Request, fault: _Fault | None) -> None:
        protocol = _protocol(request.path)
        if protocol is None:
            self._send_json(404, {"error": {"message": f"no route {request.path}"}})
        elif request.body is None:
            self._send_json(400, _error_body(protocol, 400, "request body is not JSON"))
        elif fault is None:
            reply = self.llm._next_reply(request.body)
            self.llm._wait(self.llm.latency + reply.latency)
            self._send_json(200, _success_body(protocol, request.body, reply))
        else:
            self.llm._wait(self.llm.latency)
            self._send_fault(protocol, request.body, fault)

    def _read_json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _send_status(self, protocol: str, fault: _Fault) -> None:
        status = int(fault.kind)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        self._send_json(status, _error_body(protocol, status, "injected fault"), headers)

    def _send_fault(self, protocol: str, body: dict[str, Any], fault: _Fault) -> None:
        if isinstance(fault.kind, int):
            self._send_status(protocol, fault)
        elif fault.kind == HANG:
            self.llm._wait(fault.seconds)
            self.close_connection = True
        elif fault.kind == MALFORMED:
            self._send_raw(200, b'{"id": "broken", "choices": [', "application/json")
        elif fault.kind == TRUNCATED:
            payload = json.dumps(_success_body(protocol, body, Reply("cut short"))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload) + 100))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self._send_json(200, _success_body(protocol, body, Reply("")))

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _protocol(path: str) -> str | None:
    path = path.split("?", 1)[0].rstrip("/")
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith(ANTHROPIC_PATH):
        return "anthropic"
    return None


def _success_body(protocol: str, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    tokens_in = reply.tokens_in if reply.tokens_in is not None else count_tokens(prompt_of(body))
    tokens_out = reply.tokens_out
    if tokens_out is None:
        tokens_out = count_tokens(reply.text) if reply.text else 0
    model = body.get("model", "unknown")
    stamp = time.time_ns()
    if protocol == "anthropic":
        return {
            "id": f"msg_{stamp}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": reply.text}] if reply.text else [],
            "stop_reason": _ANTHROPIC_STOP.get(reply.finish_reason, reply.finish_reason),
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
    return {
        "id": f"chatcmpl-{stamp}",
        "object": "chat.completion",
        "created": stamp // 1_000_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


def _error_body(protocol: str, status: int, message: str) -> dict[str, Any]:
    if protocol == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    code = _OPENAI_ERRORS.get(status, "server_error")
    return {"error": {"message": message, "type": code, "param": None, "code": code}}
