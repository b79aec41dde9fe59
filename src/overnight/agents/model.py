"""The model behind the search agent: an Optuna study that has been told the whole run.

Every configuration the run measured is one finished trial, whatever proposed it: the search
agent's rows name their configurations before and after the change; a state another agent
kept is known once a later search row starts from its commit. A trial's value is the mean of
every measurement of that configuration: the repeats of its experiment and the re-measurements
the noise-aware policy made of it while it was the best. A configuration that crashed, timed
out, broke a rule or failed a check is left out (the agent still never proposes it again).

Experiments in flight are running trials: TPE's constant liar counts them as bad results, so
that workers do not propose the same point. A proposal of this process is the trial its sampler
asked for, its parameters set to what the agent really applied (one knob of the proposal, most
often), so a sampler that keeps state in its trials (CMA-ES) learns from what was measured;
rows from elsewhere (another process, an earlier one before a resume) are added as finished
trials.

Trials are told as the history grows, once each; only when a known configuration's mean moves
(it was measured again) is the study built anew, since Optuna's finished trials cannot change.
Each proposal uses a sampler seeded by the config's seed and the experiment's number, so the
same history always gives the same proposal, on resume too.
"""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from overnight.agents.space import Space, params
from overnight.errors import UsageError
from overnight.records import Experiment, Status

if TYPE_CHECKING:
    import optuna

SAMPLERS = ("tpe", "cmaes", "gp", "random")
NEEDS = {
    "tpe": ("optuna",),
    "random": ("optuna",),
    "cmaes": ("optuna", "cmaes"),
    "gp": ("optuna", "torch", "scipy"),
}
INSTALL = 'pip install "overnight[search]"'
MEASURED = frozenset(
    {Status.BASELINE, Status.KEEP, Status.DISCARD, Status.OVERFIT, Status.STALE, Status.CONFLICT}
)
STUDY = "overnight-search"
FIRST_WEIGHING = 4  # configurations told before the knobs' importance is weighed
STARTUP = 5  # random proposals before TPE models the run (the baseline counts as one)


def available(sampler: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in NEEDS[sampler])


def require(sampler: str) -> None:
    """Fail before a run starts, with the fix, when the sampler's packages are missing."""
    absent = [module for module in NEEDS[sampler] if importlib.util.find_spec(module) is None]
    if absent:
        raise UsageError(f"the {sampler} search sampler needs {', '.join(absent)}: {INSTALL}")


@dataclass
class Tree:
    """One configuration measured: its values and the attributes its sampler gave its trial."""

    params: dict[str, Any]
    measurements: list[float] = field(default_factory=list)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    told: float | None = None  # the value its finished trial holds


@dataclass
class Pending:
    """An experiment in flight, as a running trial."""

    params: dict[str, Any]
    trial: int  # the trial's number in the current study
    system_attrs: dict[str, Any] = field(default_factory=dict)


