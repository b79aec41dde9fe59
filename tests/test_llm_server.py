"""The loopback model server on its own, through plain HTTP: it must speak both protocols as the
providers do and fail exactly as asked, or the provider-layer tests prove nothing."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

import pytest

from llm_server import (
    ANTHROPIC_PATH,
    HANG,
    OPENAI_PATH,
    LLMServer,
    Reply,
    count_tokens,
    outside_network_refused,
)


def post(
    server: LLMServer, path: str, body: dict[str, Any], timeout: float = 2
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        payload = json.dumps(body)
        connection.request("POST", path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


CHAT = {"model": "m", "messages": [{"role": "user", "content": "one two three four five"}]}


def test_openai_answer_has_the_chat_completion_shape(llm_server: LLMServer) -> None:
    llm_server.script("four words of answer")

    status, _, raw = post(llm_server, OPENAI_PATH, CHAT)

    answer = json.loads(raw)
    assert status == 200
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "m"
    assert answer["choices"][0]["message"] == {
        "role": "assistant",
        "content": "four words of answer",
    }
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}
    assert llm_server.base_url.endswith(f":{llm_server.port}/v1")


def test_anthropic_answer_has_the_messages_shape(llm_server: LLMServer) -> None:
    llm_server.script(Reply("cut", tokens_in=9, tokens_out=1, finish_reason="length"))
    body = {**CHAT, "system": "be terse", "max_tokens": 1}

    status, _, raw = post(llm_server, ANTHROPIC_PATH, body)

    answer = json.loads(raw)
    assert status == 200
    assert (answer["type"], answer["role"]) == ("message", "assistant")
    assert answer["content"] == [{"type": "text", "text": "cut"}]
    assert answer["stop_reason"] == "max_tokens"
    assert answer["usage"] == {"input_tokens": 9, "output_tokens": 1}
    assert llm_server.requests[0].prompt == "be terse\none two three four five"


def test_queue_first_then_responder_then_default(llm_server: LLMServer) -> None:
    llm_server.script("first", lambda body: f"seen {len(body['messages'])}")

    texts = [
        json.loads(post(llm_server, OPENAI_PATH, CHAT)[2])["choices"][0]["message"]["content"]
        for _ in range(3)
    ]

    assert texts == ["first", "seen 1", "seen 1"]
    assert llm_server.request_count == 3
    assert all(r.body == CHAT for r in llm_server.requests)


def test_rate_limit_carries_retry_after_and_a_provider_error_body(
    llm_server: LLMServer,
) -> None:
    llm_server.fail(429, times=2, retry_after=2)

    statuses = [post(llm_server, path, CHAT) for path in (OPENAI_PATH, ANTHROPIC_PATH)]

    (openai_status, openai_headers, openai_raw), (anthropic_status, _, anthropic_raw) = statuses
    assert (openai_status, anthropic_status) == (429, 429)
    assert openai_headers["Retry-After"] == "2"
    assert json.loads(openai_raw)["error"]["code"] == "rate_limit_exceeded"
    assert json.loads(anthropic_raw)["error"]["type"] == "rate_limit_error"
    assert post(llm_server, OPENAI_PATH, CHAT)[0] == 200


def test_malformed_and_truncated_bodies(llm_server: LLMServer) -> None:
    llm_server.fail("malformed")
    llm_server.fail("truncated")

    status, _, raw = post(llm_server, OPENAI_PATH, CHAT)
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    with pytest.raises(http.client.IncompleteRead):
        post(llm_server, OPENAI_PATH, CHAT)


def test_empty_answer_has_no_text(llm_server: LLMServer) -> None:
    llm_server.fail("empty", times=2)

    openai = json.loads(post(llm_server, OPENAI_PATH, CHAT)[2])
    anthropic = json.loads(post(llm_server, ANTHROPIC_PATH, CHAT)[2])

    assert openai["choices"][0]["message"]["content"] == ""
    assert anthropic["content"] == []


def test_hang_outlasts_the_client_and_close_ends_it_at_once() -> None:
    server = LLMServer().start()
    server.fail(HANG, seconds=30)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        post(server, OPENAI_PATH, CHAT, timeout=0.3)

    server.close()

    assert time.monotonic() - started < 2


def test_latency_applies_to_each_request_in_parallel(llm_server: LLMServer) -> None:
    llm_server.latency = 0.2
    threads = [
        threading.Thread(target=post, args=(llm_server, OPENAI_PATH, CHAT)) for _ in range(4)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert 0.2 <= time.monotonic() - started < 0.6
    assert llm_server.request_count == 4


def test_unknown_fault_and_route_are_refused(llm_server: LLMServer) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        llm_server.fail("explode")

    assert post(llm_server, "/v1/embeddings", CHAT)[0] == 404


def test_token_count_is_rough_but_positive() -> None:
    assert count_tokens("") == 1
    assert count_tokens("ten words " * 5) == 13


def test_reply_latency_delays_only_that_answer(llm_server: LLMServer) -> None:
    llm_server.script(Reply("slow", latency=0.3), "fast")

    timings = []
    for _ in range(2):
        started = time.monotonic()
        post(llm_server, OPENAI_PATH, CHAT)
        timings.append(time.monotonic() - started)

    assert timings[0] >= 0.3 > timings[1]


def test_outside_network_is_refused_and_recorded(llm_server: LLMServer) -> None:
    with outside_network_refused() as attempts:
        with pytest.raises(OSError, match="not loopback"):
            socket.create_connection(("192.0.2.1", 80), timeout=0.5)
        with pytest.raises(OSError, match="not loopback"):
            socket.getaddrinfo("example.com", 443)
        assert post(llm_server, OPENAI_PATH, CHAT)[0] == 200

    assert attempts == ["192.0.2.1", "example.com"]
