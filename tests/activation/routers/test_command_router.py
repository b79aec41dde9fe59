"""The command router against a stand-in agent CLI: the skill read from JSON lines or by a
regex, the query passed intact, secrets kept out, and every kind of broken output an error
rather than "no skill"."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

from overnight.activation.routers import (
    CommandRouter,
    JsonLinesRule,
    RegexRule,
    Routing,
    RoutingError,
)
from overnight.activation.skills import Skill

AGENT_CLI = Path(__file__).resolve().parent / "agent_cli.py"
INSTALLED = ("pdf", "xlsx", "git-commit")
SKILLS = [Skill(name, f"The {name} skill.") for name in INSTALLED]
USING = RegexRule(r"^Using skill: (\S+)$")
QUERIES = [
    ("Extract the tables from invoice.pdf", "pdf"),
    ("Add a formula that totals column D", "xlsx"),
    ("Commit the staged changes with a good message", "git-commit"),
    ("What is the capital of France?", None),
]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with the skills installed where the stand-in agent looks for them."""
    for name in INSTALLED:
        folder = tmp_path / ".claude" / "skills" / name
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(
            f"---\nname: {name}\ndescription: The {name} skill.\n---\n"
        )
    return tmp_path


def agent(*flags: str) -> str:
    return shlex.join([sys.executable, str(AGENT_CLI), *flags]) + " {query}"


# --- reading the skill ---------------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_json_lines_name_the_skill_the_agent_invoked(
    workspace: Path, query: str, expected: str | None
) -> None:
    router = CommandRouter(agent(), JsonLinesRule(tool="Skill", field="skill"), workspace)

    routing = router.route(query, SKILLS)

    assert routing.choice == expected
    assert routing.usage == ()
    assert routing.detail == ("Skill call on line 4" if expected else "no Skill call in 4 lines")


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_regex_reads_the_skill_from_plain_text(
    workspace: Path, query: str, expected: str | None
) -> None:
    routing = CommandRouter(agent("--text"), USING, workspace).route(query, SKILLS)

    assert routing.choice == expected
    assert routing.detail == (
        f"matched 'Using skill: {expected}'" if expected else "no match in 2 lines"
    )


def test_the_agent_runs_in_the_folder_whose_skills_it_sees(workspace: Path, tmp_path: Path) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    query = "Extract the tables from invoice.pdf"

    assert CommandRouter(agent(), JsonLinesRule(), workspace).route(query, SKILLS).choice == "pdf"
    assert CommandRouter(agent(), JsonLinesRule(), empty).route(query, SKILLS).choice is None


def test_tool_and_field_are_configurable(tmp_path: Path) -> None:
    line = '{"type": "function_call", "name": "activate_skill", "input": {"name": "pdf"}}'
    command = f"echo {shlex.quote(line)} # {{query}}"
    rule = JsonLinesRule(tool="activate_skill", field="name")

    assert CommandRouter(command, rule, tmp_path).route("q", SKILLS) == Routing(
        "pdf", detail="activate_skill call on line 1"
    )
    assert CommandRouter(command, JsonLinesRule(), tmp_path).route("q", SKILLS).choice is None


def test_the_first_skill_invoked_is_the_choice(tmp_path: Path) -> None:
    calls = [json.dumps({"name": "Skill", "input": {"skill": name}}) for name in ("xlsx", "pdf")]
    command = "; ".join(f"echo {shlex.quote(call)}" for call in calls) + " # {query}"

    assert CommandRouter(command, JsonLinesRule(), tmp_path).route("q", SKILLS).choice == "xlsx"


# --- the query and the environment ---------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        'it\'s a "quoted" $(touch injected) `touch injected` ; touch injected',
        "two\nlines & {braces} | * ~ $HOME",
    ],
)
def test_the_query_reaches_the_agent_as_one_intact_argument(tmp_path: Path, query: str) -> None:
    command = "printf '%s' {query} > received.txt && echo 'No skill needed.'"

    routing = CommandRouter(command, USING, tmp_path).route(query, SKILLS)

    assert routing.choice is None
    assert (tmp_path / "received.txt").read_text() == query
    assert not (tmp_path / "injected").exists()


def test_secrets_stay_out_unless_passed_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTER_TEST_API_KEY", "s3cret")
    command = 'echo "key=${ROUTER_TEST_API_KEY:-unset}" # {query}'
    rule = RegexRule(r"key=(\S+)")

    scrubbed = CommandRouter(command, rule, tmp_path).route("q", SKILLS)
    passed = CommandRouter(command, rule, tmp_path, env_passthrough=["ROUTER_TEST_API_KEY"])

    assert scrubbed.choice == "unset"
    assert passed.route("q", SKILLS).choice == "s3cret"


# --- broken output is an error, never "no skill" -------------------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("crash", "exited with code 3: Error: no API key configured"),
        ("silent", "printed nothing on stdout"),
        ("garbage", "line 2 is not JSON: 'Thinking about it...'"),
        ("error", "the agent reported an error: 'API Error: 529 overloaded'"),
        ("nameless", "line 4: a Skill call without a 'skill' name: '{}'"),
    ],
)
def test_unreadable_output_raises(workspace: Path, fault: str, message: str) -> None:
    router = CommandRouter(agent("--fault", fault), JsonLinesRule(), workspace)

    with pytest.raises(RoutingError) as raised:
        router.route("Extract the tables from invoice.pdf", SKILLS)

    assert str(raised.value) == message


def test_a_hung_agent_is_killed_at_the_timeout(workspace: Path) -> None:
    router = CommandRouter(agent("--fault", "hang"), JsonLinesRule(), workspace, timeout=0.5)
    started = time.monotonic()

    with pytest.raises(RoutingError, match=r"^timed out after 0.5 s$"):
        router.route("Extract the tables from invoice.pdf", SKILLS)

    assert time.monotonic() - started < 5


def test_non_zero_exit_without_stderr_quotes_the_last_line_of_stdout(tmp_path: Path) -> None:
    command = "echo 'Using skill: pdf'; echo 'out of credits'; exit 1 # {query}"

    with pytest.raises(RoutingError, match=r"^exited with code 1: out of credits$"):
        CommandRouter(command, USING, tmp_path).route("q", SKILLS)


def test_a_match_that_captures_nothing_raises(tmp_path: Path) -> None:
    command = "echo 'skill:' # {query}"

    with pytest.raises(RoutingError, match="the pattern matched 'skill:' but captured no name"):
        CommandRouter(command, RegexRule(r"skill:(\S*)"), tmp_path).route("q", SKILLS)


# --- configuration mistakes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("skill: (", "not a valid regular expression"),
        ("skill: \\S+", "needs exactly one capture group for the skill name, has 0"),
        ("(skill): (\\S+)", "needs exactly one capture group for the skill name, has 2"),
    ],
)
def test_a_regex_needs_one_group(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        RegexRule(pattern)


def test_json_lines_rule_needs_a_tool_and_a_field() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        JsonLinesRule(tool="", field="skill")


def test_the_command_needs_a_place_for_the_query(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"the command needs \{query\} where the query goes"):
        CommandRouter("claude -p", JsonLinesRule(), tmp_path)
