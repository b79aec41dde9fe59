"""Code assertions: the output is Python source (a ```python fence around it is taken off).

compiles
    The source compiles with this interpreter's ``compile()`` (stricter than parsing: it also
    catches ``return`` outside a function); empty output does not count as a program.
max-function-length
    Every function and method, nested ones included, spans at most ``max`` lines, counted from
    its ``def`` line to its last line (decorators aside, docstring and blank lines included).
naming-convention
    Functions, methods and arguments are snake_case (dunders too); classes are PascalCase;
    variables are snake_case, and may also be UPPER_CASE (constants) at module or class level
    and PascalCase (type aliases) at module level. Leading underscores are allowed.
no-magic-numbers
    Numeric literals other than ``allowed`` (default -1, 0, 1, 2) are magic, except in the value
    of a module- or class-level assignment to UPPER_CASE names (that is how a number gets a
    name) and in default argument values (the parameter names them).
passes-tests
    The source is written to ``filename`` (default solution.py) in a fresh temporary directory,
    and ``command`` runs there through the shell, ``{file}`` and ``{root}`` replaced by the
    file's and the repository's paths. The directory is on PYTHONPATH, so tests anywhere can
    ``import solution``; bytecode and pytest's cache are not written, so the repository stays
    clean. It runs in its own process group, killed with its children after ``timeout``
    seconds. Exit code 0 passes; the reason carries the end of the output.

The other code checks fail as errors (which negation does not flip) when the source does not
compile, since there is nothing to measure.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import ClassVar

from pydantic import Field, field_validator

from overnight.evaluators import text
from overnight.evaluators.assertions._base import (
    BuiltinAssertion,
    CheckContext,
    CheckError,
    encodable,
    plural,
)
from overnight.process import run_logged, scrubbed_environment

_FENCE_NOTE = " (inside a ```python fence)"
_SHOWN = 8


def python_source(output: str) -> tuple[str, str]:
    """``(source, note)``: the code and a note for reasons saying whether a fence came off."""
    source = text.strip_code_fence(output, "python")
    return source, _FENCE_NOTE if source != output else ""


def syntax_problem(source: str) -> str | None:
    """Why ``source`` does not compile, with its line; None when it does."""
    if not source.strip():
        return "the output is empty"
    try:
        with _quiet():
            compile(source, "<output>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{type(exc).__name__} at line {exc.lineno}, column {exc.offset}: {exc.msg}"
    except ValueError as exc:  # null bytes, before Python 3.12
        return f"cannot compile: {exc}"
    except (RecursionError, MemoryError):
        return "cannot compile: nested too deeply"
    return None


def parsed(output: str) -> tuple[ast.Module, str, str]:
    """``(tree, source, note)``; raises CheckError when the source does not compile."""
    source, note = python_source(output)
    problem = syntax_problem(source)
    if problem:
        raise CheckError(f"not Python{note}: {problem}")
    return _tree(source), source, note


def _tree(source: str) -> ast.Module:
    with _quiet():
        return ast.parse(source)


_WARNINGS_LOCK = threading.Lock()


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence SyntaxWarnings (style, not this check's business). The warning filters are
    process-wide and the suite checks outputs in threads, hence the lock."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class Compiles(BuiltinAssertion):
    name: ClassVar[str] = "compiles"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        source, note = python_source(output)
        problem = syntax_problem(source)
        if problem:
            return False, f"does not compile{note}: {problem}"
        tree = _tree(source)
        functions = len(_functions(tree))
        classes = sum(isinstance(node, ast.ClassDef) for node in ast.walk(tree))
        size = plural(len(source.splitlines()), "line")
        counts = f"{plural(functions, 'function')}, {plural(classes, 'class', 'classes')}"
        return True, f"compiles{note}: {size}, {counts}"


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, Function]]:
    """Every function and method with its qualified name (``Class.method``, ``outer.inner``)."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, Function):
            found.append((prefix + node.name, node))
        named = isinstance(node, Function | ast.ClassDef)
        found += _functions(node, f"{prefix}{node.name}." if named else prefix)
    return found


