"""TPE asked to choose among configurations the search agent offers, not to draw its own.

TPE models the good trials (l) and the others (g) and proposes, of the configurations it draws
from l, the one where l(x)/g(x) is highest: where good results are likeliest relative to bad
ones. A search that changes one knob per experiment can only go to configurations one change
away from the tree, which TPE's own draws almost never are. So the agent offers those
configurations (every step of every knob, see ``search.py``) and TPE scores them instead of its
draws: both densities are read where the other knobs really are, so a step that pays only
together with values elsewhere is not chosen, and a region crowded with failures, or with
experiments in flight (constant liar), is avoided.

The offer goes through TPE's one hook for it, the acquisition over its candidates; the public
``ask`` does everything else (the split into good and bad trials, the liar, the seeding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.samplers import TPESampler

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator


class ChoosingTPE(TPESampler):
    """Multivariate TPE whose proposal is one of ``offered`` (each a full set of parameters)."""

    def __init__(
        self,
        offered: Sequence[Mapping[str, Any]],
        space: Mapping[str, BaseDistribution],
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._offered = {
            key: np.asarray(
                [distribution.to_internal_repr(params[key]) for params in offered], dtype=float
            )
            for key, distribution in space.items()
        }
        # TPE models jointly the knobs whose range is more than one value; any other is drawn
        # on its own, through the same hook, and keeps its draw
        self._joint = {key for key, distribution in space.items() if not distribution.single()}
        self.chosen: int | None = None  # the index of the offer proposed, once asked

    def _compute_acquisition_func(
        self,
        samples: dict[str, np.ndarray],
        mpe_below: _ParzenEstimator,
        mpe_above: _ParzenEstimator,
    ) -> np.ndarray:
        """TPE's draws are replaced, in place, by the offers, and the offers scored."""
        keys = list(samples)
        if set(keys) != self._joint:
            return super()._compute_acquisition_func(samples, mpe_below, mpe_above)
        samples.clear()
        samples.update({key: self._offered[key] for key in keys})
        scores = mpe_below.log_pdf(samples) - mpe_above.log_pdf(samples)
        self.chosen = int(np.argmax(scores))  # what TPE's own comparison will pick
        return scores
