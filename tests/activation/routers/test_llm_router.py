"""The llm router through litellm against the loopback server: the skill list it shows, the
answers it reads, the one re-ask, faults, and usage recorded even when routing fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llm_server import LLMServer, Reply, outside_network_refused
from overnight import llm
from overnight.activation.routers import LLMRouter, RoutingError
from overnight.activation.routers.llm import REASK, parse_choice, system_prompt
from overnight.activation.skills import Skill
from overnight.config import ModelConfig, PriceConfig

MODEL = "openai/gpt-4o-mini"
KEY_ENV = "OVERNIGHT_TEST_LLM_KEY"
SKILLS = [
    Skill("pdf", "Extract text and tables from PDF files, fill forms, merge and split them."),
    Skill("xlsx", "Create and edit spreadsheets with formulas, formatting and charts."),
    Skill("git-commit", "Write conventional git commit messages from the staged diff."),
]
NAMES = [skill.name for skill in SKILLS]
QUERY = "Pull the tables out of invoice.pdf"


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


def router_for(server: LLMServer, **overrides: Any) -> LLMRouter:
    settings: dict[str, Any] = {
        "model": MODEL,
        "api_base": server.base_url,
        "api_key_env": KEY_ENV,
        "timeout": 2,
        "retries": 1,
    }
    return LLMRouter(ModelConfig(**{**settings, **overrides}))


def messages_of(server: LLMServer, index: int) -> list[dict[str, str]]:
    body = server.requests[index].body
    assert body is not None
    return body["messages"]


# --- what the model is shown ---------------------------------------------------------------


def test_the_model_sees_the_skill_list_and_the_query_alone(llm_server: LLMServer) -> None:
    llm_server.script("skill: pdf")

    routing = router_for(llm_server).route(QUERY, SKILLS)

    assert routing.choice == "pdf"
    assert routing.detail == "answered skill: pdf"
    system, user = messages_of(llm_server, 0)
    assert system == {"role": "system", "content": system_prompt(SKILLS)}
    assert user == {"role": "user", "content": QUERY}
    for skill in SKILLS:
        entry = f"<name>{skill.name}</name>\n<description>{skill.description}</description>"
        assert entry in system["content"]
    assert "skill: none" in system["content"]


def test_no_skill_is_a_choice_too(llm_server: LLMServer) -> None:
    llm_server.script("skill: none")

    routing = router_for(llm_server).route("What is the capital of France?", SKILLS)

    assert routing.choice is None
    assert llm_server.request_count == 1


# --- reading the answer --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("skill: pdf", "pdf"),
        ("Skill: PDF", "pdf"),
        ("  skill:`git-commit`  ", "git-commit"),
        ("**skill:** xlsx", "xlsx"),
        ("**Skill: xlsx**", "xlsx"),
        ("`skill: pdf`", "pdf"),
        ("skill: <pdf>", "pdf"),
        ("skill: pdf.", "pdf"),
        ("skill: pdf (the request is about a PDF file)", "pdf"),
        ("The request is about a PDF.\n\nskill: pdf", "pdf"),
        ("skill: pdf\nskill: PDF", "pdf"),
        ("SKILL: None", None),
        ("skill: none of them fit", None),
    ],
)
def test_parse_choice_is_tolerant_of_formatting(answer: str, expected: str | None) -> None:
    assert parse_choice(answer, NAMES) == expected


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("I would use the pdf skill.", "no line `skill: <name>` in the answer"),
        ("", "no line `skill: <name>` in the answer"),
        ("skill:", "the `skill:` line names nothing"),
        ("skill: pdf-tools", "'pdf-tools' is not one of the available skills"),
        ("skill: pdf\nskill: xlsx", "the answer names more than one choice (pdf, xlsx)"),
        ("skill: pdf\nskill: none", "the answer names more than one choice (none, pdf)"),
    ],
)
def test_parse_choice_says_why_it_cannot_read_an_answer(answer: str, reason: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_choice(answer, NAMES)

    assert str(raised.value) == reason


def test_a_malformed_answer_is_asked_again_once(llm_server: LLMServer) -> None:
    llm_server.script(Reply("I think the PDF one.", 100, 6), Reply("skill: pdf", 130, 3))

    routing = router_for(llm_server).route(QUERY, SKILLS)

    assert routing.choice == "pdf"
    reason = "no line `skill: <name>` in the answer"
    assert routing.detail == f"answered skill: pdf when asked again ({reason})"
    assert [(u.tokens_in, u.tokens_out) for u in routing.usage] == [(100, 6), (130, 3)]
    assert messages_of(llm_server, 1)[-2:] == [
        {"role": "assistant", "content": "I think the PDF one."},
        {"role": "user", "content": REASK.format(reason=reason)},
    ]


def test_a_hallucinated_skill_is_asked_again_saying_so(llm_server: LLMServer) -> None:
    llm_server.script("skill: pdf-extractor", "skill: pdf")

    routing = router_for(llm_server).route(QUERY, SKILLS)

    assert routing.choice == "pdf"
    reask = messages_of(llm_server, 1)[-1]["content"]
    assert "'pdf-extractor' is not one of the available skills" in reask


def test_a_skill_hallucinated_twice_is_an_error_with_its_cost(llm_server: LLMServer) -> None:
    llm_server.script(Reply("skill: pdf-extractor", 100, 5), Reply("skill: pdf-reader", 120, 5))

    with pytest.raises(RoutingError) as raised:
        router_for(llm_server).route(QUERY, SKILLS)

    assert str(raised.value) == (
        f"{MODEL}: could not read the answer: 'pdf-reader' is not one of the available skills "
        "(asked twice)"
    )
    assert [(u.purpose, u.tokens_in) for u in raised.value.usage] == [
        ("route", 100),
        ("route", 120),
    ]
    assert llm_server.request_count == 2


# --- faults and usage ----------------------------------------------------------------------


def test_a_transient_fault_is_retried_by_the_provider_layer(
    llm_server: LLMServer, sleeps: list[float]
) -> None:
    llm_server.script("skill: xlsx")
    llm_server.fail(503)

    routing = router_for(llm_server).route("Add a SUM formula to budget.xlsx", SKILLS)

    assert routing.choice == "xlsx"
    assert llm_server.request_count == 2
    assert len(routing.usage) == 1


@pytest.mark.parametrize(
    ("fault", "reason"), [(503, "503 service unavailable"), ("malformed", "not JSON")]
)
def test_a_model_that_keeps_failing_is_an_error_not_a_choice(
    llm_server: LLMServer, sleeps: list[float], fault: int | str, reason: str
) -> None:
    llm_server.fail(fault, times=2)

    with pytest.raises(RoutingError) as raised:
        router_for(llm_server).route(QUERY, SKILLS)

    assert str(raised.value).startswith(f"{MODEL}: ")
    assert reason in str(raised.value)
    assert str(raised.value).endswith("(2 attempts)")
    assert raised.value.usage == ()


def test_a_failure_on_the_re_ask_keeps_the_first_calls_usage(llm_server: LLMServer) -> None:
    def unclear_then_refuse(body: dict[str, Any]) -> Reply:
        llm_server.fail(401)  # for the next request: the re-ask
        return Reply("Hmm.", 80, 2)

    llm_server.script(unclear_then_refuse)

    with pytest.raises(RoutingError, match="401 unauthorized") as raised:
        router_for(llm_server).route(QUERY, SKILLS)

    assert [u.tokens_in for u in raised.value.usage] == [80]
    assert llm_server.request_count == 2


def test_usage_is_recorded_with_purpose_route_and_its_cost(llm_server: LLMServer) -> None:
    llm_server.script(Reply("skill: git-commit", tokens_in=1000, tokens_out=4))
    price = PriceConfig(input_per_mtok=2.0, output_per_mtok=10.0)

    routing = router_for(llm_server, price=price).route("Commit this with a message", SKILLS)

    (usage,) = routing.usage
    assert (usage.purpose, usage.model, usage.tokens_in, usage.tokens_out, usage.calls) == (
        "route",
        MODEL,
        1000,
        4,
        1,
    )
    assert usage.cost_usd == pytest.approx((1000 * 2.0 + 4 * 10.0) / 1_000_000)
