"""Agents by config ``kind``. Adding a kind means one module and one line here."""

from __future__ import annotations

from pathlib import Path

from overnight.agents.base import Agent, AgentContext
from overnight.agents.command import CommandAgent
from overnight.agents.search import SearchAgent
from overnight.config import AgentConfig, CommandAgentConfig, SearchAgentConfig

__all__ = ["Agent", "AgentContext", "CommandAgent", "SearchAgent", "make_agent"]


def make_agent(config: AgentConfig, log_dir: Path) -> Agent:
    if isinstance(config, SearchAgentConfig):
        return SearchAgent(config)
    if isinstance(config, CommandAgentConfig):
        return CommandAgent(config, log_dir)
    raise TypeError(f"no agent for {config!r}")
