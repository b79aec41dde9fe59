"""Code assertions on Python output: compiles, function length, naming, magic numbers, tests."""

import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from overnight.evaluators.assertions import CheckContext, parse_assertion


def check(spec, output, root=None):
    return parse_assertion(spec).check(output, CheckContext(vars={}, root=root or Path.cwd()))


SOURCE = '''\
import math

MAX_SIZE = 100
Vector = list[float]


class Shape:
    SIDES = 4

    def area(self, scale=10):
        """Area."""
        return math.pi * scale**2


def _helper(values):
    total = 0
    for value in values:
        total += value
    return total
'''

# --- compiles ----------------------------------------------------------------------------------


def test_compiles_counts_what_it_compiled():
    verdict = check("compiles", SOURCE)

    assert verdict.passed
    assert verdict.reason == "compiles: 19 lines, 2 functions, 1 class"


def test_compiles_accepts_a_python_fence():
    verdict = check("compiles", f"Here you go:\n```python\n{SOURCE}```\nEnjoy!")

    assert verdict.passed
    assert verdict.reason.startswith("compiles (inside a ```python fence): 19 lines")


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("def f(:\n    pass", "does not compile: SyntaxError at line 1, column 7: invalid syntax"),
        (
            "return 1",
            "does not compile: SyntaxError at line 1, column 1: 'return' outside function",
        ),
        ("if x:\npass", "does not compile: IndentationError at line 2, column 1:"),
        ("", "does not compile: the output is empty"),
        ("x = 1\x00", "does not compile: "),
        ("(" * 5000, "does not compile: "),
    ],
)
def test_compiles_fails_with_line_and_message(output, reason):
    verdict = check("compiles", output)

    assert not verdict.passed
    assert not verdict.error
    assert verdict.reason.startswith(reason)


def test_other_code_checks_on_broken_code_are_errors_not_passes_when_negated():
    for spec in (
        "naming-convention",
        "no-magic-numbers",
        {"type": "max-function-length", "max": 3},
    ):
        verdict = check(spec, "def f(:")
        assert verdict.error
        assert verdict.reason == "not Python: SyntaxError at line 1, column 7: invalid syntax"
    assert check("not-naming-convention", "def f(:").error


# --- max-function-length -----------------------------------------------------------------------


def test_max_function_length_names_the_longest():
    verdict = check({"type": "max-function-length", "max": 5}, SOURCE)

    assert verdict.passed
    assert verdict.reason == "longest of 2 functions is _helper (line 15): 5 lines, max 5"


def test_max_function_length_lists_the_offenders_with_qualified_names():
    verdict = check({"type": "max-function-length", "max": 3}, SOURCE)

    assert not verdict.passed
    assert verdict.reason == "1 of 2 functions over max 3: _helper (5 lines, line 15)"


def test_nested_functions_count_on_their_own_and_within_their_parent():
    source = "def outer():\n    def inner():\n        return 1\n    return inner\n"
    verdict = check({"type": "max-function-length", "max": 2}, source)

    assert verdict.reason == "1 of 2 functions over max 2: outer (4 lines, line 1)"


def test_code_without_functions_passes():
    assert check({"type": "max-function-length", "max": 1}, "x = 1").reason == (
        "no functions to measure (max 1)"
    )


# --- naming-convention -------------------------------------------------------------------------


def test_conventional_names_pass():
    verdict = check("naming-convention", SOURCE)

    assert verdict.passed
    assert verdict.reason == "all 11 names follow the convention"


def test_offenders_are_listed_with_kind_and_line():
    source = (
        "class my_class:\n"
        "    def getData(self, userId):\n"
        "        LOCAL = 1\n"
        "        return LOCAL\n"
        "totalCount = 0\n"
        "try:\n    pass\nexcept Exception as Err:\n    pass\n"
    )
    verdict = check("naming-convention", source)

    assert not verdict.passed
    assert verdict.reason == (
        "6 of 7 names break the convention: class 'my_class' (line 1), "
        "function 'getData' (line 2), argument 'userId' (line 2), variable 'LOCAL' (line 3), "
        "variable 'totalCount' (line 5), variable 'Err' (line 8)"
    )


