"""Custom assertions: the user's python function, a shell command, and the LLM judge."""

import shlex
import sys
import textwrap

import pytest

from overnight.evaluators.assertions import CheckContext, Verdict, parse_assertion


def check(spec, output, root, variables=None, judge=None):
    context = CheckContext(vars=variables or {}, root=root, judge=judge)
    return parse_assertion(spec).check(output, context)


CHECKS_PY = """\
from dataclasses import dataclass

from helper import THRESHOLD


@dataclass
class Seen:
    words: int


def is_short(output):
    return len(output.split()) < THRESHOLD


def mentions_brand(output, vars):
    count = output.count(vars["brand"])
    return count > 0, f"{vars['brand']} appears {count} times"


def explodes(output):
    raise ValueError(f"cannot read {len(output)} chars")


def answers_badly(output):
    return 0.7


def counts(*args):
    return len(args) == 2, f"{len(args)} arguments, {Seen(len(args[0].split())).words} words"
"""


@pytest.fixture
def root(tmp_path):
    (tmp_path / "checks.py").write_text(CHECKS_PY)
    (tmp_path / "helper.py").write_text("THRESHOLD = 5\n")
    package = tmp_path / "suite_checks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tone.py").write_text("def is_calm(output):\n    return '!' not in output\n")
    return tmp_path


# --- python ------------------------------------------------------------------------------------


def test_a_function_returning_a_bool(root):
    verdict = check({"type": "python", "function": "checks.py:is_short"}, "a b c", root)

    assert verdict == Verdict(True, "is_short returned True")
    assert not check(
        {"type": "python", "function": "checks.py:is_short"}, "a b c d e f", root
    ).passed


def test_a_function_taking_vars_and_returning_a_reason(root):
    spec = {"type": "python", "function": "checks.py:mentions_brand"}

    verdict = check(spec, "Acme, Acme!", root, {"brand": "Acme"})
    assert verdict == Verdict(True, "Acme appears 2 times")
    assert check(spec, "nothing", root, {"brand": "Acme"}) == Verdict(False, "Acme appears 0 times")


def test_a_function_with_varargs_gets_output_and_vars(root):
    verdict = check({"type": "python", "function": "checks.py:counts"}, "one two", root)

    assert verdict == Verdict(True, "2 arguments, 2 words")


def test_a_dotted_module_importable_from_the_root(root):
    spec = {"type": "python", "function": "suite_checks.tone:is_calm"}

    assert check(spec, "Calm.", root).passed
    assert not check(spec, "Loud!", root).passed


def test_an_exception_is_a_failing_verdict_that_names_it_and_where(root):
    verdict = check({"type": "python", "function": "checks.py:explodes"}, "abc", root)

    assert not verdict.passed
    assert verdict.error
    assert verdict.reason == "explodes raised ValueError: cannot read 3 chars (checks.py line 21)"


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        (
            "checks.py:answers_badly",
            "answers_badly returned 0.7; expected a bool or (bool, reason)",
        ),
        ("checks.py:missing", "checks.py has no function 'missing'"),
        ("nowhere.py:f", "no file "),
        ("no_such_module_here:f", "cannot import no_such_module_here: No module named"),
    ],
)
def test_problems_with_the_function_are_errors(root, function, reason):
    verdict = check({"type": "python", "function": function}, "x", root)

    assert not verdict.passed
    assert verdict.error
    assert verdict.reason.startswith(reason)


def test_a_file_that_fails_to_load_is_an_error(root):
    (root / "broken.py").write_text("import does_not_exist\n")
    verdict = check({"type": "python", "function": "broken.py:f"}, "x", root)

    assert verdict.error
    assert verdict.reason.startswith("loading broken.py raised ModuleNotFoundError")


def test_a_file_is_reloaded_so_edits_are_seen(root):
    spec = {"type": "python", "function": "flip.py:check"}
    (root / "flip.py").write_text("def check(output):\n    return True\n")
    assert check(spec, "x", root).passed
    (root / "flip.py").write_text("def check(output):\n    return False\n")
    assert not check(spec, "x", root).passed


# --- command -----------------------------------------------------------------------------------


