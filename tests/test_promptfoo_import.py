"""``overnight init --from-promptfoo``: a promptfoo project as its users write them, imported
with the CLI and evaluated once through the loopback model server."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import git
from llm_server import prompt_of
from overnight.config import load_layers
from overnight.promptfoo.cases import from_cell
from overnight.promptfoo.providers import litellm_name
from stand_ins.support import run_cli

CONFIG = """\
description: Article summaries for the newsletter
prompts:
  - file://prompts/*.txt
providers:
  - id: openai:gpt-4o-mini
    config:
      temperature: 0
      apiBaseUrl: {base_url}
      frequency_penalty: 0.5
  - anthropic:messages:claude-3-5-haiku-20241022
  - file://providers/house_model.py
defaultTest:
  vars:
    audience: busy engineers
  assert:
    - type: not-icontains
      value: as an AI
    - type: javascript
      value: output.length < 600
  options:
    provider:
      id: openai:gpt-4o-mini
      config:
        apiBaseUrl: {base_url}
tests:
  - file://tests.csv
  - description: Solar prices
    vars:
      article: file://articles/solar.txt
    assert:
      - type: icontains
        value: solar
        weight: 2
      - type: llm-rubric
        value: Is a faithful summary written for {{{{ audience }}}}
        metric: faithfulness
      - type: similar
        value: Solar power keeps getting cheaper.
        threshold: 0.5
      - type: contains
        value: panels
        transform: output.toLowerCase()
