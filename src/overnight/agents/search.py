"""The offline search agent: change one knob per experiment, learn from the ledger, never repeat.

The strategy, in plain words:

1. Read the editable Python files afresh (the tree is always at the best state when asked) and
   list their knobs: module-level UPPER_CASE literals (see ``knobs.py`` for what counts and how
   each kind moves). The values of all knobs together are a *configuration*.
2. Gather every configuration the run has already seen: each experiment's meta records the
   configuration before and after its change, and the current tree counts as seen. An
   interrupted experiment was never measured, so the configuration it was heading for does not.
3. For each unfrozen knob and each of its moves, take the coarsest step whose configuration is
   new. When the full step leads somewhere already measured (often: back where a keep came
   from), take a finer one (x1.414, then x1.189 for a float; the next choice further on), the
   way a pattern search refines around its best point. When no knob has a new configuration
   within reach, the search is exhausted: every neighbour of the best one has been measured.
4. If the last measured experiment was a keep, make the same move on the same knob again: the
   optimum probably lies further that way.
5. Otherwise score each candidate and draw one at random with weight 2**score. The score starts
   from the ledger: +1 for each keep of this (knob, move), -1 for each discard, -2 for each
   crash, timeout, violation or no-op, plus half the knob's total over all its moves. It loses 2
   per level of a finer step (refine once the coarse steps are spent), 2 if the very same change
   was already measured from another configuration (a *stale* change: not a repeat, as other
   knobs differ, but likely the same dead end), and 2 for each time the move already failed
   from the current configuration. A full step never tried weighs 1, so moves that helped come
   back more often, moves that hurt less often, and untried ones still get their turn.
6. Rewrite that one literal and put in the proposal's meta everything a later call needs.

That is the ``local`` sampler. With Optuna installed the default is ``tpe``: the agent's knobs
become an Optuna search space (``space.py``) and a study is told every configuration the run
measured (``model.py``). The local moves make the first ``WARMUP`` experiments (they explore
around the start far better than a model's random start-up points), following up a keep once,
not a follow-up's keep: a chain of them would tune one knob to the others' starting values (a
rate to the first optimizer tried) before those were explored. From then on TPE chooses the next
experiment among every unseen configuration the steps of step 3 reach, at every level (or up
to ``changes_per_experiment`` of them on different knobs): the one its good trials favour most
over its bad ones where the other knobs really are (``choosing_tpe.py``), so a keep still
changes one knob and the model decides which, and by how much. Once no step leads anywhere new,
TPE chooses among values spread over each knob's range, so the search goes on where the local
moves alone would stop. ``cmaes``, ``gp`` and ``random``, Optuna's other samplers, propose a
whole configuration instead; of the knobs it would change, the agent applies the one whose
changes failed least often from the current configuration, then the one that matters most for
reaching the best trials (Optuna's PED-ANOVA importance; while too few are known, the one the
proposal moves furthest across its range), or the first ``changes_per_experiment`` of them. A
proposal that leads only to configurations already seen gives way to the next; after ``ASKS``
proposals, the local moves choose. Every experiment, whoever chose it, is told to the model.

Nothing lives only in the agent object: a resumed run builds a new one, so all it knows comes
from the history, and the random draw is seeded by the config's seed and the experiment's
number. The same seed, history and files always give the same proposal.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from overnight.agents.base import Agent, AgentContext
from overnight.agents.knobs import (
    Knob,
    KnobValue,
    find_knobs,
    moves,
    reach,
    same_value,
    set_knob,
)
from overnight.agents.model import KnobModel, available, require
from overnight.agents.space import Space, axis, search_space, written
from overnight.config import SearchAgentConfig
from overnight.errors import AgentError, SearchExhausted
from overnight.records import Experiment, Proposal, Status

__all__ = [
    "Candidate",
    "Knob",
    "Memory",
    "SearchAgent",
    "candidates",
    "change_identity",
    "config_identity",
    "configuration",
    "find_knobs",
]

OUTCOME_SCORE: dict[str, float] = {
    Status.KEEP: 1.0,
    Status.DISCARD: -1.0,
    Status.CRASH: -2.0,
    Status.TIMEOUT: -2.0,
    Status.VIOLATION: -2.0,
    Status.NO_OP: -2.0,
}
UNMEASURED = frozenset({Status.INTERRUPTED, Status.RUNNING})
KNOB_SHARE = 0.5  # how much a knob's record in any direction counts toward each of its moves
LEVEL_COST = 2.0  # score taken off per level of a finer step: a quarter of the weight each
LOCAL_FAILURE_COST = 2.0  # score taken off per failure of the same move from the same state
STALE_COST = 2.0  # score taken off a change already measured from another state
MAX_EXPONENT = 6.0  # caps a weight at 64x (or 1/64) of an untried move's, so nothing dominates
WARMUP = 15  # configurations measured before the model proposes; the local moves explore first
ASKS = 8  # model proposals tried per experiment before the local moves choose
COMBINED = 512  # offers of several steps at once, when changes_per_experiment allows them
PENDING_WINDOW = 256  # experiments in flight longer ago than this are taken to have ended


Configuration = dict[str, KnobValue]
KNOB_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class Candidate:
    """One proposal the search could make: ``move`` on ``knob`` at step ``level`` (0: full)."""

    knob: Knob
    move: str
    level: int
    value: KnobValue
    after: Configuration
    fresh: bool = True  # False when this very change was measured before, from another state

    @property
    def pair(self) -> tuple[str, str]:
        return (self.knob.key, self.move)


@dataclass
class Memory:
    """What the history teaches: configurations seen, how each move fared, what to follow up."""

    seen: set[str] = field(default_factory=set)
    changes: set[str] = field(default_factory=set)  # (knob, old, new) of measured experiments
    scores: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    local_failures: dict[tuple[str, str, str], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    follow_up: tuple[str, str] | None = None
    followed: bool = False  # whether the last row measured was a follow-up itself
    # per configuration, how often a change of each knob from it failed
    failures_from: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def from_history(cls, history: Iterable[Experiment]) -> Memory:
        memory = cls()
        for experiment in history:
            memory.learn(experiment)
        return memory

    def learn(self, experiment: Experiment) -> None:
        """Fold one ledger row in; rows of other agents only mark what they measured."""
        meta = experiment.agent_meta or {}
        measured = experiment.status not in UNMEASURED
        for side in ("before", "after") if measured else ("before",):
            identity = _identity(meta.get(side))
            if identity is not None:
                self.seen.add(identity)
        if not measured or experiment.status == Status.BASELINE:
            return
        pair = _pair(meta)
        change = _change_identity(meta)
        if change is not None:
            self.changes.add(change)
        if pair is not None and experiment.status in OUTCOME_SCORE:
            self.scores[pair] += OUTCOME_SCORE[experiment.status]
            start = _identity(meta.get("before"))
            if start is not None and experiment.status != Status.KEEP:
                self.local_failures[(start, *pair)] += 1
                self.failures_from.setdefault(start, Counter())[pair[0]] += 1
        self.follow_up = _direction(meta, pair) if experiment.status == Status.KEEP else None
        self.followed = meta.get("follow") is True

    def copy(self) -> Memory:
        return Memory(
            set(self.seen),
            set(self.changes),
            defaultdict(float, self.scores),
            defaultdict(int, self.local_failures),
            self.follow_up,
            self.followed,
            self.failures_from,  # read only while proposing
        )

    def claim(self, experiment: Experiment) -> None:
        """Another worker's proposal, not measured yet: neither its configuration nor its
        change is proposed again while it runs."""
        meta = experiment.agent_meta or {}
        if (identity := _identity(meta.get("after"))) is not None:
            self.seen.add(identity)
        if (change := _change_identity(meta)) is not None:
            self.changes.add(change)

    def score(self, pair: tuple[str, str]) -> float:
        """The move's own record plus a share of its knob's record over all moves."""
        knob = pair[0]
        knob_total = sum(value for (key, _), value in self.scores.items() if key == knob)
        return self.scores.get(pair, 0.0) + KNOB_SHARE * knob_total

    def weight(self, candidate: Candidate, here: str) -> float:
        """How likely ``candidate`` is picked from the configuration ``here`` (see step 5)."""
        score = self.score(candidate.pair) - LEVEL_COST * candidate.level
        score -= 0.0 if candidate.fresh else STALE_COST
        score -= LOCAL_FAILURE_COST * self.local_failures.get((here, *candidate.pair), 0)
        return 2.0 ** max(-MAX_EXPONENT, min(MAX_EXPONENT, score))


class SearchAgent(Agent):
    """Tunes module-level constants of the editable Python files, one per experiment."""

    reads_brief = False  # it learns from the history itself

    def __init__(self, config: SearchAgentConfig | None = None) -> None:
        self.config = config or SearchAgentConfig()
        sampler = self.config.sampler
        if sampler is None:
            sampler = "tpe" if available("tpe") else "local"
        elif sampler != "local":
            require(sampler)
        self.sampler = sampler
        self._model: KnobModel | None = None  # built on the first proposal, with the space
        self._modelling = False  # whether the model was built for the history learned
        # what this agent proposed for experiments not yet in the history: with several workers
        # in one process, a neighbour's choice is known here before the ledger has it
        self._proposed: dict[int, dict] = {}
        self._lock = threading.Lock()
        # what the history taught so far, and how much of it: each proposal learns only the
        # experiments that ended since, so its cost does not grow with the run
        self._learned = Memory()
        self._learned_count = 0
        self._learned_last: tuple[int, int] | None = None  # (run, number) of the last row learned

    def propose(self, context: AgentContext) -> Proposal:
        with self._lock:
            knobs = self._knobs(context)
            before = configuration(knobs)
            memory = self._memory(context.history, knobs, before, context.direction)
            pending = self._pending(context)
            for experiment in pending:
                memory.claim(experiment)
            memory.seen.add(config_identity(before))
            reachable = steps(knobs, before, memory.seen, memory.changes)
            options = _coarsest(reachable)
            model = self._model
            if model is not None:
                _tell_pending(model, pending, context.number)
            follow = _follow_up(options, memory, model)
            if model is not None and follow is None and (model.finished >= WARMUP or not options):
                chosen = self._chosen(model, knobs, reachable, before, memory, context)
                if chosen is not None:
                    return self._applied(context, knobs, before, chosen, self.sampler)
                modelled = self._modelled(model, knobs, before, memory, context)
                if modelled is not None:
                    made = [
                        Candidate(knob, self.sampler, 0, value, _after(before, [(knob, value)]))
                        for knob, value in modelled
                    ]
                    return self._applied(context, knobs, before, made, self.sampler)
            if not options:
                raise SearchExhausted(_exhausted_message(knobs))
            step = follow or self._pick(options, memory, before, context)
            return self._applied(context, knobs, before, [step], "local", follow=bool(follow))

    def _chosen(
        self,
        model: KnobModel,
        knobs: Sequence[Knob],
        reachable: Sequence[Candidate],
        before: Configuration,
        memory: Memory,
        context: AgentContext,
    ) -> list[Candidate] | None:
        """The steps TPE chooses among every unseen configuration the local steps reach (one
        step, or up to ``changes_per_experiment`` steps of different knobs); once none is left,
        among values spread over each knob's range. None when the sampler is not TPE or every
        configuration was seen."""
        if self.sampler != "tpe":
            return None
        reachable = reachable or _spread(model.space, knobs, before, memory, self.sampler)
        if not reachable:
            return None
        rng = random.Random(f"overnight-search:{self.config.seed}:{context.number}:offers")
        offers = _offers(reachable, before, memory.seen, self.config.changes_per_experiment, rng)
        index = model.choose(context.number * ASKS, [_after(before, _values(o)) for o in offers])
        if index is None:
            return None
        model.settle(_after(before, _values(offers[index])), context.number)
        return offers[index]

    def _modelled(
        self,
        model: KnobModel,
        knobs: Sequence[Knob],
        before: Configuration,
        memory: Memory,
        context: AgentContext,
    ) -> list[tuple[Knob, KnobValue]] | None:
        """The changes the model's proposal calls for, or None when ``ASKS`` proposals lead
        only to configurations already seen."""
        weight = model.importance()
        by_key = {knob.key: knob for knob in knobs}
        failed = memory.failures_from.get(config_identity(before), {})
        for attempt in range(ASKS):
            proposal = model.ask(context.number * ASKS + attempt)
            ranked = _ranked(proposal, before, by_key, model.space, weight, failed)
            changes = _unseen(ranked, before, memory.seen, self.config.changes_per_experiment)
            model.settle(_after(before, changes or []), context.number if changes else None)
            if changes:
                return changes
        return None

    def _applied(
        self,
        context: AgentContext,
        knobs: Sequence[Knob],
        before: Configuration,
        made: Sequence[Candidate],
        sampler: str,
        follow: bool = False,
    ) -> Proposal:
        """Write the changes (the last in a file first, so the others' offsets hold) and say
        what they were; the ledger's meta names the first as the change (and lists them all
        when there are several)."""
        changes = _values(made)
        first = made[0]
        if len(made) > 1:
            first = replace(first, after=_after(before, changes))
        literals = {}
        for knob, value in sorted(changes, key=lambda change: -change[0].start):
            literals[knob.key] = set_knob(context.root, knob, value)
        several_files = len({knob.file for knob in knobs}) > 1
        parts = []
        for knob, _ in changes:
            part = f"{knob.name} {knob.text} -> {literals[knob.key]}"
            parts.append(f"{part} in {knob.file}" if several_files else part)
        meta = {**_meta(first, before), "sampler": sampler}
        if follow:
            meta["follow"] = True
        if len(changes) > 1:
            meta["changes"] = [
                {"knob": knob.key, "name": knob.name, "old": knob.value, "new": value}
                for knob, value in changes
            ]
        self._proposed[context.number] = meta
        return Proposal(description=", ".join(parts), meta=meta)

    def _memory(
        self,
        history: Sequence[Experiment],
        knobs: Sequence[Knob],
        before: Configuration,
        direction: str,
    ) -> Memory:
        """A copy of what the history teaches (claims change it, only for one proposal); the
        rows already learned are not read again unless the history is not the one learned.
        The model, if any, learns the same rows."""
        learned = self._learned_count
        if learned > len(history) or (learned and _row(history[learned - 1]) != self._learned_last):
            self._learned, self._model, self._modelling, learned = Memory(), None, False, 0
        if not self._modelling and self.sampler != "local":
            self._learned, self._modelling, learned = Memory(), True, 0
            space = search_space(knobs, _first_configuration(history) or before)
            if space:
                self._model = KnobModel(self.sampler, self.config.seed, direction, space)
        new = list(history[learned:])  # the integrator may append meanwhile
        for experiment in new:
            self._learned.learn(experiment)
            if self._model is not None:
                self._model.learn(experiment)
        if new:
            self._learned_count, self._learned_last = learned + len(new), _row(new[-1])
        elif not learned:
            self._learned_count, self._learned_last = 0, None
        return self._learned.copy()

    def _pending(self, context: AgentContext) -> list[Experiment]:
        """Experiments in flight, with what this agent proposed for those whose row does not
        say yet (the list is taken when a step starts; a neighbour may propose after)."""
        oldest, finished = min(self._proposed, default=context.number), set()
        for experiment in reversed(context.history):  # the rows recorded since the oldest
            if experiment.number < oldest:
                break
            finished.add(experiment.number)
        for number in [n for n in self._proposed if n in finished or n < context.number - 256]:
            del self._proposed[number]  # recorded by now, or long gone
        pending = list(context.in_flight)
        listed = {e.number for e in pending if e.agent_meta}
        pending += [
            Experiment(0, number, "", Status.RUNNING, agent_meta=meta)
            for number, meta in self._proposed.items()
            if number not in listed and number != context.number
        ]
        return pending

    def _knobs(self, context: AgentContext) -> list[Knob]:
        files = sorted({file for file in context.editable_files if file.endswith(".py")})
        knobs = find_knobs(context.root, files, self.config.knobs)
        if not knobs:
            raise AgentError(_no_knobs_message(files, context.editable_globs))
        return knobs

    def _pick(
        self,
        pool: Sequence[Candidate],
        memory: Memory,
        before: Configuration,
        context: AgentContext,
    ) -> Candidate:
        """A weighted draw, seeded by the config's seed and the experiment's number."""
        here = config_identity(before)
        weights = [memory.weight(candidate, here) for candidate in pool]
        rng = random.Random(f"overnight-search:{self.config.seed}:{context.number}")
        return rng.choices(pool, weights=weights)[0]


def configuration(knobs: Iterable[Knob]) -> Configuration:
    """The values of all knobs, frozen ones included, keyed ``file:NAME``."""
    return {knob.key: knob.value for knob in knobs}


def config_identity(config: Mapping[str, Any]) -> str:
    """A configuration as comparable text: 1, 1.0 and True stay different, as in the file."""
    return json.dumps(dict(config), sort_keys=True)


def candidates(
    knobs: Sequence[Knob],
    before: Configuration,
    seen: set[str],
    changes: set[str] | frozenset[str] = frozenset(),
) -> list[Candidate]:
    """For each unfrozen knob and move, the coarsest step to an unseen configuration; stale when
    its change is among ``changes`` (see ``change_identity``)."""
    return _coarsest(steps(knobs, before, seen, changes))


def steps(
    knobs: Sequence[Knob],
    before: Configuration,
    seen: set[str],
    changes: set[str] | frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Every step of every unfrozen knob, at every level, that leads to an unseen
    configuration: by knob, move, then level."""
    found = []
    for knob in sorted(knobs, key=lambda knob: knob.key):
        if knob.frozen:
            continue
        for move in moves(knob):
            for level, value in enumerate(reach(knob, move)):
                found += _unseen_step(knob, move, level, value, before, seen, changes)
    return found


