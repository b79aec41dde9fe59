"""The fixed part of the charlm example: the corpus, the time budget and the evaluation.

train.py imports from here. This file defines what "better" means, so it never changes during a
run: every experiment trains on the same bytes for the same wall-clock time and is scored on the
same validation windows.

The corpus is the ``.py`` source of the running interpreter's standard library: every machine
with Python has it, so nothing is downloaded. Tests, installed packages, caches and generated
files are left out; the files are taken in sorted order and split by file (about one in ten goes
to validation, chosen by a hash of its path), so validation text is code the model never saw.
Tokens are bytes (a vocabulary of 256), so bits per byte is the cross-entropy in bits.

``python prepare.py`` builds the corpus once and caches it in ``data/`` (ignored by git; the
sandbox shows it to the evaluation read-only through ``sandbox.expose``). Without a current
cache the evaluation builds the corpus in memory at every start instead, and says so.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

VOCAB_SIZE = 256  # bytes
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Folders and files that are not the library's own source: tests, installed packages, caches,
# the help texts of pydoc and the build configuration of this particular interpreter
SKIPPED_DIRS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "pydoc_data"}
)
SKIPPED_PREFIXES = ("config-", "_sysconfigdata")
VAL_SHARE = 26 / 256  # files whose path hash starts with a byte below 26 are validation
SEPARATOR = b"\x00"  # marks where one file ends and the next begins
DATA_DIR = Path(__file__).resolve().parent / "data"
CACHE_FILE = DATA_DIR / "corpus.bin"
MANIFEST_FILE = DATA_DIR / "corpus.json"

# Evaluation: the same windows of validation text for every experiment, spread evenly over it
EVAL_WINDOWS = 64  # windows scored
EVAL_WINDOW = 1024  # bytes predicted per window

# Seconds of training per experiment, on a CUDA GPU and on the CPU fallback. Not a knob: a longer
# budget is not an improvement. CHARLM_TIME_BUDGET overrides both (tests, benchmarks).
GPU_TIME_BUDGET = 90.0
CPU_TIME_BUDGET = 20.0
TIME_BUDGET = float(
    os.environ.get("CHARLM_TIME_BUDGET")
    or (GPU_TIME_BUDGET if torch.cuda.is_available() else CPU_TIME_BUDGET)
)


def source_files() -> list[str]:
    """The corpus's files, as sorted paths relative to the standard library."""
    found = []
    for folder, subfolders, names in os.walk(STDLIB):
        subfolders[:] = [d for d in subfolders if d not in SKIPPED_DIRS]
        for name in names:
            if name.endswith(".py") and not name.startswith(SKIPPED_PREFIXES):
                found.append(Path(folder, name).relative_to(STDLIB).as_posix())
        subfolders[:] = [d for d in subfolders if not d.startswith(SKIPPED_PREFIXES)]
    return sorted(found)


def is_validation(path: str) -> bool:
    return hashlib.sha256(path.encode()).digest()[0] < VAL_SHARE * 256


