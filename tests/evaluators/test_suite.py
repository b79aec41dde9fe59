"""The suite evaluator end to end: generators, the cache, errors, judges and costs, through a
real litellm against the loopback model server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import overnight
from conftest import git
from llm_server import prompt_of
from overnight import llm
from overnight.config import CONFIG_NAME
from overnight.errors import ConfigError
from overnight.project import Project
from overnight.records import Status

SKILL = "Write a short post. End with a question?\n"


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm, "sleep", lambda seconds: None)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def suite_repo(tmp_path: Path, evaluate: dict, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for path, text in {"SKILL.md": SKILL, **(files or {})}.items():
        (root / path).write_text(text)
    config = {"name": "posts", "editable": ["SKILL.md"], "evaluate": {"kind": "suite", **evaluate}}
    (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def llm_suite(server, cases: int = 3, **generate) -> dict:
    return {
        "generate": {
            "kind": "llm",
            "model": "openai/gpt-4o-mini",
            "api_base": server.base_url,
            "system": "{{ file('SKILL.md') }}",
            "prompt": "Write about {{ topic }}.",
            **generate,
        },
        "cases": [{"id": f"c{i}", "vars": {"topic": f"topic {i}"}} for i in range(cases)],
        "assert": [
            "last-line-not-question",
            {"type": "icontains", "value": "{{ topic }}"},
        ],
    }


def echo_topic(body: dict) -> str:
    """A model that writes about the topic, asking a question when the skill says so."""
    prompt = prompt_of(body)
    topic = prompt.split("Write about ")[-1].rstrip(".")
    ending = "What do you think?" if "question" in prompt else "Try it today."
    return f"A post about {topic}.\n{ending}"


def test_llm_suite_scores_every_case_and_stores_the_matrix(tmp_path, llm_server):
    llm_server.script(echo_topic)
    root = suite_repo(tmp_path, llm_suite(llm_server))

    score = overnight.evaluate(root)

    assert score.ok and score.value == 3.0  # icontains passes, last-line-not-question fails
    assert score.secondary == {"total": 6.0, "errors": 0.0}
    assert [o.case_id for o in score.suite.outputs] == ["c0", "c1", "c2"]
    failing = [c for c in score.suite.checks if not c.passed]
    assert {c.assertion for c in failing} == {"last-line-not-question"}
    assert all("?" in c.reason or "question" in c.reason for c in failing)
    generation = score.usage[0]
    assert (generation.purpose, generation.model, generation.calls) == (
        "generation",
        "openai/gpt-4o-mini",
        3,
    )
    assert generation.tokens_in > 0 and generation.tokens_out > 0 and generation.cost_usd > 0
    system = llm_server.requests[0].body["messages"][0]
    assert system == {"role": "system", "content": SKILL}  # file() put the skill in the prompt


def test_unchanged_tree_makes_no_model_call_and_a_changed_skill_does(tmp_path, llm_server):
    llm_server.script(echo_topic)
    root = suite_repo(tmp_path, llm_suite(llm_server))
    first = overnight.evaluate(root)
    calls = llm_server.request_count

    again = overnight.evaluate(root)

    assert llm_server.request_count == calls
    assert all(o.cached for o in again.suite.outputs) and again.usage == []
    assert again.value == first.value
    overnight.evaluate(root, use_cache=False)
    assert llm_server.request_count == 2 * calls
    (root / "SKILL.md").write_text("Write a short post. End with a call to action.\n")
    improved = overnight.evaluate(root)
    assert llm_server.request_count == 3 * calls
    assert improved.value == 6.0


def test_repeats_are_cached_separately(tmp_path, llm_server):
    llm_server.script(echo_topic)
    root = suite_repo(tmp_path, llm_suite(llm_server, cases=2, repeats=3))

    score = overnight.evaluate(root)

    assert [(o.case_id, o.repeat) for o in score.suite.outputs] == [
        ("c0", 0),
        ("c0", 1),
        ("c0", 2),
        ("c1", 0),
        ("c1", 1),
        ("c1", 2),
    ]
    assert llm_server.request_count == 6 and score.suite.total == 12


def test_a_failing_case_is_an_error_not_a_crash_and_is_not_cached(tmp_path, llm_server):
    llm_server.script(echo_topic)
    root = suite_repo(tmp_path, {**llm_suite(llm_server, retries=1), "concurrency": 1})
    llm_server.fail(500, times=2)  # the first case's call and its one retry

    score = overnight.evaluate(root)

    assert score.ok
    errors = [o for o in score.suite.outputs if o.error]
    assert len(errors) == 1 and "500" in errors[0].error
    failed = [c for c in score.suite.checks if c.case_id == errors[0].case_id]
    assert failed and all(not c.passed and c.reason.startswith("no output:") for c in failed)
    assert score.secondary["errors"] == 1.0
    before = llm_server.request_count
    overnight.evaluate(root)
    assert llm_server.request_count == before + 1  # only the errored case is asked again


def test_retries_absorb_rate_limits_and_malformed_answers(tmp_path, llm_server):
    llm_server.script(echo_topic)
    root = suite_repo(tmp_path, llm_suite(llm_server, cases=1))
    llm_server.fail(429, times=1, retry_after=0)
    llm_server.fail("malformed", times=1)

    score = overnight.evaluate(root)

    assert score.suite.outputs[0].error is None
    assert llm_server.request_count == 3


def test_every_case_failing_is_a_crash_with_the_reason(tmp_path, llm_server):
    root = suite_repo(tmp_path, llm_suite(llm_server, retries=0))
    llm_server.fail(401, times=10)

    score = overnight.evaluate(root)

    assert score.status is Status.CRASH
    assert "every case failed" in score.log_tail and "401" in score.log_tail


def test_cases_run_concurrently(tmp_path, llm_server):
    llm_server.script(echo_topic)
    llm_server.latency = 0.3
    root = suite_repo(tmp_path, {**llm_suite(llm_server, cases=8), "concurrency": 8})

    started = time.monotonic()
    overnight.evaluate(root)

    assert time.monotonic() - started < 8 * 0.3 / 2


def test_llm_judge_is_asked_once_and_its_answer_cached(tmp_path, llm_server):
    def answer(body: dict) -> str:
        prompt = prompt_of(body)
        if "YES or NO" in prompt or "yes or no" in prompt.lower():
            return "YES\nThe post is upbeat."
        return echo_topic(body)

    llm_server.script(answer)
    suite = llm_suite(llm_server, cases=2)
    suite["assert"] = [{"type": "llm-judge", "rubric": "Is the post upbeat?"}]
    suite["judge"] = {"model": "openai/gpt-4o-mini", "api_base": llm_server.base_url}
    root = suite_repo(tmp_path, suite)

    score = overnight.evaluate(root)

    assert score.value == 2.0
    assert all(not c.deterministic and "upbeat" in c.reason for c in score.suite.checks)
    assert {u.purpose for u in score.usage} == {"generation", "judge"}
    calls = llm_server.request_count
    overnight.evaluate(root)
    assert llm_server.request_count == calls


def test_command_generator_gets_the_variables(tmp_path):
    script = (
        "import json, os, sys\n"
        "v = json.load(sys.stdin)\n"
        "assert os.environ['OVERNIGHT_VAR_TOPIC'] == v['topic']\n"
        "print(open('SKILL.md').read().strip(), v['topic'])\n"
    )
    suite = {
        "generate": {"kind": "command", "command": f"{sys.executable} gen.py"},
        "cases": [{"id": "a", "vars": {"topic": "owls"}}, {"id": "b", "vars": {"topic": "bees"}}],
        "assert": [{"type": "contains", "value": "{{ topic }}"}, {"type": "word-count", "max": 5}],
    }
    root = suite_repo(tmp_path, suite, {"gen.py": script, "SKILL.md": "Short.\n"})

    score = overnight.evaluate(root)

    assert score.value == 4.0
    assert [o.output.strip() for o in score.suite.outputs] == ["Short. owls", "Short. bees"]
    calls_log = Path(score.log_path).read_text()
    assert "4/4 assertions passed" in calls_log
    (root / "SKILL.md").write_text("A much longer skill text than before.\n")
    longer = overnight.evaluate(root)  # the tree changed, so nothing comes from the cache
    assert not any(o.cached for o in longer.suite.outputs) and longer.value == 2.0


def test_command_generator_does_not_see_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    script = "import os\nprint(os.environ.get('ANTHROPIC_API_KEY', 'hidden'))\n"
    suite = {
        "generate": {"kind": "command", "command": f"{sys.executable} gen.py"},
        "cases": [{"id": "a"}],
        "assert": [{"type": "equals", "value": "hidden\n"}],
    }
    root = suite_repo(tmp_path, suite, {"gen.py": script})

    assert overnight.evaluate(root).value == 1.0


def test_python_generator_runs_the_function_in_a_child_process(tmp_path):
    module = "import os\n\ndef write(topic):\n    return f'{topic} from {os.getpid()}'\n"
    suite = {
        "generate": {"kind": "python", "function": "gen.py:write"},
        "cases": [{"id": "a", "vars": {"topic": "owls"}}],
        "assert": [{"type": "starts-with", "value": "owls from"}],
    }
    root = suite_repo(tmp_path, suite, {"gen.py": module})

    score = overnight.evaluate(root)

    assert score.value == 1.0
    assert score.suite.outputs[0].output != f"owls from {__import__('os').getpid()}"


def test_a_template_error_is_that_cases_error(tmp_path, llm_server):
    suite = llm_suite(llm_server, cases=1)
    suite["generate"]["prompt"] = "Write about {{ missing_variable }}."
    root = suite_repo(tmp_path, suite)

    score = overnight.evaluate(root)

    assert score.status is Status.CRASH
    assert "missing_variable" in score.suite.outputs[0].error
    assert llm_server.request_count == 0


def test_template_cannot_read_outside_the_repository(tmp_path, llm_server):
    suite = llm_suite(llm_server, cases=1)
    suite["generate"]["system"] = "{{ file('../secret.txt') }}"
    (tmp_path / "secret.txt").write_text("secret")
    root = suite_repo(tmp_path, suite)

    score = overnight.evaluate(root)

    assert "no such file in the repository" in score.suite.outputs[0].error


def test_suite_file_is_merged_and_its_errors_name_it(tmp_path, llm_server):
    suite = llm_suite(llm_server, cases=2)
    root = suite_repo(tmp_path, {"suite": "suite.yaml"}, {"suite.yaml": yaml.safe_dump(suite)})
    assert Project.open(root).config.evaluate.cases[1].id == "c1"

    (root / "suite.yaml").write_text(yaml.safe_dump({**suite, "assert": [{"type": "word-count"}]}))
    with pytest.raises(ConfigError) as caught:
        Project.open(root)
    assert str(caught.value).startswith("suite.yaml: assert[0]")

    (root / "suite.yaml").write_text(yaml.safe_dump({**suite, "cases": [{"vars": {}}]}))
    with pytest.raises(ConfigError) as caught:
        Project.open(root)
    assert str(caught.value).startswith("overnight.yaml: evaluate.cases[0].id: is required")


def test_bad_assertion_in_overnight_yaml_names_the_field(tmp_path, llm_server):
    suite = llm_suite(llm_server)
    suite["cases"][1]["assert"] = [{"type": "word-count", "max": "many"}]
    root = suite_repo(tmp_path, suite)

    with pytest.raises(ConfigError) as caught:
        Project.open(root)

    assert str(caught.value).startswith("overnight.yaml: evaluate.cases[1].assert[0].max")


def test_eval_cli_prints_the_matrix_and_json(tmp_path, llm_server):
    llm_server.script(echo_topic)
    root = suite_repo(tmp_path, llm_suite(llm_server))
    command = [sys.executable, "-c", "from overnight.cli import main; main()", "eval", str(root)]
    env = {**__import__("os").environ, "OPENAI_API_KEY": "test-key"}

    table = subprocess.run(command, capture_output=True, text=True, env=env)
    as_json = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env)

    assert table.returncode == 0, table.stderr
    assert "3/6" in table.stdout and "last-line-not-question" in table.stdout
    data = json.loads(as_json.stdout)
    assert data["suite"]["passed"] == 3 and len(data["suite"]["checks"]) == 6
    assert all(o["cached"] for o in data["suite"]["outputs"])


def test_a_judge_that_cannot_answer_fails_the_check_even_negated(tmp_path, llm_server):
    llm_server.script(echo_topic)
    suite = llm_suite(llm_server, cases=1)
    suite["assert"] = [
        {"type": "llm-judge", "rubric": "Is it upbeat?"},
        {"type": "not-llm-judge", "rubric": "Is it rude?"},
    ]
    root = suite_repo(tmp_path, suite)  # no evaluate.judge configured

    score = overnight.evaluate(root)

    assert score.value == 0.0
    assert all("no judge model configured" in c.reason for c in score.suite.checks)


def test_command_generator_gets_the_measurements_seed(tmp_path):
    script = "import os\nprint('seed', os.environ['OVERNIGHT_SEED'])\n"
    suite = {
        "generate": {"kind": "command", "command": f"{sys.executable} gen.py"},
        "cases": [{"id": "a"}],
        "assert": [{"type": "contains", "value": "seed"}],
    }
    root = suite_repo(tmp_path, suite, {"gen.py": script})
    evaluator = Project.open(root).evaluator()

    first = evaluator.evaluate(root, tmp_path / "0.log")
    third = evaluator.evaluate(root, tmp_path / "2.log", seed=2)

    assert first.suite.outputs[0].output.strip() == "seed 0"
    assert third.suite.outputs[0].output.strip() == "seed 2"  # a varied seed misses the cache
