"""The provider layer through litellm, for real, against the loopback server: text, tokens and
cost, our retries on every kind of fault, immediate failures, concurrency, and the judge."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from llm_server import HANG, LLMServer, Reply, outside_network_refused, prompt_of
from overnight import llm
from overnight.config import ModelConfig, PriceConfig
from overnight.llm import LLMError, Usage, complete, judge, parse_verdict, total_cost

OPENAI_MODEL = "openai/gpt-4o-mini"
ANTHROPIC_MODEL = "anthropic/claude-haiku-4-5"  # in litellm's bundled price map
LOCAL_MODEL = "openai/my-local-model"  # in no price map
KEY_ENV = "OVERNIGHT_TEST_LLM_KEY"
HELLO = [{"role": "user", "content": "Say hello to the night shift."}]
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module", autouse=True)
def _offline() -> Iterator[None]:
    """Fail the module if anything here reaches for a host other than loopback."""
    with outside_network_refused() as attempts:
        yield
    assert attempts == [], f"tried to reach outside hosts: {attempts}"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "x")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(llm, "sleep", waited.append)
    return waited


def config_for(server: LLMServer, model: str = OPENAI_MODEL, **overrides: Any) -> ModelConfig:
    base = server.anthropic_base_url if model.startswith("anthropic/") else server.base_url
    settings: dict[str, Any] = {
        "model": model,
        "api_base": base,
        "api_key_env": KEY_ENV,
        "timeout": 2,
        "retries": 3,
    }
    return ModelConfig(**{**settings, **overrides})


def per_token(model: str) -> tuple[float, float]:
    prices = llm._load_litellm().model_cost[model]
    return prices["input_cost_per_token"], prices["output_cost_per_token"]


# --- text, tokens, cost ------------------------------------------------------------------


def test_openai_model_returns_text_tokens_and_mapped_cost(llm_server: LLMServer) -> None:
    llm_server.script(Reply("Hello, night shift.", tokens_in=1000, tokens_out=200))
    config = config_for(llm_server, temperature=0.2, max_tokens=50)

    result = complete(HELLO, config, "generation")

    assert result.text == "Hello, night shift."
    assert result.usage == Usage("generation", OPENAI_MODEL, 1000, 200, result.usage.cost_usd)
    price_in, price_out = per_token("gpt-4o-mini")
    assert result.usage.cost_usd == pytest.approx(1000 * price_in + 200 * price_out)
    assert result.usage.cost_usd > 0
    assert result.seconds > 0
    (request,) = llm_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer x"
    assert request.body is not None
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["messages"] == HELLO
    assert (request.body["temperature"], request.body["max_tokens"]) == (0.2, 50)


def test_anthropic_model_speaks_the_messages_protocol(llm_server: LLMServer) -> None:
    llm_server.script(Reply("Good evening.", tokens_in=40, tokens_out=4))
    messages = [{"role": "system", "content": "Be brief."}, *HELLO]

    result = complete(messages, config_for(llm_server, ANTHROPIC_MODEL), "proposal")

    assert result.text == "Good evening."
    assert (result.usage.tokens_in, result.usage.tokens_out) == (40, 4)
    price_in, price_out = per_token("claude-haiku-4-5")
    assert result.usage.cost_usd == pytest.approx(40 * price_in + 4 * price_out)
    (request,) = llm_server.requests
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "x"
    assert request.body is not None
    assert request.body["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
    assert "Say hello to the night shift." in request.prompt


def test_model_missing_from_the_price_map_records_tokens_without_cost(
    llm_server: LLMServer,
) -> None:
    llm_server.script("fine")

    usage = complete(HELLO, config_for(llm_server, LOCAL_MODEL), "generation").usage

    assert usage.cost_usd is None
    assert usage.tokens_in > 0 and usage.tokens_out > 0


@pytest.mark.parametrize("model", [LOCAL_MODEL, OPENAI_MODEL])
def test_configured_price_sets_the_cost(llm_server: LLMServer, model: str) -> None:
    llm_server.script(Reply("priced", tokens_in=1000, tokens_out=500))
    price = PriceConfig(input_per_mtok=2.0, output_per_mtok=10.0)

    usage = complete(HELLO, config_for(llm_server, model, price=price), "generation").usage

    assert usage.cost_usd == pytest.approx(0.002 + 0.005)


def test_local_server_needs_no_key(llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = config_for(llm_server, LOCAL_MODEL, api_key_env=None)

    assert complete(HELLO, config, "generation").text == "OK"
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {llm.PLACEHOLDER_KEY}"


def test_unset_key_variable_fails_before_any_request(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)

    with pytest.raises(LLMError, match=f"{KEY_ENV} is not set"):
        complete(HELLO, config_for(llm_server), "generation")
    assert llm_server.request_count == 0


def test_no_key_for_a_hosted_provider_fails_at_once_with_the_variable_to_set(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = ModelConfig(model="openai/gpt-4o-mini", retries=3)

    with pytest.raises(LLMError, match="no API key: set OPENAI_API_KEY"):
        complete(HELLO, config, "generation")
    assert sleeps == []


# --- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [OPENAI_MODEL, ANTHROPIC_MODEL])
@pytest.mark.parametrize("fault", [500, 503, "malformed", "truncated", "empty"])
def test_transient_fault_is_retried_then_succeeds(
    llm_server: LLMServer, sleeps: list[float], model: str, fault: int | str
) -> None:
    llm_server.script("recovered")
    llm_server.fail(fault)

    result = complete(HELLO, config_for(llm_server, model), "generation")

    assert result.text == "recovered"
    assert llm_server.request_count == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("model", [OPENAI_MODEL, ANTHROPIC_MODEL])
@pytest.mark.parametrize("status", [429, 503])
def test_retry_waits_as_long_as_retry_after_says(
    llm_server: LLMServer, sleeps: list[float], model: str, status: int
) -> None:
    llm_server.fail(status, times=2, retry_after=1.5)

    result = complete(HELLO, config_for(llm_server, model), "generation")

    assert result.text == "OK"
    assert llm_server.request_count == 3
    assert sleeps == [1.5, 1.5]


def test_retry_after_is_capped(llm_server: LLMServer, sleeps: list[float]) -> None:
    llm_server.fail(429, retry_after=3600)

    complete(HELLO, config_for(llm_server), "generation")

    assert sleeps == [llm.RETRY_AFTER_CAP_S]


def test_retry_after_is_really_waited(llm_server: LLMServer) -> None:
    llm_server.fail(429, retry_after=0.3)

    result = complete(HELLO, config_for(llm_server), "generation")

    assert result.seconds >= 0.3
    assert llm_server.request_count == 2


def test_backoff_doubles_with_jitter(llm_server: LLMServer, sleeps: list[float]) -> None:
    llm_server.fail(500, times=3)

    complete(HELLO, config_for(llm_server), "generation")

    base = llm.BACKOFF_BASE_S
    assert len(sleeps) == 3
    for attempt, waited in enumerate(sleeps):
        assert base * 2**attempt / 2 <= waited <= base * 2**attempt


def test_hang_past_the_timeout_is_retried(llm_server: LLMServer, sleeps: list[float]) -> None:
    llm_server.script("after the hang")
    llm_server.fail(HANG, seconds=5)
    started = time.monotonic()

    result = complete(HELLO, config_for(llm_server, timeout=0.5), "generation")

    assert result.text == "after the hang"
    assert llm_server.request_count == 2
    assert 0.5 <= time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(503, "503 service unavailable"), (429, "429 rate limited"), ("malformed", "not JSON")],
)
def test_spent_retries_raise_with_the_reason_and_attempts(
    llm_server: LLMServer, sleeps: list[float], fault: int | str, reason: str
) -> None:
    llm_server.fail(fault, times=4)

    with pytest.raises(LLMError) as raised:
        complete(HELLO, config_for(llm_server, retries=3), "generation")

    assert str(raised.value).startswith(f"{OPENAI_MODEL}: ")
    assert reason in str(raised.value)
    assert str(raised.value).endswith("(4 attempts)")
    assert raised.value.attempts == 4
    assert llm_server.request_count == 4


def test_timeouts_that_never_end_raise(llm_server: LLMServer, sleeps: list[float]) -> None:
    llm_server.fail(HANG, times=2, seconds=5)

    with pytest.raises(LLMError, match=r"timed out after 0.3 s \(2 attempts\)"):
        complete(HELLO, config_for(llm_server, timeout=0.3, retries=1), "generation")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, f"401 unauthorized: check {KEY_ENV}"),
        (403, "403 forbidden"),
        (404, "404 not found: check the model name and api_base"),
        (400, "400 bad request"),
    ],
)
@pytest.mark.parametrize("model", [OPENAI_MODEL, ANTHROPIC_MODEL])
def test_client_errors_fail_at_once(
    llm_server: LLMServer, sleeps: list[float], model: str, status: int, reason: str
) -> None:
    llm_server.fail(status)

    with pytest.raises(LLMError) as raised:
        complete(HELLO, config_for(llm_server, model), "generation")

    assert str(raised.value).startswith(f"{model}: {reason}")
    assert "\n" not in str(raised.value)
    assert llm_server.request_count == 1
    assert sleeps == []


def test_unauthorized_names_the_providers_usual_variable(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    llm_server.fail(401)

    with pytest.raises(LLMError, match=r"check OPENAI_API_KEY$"):
        complete(HELLO, config_for(llm_server, api_key_env=None), "generation")


def test_empty_answer_cut_by_max_tokens_is_not_retried(llm_server: LLMServer) -> None:
    llm_server.script(Reply("", finish_reason="length"))

    with pytest.raises(LLMError, match=r"hit max_tokens \(5\)"):
        complete(HELLO, config_for(llm_server, max_tokens=5), "generation")
    assert llm_server.request_count == 1


# --- concurrency ---------------------------------------------------------------------------


def test_parallel_calls_overlap(llm_server: LLMServer) -> None:
    config = config_for(llm_server)
    complete(HELLO, config, "generation")  # the first call pays for litellm's import
    llm_server.script(lambda body: f"echo: {prompt_of(body)}")
    llm_server.latency = 0.2
    prompts = [f"case {n}" for n in range(8)]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda p: complete([{"role": "user", "content": p}], config, "generation"),
                prompts,
            )
        )
    elapsed = time.monotonic() - started

    assert [r.text for r in results] == [f"echo: {p}" for p in prompts]
    assert elapsed < 0.8, f"8 calls of 0.2 s took {elapsed:.2f} s: not concurrent"


# --- judge ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "verdict", "reason"),
    [
        ("YES\nThe post opens with a question.", True, "The post opens with a question."),
        ("No. It runs past 280 characters.", False, "It runs past 280 characters."),
        ("**Yes** - it names the product.", True, "it names the product."),
    ],
)
def test_judge_reads_the_verdict_and_reason(
    llm_server: LLMServer, answer: str, verdict: bool, reason: str
) -> None:
    llm_server.script(answer)

    passed, why, usage = judge(
        "Does it hook the reader?", "Ever wondered why?", config_for(llm_server)
    )

    assert (passed, why) == (verdict, reason)
    assert (usage.purpose, usage.calls) == ("judge", 1)
    body = llm_server.requests[0].body or {}
    assert body["messages"][0] == {"role": "system", "content": llm.JUDGE_SYSTEM}
    assert "Does it hook the reader?" in prompt_of(body)
    assert "Ever wondered why?" in prompt_of(body)


def test_judge_asks_again_once_when_unclear(llm_server: LLMServer) -> None:
    llm_server.script(Reply("It depends.", 50, 3), Reply("NO\nToo long.", 60, 4))

    passed, why, usage = judge("Is it short?", "a long text", config_for(llm_server))

    assert (passed, why) == (False, "Too long.")
    assert (usage.calls, usage.tokens_in, usage.tokens_out) == (2, 110, 7)
    second = llm_server.requests[1].body or {}
    assert second["messages"][-2:] == [
        {"role": "assistant", "content": "It depends."},
        {"role": "user", "content": llm.JUDGE_REASK},
    ]


def test_judge_that_never_answers_yes_or_no_raises(llm_server: LLMServer) -> None:
    llm_server.script("It depends.", "Hard to say, really.")

    with pytest.raises(LLMError, match="judge answered neither yes nor no: 'Hard to say") as raised:
        judge("Is it short?", "text", config_for(llm_server))

    assert raised.value.usage is not None
    assert raised.value.usage.calls == 2
    assert llm_server.request_count == 2


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("yes", (True, "")),
        ("Yes.", (True, "")),
        ("YES!\nBecause it rhymes.", (True, "Because it rhymes.")),
        ("  \nno, it does not", (False, "it does not")),
        ("Answer: NO - too vague", (False, "too vague")),
        ("**YES**", (True, "")),
        ("Yesterday it was fine.", None),
        ("Not really.", None),
        ("Nope", None),
        ("", None),
    ],
)
def test_parse_verdict(answer: str, expected: tuple[bool, str] | None) -> None:
    assert parse_verdict(answer) == expected


# --- cost totals and import ----------------------------------------------------------------


def usage(cost: float | None, calls: int = 1) -> Usage:
    return Usage("generation", "m", 10, 2, cost, calls)


def test_total_cost_sums_the_known_costs() -> None:
    assert total_cost([]) == 0.0
    assert total_cost([usage(None), usage(None)]) is None
    assert total_cost([usage(0.25), usage(None), usage(0.5)]) == pytest.approx(0.75)
    assert llm.unpriced_calls([usage(0.25), usage(None, calls=2)]) == 2


def test_importing_the_module_neither_imports_litellm_nor_reaches_the_network() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from llm_server import outside_network_refused
        with outside_network_refused() as attempts:
            import overnight.llm as llm
            assert "litellm" not in sys.modules, "importing overnight.llm imported litellm"
            llm._load_litellm()
            assert "litellm" in sys.modules
        print("outside:", attempts)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )

    assert done.returncode == 0, done.stderr
    assert "outside: []" in done.stdout, done.stdout + done.stderr
    assert "LiteLLM" not in done.stderr