class MaxFunctionLength(BuiltinAssertion):
    name: ClassVar[str] = "max-function-length"
    max: int = Field(ge=1)

    @property
    def label(self) -> str:
        return f"{self.name}<={self.max}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        tree, _, note = parsed(output)
        sizes = [
            (node.end_lineno - node.lineno + 1, name, node.lineno)
            for name, node in _functions(tree)
            if node.end_lineno is not None
        ]
        if not sizes:
            return True, f"no functions to measure (max {self.max}){note}"
        over = sorted((size for size in sizes if size[0] > self.max), reverse=True)
        functions = plural(len(sizes), "function")
        if over:
            shown = ", ".join(f"{name} ({n} lines, line {at})" for n, name, at in over[:_SHOWN])
            return False, f"{len(over)} of {functions} over max {self.max}{note}: {shown}"
        n, name, at = max(sizes)
        return True, f"longest of {functions} is {name} (line {at}): {n} lines, max {self.max}"


_SNAKE = re.compile(r"_*[a-z][a-z0-9_]*|_+")
_PASCAL = re.compile(r"_*[A-Z][a-zA-Z0-9]*")
_UPPER = re.compile(r"_*[A-Z][A-Z0-9_]*")


_BINDING = "binding"  # the scope of a name bound other than by a plain assignment


