"""aider, the real CLI, run by ``overnight run`` against a loopback OpenAI chat completions
server (``OPENAI_API_BASE``, model ``openai/<name>``); and the preset's reader on outputs aider
printed (tests/real_agents/outputs/aider-*.txt, captured from aider 0.86.2).

Aider streams, and then counts a call's tokens itself with the model's tokenizer instead of
taking the server's usage: the tokens in the ledger are those it printed. A model-metadata file
outside the project prices the scripted model, so that aider prints its cost too.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from conftest import git
from overnight.agents.tools.aider import read
from real_agents.chat_server import ChatCompletions
from real_agents.conftest import (
    EDITABLE,
    TRICKY,
    assert_well_behaved,
    find_tool,
    ledger_rows,
    make_project,
    run_overnight,
    stop_reason_after_one_experiment,
    tool_env,
)

MODEL = "openai/loopback-coder"
PRICE_IN, PRICE_OUT = 1e-6, 2e-6  # USD per token
OUTPUTS = Path(__file__).parent / "outputs"
PRINTED_TOKENS = re.compile(r"^Tokens: (\S+) sent, (\S+) received\.", re.MULTILINE)


def _project(tmp_path: Path) -> Path:
    metadata = tmp_path / "model-metadata.json"
    prices = {"input_cost_per_token": PRICE_IN, "output_cost_per_token": PRICE_OUT}
    info = {"max_input_tokens": 100_000, "litellm_provider": "openai", "mode": "chat", **prices}
    metadata.write_text(json.dumps({MODEL: info}))
    agent = {
        "model": MODEL,
        "command": f"--model-metadata-file {shlex.quote(str(metadata))}",
        "timeout": 150,  # aider gives an unreachable provider about 90 s of retries
    }
    return make_project(tmp_path / "project", "aider", agent)


def _env(tmp_path: Path, server: ChatCompletions) -> dict[str, str]:
    tool = find_tool("aider", "aider")
    return tool_env(
        tool,
        tmp_path / "home",
        OPENAI_API_BASE=f"{server.base_url}/v1",
        OPENAI_API_KEY="sk-loopback",
    )


def _count(text: str) -> int:
    return round(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


def test_aider_improves_the_project_through_overnight(tmp_path: Path) -> None:
    with ChatCompletions() as server:
        root = _project(tmp_path)
        done = run_overnight(root, _env(tmp_path, server), "--experiments", "2")
        seen = server.seen()
        requests = list(server.requests)
    assert done.returncode == 0, done.stderr[-2000:]

    experiments = [row for row in ledger_rows(root, "experiments") if row["number"] > 0]
    assert [row["number"] for row in experiments] == [1, 2]
    kept = [row for row in experiments if row["status"] == "keep"]
    assert kept, [(row["status"], row["reason"]) for row in experiments]

    usage = {row["number"]: row for row in ledger_rows(root, "usage")}
    for row in experiments:
        spent = usage[row["number"]]
        log = (root / ".overnight" / "logs").rglob(f"{row['number']:04d}.agent.log")
        printed = PRINTED_TOKENS.findall(next(log).read_text())
        assert len(printed) == spent["calls"] == 1
        assert (spent["model"], spent["purpose"]) == (MODEL, "proposal")
        assert (spent["tokens_in"], spent["tokens_out"]) == tuple(map(_count, printed[0]))
        assert spent["tokens_in"] > 100 and spent["tokens_out"] > 5
        cost = spent["tokens_in"] * PRICE_IN + spent["tokens_out"] * PRICE_OUT
        assert spent["cost_usd"] == pytest.approx(cost, rel=0.05)

    branch = next(
        ref
        for ref in git(root, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
        if ref.startswith("overnight/")
    )
    message = git(root, "log", "-1", "--format=%s", kept[-1]["commit_sha"])
    assert message == kept[-1]["description"]
    assert re.fullmatch(rf"rewrote {EDITABLE} as rule \d", message), message
    assert "GOOD" in git(root, "show", f"{branch}:{EDITABLE}")

    sent = [
        message["content"]
        for request in requests
        if isinstance(request.body, dict)
        for message in request.body.get("messages", [])
        if isinstance(message.get("content"), str)
    ]
    assert any(TRICKY in text for text in sent)
    assert_well_behaved(root, seen)


def test_refused_credentials_stop_the_run_after_one_experiment(tmp_path: Path) -> None:
    with ChatCompletions() as server:
        server.refuse_auth = True
        root = _project(tmp_path)
        run_overnight(root, _env(tmp_path, server), "--experiments", "2")
    reason = stop_reason_after_one_experiment(root)
    assert "AuthenticationError" in reason


# -- the reader, on what aider printed -----------------------------------------------------------


def _output(name: str) -> str:
    return (OUTPUTS / f"aider-{name}.txt").read_text()


@pytest.mark.parametrize(
    ("name", "tokens", "cost"),
    [
        ("whole", (674, 28), None),  # a model without prices: no cost line
        ("priced", (674, 28), 0.00073),
        ("diff", (2400, 38), 0.0025),
        ("no-stream", (1200, 80), 0.0014),  # without streaming, the server's own counts
    ],
)
def test_read_takes_the_tokens_cost_and_model_aider_printed(
    name: str, tokens: tuple[int, int], cost: float | None
) -> None:
    report = read(_output(name))
    assert report.failure is None and not report.fatal
    assert report.usage is not None
    assert (report.usage.tokens_in, report.usage.tokens_out) == tokens
    assert report.usage.cost_usd == cost
    assert (report.usage.model, report.usage.calls) == ("openai/scripted", 1)
    assert "DESCRIPTION: rewrote rules.txt as rule" in report.answer


def test_read_adds_up_every_call_and_takes_the_session_cost() -> None:
    first = "Tokens: 12k sent, 3.4k cache write, 8.1k cache hit, 200 received.\nCost: $0.05 "
    first += "message, $0.05 session.\n"
    second = "Tokens: 1.5M sent, 1.2k\nreceived. Cost: $0.10 message, $0.15\nsession.\n"
    report = read("Main model: anthropic/x with diff edit format\n" + first + second)
    assert report.usage is not None
    assert report.usage.tokens_in == 12_000 + 1_500_000
    assert report.usage.tokens_out == 200 + 1_200
    assert (report.usage.cost_usd, report.usage.calls) == (0.15, 2)
    assert report.usage.model == "anthropic/x"


def test_refused_credentials_are_fatal() -> None:
    report = read(_output("auth"))
    assert report.fatal
    assert report.failure is not None
    assert report.failure.startswith("litellm.AuthenticationError:")
    assert "Incorrect API key provided" in report.failure  # the wrapped line joined again


def test_an_unreachable_provider_is_a_failure_although_aider_exits_0() -> None:
    output = _output("unreachable")
    report = read(output)
    assert not report.fatal and report.usage is None
    assert report.failure == (
        "litellm.InternalServerError: InternalServerError: OpenAIException - Connection error. "
        "The API provider's servers are down or overloaded."
    )


def test_an_error_aider_recovered_from_is_no_failure() -> None:
    retried = _output("unreachable").split("Retrying in 0.5 seconds...\n")[0]
    recovered = retried + "Retrying in 0.5 seconds...\n" + _output("priced").split("\n", 6)[6]
    report = read(recovered)
    assert report.failure is None
    assert report.usage is not None and report.usage.tokens_in == 674


def test_a_failed_download_of_model_prices_is_no_failure() -> None:
    output = _output("whole")
    assert "Name or service not known" in output  # aider's price list, not its model
    assert read(output).failure is None


def test_no_model_and_no_key_is_fatal() -> None:
    output = "Aider v0.86.2\nNo LLM model was specified and no API keys were provided.\n"
    report = read(output)
    assert report.fatal and report.failure is not None
