"""A suite seen by a reviewer: the matrix of cases × assertions as a heatmap, and each case's
output of experiment A beside that of B with the words that changed marked."""

from __future__ import annotations

from dataclasses import dataclass

from overnight.records import CaseOutput, Check, Review, SuiteResult
from overnight.report.data import RunView, Side
from overnight.report.diffs import Segment, word_diff

_Key = tuple[str, int]  # (case id, repeat)


@dataclass(frozen=True)
class Cell:
    check: Check | None
    changed: bool  # the other experiment of the pair passes or fails it the other way


@dataclass(frozen=True)
class MatrixRow:
    label: str
    cells: list[Cell]
    passed: int
    error: str | None


@dataclass(frozen=True)
class Matrix:
    number: int
    assertions: list[str]
    rows: list[MatrixRow]
    passed: int
    total: int


@dataclass(frozen=True)
class Comparison:
    """One case: A's output and B's, each split into segments that are shared, deleted (only
    A has them) or inserted (only B has them)."""

    case_id: str
    label: str
    a: list[Segment]
    b: list[Segment]
    a_error: str | None
    b_error: str | None
    a_checks: list[Check]
    b_checks: list[Check]
    reviews: list[Review]  # the reviewer's verdicts on B's output

    @property
    def changed(self) -> bool:
        return any(s.kind != "same" for s in (*self.a, *self.b))


def matrices(view: RunView) -> tuple[Matrix, Matrix] | None:
    """The heatmaps of A and B, or None when the pair has no suite."""
    a, b = view.a, view.b
    if a is None or b is None or a.suite is None or b.suite is None:
        return None
    return _matrix(a, b.suite), _matrix(b, a.suite)


def comparisons(view: RunView) -> list[Comparison]:
    a, b = view.a, view.b
    if a is None or b is None or a.suite is None or b.suite is None:
        return []
    old, new = _outputs(a.suite), _outputs(b.suite)
    repeats = len({repeat for _, repeat in (*old, *new)}) > 1
    result = []
    for key in dict.fromkeys([*old, *new]):
        before, after = old.get(key), new.get(key)
        left, right = word_diff(_text(before), _text(after))
        result.append(
            Comparison(
                key[0],
                _label(key, repeats),
                left,
                right,
                before.error if before else "no output",
                after.error if after else "no output",
                _checks(a.suite, key),
                _checks(b.suite, key),
                view.reviews_of(b.experiment.number, key[0]),
            )
        )
    return result


def _matrix(side: Side, other: SuiteResult) -> Matrix:
    suite = side.suite
    assert suite is not None
    assertions = list(dict.fromkeys(c.assertion for c in suite.checks))
    theirs = {(c.case_id, c.repeat, c.assertion): c.passed for c in other.checks}
    outputs = _outputs(suite)
    repeats = len({repeat for _, repeat in outputs}) > 1
    rows = []
    for key, output in outputs.items():
        mine = {c.assertion: c for c in _checks(suite, key)}
        cells = []
        for assertion in assertions:
            check = mine.get(assertion)
            other = theirs.get((*key, assertion))
            changed = check is not None and other is not None and other != check.passed
            cells.append(Cell(check, changed))
        rows.append(
            MatrixRow(
                _label(key, repeats),
                cells,
                sum(c.passed for c in mine.values()),
                output.error,
            )
        )
    return Matrix(side.experiment.number, assertions, rows, suite.passed, suite.total)


def _outputs(suite: SuiteResult) -> dict[_Key, CaseOutput]:
    return {(o.case_id, o.repeat): o for o in suite.outputs}


def _checks(suite: SuiteResult, key: _Key) -> list[Check]:
    return [c for c in suite.checks if (c.case_id, c.repeat) == key]


def _text(output: CaseOutput | None) -> str:
    return (output.output or "") if output else ""


def _label(key: _Key, repeats: bool) -> str:
    return f"{key[0]} #{key[1]}" if repeats else key[0]
