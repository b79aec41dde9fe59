"""The fixed part of the digits example: data, split, time budget and evaluation.

train.py imports from here. This file defines what "better" means, so it never changes
during a run: the data, the seeded train/validation split, the scaling, the training time
budget and the validation metric stay the same for every experiment.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

DATA_FILE = Path(__file__).resolve().parent / "data" / "digits.csv.gz"
NUM_CLASSES = 10
VAL_FRACTION = 0.2  # a fifth of every class is held out for validation
SPLIT_SEED = 20240601  # fixed, so every experiment sees the same split

# Seconds of CPU time for training, per experiment (CPU time, so that a busy machine trains the
# same model as an idle one). Tests shorten it with DIGITS_TIME_BUDGET.
TIME_BUDGET = float(os.environ.get("DIGITS_TIME_BUDGET", "4.0"))


def _load() -> tuple[np.ndarray, np.ndarray]:
    """Read the 8x8 images (pixels 0..16) and labels from the bundled CSV."""
    with gzip.open(DATA_FILE, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


def _split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split, so both parts keep the class balance of the whole set."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, val = [], []
    for label in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = round(len(members) * VAL_FRACTION)
        val.append(members[:cut])
        train.append(members[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _prepare() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split, then standardise every pixel with the training set's mean and spread."""
    pixels, labels = _load()
    train, val = _split(labels)
    mean = pixels[train].mean(axis=0)
    spread = np.maximum(pixels[train].std(axis=0), 1.0)  # some border pixels are always 0
    scaled = (pixels - mean) / spread
    return scaled[train], labels[train], scaled[val], labels[val]


_X_TRAIN, _Y_TRAIN, _X_VAL, _Y_VAL = _prepare()


def load_train() -> tuple[np.ndarray, np.ndarray]:
    """The training images, shape (n, 64), and their labels, shape (n,). Copies."""
    return _X_TRAIN.copy(), _Y_TRAIN.copy()


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-probability of the true class (clipped, so it stays finite)."""
    picked = probs[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def evaluate(predict_proba: Callable[[np.ndarray], np.ndarray]) -> dict[str, float]:
    """Score a model on the held-out images: val_loss (the metric) and val_accuracy."""
    probs = np.asarray(predict_proba(_X_VAL.copy()), dtype=np.float64)
    if probs.shape != (len(_Y_VAL), NUM_CLASSES):
        raise ValueError(f"expected shape {(len(_Y_VAL), NUM_CLASSES)}, got {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError("probabilities must be finite and non-negative (diverged?)")
    probs = probs / probs.sum(axis=1, keepdims=True)
    return {
        "val_loss": cross_entropy(probs, _Y_VAL),
        "val_accuracy": float((probs.argmax(axis=1) == _Y_VAL).mean()),
    }