def _spread(
    space: Space, knobs: Sequence[Knob], before: Configuration, memory: Memory, move: str
) -> list[Candidate]:
    """Unseen configurations one knob away, its value taken from ``axis``."""
    found = []
    for knob in knobs:
        if knob.key in space:
            for value in axis(knob, space[knob.key]):
                found += _unseen_step(knob, move, 0, value, before, memory.seen, memory.changes)
    return found


def _unseen_step(
    knob: Knob,
    move: str,
    level: int,
    value: KnobValue,
    before: Configuration,
    seen: set[str],
    changes: set[str] | frozenset[str],
) -> list[Candidate]:
    """The step setting ``knob`` to ``value``, if its configuration is unseen (else none)."""
    after = {**before, knob.key: value}
    if config_identity(after) in seen:
        return []
    fresh = change_identity(knob.key, knob.value, value) not in changes
    return [Candidate(knob, move, level, value, after, fresh)]


def _coarsest(reachable: Iterable[Candidate]) -> list[Candidate]:
    """The first step of each (knob, move): the coarsest to an unseen configuration."""
    first: dict[tuple[str, str], Candidate] = {}
    for candidate in reachable:
        first.setdefault(candidate.pair, candidate)
    return list(first.values())


def _offers(
    reachable: Sequence[Candidate],
    before: Configuration,
    seen: set[str],
    count: int,
    rng: random.Random,
) -> list[list[Candidate]]:
    """What the model chooses among: each step alone, and, when ``count`` allows more,
    ``COMBINED`` draws of 2 to ``count`` steps of different knobs leading somewhere unseen."""
    offers = [[step] for step in reachable]
    by_knob: dict[str, list[Candidate]] = defaultdict(list)
    for step in reachable:
        by_knob[step.knob.key].append(step)
    keys = sorted(by_knob)
    if count < 2 or len(keys) < 2:
        return offers
    found = set()
    for _ in range(COMBINED):
        chosen = rng.sample(keys, rng.randint(2, min(count, len(keys))))
        combined = [rng.choice(by_knob[key]) for key in sorted(chosen)]
        identity = config_identity(_after(before, _values(combined)))
        if identity not in seen and identity not in found:
            found.add(identity)
            offers.append(combined)
    return offers