def fingerprint(files: list[str]) -> str:
    """What the cache was built from: the interpreter and each file's path, size and time."""
    digest = hashlib.sha256(sys.version.encode())
    for path in files:
        stat = (STDLIB / path).stat()
        digest.update(f"\n{path} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def build() -> tuple[bytes, bytes]:
    """(training bytes, validation bytes), read afresh from the standard library."""
    train, val = [], []
    for path in source_files():
        (val if is_validation(path) else train).append((STDLIB / path).read_bytes())
    return SEPARATOR.join(train), SEPARATOR.join(val)


def content_hash(train: bytes, val: bytes) -> str:
    digest = hashlib.sha256(len(train).to_bytes(8, "little"))
    digest.update(train)
    digest.update(val)
    return digest.hexdigest()[:16]


def write_cache() -> dict[str, object]:
    """Build the corpus and store it in data/ with a manifest; returns the manifest."""
    files = source_files()
    train, val = build()
    manifest = {
        "fingerprint": fingerprint(files),
        "hash": content_hash(train, val),
        "files": len(files),
        "train_bytes": len(train),
        "val_bytes": len(val),
        "python": sys.version.split()[0],
    }
    DATA_DIR.mkdir(exist_ok=True)
    CACHE_FILE.write_bytes(train + val)
    MANIFEST_FILE.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _cached() -> tuple[bytes, bytes] | None:
    """The cached corpus, if it was built from this interpreter's files and is intact."""
    try:
        manifest = json.loads(MANIFEST_FILE.read_text())
        if manifest["fingerprint"] != fingerprint(source_files()):
            return None
        corpus = CACHE_FILE.read_bytes()
    except (OSError, ValueError, KeyError):
        return None
    train, val = corpus[: manifest["train_bytes"]], corpus[manifest["train_bytes"] :]
    return (train, val) if content_hash(train, val) == manifest["hash"] else None


@functools.cache
def load() -> tuple[torch.Tensor, torch.Tensor]:
    """(training bytes, validation bytes) as uint8 tensors: from the cache when it is current,
    else built here (and said so in one line)."""
    corpus = _cached()
    if corpus is None:
        print(
            f"corpus: no current cache in {DATA_DIR} (run python prepare.py); built in memory",
            file=sys.stderr,
        )
        corpus = build()
    train, val = corpus
    return _tensor(train), _tensor(val)


def _tensor(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def load_train() -> torch.Tensor:
    """The training bytes, a uint8 tensor (a copy)."""
    return load()[0].clone()


def _windows() -> torch.Tensor:
    """The evaluation's windows: EVAL_WINDOW + 1 bytes each, at evenly spaced offsets."""
    val = load()[1]
    starts = torch.linspace(0, len(val) - EVAL_WINDOW - 1, EVAL_WINDOWS).long()
    return torch.stack([val[s : s + EVAL_WINDOW + 1] for s in starts.tolist()]).long()


Model = Callable[[torch.Tensor], torch.Tensor]  # (batch, time) byte ids -> (batch, time, 256)


@torch.no_grad()
def evaluate(model: Model, context: int, batch_size: int, device: str) -> dict[str, float]:
    """Validation bits per byte of ``model``, which maps byte ids of shape (batch, time), time at
    most ``context``, to next-byte logits of shape (batch, time, 256). Each window is fed in
    consecutive pieces of ``context`` bytes; every window's EVAL_WINDOW bytes are scored."""
    start = time.perf_counter()
    windows = _windows()
    _check_causal(model, windows[:batch_size, :context].to(device))
    nats = 0.0
    for first in range(0, len(windows), batch_size):
        batch = windows[first : first + batch_size].to(device)
        for begin in range(0, EVAL_WINDOW, context):
            inputs = batch[:, begin : begin + context]
            targets = batch[:, begin + 1 : begin + context + 1]
            logits = _logits(model, inputs)
            nats += F.cross_entropy(
                logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1), reduction="sum"
            ).item()
    bpb = nats / (len(windows) * EVAL_WINDOW) / math.log(2)
    return {"val_bpb": bpb, "eval_seconds": time.perf_counter() - start}


def _logits(model: Model, inputs: torch.Tensor) -> torch.Tensor:
    logits = model(inputs).float()
    if logits.shape != (*inputs.shape, VOCAB_SIZE):
        raise ValueError(
            f"expected logits of shape {(*inputs.shape, VOCAB_SIZE)}, got {tuple(logits.shape)}"
        )
    if not torch.isfinite(logits).all():
        raise ValueError("the logits are not finite (diverged?)")
    return logits


def _check_causal(model: Model, inputs: torch.Tensor) -> None:
    """A prediction may depend only on the bytes before it: changing the second half of the
    inputs must leave the predictions of the first half alone."""
    half = inputs.shape[1] // 2
    changed = inputs.clone()
    changed[:, half:] = (changed[:, half:] + 1) % VOCAB_SIZE
    before = F.log_softmax(_logits(model, inputs)[:, :half], dim=-1)
    after = F.log_softmax(_logits(model, changed)[:, :half], dim=-1)
    if (before - after).abs().max().item() > 0.1:
        raise ValueError(
            "predictions changed when only later bytes changed: the model sees the future "
            "(a missing causal mask), or dropout is still on at evaluation"
        )


if __name__ == "__main__":
    built = write_cache()
    print(
        f"corpus: {built['files']} files of Python {built['python']}'s standard library, "
        f"{built['train_bytes']:,} training and {built['val_bytes']:,} validation bytes, "
        f"hash {built['hash']}, in {CACHE_FILE}"
    )
