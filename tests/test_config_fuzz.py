"""Malformed configs, as a new user writes them or as a hostile file is made: every one is
refused with exit code 2 and one line under 300 characters that names the file, without a
traceback, and none hangs (alias bombs and deep nesting included): each is cut off after
HANG_S, far above the milliseconds a refusal takes, once the modules are imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

BASE = {
    "name": "fuzz",
    "editable": ["train.py"],
    "evaluate": {"command": "python train.py", "metric": "score", "timeout": 60},
    "agent": {"kind": "search"},
}
SUITE = {
    "kind": "suite",
    "generate": {"kind": "llm", "model": "openai/m", "prompt": "Say {{ topic }}"},
    "cases": [{"id": "a", "vars": {"topic": "x"}}],
    "assert": [{"type": "contains", "value": "x"}],
}
BOMB = "".join(
    f"{a}: &{a} [{', '.join([f'*{b}'] * 9)}]\n" for b, a in zip("abcdefgh", "bcdefghi", strict=True)
)


def with_(**fields: object) -> str:
    return yaml.safe_dump({**BASE, **fields}, sort_keys=False)


def evaluate_with(**fields: object) -> str:
    return with_(evaluate={**BASE["evaluate"], **fields})


def suite_with(**fields: object) -> str:
    return with_(evaluate={**SUITE, **fields})


CASES: dict[str, str | bytes | dict[str, str]] = {
    "empty file": "",
    "a list": "- name\n- editable\n",
    "a scalar": "just words\n",
    "bad indentation": "name: x\n  editable: [a]\n",
    "a tab": "name: x\n\teditable: [a]\n",
    "unclosed bracket": "name: x\neditable: [a\n",
    "not utf-8": b"name: \xff\xfe\n",
    "unknown field": with_(colour="blue"),
    "layer at the top": with_(layer="a"),
    "editable a number": with_(editable=5),
    "editable items numbers": with_(editable=[5, 6]),
    "frozen a mapping": with_(frozen={"a": 1}),
    "evaluate missing": yaml.safe_dump({k: v for k, v in BASE.items() if k != "evaluate"}),
    "evaluate a list": with_(evaluate=["python train.py"]),
    "metric missing": with_(evaluate={"command": "python train.py"}),
    "metric with spaces": evaluate_with(metric="my score"),
    "direction sideways": evaluate_with(direction="sideways"),
    "timeout infinite": evaluate_with(timeout=float("inf")),
    "timeout 1e400": evaluate_with(timeout="1e400").replace("'1e400'", "1e400"),
    "timeout nan": evaluate_with(timeout=float("nan")),
    "timeout negative": evaluate_with(timeout=-1),
    "timeout words": evaluate_with(timeout="soon"),
    "timeout true": evaluate_with(timeout=True),
    "repeats zero": evaluate_with(repeats=0),
    "repeats a float": evaluate_with(repeats=2.5),
    "seeds sometimes": evaluate_with(seeds="sometimes"),
    "env_passthrough a string": evaluate_with(env_passthrough="HOME"),
    "unknown evaluate kind": evaluate_with(kind="vibes"),
    "experiments true": with_(budget={"experiments": True}),
    "experiments negative": with_(budget={"experiments": -3}),
    "hours infinite": with_(budget={"hours": float("inf")}),
    "budget a number": with_(budget=5),
    "patience a float": with_(stop={"patience": 1.5}),
    "agent a string": with_(agent="search"),
    "unknown agent kind": with_(agent={"kind": "wizard"}),
    "knob bounds words": with_(agent={"kind": "search", "knobs": {"LR": {"min": "low"}}}),
    "unknown policy": with_(policy={"kind": "hopeful"}),
    "min_delta nan": with_(policy={"min_delta": float("nan")}),
    "workers zero": with_(workers=0),
    "workers true": with_(workers=True),
    "gpus words": with_(resources={"gpus": "all"}),
    "gpus negative": with_(resources={"gpus": -1}),
    "sandbox maybe": with_(sandbox={"mode": "maybe"}),
    "expose a number": with_(sandbox={"expose": 5}),
    "unknown executor": with_(executor={"kind": "slurm"}),
    "layers a number": with_(layers=5),
    "layer name with spaces": yaml.safe_dump(
        {**{k: v for k, v in BASE.items() if k != "evaluate"}, "layers": {"Bad Name": {}}}
    ),
    "a key twice": with_() + "name: again\n",
    "a nested key twice": "evaluate: {command: a, metric: s, command: b}\n",
    "an alias bomb": BOMB + with_().replace("agent:", "ignored: *i\nagent:"),
    "an alias bomb in a known field": BOMB
    + evaluate_with().replace("timeout: 60", "timeout: 60\n  env_passthrough: *i"),
    "nested ten thousand deep": with_() + "program: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "a 5 MB wrong value": with_(editable="x" * 5_000_000),
    "suite without cases": suite_with(cases=[]),
    "suite with an unknown assertion": suite_with(**{"assert": [{"type": "telepathy"}]}),
    "suite file missing": suite_with(suite="missing.yaml"),
    "suite template syntax error": suite_with(
        generate={"kind": "llm", "model": "openai/m", "prompt": "Say {{ topic "}
    ),
    "suite python check file missing": suite_with(
        **{"assert": [{"type": "python", "function": "checks.py:ok"}]}
    ),
    "suite template file missing": suite_with(
        generate={"kind": "llm", "model": "openai/m", "template": "prompt.j2"}
    ),
    "suite file not yaml": {
        "overnight.yaml": with_(evaluate={"kind": "suite", "suite": "suite.yaml"}),
        "suite.yaml": "cases: [\n",
    },
}

HANG_S = 10.0  # far beyond any refusal: only a hang (an alias bomb's expansion) comes near

DRIVER = """
import io, json, signal, sys, time, traceback
from pathlib import Path
from overnight.cli import main

def too_long(*_):
    raise TimeoutError("over HANG_S s")

signal.signal(signal.SIGALRM, too_long)
found, cases = {}, sorted(Path(sys.argv[1]).iterdir())
sys.argv = ["overnight", "eval", str(cases[0])]
try:  # imports everything a refusal needs, untimed: a loaded machine may take seconds
    main()
except BaseException:
    pass
for folder in cases:
    sys.argv = ["overnight", "eval", str(folder)]
    sys.stderr = captured = io.StringIO()
    started = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        code = "raised: " + traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    found[folder.name] = [code, captured.getvalue(), time.perf_counter() - started]
sys.stderr = sys.__stderr__
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    root = tmp_path_factory.mktemp("fuzz")
    for number, (name, content) in enumerate(CASES.items()):
        folder = root / f"{number:02d}"
        folder.mkdir()
        (folder / "name").write_text(name)
        files = content if isinstance(content, dict) else {"overnight.yaml": content}
        for file, text in files.items():
            target = folder / file
            target.write_bytes(text) if isinstance(text, bytes) else target.write_text(text)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER.replace("HANG_S", repr(HANG_S)), str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    return {(root / key / "name").read_text(): value for key, value in found.items()}


def test_there_are_at_least_fifty_kinds() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("name", list(CASES))
def test_each_is_one_clear_line_and_exit_2(refusals: dict[str, list], name: str) -> None:
    code, stderr, seconds = refusals[name]
    assert code == 2, (name, code, stderr[:500])
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, (name, stderr[:500])
    assert len(lines[0]) < 300, (name, lines[0][:400])
    assert "Traceback" not in stderr
    assert ".yaml" in lines[0], lines[0]
    assert seconds < HANG_S, (name, seconds)