def _values(made: Iterable[Candidate]) -> list[tuple[Knob, KnobValue]]:
    return [(step.knob, step.value) for step in made]


def change_identity(knob: str, old: KnobValue, new: KnobValue) -> str:
    """One knob's change as comparable text, whatever the other knobs were at the time."""
    return json.dumps([knob, old, new])


def _tell_pending(model: KnobModel, pending: Sequence[Experiment], number: int) -> None:
    """The experiments in flight, as running trials; those long gone, no longer."""
    for experiment in pending:
        after = (experiment.agent_meta or {}).get("after")
        if isinstance(after, dict) and experiment.number != number:
            model.pend(experiment.number, after)
    model.forget({n for n in model.pending if n < number - PENDING_WINDOW})


def _ranked(
    proposal: Mapping[str, Any],
    before: Configuration,
    by_key: Mapping[str, Knob],
    space: Space,
    weight: Mapping[str, float],
    failed: Mapping[str, int],
) -> list[tuple[Knob, KnobValue]]:
    """The knobs the proposal changes, with their new values: those whose changes failed least
    often from here first, then the most important, then the one moved furthest across its
    range."""
    changes = [
        (knob, written(proposed, knob))
        for key, proposed in proposal.items()
        if (knob := by_key.get(key)) is not None
    ]
    changes = [(knob, value) for knob, value in changes if not same_value(value, before[knob.key])]

    def order(change: tuple[Knob, KnobValue]) -> tuple[int, float, float, str]:
        knob, value = change
        distance = _distance(before[knob.key], value, space[knob.key])
        return (failed.get(knob.key, 0), -weight.get(knob.key, 0.0), -distance, knob.key)

    return sorted(changes, key=order)


