"""The bundled examples, and making a fresh repository from one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from overnight.errors import UsageError

_INSTALLED = Path(__file__).parent / "_examples"  # where the wheel puts them
_CHECKOUT = Path(__file__).resolve().parents[2] / "examples"  # an editable install from source


def examples_root() -> Path:
    return _INSTALLED if _INSTALLED.is_dir() else _CHECKOUT


def available() -> list[str]:
    root = examples_root()
    return (
        sorted(p.name for p in root.iterdir() if (p / "overnight.yaml").is_file())
        if root.is_dir()
        else []
    )


def create_from_example(name: str, target: Path) -> Path:
    """Copy example ``name`` into ``target`` (new or empty) as a git repository with one commit."""
    source = examples_root() / name
    if not (source / "overnight.yaml").is_file():
        raise UsageError(f"no example {name!r} (available: {', '.join(available()) or 'none'})")
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} exists and is not empty; choose another directory")
    shutil.copytree(
        source,
        target,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".overnight", "*.pyc"),
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "overnight",
        "GIT_AUTHOR_EMAIL": "overnight@localhost",
        "GIT_COMMITTER_NAME": "overnight",
        "GIT_COMMITTER_EMAIL": "overnight@localhost",
    }
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", f"{name}: example copied by overnight"],
    ):
        subprocess.run(
            ["git", "-c", "core.hooksPath=/dev/null", *args],
            cwd=target,
            env=env,
            check=True,
            capture_output=True,
        )
    return target


def free_directory(stem: Path) -> Path:
    """``stem`` if it is free, else ``stem-2``, ``stem-3``…"""
    candidate, suffix = stem, 1
    while candidate.exists() and any(candidate.iterdir()):
        suffix += 1
        candidate = stem.with_name(f"{stem.name}-{suffix}")
    return candidate


def next_steps(name: str, target: Path) -> str:
    """What to type after copying example ``name`` to ``target``: the extras its first loop
    needs, the key its model reads, and the run command (with ``--layer`` where there are
    layers)."""
    from overnight.config_file import read_mapping

    raw = read_mapping(examples_root() / name / "overnight.yaml", display=name)
    layers = raw.get("layers") or {}
    first = next(iter(layers), None)
    loop = {**raw, **layers[first]} if first else raw
    needs = []
    evaluate, agent = loop.get("evaluate") or {}, loop.get("agent") or {}
    if (
        evaluate.get("kind") == "triggers"
        and (evaluate.get("router") or {}).get("kind", "embedding") == "embedding"
    ):
        needs.append('pip install "overnight[embed]"')
    model = agent.get("model") if agent.get("kind") == "llm" else None
    if model:
        provider = str(model).split("/", 1)[0]
        needs += ['pip install "overnight[llm]"', f"export {provider.upper()}_API_KEY=..."]
    run = f"overnight run {target}" + (f" --layer {first}" if first else "")
    return "; ".join([*needs, run])
