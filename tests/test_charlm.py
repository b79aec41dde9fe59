"""The charlm example on the CPU: a byte-level GPT that trains for a second and is scored for real.

A short ``CHARLM_TIME_BUDGET`` keeps each evaluation to a few seconds (most of it importing
torch); the example's own config passes that variable into the sandbox."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

import overnight
from overnight.examples import create_from_example
from overnight.records import Status
from stand_ins.support import BIN

pytest.importorskip("torch")

FAST = {"CHARLM_TIME_BUDGET": "1"}
SECONDARY = ("params", "tokens_per_s", "peak_mem_mb", "steps", "train_seconds", "eval_seconds")
IN_MEMORY = "built in memory"

# train.py with its training step running out of GPU memory, the way a too-large model would
OUT_OF_MEMORY = """\
import runpy, sys
import torch
import torch.nn.functional as F

def out_of_memory(*args, **kwargs):
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB.\\nMore.")

F.cross_entropy = out_of_memory
sys.path.insert(0, ".")
runpy.run_path("train.py", run_name="__main__")
"""


def load_prepare(root: Path) -> ModuleType:
    """The example's prepare.py as a module of its own, so its data/ is the one in ``root``."""
    spec = importlib.util.spec_from_file_location(f"prepare_{abs(hash(root))}", root / "prepare.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, overnight.RunSummary]:
    """The example with its corpus cache built, after a run of the search agent."""
    root = create_from_example("charlm", tmp_path_factory.mktemp("charlm") / "charlm")
    load_prepare(root).write_cache()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAST.items():
            patch.setenv(name, value)
        patch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
        summary = overnight.run(root, experiments=2)
    return root, summary


def test_the_baseline_trains_and_prints_its_figures(searched) -> None:
    root, summary = searched
    baseline = summary.experiments[0]
    assert baseline.status is Status.BASELINE, baseline.reason
    assert baseline.metric is not None and math.isfinite(baseline.metric)
    assert baseline.metric < 8.0  # below a uniform guess over 256 bytes: it learned
    assert set(SECONDARY) <= set(baseline.secondary)
    assert baseline.secondary["params"] > 100_000 and baseline.secondary["steps"] >= 1
    assert IN_MEMORY not in (root / baseline.log_path).read_text()  # the exposed cache was read


def test_the_search_agent_run_records_its_experiments(searched) -> None:
    _, summary = searched
    assert summary.stop_reason == "experiment budget spent: 2 of 2"
    assert [e.number for e in summary.experiments] == [0, 1, 2]
    for experiment in summary.experiments[1:]:
        assert experiment.status in {Status.KEEP, Status.DISCARD}, experiment.reason
        assert experiment.changed_files == ["train.py"]
        assert experiment.metric is not None and math.isfinite(experiment.metric)


def test_the_corpus_is_the_same_on_every_build(tmp_path: Path) -> None:
    prepare = load_prepare(create_from_example("charlm", tmp_path / "charlm"))
    first = prepare.write_cache()
    stored = prepare.CACHE_FILE.read_bytes()
    second = prepare.write_cache()

    assert first == second
    assert prepare.CACHE_FILE.read_bytes() == stored
    train, val = prepare.build()
    assert train + val == stored and prepare.content_hash(train, val) == first["hash"]
    assert first["val_bytes"] > 100_000 and first["train_bytes"] > 5 * first["val_bytes"]
    files = prepare.source_files()
    assert files == sorted(files) and not any("test" in f.split("/")[:-1] for f in files)
    manifest = json.loads(prepare.MANIFEST_FILE.read_text())
    assert manifest["hash"] == first["hash"]


def test_an_agent_that_edits_prepare_py_is_a_violation(tmp_path: Path, fast) -> None:
    root = create_from_example("charlm", tmp_path / "charlm")
    config = yaml.safe_load((root / "overnight.yaml").read_text())
    config["agent"] = {
        "kind": "command",
        "command": "echo 'TIME_BUDGET = 1000.0' >> prepare.py && echo 'train for longer'",
    }
    (root / "overnight.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    subprocess.run(["git", "commit", "-qam", "a command agent"], cwd=root, check=True)

    summary = overnight.run(root, experiments=1)

    baseline, changed = summary.experiments
    assert baseline.status is Status.BASELINE, baseline.reason
    assert IN_MEMORY in (root / baseline.log_path).read_text()  # no cache: built, not failed
    assert changed.status is Status.VIOLATION
    assert "prepare.py" in changed.reason and changed.metric is None


def test_running_out_of_gpu_memory_is_a_one_line_crash(tmp_path: Path) -> None:
    root = create_from_example("charlm", tmp_path / "charlm")
    (tmp_path / "oom.py").write_text(OUT_OF_MEMORY)

    done = subprocess.run(
        [sys.executable, str(tmp_path / "oom.py")],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **FAST},
        timeout=120,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and IN_MEMORY not in line]
    assert lines == [
        "out of GPU memory: CUDA out of memory. Tried to allocate 8.00 GiB. "
        "(try a smaller BATCH_SIZE, CONTEXT, WIDTH or DEPTH)"
    ]