def _distance(old: KnobValue, new: KnobValue, distribution: Any) -> float:
    """How far apart two values lie, as a share of the knob's range (1 between two choices)."""
    low, high = getattr(distribution, "low", None), getattr(distribution, "high", None)
    if low is None or high is None or isinstance(old, bool | str) or isinstance(new, bool | str):
        return 1.0
    if getattr(distribution, "log", False) and min(old, new, low) > 0:
        old, new, low, high = (math.log(v) for v in (old, new, low, high))
    return abs(new - old) / (high - low) if high > low else 0.0


def _unseen(
    ranked: Sequence[tuple[Knob, KnobValue]], before: Configuration, seen: set[str], count: int
) -> list[tuple[Knob, KnobValue]] | None:
    """The first ``count`` changes of ``ranked`` (or, when they lead somewhere already seen,
    the first one that alone leads somewhere new)."""
    if not ranked:
        return None
    first = list(ranked[:count])
    if config_identity(_after(before, first)) not in seen:
        return first
    return next(
        ([change] for change in ranked if config_identity(_after(before, [change])) not in seen),
        None,
    )


def _after(before: Configuration, changes: Iterable[tuple[Knob, KnobValue]]) -> Configuration:
    return {**before, **{knob.key: value for knob, value in changes}}


def _first_configuration(history: Sequence[Experiment]) -> Configuration | None:
    """The configuration the run started from, as its first search row recorded it."""
    for experiment in history:
        before = (experiment.agent_meta or {}).get("before")
        if isinstance(before, dict) and before:
            return before
    return None


