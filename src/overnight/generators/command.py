"""The ``command`` generator: a command per case prints the output.

The case's variables arrive as JSON on stdin and in the environment (``OVERNIGHT_VARS`` as JSON,
and one ``OVERNIGHT_VAR_<NAME>`` per variable), in the sandbox and with the allow-listed
environment of any evaluation. The output is what it prints on stdout; a non-zero exit is a case
error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from overnight.config import CaseConfig, CommandGenerateConfig
from overnight.generators.base import (
    Generated,
    GenerationError,
    Generator,
    Prepared,
    safe_name,
)
from overnight.isolation.sandbox import Sandbox
from overnight.process import read_tail


class CommandGenerator(Generator):
    def __init__(
        self, config: CommandGenerateConfig, root: Path, sandbox: Sandbox | None = None
    ) -> None:
        self.config = config
        self.root = root
        self.sandbox = sandbox or Sandbox.none(root)

    def prepare(
        self, case: CaseConfig, repeat: int, tree: str, work_dir: str, seed: int = 0
    ) -> Prepared:
        identity = {"vars": case.vars, "repeat": repeat, "tree": tree}

        def produce() -> Generated:
            return run_case(
                self.config.command,
                self.sandbox,
                self.config.timeout,
                case,
                repeat,
                work_dir,
                seed,
                self.config.env_passthrough,
            )

        return Prepared(identity, produce)


def run_case(
    command: str,
    sandbox: Sandbox,
    timeout: float,
    case: CaseConfig,
    repeat: int,
    work_dir: str,
    seed: int = 0,
    passthrough: Sequence[str] = (),
) -> Generated:
    """Run ``command`` for one case like any evaluation (sandbox, allow-listed environment, own
    process group, timeout); its stdout is the output, its stderr says why it failed."""
    stem = Path(work_dir) / f"{safe_name(case.id)}-{repeat}"
    extra = variables_env(case.vars)
    extra["OVERNIGHT_REPEAT"] = str(repeat)
    extra["OVERNIGHT_SEED"] = str(seed)
    out, err = stem.with_suffix(".out"), stem.with_suffix(".err")
    done = sandbox.run(
        command, out, timeout, passthrough, extra, stdin_text=json.dumps(case.vars), stderr_path=err
    )
    if done.timed_out:
        raise GenerationError(f"timed out after {timeout:g} s")
    if done.returncode != 0:
        lines = read_tail(err, 400).strip().splitlines()
        raise GenerationError(f"exited with code {done.returncode}: {lines[-1] if lines else ''}")
    return Generated(out.read_text(encoding="utf-8", errors="replace"))


def variables_env(variables: dict[str, object]) -> dict[str, str]:
    env = {"OVERNIGHT_VARS": json.dumps(variables)}
    for name, value in variables.items():
        text = value if isinstance(value, str) else json.dumps(value)
        env[f"OVERNIGHT_VAR_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}"] = text
    return env
