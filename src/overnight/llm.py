"""Calling a language model: one ``complete`` for every provider litellm speaks, with our own
retries, token counts and cost, and a small yes/no ``judge`` on top.

Retries are ours, not litellm's, so that every provider backs off the same way and the error a
user finally sees says what went wrong and how often it was tried:

- retried (up to ``ModelConfig.retries`` times, exponential backoff with jitter, or the server's
  ``Retry-After`` when it sends one): 408, 429, 5xx, timeouts, dropped connections, and answers
  that are not JSON or carry no text;
- not retried: other 4xx (a bad key, a wrong model name, a request the provider refuses).

litellm is imported on first use only: the import takes seconds, and the offline core never
needs it. It is told to use its bundled price map so that importing it makes no network call.

Cost: a configured ``price`` wins (the user knows their contract); otherwise litellm's bundled
price map; otherwise the cost is unknown (``None``) while tokens are still counted.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from time import sleep
from types import ModuleType
from typing import Any

from overnight.config import ModelConfig, PriceConfig
from overnight.errors import UsageError
from overnight.records import Usage

BACKOFF_BASE_S = 0.5  # first retry waits about this long; each later one twice as long
BACKOFF_CAP_S = 20.0
RETRY_AFTER_CAP_S = 60.0  # a server asking for longer still gets retried after this
MAX_DETAIL = 200
PLACEHOLDER_KEY = "no-key"  # local OpenAI-compatible servers ignore the key, but one must be sent

JUDGE_SYSTEM = (
    "You grade one output against one criterion. Answer YES if the output meets the "
    "criterion and NO if it does not. Write YES or NO alone on the first line, then one "
    "sentence on the second line saying why."
)
JUDGE_PROMPT = "Criterion: {rubric}\n\nOutput:\n<output>\n{output}\n</output>"
JUDGE_REASK = (
    "Your answer did not start with YES or NO. Answer again: YES or NO alone on the first "
    "line, then one sentence saying why."
)

_VERDICT = re.compile(
    r"""^[\s*_#>`'"]*(?:(?:answer|verdict|judg(?:e)?ment)\s*[:\-]\s*)?[*_`'"]*"""
    r"""(yes|no)\b[\s*_`'".!,:;\-]*(.*)$""",
    re.IGNORECASE,
)
_EXCEPTION_PREFIX = re.compile(r"^(?:litellm\.)?\w*(?:Error|Exception)(?::| -)\s*")

_PHRASES = {429: "rate limited", 529: "overloaded"}  # what users call them

_import_lock = threading.Lock()
_litellm: ModuleType | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage
    seconds: float  # wall time of the whole call, retries and waits included
    finish_reason: str | None = None  # why the model stopped: "stop", "length", ...


UNREACHABLE = "unreachable"  # the provider could not be reached: nothing about the request
REFUSED = "refused"  # the provider refused the credentials: trying again cannot help