outputPath: results.json
"""

TESTS_CSV = (
    "article,__expected1,__expected2,__description\n"
    '"Bees pollinate a third of the crops we eat, and farms depend on them.",'
    "icontains: bees,not-contains: sorry,Bees and farms\n"
    '"Night trains are back: rail operators add ten new routes across Europe.",'
    '"contains-any: rail,train",grade: mentions the new routes,Night trains\n'
)

PROMPTS = {
    "prompts/summarize.txt": "Summarize this article for {{ audience }}:\n\n{{ article }}\n",
    "prompts/one_line.txt": "In one line, for {{ audience }}, what does this say?\n{{ article }}\n",
}
SOLAR = "Solar panel prices fell 30% this year; solar power keeps getting cheaper.\n"


def summary(body: dict) -> str:
    """The loopback model: a grader that says yes, and a writer that summarizes the article."""
    prompt = prompt_of(body)
    if prompt.startswith("You grade one output"):
        return "YES\nThe summary is faithful and addressed to its readers."
    if "Bees" in prompt:
        return "Bees pollinate the crops farms depend on."
    if "Night trains" in prompt:
        return "Ten new night train routes bring rail travel back across Europe."
    return "Solar panels got 30% cheaper: solar power keeps getting cheaper."


@pytest.fixture
def promptfoo_project(tmp_path: Path, llm_server) -> Path:
    root = tmp_path / "newsletter"
    files = {
        "promptfooconfig.yaml": CONFIG.format(base_url=llm_server.base_url),
        "tests.csv": TESTS_CSV,
        "articles/solar.txt": SOLAR,
        "providers/house_model.py": "def call_api(prompt, options, context):\n    return {}\n",
        **PROMPTS,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_promptfoo_project_imports_and_evaluates_through_the_model(
    promptfoo_project: Path, llm_server
) -> None:
    root = promptfoo_project
    llm_server.script(summary)

    result = run_cli("init", str(root), "--from-promptfoo", str(root / "promptfooconfig.yaml"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "2 prompts to improve (prompts/one_line.txt, prompts/summarize.txt)" in result.stdout
    assert "3 cases and 10 checks in suite.yaml" in result.stdout
    left_out = result.stderr
    for expected in (
        "Not carried over (6;",
        "outputPath: promptfoo's outputPath has no overnight counterpart",
        "providers[0].config.frequency_penalty",
        "providers[1]: anthropic/claude-3-5-haiku-20241022: overnight improves the prompts"
        " for one model, openai/gpt-4o-mini",
        "providers[2]: 'file://providers/house_model.py' is a provider overnight does not know",
        "defaultTest.assert[1] (javascript): JavaScript cannot run here",
        "tests[1].assert[3] (contains): its transform is JavaScript",
    ):
        assert expected in left_out, left_out

    config = yaml.safe_load((root / "overnight.yaml").read_text())
    assert config["editable"] == ["prompts/one_line.txt", "prompts/summarize.txt"]
    assert set(config["layers"]) == {"one-line", "summarize"}
    generate = config["layers"]["summarize"]["evaluate"]["generate"]
    assert generate == {
        "kind": "llm",
        "model": "openai/gpt-4o-mini",
        "temperature": 0,
        "api_base": llm_server.base_url,
        "template": "prompts/summarize.txt",
    }
    assert (
        "#   - tests[1].assert[3] (contains): its transform is JavaScript"
        in (root / "overnight.yaml").read_text()
    )
    assert (root / "prompts/summarize.txt").read_text() == PROMPTS["prompts/summarize.txt"]

    suite = yaml.safe_load((root / "suite.yaml").read_text())
    assert suite["judge"] == {"model": "openai/gpt-4o-mini", "api_base": llm_server.base_url}
    assert suite["assert"] == [{"type": "not-icontains", "value": "as an AI"}]
    bees, trains, solar = suite["cases"]
    assert bees["id"] == "bees-and-farms"
    assert bees["vars"]["audience"] == "busy engineers"
    assert bees["assert"] == [
        {"type": "icontains", "value": "bees"},
        {"type": "not-contains", "value": "sorry"},
    ]
    assert trains["assert"] == [
        {"type": "contains-any", "value": "rail,train"},
        {"type": "llm-rubric", "value": "mentions the new routes"},
    ]
    assert solar["vars"]["article"] == SOLAR
    assert solar["assert"][0] == {"type": "icontains", "value": "solar", "weight": 2}
    assert solar["assert"][2] == {
        "type": "similar",
        "value": "Solar power keeps getting cheaper.",
        "threshold": 0.5,
    }
    assert load_layers(root / "overnight.yaml")  # a valid project as written

    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "imported")
    evaluated = run_cli("eval", str(root), "--layer", "summarize", "--json", timeout=300)

    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    score = json.loads(evaluated.stdout)
    checks = score["suite"]["checks"]
    assert all(check["passed"] for check in checks), checks
    assert (score["suite"]["passed"], score["suite"]["total"]) == (10, 10)
    assert score["value"] == 11  # the weight 2 of icontains counts twice
    assert score["secondary"]["metric:faithfulness"] == 1
    judged = [r for r in llm_server.requests if r.prompt.startswith("You grade one output")]
    written = [r for r in llm_server.requests if not r.prompt.startswith("You grade one output")]
    assert len(written) == 3 and len(judged) == 2
    assert any("Solar panel prices fell" in r.prompt for r in written)
    assert any("written for busy engineers" in r.prompt for r in judged)


def test_one_inline_prompt_makes_a_project_without_layers(tmp_path: Path) -> None:
    source = tmp_path / "promptfooconfig.yaml"
    source.write_text(
        textwrap.dedent("""\
            prompts: ["Translate to French: {{ text }}"]
            providers: [ollama:chat:llama3]
            tests:
              - vars: {text: [Hello, Goodbye]}
                assert: [{type: icontains-any, value: "bonjour,au revoir"}]
            """)
    )
    project = tmp_path / "project"

    result = run_cli("init", str(project), "--from-promptfoo", str(source))

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # nothing left out
    configs = load_layers(project / "overnight.yaml")
    config = configs[None]
    assert config.editable == ["prompts/prompt-1.txt"]
    assert config.evaluate.generate.model == "ollama_chat/llama3"
    assert (project / "prompts/prompt-1.txt").read_text() == "Translate to French: {{ text }}\n"
    cases = yaml.safe_load((project / "suite.yaml").read_text())["cases"]
    assert [case["vars"]["text"] for case in cases] == ["Hello", "Goodbye"]
    assert [case["id"] for case in cases] == ["tests-0-1", "tests-0-2"]


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (
            "prompts: [file://missing/*.txt]\nproviders: [openai:gpt-4o]\ntests: []\n",
            ["promptfooconfig.yaml: prompts[0]: no file matches missing/*.txt"],
        ),
        (
            "prompts: [hi]\nproviders: [exec:./run.sh, 'file://p.js']\ntests: []\n",
            ["promptfooconfig.yaml: providers: none has a litellm model name", "exec:./run.sh"],
        ),
        (
            "prompts: [hi]\nproviders: [openai:gpt-4o]\n"
            "tests: [{assert: [{type: javascript, value: 'true'}]}]\n",
            ["promptfooconfig.yaml: tests: no test left with an assertion overnight can check"],
        ),
        (
            "prompts: [hi]\nproviders: [openai:gpt-4o]\n"
            "tests: [{vars: [1, 2], assert: [is-json]}]\n",
            ["promptfooconfig.yaml: tests[0].vars: expected a mapping of variables"],
        ),
        ("prompts: [hi\n", ["promptfooconfig.yaml: line", "invalid YAML"]),
    ],
)
def test_a_config_that_cannot_be_imported_is_one_line_naming_file_and_field(
    tmp_path: Path, config: str, words: list[str]
) -> None:
    source = tmp_path / "promptfooconfig.yaml"
    source.write_text(config)

    result = run_cli("init", str(tmp_path / "project"), "--from-promptfoo", str(source))

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
    assert not (tmp_path / "project" / "overnight.yaml").exists()


def test_an_existing_config_is_not_overwritten(tmp_path: Path) -> None:
    source = tmp_path / "promptfooconfig.yaml"
    source.write_text("prompts: [hi]\nproviders: [openai:gpt-4o]\ntests: [{assert: [is-json]}]\n")
    (tmp_path / "overnight.yaml").write_text("name: mine\n")

    result = run_cli("init", str(tmp_path), "--from-promptfoo", str(source))

    assert result.returncode == 2 and "exists already" in result.stderr
    assert (tmp_path / "overnight.yaml").read_text() == "name: mine\n"
    assert not (tmp_path / "suite.yaml").exists()


@pytest.mark.parametrize(
    ("cell", "spec"),
    [
        ("contains: x", {"type": "contains", "value": "x"}),
        ("not-icontains:Sorry", {"type": "not-icontains", "value": "Sorry"}),
        ("similar(0.8): a cat", {"type": "similar", "value": "a cat", "threshold": 0.8}),
        ("grade: is polite", {"type": "llm-rubric", "value": "is polite"}),
        ("javascript: output.length > 3", {"type": "javascript", "value": "output.length > 3"}),
        ("fn: output.length > 3", {"type": "javascript", "value": "output.length > 3"}),
        ("is-json", {"type": "is-json"}),
        ("word-count: 5", {"type": "word-count", "value": 5}),
        ("Paris", {"type": "equals", "value": "Paris"}),
        ("Note: bring tea", {"type": "equals", "value": "Note: bring tea"}),
        ("note: bring tea", {"type": "equals", "value": "note: bring tea"}),
    ],
)
def test_csv_expected_cells_follow_promptfoos_conventions(cell: str, spec: dict) -> None:
    assert from_cell(cell) == spec


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai:gpt-4o-mini", "openai/gpt-4o-mini"),
        ("openai:chat:gpt-4o", "openai/gpt-4o"),
        ("anthropic:messages:claude-3-5-sonnet-20241022", "anthropic/claude-3-5-sonnet-20241022"),
        ("ollama:chat:llama3:8b", "ollama_chat/llama3:8b"),
        ("ollama:llama3", "ollama/llama3"),
        (
            "bedrock:anthropic.claude-3-haiku-20240307-v1:0",
            "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        ),
        ("openai:assistant:asst_123", None),
        ("exec:./model.sh", None),
        ("file://provider.py", None),
        ("echo", None),
    ],
)
def test_provider_ids_become_litellm_names(provider: str, model: str | None) -> None:
    assert litellm_name(provider) == model