def script(body):
    """A command running ``body`` with this Python."""
    return f"{sys.executable} -c {shlex.quote(textwrap.dedent(body))}"


def test_a_command_passes_on_exit_zero_with_its_last_line(root):
    verdict = check({"type": "command", "command": "echo checking; echo looks fine"}, "x", root)

    assert verdict == Verdict(True, "exit 0: looks fine")


def test_a_command_fails_on_another_exit_code(root):
    verdict = check({"type": "command", "command": "echo too long >&2; exit 3"}, "x", root)

    assert verdict == Verdict(False, "exit 3: too long")
    assert check({"type": "command", "command": "exit 4"}, "x", root).reason == "exit 4 (no output)"


def test_a_command_gets_the_output_the_file_and_the_vars(root):
    body = """
        import json, os, sys
        stdin = sys.stdin.read()
        from_file = open(os.environ["OVERNIGHT_OUTPUT_FILE"], encoding="utf-8").read()
        variables = json.loads(os.environ["OVERNIGHT_VARS"])
        print(len(stdin), stdin == from_file, variables["brand"], variables["n"], os.getcwd())
    """
    verdict = check(
        {"type": "command", "command": script(body)}, "héllo 🚀", root, {"brand": "Acme", "n": 3}
    )

    assert verdict == Verdict(True, f"exit 0: 7 True Acme 3 {root}")


def test_a_command_survives_outputs_it_cannot_encode(root):
    verdict = check({"type": "command", "command": "wc -c"}, "\ud800\x00", root)

    assert verdict == Verdict(True, "exit 0: 2")


def test_a_command_that_hangs_is_killed_and_is_an_error(root):
    verdict = check({"type": "command", "command": "sleep 30", "timeout": 0.3}, "x", root)

    assert verdict == Verdict(False, "command timed out after 0.3 s", error=True)


# --- llm-judge ---------------------------------------------------------------------------------


class RecordingJudge:
    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def __call__(self, rubric, output, model):
        self.calls.append((rubric, output, model))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_without_a_judge_the_check_fails_and_says_how_to_configure_one(root):
    verdict = check({"type": "llm-judge", "rubric": "Upbeat?"}, "x", root)

    assert verdict == Verdict(
        False, "no judge model configured (set evaluate.judge)", deterministic=False, error=True
    )


def test_the_judge_gets_the_rendered_rubric_the_output_and_the_model(root):
    judge = RecordingJudge((True, "Yes: it praises Acme twice."))
    spec = {"type": "llm-judge", "rubric": "Does it praise {{ brand }}?", "model": "openai/x"}
    verdict = check(spec, "Acme! Acme!", root, {"brand": "Acme"}, judge)

    assert verdict == Verdict(True, "Yes: it praises Acme twice.", deterministic=False)
    assert judge.calls == [("Does it praise Acme?", "Acme! Acme!", "openai/x")]


def test_the_judges_no_is_a_fail_with_its_reason(root):
    judge = RecordingJudge((False, "  No: the tone is flat.  "))
    verdict = check({"type": "llm-judge", "rubric": "Upbeat?"}, "x", root, judge=judge)

    assert verdict == Verdict(False, "No: the tone is flat.", deterministic=False)
    assert judge.calls[0][2] is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (TimeoutError("judge took 60 s"), "the judge failed: TimeoutError: judge took 60 s"),
        ("yes", "the judge answered 'yes', not (yes?, reason)"),
    ],
)
def test_a_failing_judge_is_an_error(root, answer, reason):
    verdict = check({"type": "llm-judge", "rubric": "?"}, "x", root, judge=RecordingJudge(answer))

    assert verdict == Verdict(False, reason, deterministic=False, error=True)


def test_an_empty_reason_from_the_judge_is_said_so(root):
    verdict = check(
        {"type": "llm-judge", "rubric": "?"}, "x", root, judge=RecordingJudge((True, ""))
    )

    assert verdict.reason == "the judge gave no reason"


def test_a_missing_variable_in_the_rubric_never_reaches_the_judge(root):
    judge = RecordingJudge((True, "yes"))
    verdict = check({"type": "llm-judge", "rubric": "About {{ topic }}?"}, "x", root, judge=judge)

    assert verdict.error
    assert judge.calls == []