class _Names(ast.NodeVisitor):
    """Collects ``(kind, name, line, scope)`` for every name the code defines; the scope is
    module, class or function for definitions and assignments, else ``_BINDING``."""

    def __init__(self) -> None:
        self.scope = "module"
        self.found: list[tuple[str, str, int, str]] = []

    def visit_FunctionDef(self, node: Function) -> None:
        self.found.append(("function", node.name, node.lineno, self.scope))
        self._inside(node, "function")

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.found.append(("class", node.name, node.lineno, self.scope))
        self._inside(node, "class")

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._inside(node, "function")

    def visit_arg(self, node: ast.arg) -> None:
        self.found.append(("argument", node.arg, node.lineno, self.scope))

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._assigned(target)
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._assigned(node.target)
        if node.value is not None:
            self.visit(node.value)

    def _assigned(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.found.append(("variable", target.id, target.lineno, self.scope))
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._assigned(element)
        else:
            self.visit(target)

    def visit_Name(self, node: ast.Name) -> None:
        """Names bound by for, with, :=, comprehensions: never constants or aliases."""
        if isinstance(node.ctx, ast.Store):
            self.found.append(("variable", node.id, node.lineno, _BINDING))

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.found.append(("variable", node.name, node.lineno, _BINDING))
        self.generic_visit(node)

    def _inside(self, node: ast.AST, scope: str) -> None:
        outer, self.scope = self.scope, scope
        self.generic_visit(node)
        self.scope = outer


def _follows_convention(kind: str, name: str, scope: str) -> bool:
    if kind == "class":
        return bool(_PASCAL.fullmatch(name))
    if _SNAKE.fullmatch(name):
        return True
    if kind != "variable":
        return False
    constant = scope in ("module", "class") and bool(_UPPER.fullmatch(name))
    return constant or (scope == "module" and bool(_PASCAL.fullmatch(name)))


class NamingConvention(BuiltinAssertion):
    name: ClassVar[str] = "naming-convention"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        tree, _, note = parsed(output)
        names = _Names()
        names.visit(tree)
        first_use: dict[tuple[str, str], tuple[str, str, int, str]] = {}
        for kind, name, line, scope in names.found:
            first_use.setdefault((kind, name), (kind, name, line, scope))
        distinct = sorted(first_use.values(), key=lambda item: item[2])
        offenders = [
            (kind, name, line)
            for kind, name, line, scope in distinct
            if not _follows_convention(kind, name, scope)
        ]
        checked = plural(len(distinct), "name")
        if not offenders:
            return True, f"all {checked} follow the convention{note}"
        shown = ", ".join(f"{kind} {name!r} (line {at})" for kind, name, at in offenders[:_SHOWN])
        return False, f"{len(offenders)} of {checked} break the convention{note}: {shown}"


class _Numbers(ast.NodeVisitor):
    """Collects ``(literal as written, value, line)`` for numbers outside named places."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.in_function = False
        self.found: list[tuple[str, complex, int]] = []

    def visit_FunctionDef(self, node: Function) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._body(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._body([node.body])

    def visit_Assign(self, node: ast.Assign) -> None:
        if not self._names_constant(node.targets):
            self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if not self._names_constant([node.target]):
            self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.USub | ast.UAdd) and _is_number(node.operand):
            value = node.operand.value  # type: ignore[attr-defined]
            self._record(node, -value if isinstance(node.op, ast.USub) else value)
        else:
            self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if _is_number(node):
            self._record(node, node.value)

    def _names_constant(self, targets: list[ast.expr]) -> bool:
        return not self.in_function and all(
            isinstance(target, ast.Name) and _UPPER.fullmatch(target.id) for target in targets
        )

    def _body(self, statements: list[ast.AST]) -> None:
        outer, self.in_function = self.in_function, True
        for statement in statements:
            self.visit(statement)
        self.in_function = outer

    def _record(self, node: ast.AST, value: complex) -> None:
        written = ast.get_source_segment(self.source, node) or repr(value)
        self.found.append((written, value, getattr(node, "lineno", 0)))


def _is_number(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float | complex)
        and not isinstance(node.value, bool)
    )


class NoMagicNumbers(BuiltinAssertion):
    name: ClassVar[str] = "no-magic-numbers"
    allowed: list[float] = Field(default_factory=lambda: [-1, 0, 1, 2])

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        tree, source, note = parsed(output)
        numbers = _Numbers(source)
        numbers.visit(tree)
        magic = [(text, line) for text, value, line in numbers.found if value not in self.allowed]
        allowed = ", ".join(f"{number:g}" for number in self.allowed) or "none"
        if not magic:
            return True, f"no magic numbers{note} (allowed: {allowed})"
        shown = ", ".join(f"{text} (line {line})" for text, line in magic[:_SHOWN])
        return False, f"{plural(len(magic), 'magic number')}{note}: {shown} (allowed: {allowed})"


_TAIL_LINES = 12
_TAIL_CHARS = 1500


class PassesTests(BuiltinAssertion):
    name: ClassVar[str] = "passes-tests"
    command: str = Field(min_length=1)
    filename: str = "solution.py"
    timeout: float = Field(default=60, gt=0)

    @field_validator("filename")
    @classmethod
    def _inside_directory(cls, filename: str) -> str:
        path = PurePosixPath(filename)
        if not filename.strip() or path.is_absolute() or ".." in path.parts:
            raise ValueError(f"expected a relative file name like solution.py, got {filename!r}")
        return filename

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        source, note = python_source(output)
        with tempfile.TemporaryDirectory(prefix="overnight-tests-") as scratch:
            work = Path(scratch) / "work"
            target = work / self.filename
            target.parent.mkdir(parents=True)
            target.write_text(encodable(source), encoding="utf-8")
            command = self.command.replace("{file}", shlex.quote(str(target)))
            command = command.replace("{root}", shlex.quote(str(context.root)))
            env = scrubbed_environment(extra=_test_environment(work))
            done = run_logged(command, work, env, self.timeout, Path(scratch) / "tests.log")
            tail = tail_lines(done.tail(), _TAIL_LINES)
        if done.timed_out:
            return False, f"timed out after {self.timeout:g} s{note}; last output:\n{tail}"
        if done.returncode == 0:
            last = tail.splitlines()[-1] if tail else "no output"
            return True, f"tests passed (exit 0) in {done.seconds:.1f} s{note}: {last}"
        took = f"in {done.seconds:.1f} s{note}"
        return False, f"tests failed (exit {done.returncode}) {took}:\n{tail}"


def _test_environment(work: Path) -> dict[str, str]:
    def prepend(name: str, value: str, separator: str) -> str:
        existing = os.environ.get(name, "")
        return f"{value}{separator}{existing}" if existing else value

    return {
        "PYTHONPATH": prepend("PYTHONPATH", str(work), os.pathsep),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_ADDOPTS": prepend("PYTEST_ADDOPTS", "-p no:cacheprovider", " "),
    }


def tail_lines(log: str, count: int) -> str:
    """The last ``count`` non-empty lines of a log, at most a screenful of characters."""
    kept = [line.rstrip() for line in log.splitlines() if line.strip()][-count:]
    joined = "\n".join(kept)
    return joined if len(joined) <= _TAIL_CHARS else "…" + joined[-_TAIL_CHARS:]


FAMILY = (Compiles, MaxFunctionLength, NamingConvention, NoMagicNumbers, PassesTests)
