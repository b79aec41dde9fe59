"""Routing: which skill, if any, an agent picks for one query, knowing only the skills' names
and descriptions.

A router answers one query once; the caller repeats it and turns the answers into rates. A
router that cannot tell raises ``RoutingError`` rather than answering None, so that "no skill
triggered" is never confused with "the detection broke".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from overnight.activation.skills import Skill
from overnight.errors import OvernightError
from overnight.records import Usage


@dataclass(frozen=True)
class Routing:
    """One answer: the chosen skill's name, or None when no skill was used."""

    choice: str | None
    usage: tuple[Usage, ...] = ()  # model calls made to decide
    detail: str = ""  # what the decision was read from, one line, for the record


class RoutingError(OvernightError):
    """The router could not tell which skill, if any, was chosen; ``usage`` keeps what its model
    calls cost all the same."""

    def __init__(self, message: str, usage: Sequence[Usage] = ()) -> None:
        super().__init__(message)
        self.usage = tuple(usage)


class Router(ABC):
    @abstractmethod
    def route(self, query: str, skills: Sequence[Skill]) -> Routing:
        """The skill an agent offered ``skills`` would use for ``query``, or None for none."""

    def calibrate(
        self, queries: Sequence[tuple[str, str | None]], skills: Sequence[Skill], metric: str
    ) -> str | None:
        """Fit the router's own settings to labelled training queries (each with the skill it
        should trigger, or None) before anything is measured, maximizing ``metric``; what was
        fitted, in one line. Routers with nothing to fit (the default) return None."""
        return None
