"""Agents by config ``kind``. Adding a kind means one module and one line here."""

from __future__ import annotations

from pathlib import Path

from overnight.agents.base import Agent, AgentContext
from overnight.agents.command import CommandAgent
from overnight.agents.llm import LLMAgent
from overnight.agents.phrases import PhrasesAgent
from overnight.agents.search import SearchAgent
from overnight.config import (
    AgentConfig,
    CommandAgentConfig,
    EvaluatorConfig,
    LLMAgentConfig,
    PhrasesAgentConfig,
    SearchAgentConfig,
    TriggersEvaluateConfig,
)
from overnight.llm import require_litellm

__all__ = [
    "Agent",
    "AgentContext",
    "CommandAgent",
    "LLMAgent",
    "PhrasesAgent",
    "SearchAgent",
    "check_agent",
    "make_agent",
]


def check_agent(config: AgentConfig) -> None:
    """Fail before a run creates its branch when the agent cannot work at all (a missing tool,
    litellm not installed)."""
    if isinstance(config, CommandAgentConfig):
        CommandAgent.check(config)
    elif isinstance(config, LLMAgentConfig):
        require_litellm()


def make_agent(config: AgentConfig, log_dir: Path, evaluate: EvaluatorConfig) -> Agent:
    if isinstance(config, SearchAgentConfig):
        return SearchAgent(config)
    if isinstance(config, PhrasesAgentConfig):
        assert isinstance(evaluate, TriggersEvaluateConfig)  # the config checks it
        return PhrasesAgent(config, evaluate)
    if isinstance(config, CommandAgentConfig):
        return CommandAgent(config, log_dir)
    if isinstance(config, LLMAgentConfig):
        return LLMAgent(config)
    raise TypeError(f"no agent for {config!r}")
