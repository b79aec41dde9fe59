"""The shared half of the model providers that real coding-agent CLIs talk to in these tests: an
HTTP server on 127.0.0.1 that records every request and answers through a protocol module
(Anthropic Messages, OpenAI Responses, OpenAI chat completions, Gemini generateContent).

A protocol module subclasses ``Provider`` and implements ``answer(request)``; the scripted model
behind every protocol is the same three turns (``Script``): read the editable file, rewrite it,
end with a ``DESCRIPTION:`` line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 50_000_000


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON
    raw: str


@dataclass
class Reply:
    """One HTTP answer: a JSON body, or server-sent events (``events`` of (name, data))."""

    status: int = 200
    body: Any = None
    events: list[tuple[str | None, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Provider:
    """Subclasses answer one protocol; ``requests`` keeps everything that was asked."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.refuse_auth = False  # answer every model call with 401
        self._server: ThreadingHTTPServer | None = None

    # -- to implement -------------------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        raise NotImplementedError

    # -- the server ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Provider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, MAX_BODY)).decode("utf-8", "replace")
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                request = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    raw,
                )
                with provider.lock:
                    provider.requests.append(request)
                try:
                    reply = provider.answer(request)
                except Exception as exc:  # a bug of the test server: say so to the client
                    reply = Reply(500, {"error": {"message": f"test server: {exc!r}"}})
                self._send(reply)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def _send(self, reply: Reply) -> None:
                if reply.events is not None:
                    data = "".join(sse(name, body) for name, body in reply.events).encode()
                    kind = "text/event-stream"
                else:
                    data = json.dumps(reply.body if reply.body is not None else {}).encode()
                    kind = "application/json"
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Provider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def seen(self) -> str:
        """Every request body, as text: what the tool sent its model."""
        with self.lock:
            return "\n".join(request.raw for request in self.requests)


def sse(name: str | None, body: Any) -> str:
    data = body if isinstance(body, str) else json.dumps(body)
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {data}\n\n"


@dataclass
class Script:
    """The scripted model: one experiment is three turns, told apart by how many tool results
    the conversation holds so far. ``content(n)`` is what the n-th rewrite writes."""

    file: str = "rules.txt"
    calls: int = 0  # rewrites made so far, across experiments
    tokens_in: int = 1200
    tokens_out: int = 80

    def turn(self, tool_results: int) -> str:
        """ "read", "write" or "done"."""
        return ("read", "write", "done")[min(tool_results, 2)]

    def next_content(self) -> str:
        self.calls += 1
        return f"GOOD rule {self.calls}\n"

    def description(self) -> str:
        return f"DESCRIPTION: rewrote {self.file} as rule {self.calls}"


def text_of(parts: Iterable[Any]) -> str:
    return json.dumps(list(parts))
