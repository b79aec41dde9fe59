"""The ``phrases`` agent: improves skill descriptions offline, one key phrase at a time.

Each experiment reads the training queries the best state gets wrong (from the matrix the brief
is made of, so held-out queries never reach it) and either adds one phrase mined from the queries
a skill missed, or removes one phrase that false triggers share. With the embedding router this
makes a whole activation loop with no API key.
"""

from __future__ import annotations

from overnight.activation.metrics import ActivationMetrics
from overnight.activation.phrases import choose_edit
from overnight.activation.skills import read_skill, write_description
from overnight.agents.base import Agent, AgentContext
from overnight.config import PhrasesAgentConfig, TriggersEvaluateConfig
from overnight.errors import AgentError, SearchExhausted
from overnight.evaluators.triggers import query_results
from overnight.records import Proposal


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
        tried = {e.description for e in context.history}
        results = query_results(context.best_suite, self.evaluate)
        outcomes = ActivationMetrics.from_results(results, self.evaluate.threshold).outcomes
        edit = choose_edit(skills, outcomes, tried, self.evaluate.max_description)
        if edit is None:
            raise SearchExhausted("no phrase left to add or remove for the failing queries")
        write_description(context.root / paths[edit.skill.name], edit.description)
        return Proposal(edit.summary)