class KnobModel:
    """An Optuna study fed from the ledger; ``ask`` gives the sampler's next configuration."""

    def __init__(self, sampler: str, seed: int, direction: str, space: Space) -> None:
        require(sampler)
        self.sampler, self.seed, self.space = sampler, seed, space
        self.direction = "minimize" if direction == "minimize" else "maximize"
        self.trees: dict[str, Tree] = {}  # by the identity of their parameters
        self.by_commit: dict[str, list[float]] = {}  # kept states not yet known as parameters
        self.pending: dict[int, Pending] = {}  # by experiment number
        self._stale = False
        self._asked = -1  # the trial of the last ``ask``, until ``settle``
        self.finished = 0  # configurations told
        self._importance: dict[str, float] = {}
        self._next_weighing = FIRST_WEIGHING  # when ``finished`` reaches it, importance anew
        self._build()

    def learn(self, experiment: Experiment) -> None:
        """Fold one ended ledger row in (see the module's docstring)."""
        meta = experiment.agent_meta or {}
        before, after = meta.get("before"), meta.get("after")
        measured = experiment.status in MEASURED and experiment.measurements
        if isinstance(before, dict):
            stash = self.by_commit.pop(experiment.parent_commit, [])
            self._measured(before, [*stash, *experiment.remeasured])
        elif experiment.remeasured and experiment.parent_commit:
            self.by_commit.setdefault(experiment.parent_commit, []).extend(experiment.remeasured)
        pending = self.pending.get(experiment.number)  # listed until told: a rebuild renumbers
        if isinstance(after, dict) and measured:
            self._measured(after, experiment.measurements, pending)
        elif measured and experiment.commit and experiment.status.advances:
            self.by_commit[experiment.commit] = list(experiment.measurements)
        self.pending.pop(experiment.number, None)
        if pending is not None and pending.trial >= 0:
            self._finish(pending)

    def pend(self, number: int, configuration: Mapping[str, Any]) -> None:
        """An experiment another worker has under way: a running trial until its row ends."""
        found = params(configuration, self.space)
        if found is None or number in self.pending:
            return
        self.pending[number] = Pending(found, self._add(found, None, {}))

    def forget(self, numbers: set[int]) -> None:
        """Experiments that ended without a row, or long ago: no longer running."""
        for number in numbers & self.pending.keys():
            self._finish(self.pending.pop(number))

    def ask(self, draw: int) -> dict[str, Any]:
        """The sampler's next configuration, its randomness seeded by ``draw``; ``settle``
        must follow, saying what was applied of it."""
        return self._ask(self._new_sampler(draw))

    def _ask(self, sampler: optuna.samplers.BaseSampler) -> dict[str, Any]:
        if self._stale:
            self._build()
        self._study.sampler = sampler
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self._study.ask(dict(self.space))
        self._asked = trial.number
        return dict(trial.params)

    def choose(self, draw: int, offered: Sequence[Mapping[str, Any]]) -> int | None:
        """Which of the ``offered`` configurations TPE proposes (see ``choosing_tpe.py``), its
        randomness seeded by ``draw``; ``settle`` must follow. None, with nothing to settle,
        while TPE is still drawing at random or when no offer lies in the space."""
        from overnight.agents.choosing_tpe import ChoosingTPE

        inside = [
            (index, found)
            for index, configuration in enumerate(offered)
            if (found := params(configuration, self.space)) is not None
        ]
        if not inside:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            offers = [found for _, found in inside]
            sampler = ChoosingTPE(offers, self.space, **_tpe(self._seed(draw)))
        self._ask(sampler)
        if sampler.chosen is None:
            self.settle({}, None)
            return None
        return inside[sampler.chosen][0]

    def settle(self, configuration: Mapping[str, Any], number: int | None) -> None:
        """The configuration applied for experiment ``number`` from the last ``ask`` (None:
        nothing was): the asked trial's parameters are set to it, and it runs until the
        experiment's row ends."""
        trial, self._asked = self._asked, -1
        found = params(configuration, self.space) if number is not None else None
        if found is None or number is None:
            self._tell(trial, None)
            return
        storage = self._storage
        trial_id = storage.get_trial_id_from_study_id_trial_number(self._study_id, trial)
        for key, value in found.items():
            distribution = self.space[key]
            internal = distribution.to_internal_repr(value)
            storage.set_trial_param(trial_id, key, internal, distribution)
        attrs = dict(storage.get_trial_system_attrs(trial_id))
        self.pending[number] = Pending(found, trial, attrs)

    def importance(self) -> dict[str, float]:
        """How much each knob matters for reaching the best trials (Optuna's PED-ANOVA), or
        nothing while too few configurations are known for it to say. It is weighed anew as
        the configurations told reach each of a fixed series of counts (every one up to ten,
        then a tenth more each time), so its cost does not grow with the run, and a resumed
        agent, told the same rows, weighs at the same counts."""
        return self._importance

    def _weigh(self) -> None:
        import optuna

        if self._stale:
            self._build()
        self._next_weighing = max(self._next_weighing + 1, math.ceil(self._next_weighing * 1.1))
        if len(self.space) < 2:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._importance = optuna.importance.get_param_importances(
                    self._study,
                    evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                    params=list(self.space),
                )
            except (RuntimeError, ValueError, ZeroDivisionError):
                self._importance = {}

    # ------------------------------------------------------------------ the study

    def _measured(
        self, configuration: Mapping[str, Any], values: list[float], pending: Pending | None = None
    ) -> None:
        found = params(configuration, self.space)
        if found is None or not values:
            return
        tree = self.trees.setdefault(identity(found), Tree(found))
        tree.measurements.extend(values)
        mean = statistics.fmean(tree.measurements)
        if tree.told is None:
            tree.system_attrs = pending.system_attrs if pending is not None else {}
            if pending is not None and pending.params == found and pending.trial >= 0:
                self._tell(pending.trial, mean)
                pending.trial = -1  # finished: it holds the value now
            else:
                self._add(found, mean, tree.system_attrs)
            tree.told = mean
            self.finished += 1
            if self.finished >= self._next_weighing:
                self._weigh()
        elif tree.told != mean:
            self._stale = True

    def _finish(self, pending: Pending) -> None:
        self._tell(pending.trial, None)

    def _tell(self, trial: int, value: float | None) -> None:
        from optuna.trial import TrialState

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if value is None:
                self._study.tell(trial, state=TrialState.FAIL)
            else:
                self._study.tell(trial, value)

    def _add(self, found: dict[str, Any], value: float | None, attrs: dict[str, Any]) -> int:
        """A finished trial (a value) or a running one (None); its number."""
        from optuna.trial import TrialState, create_trial

        state = TrialState.RUNNING if value is None else TrialState.COMPLETE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._study.add_trial(
                create_trial(
                    state=state,
                    value=value,
                    params=found,
                    distributions=dict(self.space),
                    system_attrs=attrs,
                )
            )
        self._trials += 1
        return self._trials - 1

    def _build(self) -> None:
        """A new study told every known configuration and every experiment in flight."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._storage = optuna.storages.InMemoryStorage()
        self._study = optuna.create_study(
            storage=self._storage, study_name=STUDY, direction=self.direction
        )
        self._study_id = self._storage.get_study_id_from_name(STUDY)
        self._trials = 0
        for tree in self.trees.values():
            if tree.told is not None:
                tree.told = statistics.fmean(tree.measurements)
                self._add(tree.params, tree.told, tree.system_attrs)
        for pending in self.pending.values():
            pending.trial = self._add(pending.params, None, pending.system_attrs)
        self._stale = False

    def _seed(self, draw: int) -> int:
        return (self.seed * 1_000_003 + draw) % 2**32

    def _new_sampler(self, draw: int) -> optuna.samplers.BaseSampler:
        import optuna

        seed = self._seed(draw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.sampler == "cmaes":
                return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
            if self.sampler == "gp":
                return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
            if self.sampler == "random":
                return optuna.samplers.RandomSampler(seed=seed)
            return optuna.samplers.TPESampler(**_tpe(seed))


def _tpe(seed: int) -> dict[str, Any]:
    """TPE's settings: all knobs modelled together, experiments in flight counted as bad."""
    return {
        "seed": seed,
        "multivariate": True,
        "constant_liar": True,
        "warn_independent_sampling": False,
        "n_startup_trials": STARTUP,
    }


def identity(found: Mapping[str, Any]) -> str:
    return json.dumps(dict(found), sort_keys=True)
