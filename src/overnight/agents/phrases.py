"""The ``phrases`` agent: improves skill descriptions offline, one sentence at a time.

Each experiment reads the training queries the best state gets wrong (from the matrix the brief
is made of, so held-out queries never reach it) and makes one edit a skill author would make:
it adds a "Use when ..." sentence naming what missed queries share, adds a "Not for ..."
sentence naming the near miss that false triggers share, or removes a whole sentence or closing
clause that false triggers match (``overnight.activation.phrases``). The queries each edit
aims at are kept in the ledger with it, so that a query which resists a few edits is left for
later. With the embedding router this makes a whole activation loop with no API key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from overnight.activation.metrics import ActivationMetrics
from overnight.activation.phrases import choose_edit
from overnight.activation.skills import read_skill, write_description
from overnight.agents.base import Agent, AgentContext
from overnight.config import PhrasesAgentConfig, TriggersEvaluateConfig
from overnight.errors import AgentError, SearchExhausted
from overnight.evaluators.triggers import query_results
from overnight.records import Experiment, Proposal, Status

FAILED = frozenset({Status.DISCARD, Status.OVERFIT, Status.CHECK_FAILED, Status.NO_OP})


class PhrasesAgent(Agent):
    reads_brief = False  # it learns from the best state's measured queries

    def __init__(self, config: PhrasesAgentConfig, evaluate: TriggersEvaluateConfig) -> None:
        self.config = config
        self.evaluate = evaluate

    def propose(self, context: AgentContext) -> Proposal:
        if context.best_suite is None:
            raise AgentError("no measured queries to learn from yet")
        paths = {read_skill(context.root / p).name: p for p in self.evaluate.skills}
        skills = [read_skill(context.root / p) for p in paths.values()]
        tried = {e.description for e in [*context.history, *context.in_flight]}
        results = query_results(context.best_suite, self.evaluate)
        outcomes = ActivationMetrics.from_results(results, self.evaluate.threshold).outcomes
        edit = choose_edit(
            skills, outcomes, tried, self.evaluate.max_description, failed_attempts(context.history)
        )
        if edit is None:
            raise SearchExhausted("no sentence left to add or remove for the failing queries")
        write_description(context.root / paths[edit.skill.name], edit.description)
        return Proposal(
            edit.summary, meta={"skill": edit.skill.name, "targets": list(edit.targets)}
        )


def failed_attempts(history: Sequence[Experiment]) -> Counter[str]:
    """How many experiments that were not kept aimed at each query."""
    counts: Counter[str] = Counter()
    for experiment in history:
        if experiment.status in FAILED:
            counts.update((experiment.agent_meta or {}).get("targets", []))
    return counts
