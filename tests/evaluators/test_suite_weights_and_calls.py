"""The suite with promptfoo's per-assertion keys and call assertions, end to end through the
loopback model server: weights make the score, metrics are reported, and latency, cost and
finish-reason see the model call (and a cached output has no latency)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from llm_server import Reply, prompt_of
from overnight import llm
from overnight.config import CONFIG_NAME


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm, "sleep", lambda seconds: None)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def suite_repo(tmp_path: Path, server, assertions: list) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "PROMPT.md").write_text("Answer briefly.\n")
    evaluate = {
        "kind": "suite",
        "generate": {
            "kind": "llm",
            "model": "openai/gpt-4o-mini",
            "api_base": server.base_url,
            "system": "{{ file('PROMPT.md') }}",
            "prompt": "Tell me about {{ topic }}.",
            "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
        },
        "cases": [{"id": "a", "vars": {"topic": "cats"}}, {"id": "b", "vars": {"topic": "dogs"}}],
        "assert": assertions,
    }
    config = {"name": "p", "editable": ["PROMPT.md"], "evaluate": evaluate}
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def test_weights_make_the_score_and_metrics_are_reported(tmp_path, llm_server):
    llm_server.script(lambda body: "Cats are lovely." if "cats" in prompt_of(body) else "Dogs.")
    assertions = [
        {"type": "icontains", "value": "cats", "weight": 3, "metric": "topic"},
        {"type": "contains", "value": ".", "metric": "tone"},
        {"type": "contains", "value": "zebra", "weight": 0},
    ]
    score = overnight.evaluate(suite_repo(tmp_path, llm_server, assertions))

    assert score.value == (3 + 1) + 1  # case b fails the weighted check; zebra counts 0
    assert score.secondary["total"] == 8.0  # weights: (3 + 1 + 0) per case
    assert score.secondary["metric:tone"] == 1.0
    assert score.secondary["metric:topic"] == 0.5
    assert "(weighted score 5 of 8)" in score.log_tail


def test_call_assertions_see_the_model_call_and_a_cached_output_has_no_latency(
    tmp_path, llm_server
):
    llm_server.script(lambda body: Reply("cut off mid", finish_reason="length"))
    assertions = [
        {"type": "finish-reason", "value": "length"},
        {"type": "latency", "threshold": 60_000},
        {"type": "cost", "threshold": 1.0},
    ]
    root = suite_repo(tmp_path, llm_server, assertions)

    first = overnight.evaluate(root)

    assert [c.passed for c in first.suite.checks] == [True] * 6, first.suite.checks
    again = overnight.evaluate(root)  # from the cache: no model call at all
    reasons = {c.assertion: c for c in again.suite.checks if c.case_id == "a"}
    assert reasons["finish-reason length"].passed  # the cache keeps why the model stopped
    latency = reasons["latency<=60000ms"]
    assert not latency.passed and "cache" in latency.reason
    assert not reasons["cost<=$1"].passed
