"""Routers: which skill an agent would choose for a query, decided by a model (``LLMRouter``),
by a real agent CLI (``CommandRouter``), or offline by embeddings (``EmbeddingRouter``)."""

from overnight.activation.routers.base import Router, Routing, RoutingError
from overnight.activation.routers.command import CommandRouter, JsonLinesRule, RegexRule, Rule
from overnight.activation.routers.embedding import EmbeddingRouter
from overnight.activation.routers.llm import LLMRouter

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
]