def _direction(meta: Mapping[str, Any], pair: tuple[str, str] | None) -> tuple[str, str] | None:
    """The local move a keep made, to make again: a model's change of a number went ``up`` or
    ``down``."""
    old, new = meta.get("old"), meta.get("new")
    if pair is None or meta.get("sampler", "local") == "local" or "changes" in meta:
        return pair
    if isinstance(old, bool) or isinstance(new, bool):
        return (pair[0], "flip")
    if isinstance(old, int | float) and isinstance(new, int | float) and old != new:
        return (pair[0], "up" if new > old else "down")
    return None


def _follow_up(
    options: Sequence[Candidate], memory: Memory, model: KnobModel | None
) -> Candidate | None:
    """The step that repeats the last keep's move. With a model, only while it warms up, and
    not after a follow-up: a chain of them would settle one knob before the others were
    explored (tuning a rate to the first optimizer, say)."""
    if model is not None and (model.finished >= WARMUP or memory.followed):
        return None
    return next((option for option in options if option.pair == memory.follow_up), None)


def _row(experiment: Experiment) -> tuple[int, int]:
    return (experiment.run_id, experiment.number)


def _meta(chosen: Candidate, before: Configuration) -> dict[str, Any]:
    knob = chosen.knob
    return {
        "knob": knob.key,
        "name": knob.name,
        "file": knob.file,
        "kind": knob.kind,
        "old": knob.value,
        "new": chosen.value,
        "move": chosen.move,
        "level": chosen.level,
        "before": dict(before),
        "after": dict(chosen.after),
    }