class LLMError(Exception):
    """A model call that failed for good; the message is one line saying why, ``kind`` says
    whether the provider was unreachable or refused the key (else "")."""

    def __init__(
        self, message: str, attempts: int = 1, usage: Usage | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.usage = usage  # what was spent before failing, when anything was
        self.kind = kind


class _Failure(Exception):
    """One failed attempt: why, and whether another attempt could go differently."""

    def __init__(
        self, reason: str, retryable: bool, retry_after: float | None = None, kind: str = ""
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.kind = kind


def complete(messages: list[dict[str, str]], config: ModelConfig, purpose: str) -> Completion:
    """Send ``messages`` to the model and return its text, retrying what is worth retrying."""
    litellm = _load_litellm()
    request = _request(messages, config)
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            response, text = _attempt(litellm, request, config)
        except _Failure as failure:
            if not failure.retryable or attempt > config.retries:
                raise _gave_up(config, failure, attempt) from failure.__cause__
            sleep(_delay(attempt, failure.retry_after))
        else:
            usage = _usage_of(response, config, purpose)
            stopped = _finish_reason(response)
            return Completion(text, usage, time.monotonic() - started, stopped)


def judge(rubric: str, output: str, config: ModelConfig) -> tuple[bool, str, Usage]:
    """Ask the model whether ``output`` meets ``rubric``: (verdict, its one-sentence reason,
    usage). An answer that is neither yes nor no is asked again once, then is an LLMError."""
    messages = [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": JUDGE_PROMPT.format(rubric=rubric, output=output)},
    ]
    first = complete(messages, config, "judge")
    verdict = parse_verdict(first.text)
    if verdict is not None:
        return verdict[0], verdict[1], first.usage
    messages += [
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": JUDGE_REASK},
    ]
    try:
        second = complete(messages, config, "judge")
    except LLMError as exc:
        exc.usage = first.usage
        raise
    usage = _combine(first.usage, second.usage)
    verdict = parse_verdict(second.text)
    if verdict is None:
        answer = _one_line(second.text, 80)
        raise LLMError(f"judge answered neither yes nor no: {answer!r}", attempts=2, usage=usage)
    return verdict[0], verdict[1], usage


def parse_verdict(answer: str) -> tuple[bool, str] | None:
    """(True/False, reason) from an answer whose first line starts with yes or no, in any case,
    with or without markdown or trailing punctuation; None when it starts with neither."""
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    if not lines:
        return None
    match = _VERDICT.match(lines[0])
    if match is None:
        return None
    reason = match.group(2).strip() or " ".join(lines[1:])
    return match.group(1).lower() == "yes", reason.strip(" *_`\"'")


def total_cost(usages: Iterable[Usage]) -> float | None:
    """The sum of the known costs. Unknown costs count as nothing, so with a mix the total is a
    lower bound (see ``unpriced_calls``); None only when every usage has an unknown cost. No
    usages at all cost 0."""
    usages = list(usages)
    known = [usage.cost_usd for usage in usages if usage.cost_usd is not None]
    if usages and not known:
        return None
    return math.fsum(known)


def unpriced_calls(usages: Iterable[Usage]) -> int:
    """How many calls ``total_cost`` could not price, so a report can say the total is partial."""
    return sum(usage.calls for usage in usages if usage.cost_usd is None)


def require_litellm() -> None:
    """Fail before a run starts, with the fix, when the ``[llm]`` extra is not installed."""
    if importlib.util.find_spec("litellm") is None:
        raise UsageError("model calls need litellm: pip install 'overnight[llm]'")


def _load_litellm() -> ModuleType:
    """Import and quiet litellm once, whichever thread gets here first."""
    global _litellm
    with _import_lock:
        if _litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            litellm.suppress_debug_info = True
            litellm.callbacks = []
            litellm.success_callback = []
            litellm.failure_callback = []
            _litellm = litellm
    return _litellm


def _request(messages: list[dict[str, str]], config: ModelConfig) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "timeout": config.timeout,
        "num_retries": 0,
    }
    optional = {
        "api_base": config.api_base,
        "api_key": _api_key(config),
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    request.update({name: value for name, value in optional.items() if value is not None})
    return request


def _attempt(litellm: ModuleType, request: dict[str, Any], config: ModelConfig) -> tuple[Any, str]:
    try:
        response = litellm.completion(**request)
    except Exception as exc:
        raise _classify(exc, config) from exc
    return response, _text_of(response, config)


def _api_key(config: ModelConfig) -> str | None:
    """The key from ``api_key_env``; else litellm finds the provider's usual variable itself,
    except that a local OpenAI-compatible server, which wants no key, still gets a placeholder
    because the OpenAI client refuses to send a request without one."""
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise LLMError(f"{config.model}: {config.api_key_env} is not set (model.api_key_env)")
        return key
    local_openai = config.api_base and _provider(config.model) == "openai"
    if local_openai and not os.environ.get("OPENAI_API_KEY"):
        return PLACEHOLDER_KEY
    return None


def _provider(model: str) -> str | None:
    try:
        return _load_litellm().get_llm_provider(model)[1]
    except Exception:
        return None


def _text_of(response: Any, config: ModelConfig) -> str:
    """The answer's text; an answer without any is a failure (retried unless it ran out of
    tokens, which a retry would only repeat)."""
    try:
        choice = response.choices[0]
        text = choice.message.content
    except (AttributeError, IndexError, TypeError):
        raise _Failure("malformed response (no choices)", retryable=True) from None
    if isinstance(text, str) and text.strip():
        return text
    if choice.finish_reason == "length":
        limit = f" ({config.max_tokens})" if config.max_tokens else ""
        raise _Failure(f"empty answer: hit max_tokens{limit} before any text", retryable=False)
    raise _Failure("empty answer", retryable=True)


def _finish_reason(response: Any) -> str | None:
    try:
        reason = response.choices[0].finish_reason
    except (AttributeError, IndexError, TypeError):
        return None
    return str(reason) if reason else None


def _usage_of(response: Any, config: ModelConfig, purpose: str) -> Usage:
    usage = getattr(response, "usage", None)
    tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
    tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
    if config.price is not None:
        cost = _priced(config.price, tokens_in, tokens_out)
    else:
        cost = _mapped_cost(response)
    return Usage(purpose, config.model, tokens_in, tokens_out, cost)


def _priced(price: PriceConfig, tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * price.input_per_mtok + tokens_out * price.output_per_mtok) / 1_000_000


def _mapped_cost(response: Any) -> float | None:
    """litellm's price for this response, or None for a model its map does not know."""
    try:
        cost = _load_litellm().completion_cost(completion_response=response)
    except Exception:
        return None
    return float(cost) if cost is not None else None


def _combine(first: Usage, second: Usage) -> Usage:
    cost = None
    if first.cost_usd is not None and second.cost_usd is not None:
        cost = first.cost_usd + second.cost_usd
    return Usage(
        purpose=first.purpose,
        model=first.model,
        tokens_in=first.tokens_in + second.tokens_in,
        tokens_out=first.tokens_out + second.tokens_out,
        cost_usd=cost,
        calls=first.calls + second.calls,
    )


def _classify(exc: Exception, config: ModelConfig) -> _Failure:
    """What went wrong, in a user's words, and whether trying again could help. litellm reports
    many local problems (a dropped connection, a body that is not JSON) as a 500, so the cause
    chain is read first to name them for what they are."""
    import httpx

    causes = _causes(exc)
    if any(isinstance(c, httpx.TimeoutException) for c in causes) or _is_timeout(exc):
        return _Failure(f"timed out after {config.timeout:g} s", retryable=True)
    if any(isinstance(c, json.JSONDecodeError) for c in causes):
        return _Failure("malformed response (not JSON)", retryable=True)
    if any(isinstance(c, httpx.ConnectError) for c in causes):
        return _Failure(f"cannot connect ({_detail(exc)})", retryable=True, kind=UNREACHABLE)
    if any(isinstance(c, httpx.TransportError) for c in causes):
        reason = f"connection dropped ({_detail(exc)})"
        return _Failure(reason, retryable=True, kind=UNREACHABLE)
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return _Failure(_detail(exc), retryable=False)
    if not any(isinstance(c, httpx.HTTPStatusError) for c in causes) and status == 500:
        if "credentials" in str(exc).lower():  # no key at all: trying again cannot help
            reason = f"no API key: set {_key_name(config)}"
            return _Failure(reason, retryable=False, kind=REFUSED)
        return _Failure(_detail(exc), retryable=True)  # litellm's catch-all, not the server's
    return _status_failure(exc, status, config)


def _status_failure(exc: Exception, status: int, config: ModelConfig) -> _Failure:
    if status == 401:  # the provider's message may quote part of the key: leave it out
        reason = f"401 unauthorized: check {_key_name(config)}"
        return _Failure(reason, retryable=False, kind=REFUSED)
    if status == 404:
        hint = "check the model name and api_base"
        return _Failure(f"404 not found: {hint} ({_detail(exc)})", retryable=False)
    reason = f"{status} {_phrase(status)}: {_detail(exc)}"
    if status in (408, 429) or status >= 500:
        return _Failure(reason, retryable=True, retry_after=_retry_after(exc))
    return _Failure(reason, retryable=False)


def _is_timeout(exc: Exception) -> bool:
    return isinstance(exc, _load_litellm().Timeout)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _retry_after(exc: Exception) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or a date), capped."""
    headers = getattr(exc, "litellm_response_headers", None)
    if not headers:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def _delay(attempt: int, retry_after: float | None) -> float:
    """How long to wait before attempt ``attempt + 1``: what the server asked for, else
    exponential backoff with jitter so that parallel callers do not retry in step."""
    if retry_after is not None:
        return retry_after
    backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return backoff * random.uniform(0.5, 1.0)


def _gave_up(config: ModelConfig, failure: _Failure, attempts: int) -> LLMError:
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    message = f"{config.model}: {failure.reason}{tries}"
    return LLMError(message, attempts=attempts, kind=failure.kind)


def _key_name(config: ModelConfig) -> str:
    if config.api_key_env:
        return config.api_key_env
    provider = _provider(config.model)
    return f"{provider.upper()}_API_KEY" if provider else "the API key"


def _phrase(status: int) -> str:
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def _detail(exc: Exception) -> str:
    """The provider's own message, without litellm's class-name prefixes, on one line."""
    text = str(getattr(exc, "message", None) or exc)
    while (stripped := _EXCEPTION_PREFIX.sub("", text, count=1)) != text:
        text = stripped
    text = text.split(". Handle with `litellm.", 1)[0]
    try:
        body = json.loads(text)
        text = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        pass
    return _one_line(text, MAX_DETAIL)


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
