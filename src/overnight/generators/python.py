"""The ``python`` generator: a function returns the output, given the case's variables.

It runs in a child Python process, not in the harness: the function lives in the repository and
may be code an agent wrote, so it runs in the sandbox with the allow-listed environment, a
timeout and a process group like any evaluation, and it sees a fresh copy of the files on every
call.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from overnight.config import CaseConfig, PythonGenerateConfig
from overnight.generators.base import (
    Generated,
    GenerationError,
    Generator,
    Prepared,
)
from overnight.generators.command import run_case
from overnight.isolation.sandbox import Sandbox

# Runs in the child: load "file.py:name" or "package.module:name", call it with the variables.
BOOTSTRAP = """\
import importlib, importlib.util, json, sys
target, name = sys.argv[1].rsplit(":", 1)
sys.path.insert(0, ".")
if target.endswith(".py"):
    spec = importlib.util.spec_from_file_location("overnight_generator", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
else:
    module = importlib.import_module(target)
result = getattr(module, name)(**json.load(sys.stdin))
sys.stdout.write(result if isinstance(result, str) else json.dumps(result))
"""


class PythonGenerator(Generator):
    def __init__(
        self, config: PythonGenerateConfig, root: Path, sandbox: Sandbox | None = None
    ) -> None:
        self.config = config
        self.root = root
        self.sandbox = sandbox or Sandbox.none(root)
        self.command = " ".join(
            shlex.quote(part) for part in (sys.executable, "-c", BOOTSTRAP, config.function)
        )

    def prepare(
        self, case: CaseConfig, repeat: int, tree: str, work_dir: str, seed: int = 0
    ) -> Prepared:
        identity = {"vars": case.vars, "repeat": repeat, "tree": tree}

        def produce() -> Generated:
            try:
                return run_case(
                    self.command, self.sandbox, self.config.timeout, case, repeat, work_dir, seed
                )
            except GenerationError as exc:
                raise GenerationError(f"{self.config.function}: {exc}") from None

        return Prepared(identity, produce)