def _identity(config: object) -> str | None:
    if not isinstance(config, dict) or not config:
        return None
    try:
        return config_identity(config)
    except (TypeError, ValueError):
        return None


def _change_identity(meta: Mapping[str, Any]) -> str | None:
    knob, old, new = meta.get("knob"), meta.get("old"), meta.get("new")
    if (
        not isinstance(knob, str)
        or not isinstance(old, KNOB_TYPES)
        or not isinstance(new, KNOB_TYPES)
    ):
        return None
    return change_identity(knob, old, new)


def _pair(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    knob, move = meta.get("knob"), meta.get("move")
    if isinstance(knob, str) and isinstance(move, str):
        return (knob, move)
    return None


def _listing(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _no_knobs_message(files: Sequence[str], globs: Sequence[str]) -> str:
    if not files:
        return (
            "the search agent found no editable Python files "
            f"(editable: {_listing(list(globs)) or 'nothing'})"
        )
    return (
        "the search agent found no module-level UPPER_CASE int, float or bool constants in the "
        f"editable Python files ({_listing(list(files))}); to tune a string constant, declare "
        "its choices under agent.knobs"
    )


def _exhausted_message(knobs: Sequence[Knob]) -> str:
    free = [knob.name for knob in knobs if not knob.frozen]
    if not free:
        names = _listing([knob.name for knob in knobs])
        return f"every knob is frozen ({names}); unfreeze one under agent.knobs to search"
    return (
        f"every neighbour of the best configuration has been tried, at every step size, "
        f"for all {len(free)} knobs ({_listing(free)})"
    )
