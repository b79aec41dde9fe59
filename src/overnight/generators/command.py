"""The ``command`` generator: a command per case prints the output.

The case's variables arrive as JSON on stdin and in the environment (``OVERNIGHT_VARS`` as JSON,
and one ``OVERNIGHT_VAR_<NAME>`` per variable), with the user's secrets scrubbed as for any
evaluation. The output is what it prints on stdout; a non-zero exit is a case error.
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
from overnight.process import read_tail, run_logged, scrubbed_environment


class CommandGenerator(Generator):
    def __init__(self, config: CommandGenerateConfig, root: Path) -> None:
        self.config = config
        self.root = root

    def prepare(
        self, case: CaseConfig, repeat: int, tree: str, work_dir: str, seed: int = 0
    ) -> Prepared:
        identity = {"vars": case.vars, "repeat": repeat, "tree": tree}

        def produce() -> Generated:
            return run_case(
                self.config.command,
                self.root,
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
    root: Path,
    timeout: float,
    case: CaseConfig,
    repeat: int,
    work_dir: str,
    seed: int = 0,
    passthrough: Sequence[str] = (),
) -> Generated:
    """Run ``command`` for one case like any evaluation (scrubbed environment, own process
    group, timeout); its stdout is the output, its stderr says why it failed."""
    stem = Path(work_dir) / f"{safe_name(case.id)}-{repeat}"
    env = scrubbed_environment(passthrough, variables_env(case.vars))
    env["OVERNIGHT_REPEAT"] = str(repeat)
    env["OVERNIGHT_SEED"] = str(seed)
    out, err = stem.with_suffix(".out"), stem.with_suffix(".err")
    done = run_logged(command, root, env, timeout, out, json.dumps(case.vars), err)
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
