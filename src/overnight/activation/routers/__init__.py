"""Routers: which skill an agent would choose for a query, decided by a model (``LLMRouter``),
by a real agent CLI (``CommandRouter``; ``claude_code.ClaudeCodeRouter``), or offline by
embeddings (``EmbeddingRouter``)."""

from pathlib import Path

from overnight.activation.routers.base import Router, Routing, RoutingError
from overnight.activation.routers.command import CommandRouter, JsonLinesRule, RegexRule, Rule
from overnight.activation.routers.embedding import EmbeddingRouter
from overnight.activation.routers.llm import LLMRouter
from overnight.config import (
    ClaudeCodeRouterConfig,
    CommandRouterConfig,
    LLMRouterConfig,
    RegexDetectConfig,
    RouterConfig,
)
from overnight.isolation.sandbox import Sandbox


def make_router(config: RouterConfig, root: Path, sandbox: Sandbox | None = None) -> Router:
    """The router the config names; a command router runs its agent in the workspace, confined
    like a coding agent when ``sandbox`` is."""
    if isinstance(config, LLMRouterConfig):
        return LLMRouter(config)
    if isinstance(config, ClaudeCodeRouterConfig):
        from overnight.activation.routers.claude_code import ClaudeCodeRouter  # loads the agents

        return ClaudeCodeRouter(config, sandbox)
    if isinstance(config, CommandRouterConfig):
        detect: Rule = (
            RegexRule(config.detect.pattern)
            if isinstance(config.detect, RegexDetectConfig)
            else JsonLinesRule(config.detect.tool, config.detect.field)
        )
        return CommandRouter(
            config.command, detect, root, config.timeout, config.env_passthrough, sandbox
        )
    return EmbeddingRouter(config.threshold, config.model, config.margin)


__all__ = [
    "CommandRouter",
    "EmbeddingRouter",
    "JsonLinesRule",
    "LLMRouter",
    "RegexRule",
    "Router",
    "Routing",
    "RoutingError",
    "Rule",
    "make_router",
]
