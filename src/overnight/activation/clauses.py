"""The sentences the description agent writes, from a small grammar: who asks, to do what, to
what, and the names they mention.

    Use when the user wants to <actions> <things>[, or mentions <names>].
    Use for <actions as -ing> <things>[, or requests about <names>].
    Not for <actions as -ing> <things>[, or requests about <names>].
    Not meant for <actions as -ing> <things>[, or requests about <names>].
    Not for general questions about <things or names>.
    Not meant for questions about <things or names>.

*Things* are nouns in the plural ("invoices", "jazz nights"; a format leads the first one,
"PDF forms", or stands alone, "PNG files"); *actions* are verbs in the base form; lists read
"a", "a or b", "a, b or c" ("and" between things a skill is for). Each kind has two wordings:
the second is tried when the first would repeat three words of a query in a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from overnight.activation.concepts import gerund, plural


@dataclass(frozen=True)
class Clause:
    """What one sentence is to say: actions need things or formats to act on."""

    actions: tuple[str, ...] = ()  # verbs, base form
    things: tuple[str, ...] = ()  # nouns, singular ("jazz night" for a compound)
    formats: tuple[str, ...] = ()  # as spelled in a description ("PDF", ".docx")
    names: tuple[str, ...] = ()  # products and proper names, as spelled
    questions: bool = False  # what is ruled out is being asked about these, not work on them


def either(items: Sequence[str], conjunction: str = "or") -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    if len(items) < 3:
        return f" {conjunction} ".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _things(clause: Clause, conjunction: str = "and") -> str:
    nouns = [plural(thing) for thing in clause.things]
    if clause.formats:
        lead = either(clause.formats)
        nouns = [f"{lead} {nouns[0]}", *nouns[1:]] if nouns else [f"{lead} files"]
    return either(nouns, conjunction)


def use_when(clause: Clause) -> list[str]:
    """The wordings of a sentence saying when the skill is wanted, most natural first."""
    things, names = _things(clause), either(clause.names)
    if clause.actions:
        first = f"Use when the user wants to {either(clause.actions)} {things}"
        second = f"Use for {either([gerund(a) for a in clause.actions])} {things}"
    elif things:
        first, second = f"Use when the user works with {things}", f"Use for {things}"
    else:
        return [f"Use when the user mentions {names}.", f"Use for requests about {names}."]
    if names:
        first, second = f"{first}, or mentions {names}", f"{second}, or requests about {names}"
    return [f"{first}.", f"{second}."]


def not_for(clause: Clause) -> list[str]:
    """The wordings of a sentence naming a near miss the skill is not for."""
    if clause.questions:
        subjects = [*clause.names, *_things(clause, "or").split(" or ")]
        about = either([subject for subject in subjects if subject], "or")
        return [
            f"Not for general questions about {about}.",
            f"Not meant for questions about {about}.",
        ]
    parts = []
    if clause.actions or clause.things or clause.formats:
        actions = either([gerund(a) for a in clause.actions])
        parts.append(f"{actions} {_things(clause, 'or')}".strip())
    if clause.names:
        parts.append(f"requests about {either(clause.names)}")
    body = ", or ".join(parts)
    return [f"Not for {body}.", f"Not meant for {body}."]