def test_lambda_and_comprehension_names_are_checked():
    verdict = check("naming-convention", "f = lambda badArg: [X for X in badArg]")

    assert "argument 'badArg'" in verdict.reason
    assert "variable 'X'" in verdict.reason


def test_module_level_constants_aliases_and_unpacking():
    source = "A, B = 1, 2\nJsonDict = dict\nfor Item in []:\n    pass\n"
    verdict = check("naming-convention", source)

    assert verdict.reason == "1 of 4 names break the convention: variable 'Item' (line 3)"


# --- no-magic-numbers --------------------------------------------------------------------------


def test_named_constants_defaults_and_small_numbers_are_not_magic():
    verdict = check("no-magic-numbers", SOURCE)

    assert verdict.passed
    assert verdict.reason == "no magic numbers (allowed: -1, 0, 1, 2)"


def test_magic_numbers_are_listed_as_written():
    source = "def f(x):\n    y = x * 86_400\n    LIMIT = 3.5\n    return x[-7] + 0x10\n"
    verdict = check("no-magic-numbers", source)

    assert not verdict.passed
    assert verdict.reason == (
        "4 magic numbers: 86_400 (line 2), 3.5 (line 3), -7 (line 4), 0x10 (line 4) "
        "(allowed: -1, 0, 1, 2)"
    )


def test_allowed_numbers_are_configurable():
    spec = {"type": "no-magic-numbers", "allowed": [0, 100, 0.5]}

    assert check(spec, "x = y * 100 + 0.5").passed
    verdict = check(spec, "x = y * 1")
    assert verdict.reason == "1 magic number: 1 (line 1) (allowed: 0, 100, 0.5)"


def test_booleans_and_strings_are_not_numbers():
    assert check("no-magic-numbers", "x = True\ny = '42'\n").passed


# --- passes-tests ------------------------------------------------------------------------------

TEST_COMMAND = (
    f'{sys.executable} -c "import solution, sys; '
    "print('ran', solution.add(2, 3)); sys.exit(solution.add(2, 3) != 5)\""
)


def test_passing_tests_pass_with_the_last_line():
    verdict = check(
        {"type": "passes-tests", "command": TEST_COMMAND}, "def add(a, b):\n    return a + b\n"
    )

    assert verdict.passed
    assert verdict.reason.startswith("tests passed (exit 0) in ")
    assert verdict.reason.endswith(" s: ran 5")


def test_failing_tests_fail_with_the_exit_code_and_the_tail():
    output = "```python\ndef add(a, b):\n    return a - b\n```"
    verdict = check({"type": "passes-tests", "command": TEST_COMMAND}, output)

    assert not verdict.passed
    assert verdict.reason.startswith("tests failed (exit 1) in ")
    assert "(inside a ```python fence):\nran -1" in verdict.reason


def test_file_and_root_are_substituted_and_the_file_name_is_configurable(tmp_path):
    (tmp_path / "expected.txt").write_text("hello\n")
    spec = {
        "type": "passes-tests",
        "filename": "pkg/answer.txt",
        "command": "cmp {file} {root}/expected.txt && echo same",
    }

    assert check(spec, "hello\n", root=tmp_path).reason.endswith(": same")
    assert not check(spec, "bye\n", root=tmp_path).passed


def test_tests_that_run_too_long_are_killed():
    spec = {"type": "passes-tests", "command": "echo started; sleep 30", "timeout": 0.3}
    verdict = check(spec, "x = 1")

    assert not verdict.passed
    assert verdict.reason == "timed out after 0.3 s; last output:\nstarted"


def test_odd_outputs_reach_the_tests_intact():
    spec = {"type": "passes-tests", "command": "wc -c < {file}"}

    assert check(spec, "").reason.endswith(": 0")
    assert check(spec, "\ud800").reason.endswith(": 1")


def test_checking_code_in_threads_leaves_the_warning_filters_alone():
    before = list(warnings.filters)
    with ThreadPoolExecutor(max_workers=8) as pool:
        verdicts = list(pool.map(lambda _: check("compiles", 'x = "\\d"'), range(40)))

    assert all(verdict.passed for verdict in verdicts)
    assert warnings.filters == before
