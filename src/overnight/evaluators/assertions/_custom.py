"""Custom assertions: the user's own Python function, command, or judge model.

python
    ``function: "checks.py:is_upbeat"`` names a file relative to the repository root, or
    ``"package.module:is_upbeat"`` a module importable from the root or installed. A file is
    loaded afresh for every check, so an edit is seen at once; a dotted module is imported
    once, like any import. The function is called as ``fn(output, vars)`` when it takes two
    positional arguments, else ``fn(output)``, in this process and without a timeout (use
    ``command`` for isolation). It returns a bool or ``(bool, reason)``; an exception, or
    anything else returned, is a failing Verdict that says so.
command
    ``command`` runs through the shell in the repository root, with the output on stdin, the
    path of a file holding it in ``OVERNIGHT_OUTPUT_FILE`` and the case's variables as JSON in
    ``OVERNIGHT_VARS``, in its own process group, killed with its children after ``timeout``
    seconds (an error). Exit code 0 passes; the reason is the last line it printed.
llm-judge
    ``rubric`` is a yes/no question about the output (a template over the case's variables),
    put to the judge model the suite configures (``model`` overrides it). Not deterministic:
    the same output may be judged differently. The judge's own reason is shown on pass too.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from pydantic import Field, field_validator

from overnight.evaluators.assertions._base import (
    BuiltinAssertion,
    CheckContext,
    CheckError,
    Text,
    encodable,
    quote,
    shown,
)
from overnight.process import run_logged, scrubbed_environment

_FUNCTION = re.compile(r"[^:]+:[A-Za-z_]\w*")


class Python(BuiltinAssertion):
    name: ClassVar[str] = "python"
    function: str

    @field_validator("function")
    @classmethod
    def _file_or_module_and_name(cls, function: str) -> str:
        if not _FUNCTION.fullmatch(function):
            raise ValueError(
                f"expected file.py:function or package.module:function, got {function!r}"
            )
        return function

    @property
    def label(self) -> str:
        return f"python {self.function}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        location, function_name = self.function.rsplit(":", 1)
        function = getattr(load_module(location, context.root), function_name, None)
        if not callable(function):
            raise CheckError(f"{location} has no function {function_name!r}")
        try:
            result = _call(function, output, context.vars)
        except Exception as exc:
            raise CheckError(f"{function_name} raised {_described(exc)}") from None
        if isinstance(result, bool):
            return result, f"{function_name} returned {result}"
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
            return result[0], str(result[1])
        raise CheckError(
            f"{function_name} returned {shown(result)}; expected a bool or (bool, reason)"
        )


def load_module(location: str, root: Path) -> ModuleType:
    """A ``.py`` file under ``root`` (loaded afresh) or a dotted module importable from it."""
    if location.endswith(".py") or "/" in location:
        return _load_file(root / location)
    try:
        with _on_path(root):
            return importlib.import_module(location)
    except ImportError as exc:
        raise CheckError(f"cannot import {location}: {exc}") from None
    except Exception as exc:
        raise CheckError(f"importing {location} raised {_described(exc)}") from None


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise CheckError(f"no file {path}")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_overnight_check_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CheckError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        with _on_path(path.parent):
            spec.loader.exec_module(module)
    except Exception as exc:
        raise CheckError(f"loading {path.name} raised {_described(exc)}") from None
    return module


@contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """Let the loaded code import its neighbours."""
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with suppress(ValueError):  # the loaded code may have taken it off already
            sys.path.remove(str(folder))


def _call(function: Callable[..., Any], output: str, variables: Mapping[str, Any]) -> Any:
    return function(output, dict(variables)) if _takes_two(function) else function(output)


def _takes_two(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = [parameter.kind for parameter in parameters]
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Parameter.VAR_POSITIONAL in kinds or sum(k in positional for k in kinds) >= 2


def _described(exc: BaseException) -> str:
    """``ValueError: message (checks.py line 12)``: the exception and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name} line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class Command(BuiltinAssertion):
    name: ClassVar[str] = "command"
    command: str = Field(min_length=1)
    timeout: float = Field(default=60, gt=0)

    @property
    def label(self) -> str:
        return f"command {quote(self.command, 30)}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        text = encodable(output)
        with tempfile.TemporaryDirectory(prefix="overnight-check-") as scratch:
            output_file = Path(scratch) / "output.txt"
            output_file.write_text(text, encoding="utf-8")
            extra = {
                "OVERNIGHT_OUTPUT_FILE": str(output_file),
                "OVERNIGHT_VARS": json.dumps(dict(context.vars), default=str),
            }
            env = scrubbed_environment(extra=extra)
            log = Path(scratch) / "command.log"
            done = run_logged(self.command, context.root, env, self.timeout, log, stdin_text=text)
            printed = [line.strip() for line in done.tail().splitlines() if line.strip()]
        if done.timed_out:
            raise CheckError(f"command timed out after {self.timeout:g} s")
        last = f": {printed[-1][:200]}" if printed else " (no output)"
        return done.returncode == 0, f"exit {done.returncode}{last}"


class LlmJudge(BuiltinAssertion):
    name: ClassVar[str] = "llm-judge"
    deterministic: ClassVar[bool] = False
    templated: ClassVar[tuple[str, ...]] = ("rubric",)
    rubric: Text = Field(min_length=1)
    model: str | None = None

    @property
    def label(self) -> str:
        return f"llm-judge {quote(self.rubric, 30)}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        if context.judge is None:
            raise CheckError("no judge model configured (set evaluate.judge)")
        try:
            answer = context.judge(self.rubric, output, self.model)
        except Exception as exc:
            raise CheckError(f"the judge failed: {type(exc).__name__}: {exc}") from None
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise CheckError(f"the judge answered {shown(answer)}, not (yes?, reason)")
        yes, reason = answer
        return bool(yes), str(reason).strip() or "the judge gave no reason"


FAMILY = (Python, Command, LlmJudge)
