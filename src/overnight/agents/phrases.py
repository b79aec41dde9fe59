"""The ``phrases`` agent: improves skill descriptions offline, one key phrase at a time.

Each experiment reads the training queries the best state gets wrong (from the matrix the brief
is made of, so held-out queries never reach it) and either adds one phrase mined from the queries
a skill missed, or removes one phrase that false triggers share. With the embedding router this
makes a whole activation loop with no API key.
"""

from __future__ import annotations

from overnight.activation.metrics import QueryOutcome
from overnight.activation.phrases import choose_edit
from overnight.activation.skills import read_skill, write_description
from overnight.agents.base import Agent, AgentContext
from overnight.config import PhrasesAgentConfig, TriggersEvaluateConfig
from overnight.errors import AgentError, SearchExhausted
from overnight.records import Proposal, SuiteResult


class PhrasesAgent(Agent):
    def __init__(self, config: PhrasesAgentConfig, evaluate: TriggersEvaluateConfig) -> None:
        self.config = config
        self.evaluate = evaluate

    def propose(self, context: AgentContext) -> Proposal:
        if context.best_suite is None:
            raise AgentError("no measured queries to learn from yet")
        paths = {read_skill(context.root / p).name: p for p in self.evaluate.skills}
        skills = [read_skill(context.root / p) for p in paths.values()]
        tried = {e.description for e in context.history}
        edit = choose_edit(
            skills, _outcomes(context.best_suite), tried, self.evaluate.max_description
        )
        if edit is None:
            raise SearchExhausted("no phrase left to add or remove for the failing queries")
        write_description(context.root / paths[edit.skill.name], edit.description)
        return Proposal(edit.summary)


def _outcomes(suite: SuiteResult) -> list[QueryOutcome]:
    """Each query's expected and chosen skill, read back from the check the evaluator wrote."""
    outcomes = []
    for check in suite.checks:
        expected = check.assertion.removeprefix("triggers ")
        chose = check.reason.removeprefix("chose ").split(" (")[0]
        outcomes.append(
            QueryOutcome(
                check.case_id,
                None if expected == "no skill" else expected,
                None if chose == "(none)" else chose,
                {},
            )
        )
    return outcomes
