"""The ``python`` generator: a function returns the output, given the case's variables.

It runs in a child Python process, not in the harness: the function lives in the repository and
may be code an agent wrote, so it gets the scrubbed environment, a timeout and a process group
like any evaluation, and it sees a fresh copy of the files on every call.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from overnight.config import CaseConfig, PythonGenerateConfig
from overnight.generators.base import (
    Generated,
    GenerationError,
    Generator,
    Prepared,
    safe_name,
)
from overnight.generators.command import variables_env
from overnight.process import read_tail, run_logged, scrubbed_environment

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
    def __init__(self, config: PythonGenerateConfig, root: Path) -> None:
        self.config = config
        self.root = root
        self.command = " ".join(
            shlex.quote(part) for part in (sys.executable, "-c", BOOTSTRAP, config.function)
        )

    def prepare(self, case: CaseConfig, repeat: int, tree: str, work_dir: str) -> Prepared:
        identity = {"vars": case.vars, "repeat": repeat, "tree": tree}

        def produce() -> Generated:
            stem = Path(work_dir) / f"{safe_name(case.id)}-{repeat}"
            env = scrubbed_environment((), variables_env(case.vars))
            done = run_logged(
                self.command,
                self.root,
                env,
                self.config.timeout,
                stem.with_suffix(".out"),
                json.dumps(case.vars),
                stem.with_suffix(".err"),
            )
            if done.timed_out:
                raise GenerationError(f"timed out after {self.config.timeout:g} s")
            if done.returncode != 0:
                error = read_tail(stem.with_suffix(".err"), 400).strip().splitlines()
                raise GenerationError(
                    f"{self.config.function} failed: {error[-1] if error else ''}"
                )
            return Generated(stem.with_suffix(".out").read_text(encoding="utf-8", errors="replace"))

        return Prepared(identity, produce)
