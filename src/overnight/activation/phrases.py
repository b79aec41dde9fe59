"""The offline description agent's logic: one small, explainable edit of one description a step.

Which skill (``choose_edit``): the one with the most failures on the training queries (misses
plus false triggers, ties by name), or the next one when it has no edit left.

Which edit of one skill's description (``next_edit``):

- *add* one key phrase when queries that should trigger the skill did not (misses);
- *remove* one phrase when queries that should not trigger it did (false triggers).

The longer of the two lists of failures is addressed first, misses on a tie, and the other one
when the first has no edit left.

A *phrase* is 1 to 3 words in a row, lowercased, with no punctuation between them, whose first
and last words are informative: not a stop word, a number or a single character. ``keywords`` is
a stop word, so the label of the sentence that additions go to is never removed.

Adding: a phrase of the missed queries with at least one informative word the description does
not have yet, and which no false-trigger query of the skill contains. The phrase found in the
most missed queries wins, then the longer one, then the first alphabetically. It goes into a
closing sentence ``Keywords: a, b.``, started when there is none.

Removing: a phrase of the description found in false-trigger queries, none of whose informative
words occurs in a missed query (the skill needs those) or in the skill's name. The phrase found
in the most false triggers goes, then the longer one, then the first alphabetically. Every
occurrence of it is removed, with the comma of a list it stood in; a ``Keywords:`` sentence left
empty goes too.

Each edit has a one-line summary, e.g. ``add "invoice pdf" to extract-pdf's description``, which
is also its identity: an edit whose summary is in ``tried`` is never proposed again, so the
descriptions of past experiments in the ledger can be passed as they are. No edit makes a
description longer than ``max_length`` characters. The same inputs always give the same edit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

from overnight.activation.metrics import QueryOutcome
from overnight.activation.skills import MAX_DESCRIPTION, Skill

MAX_WORDS = 3
KEYWORDS = "Keywords:"
_STOP_WORDS = """
    a about above after again against all also am an and any anyone anything are as at be
    because been before being below between both but by can could did do does doing done down
    during each either else etc even ever every few for from further get gets getting give go
    going got had has have having he her here hers herself him himself his how however i if in
    into is it its itself just keywords let like make many may me might mine more most much
    must my myself need needs no nor not now of off on once one only or other our ours
    ourselves out over own please quite rather really same shall she should so some something
    such than thank thanks that the their theirs them themselves then there these they thing
    things this those through to too under until up upon us use used uses using very via want
    wants was way we were what whatever when where whether which while who whom whose why will
    with within without would yes yet you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_KEYWORDS_ITEMS = re.compile(rf"(?<!\S){KEYWORDS} [^.,\n]+(?:, [^.,\n]+)*(?=\.\s*\Z)")
_EMPTY_KEYWORDS = re.compile(rf"\s*{KEYWORDS}\s*\.")
_DANGLING = re.compile(r"(?:,?[ \t]+(?:and|or)|,)\Z", re.IGNORECASE)  # before a cut last item


@dataclass(frozen=True)
class DescriptionEdit:
    skill: Skill  # as it was; its path is the file to rewrite
    description: str  # the new description
    summary: str  # one line saying what changed; also the edit's identity in ``tried``


def choose_edit(
    skills: Sequence[Skill],
    outcomes: Sequence[QueryOutcome],
    tried: Collection[str],
    max_length: int = MAX_DESCRIPTION,
) -> DescriptionEdit | None:
    """The next edit of the skill with the most failures in ``outcomes`` that has one left."""
    failures = {
        skill.name: (
            [o.query for o in outcomes if o.expected == skill.name != o.predicted],
            [o.query for o in outcomes if o.predicted == skill.name != o.expected],
        )
        for skill in skills
    }
    ranked = sorted(skills, key=lambda skill: (-sum(map(len, failures[skill.name])), skill.name))
    edits = (next_edit(skill, *failures[skill.name], tried, max_length) for skill in ranked)
    return next((edit for edit in edits if edit is not None), None)


def next_edit(
    skill: Skill,
    missed: Sequence[str],
    false_triggers: Sequence[str],
    tried: Collection[str],
    max_length: int = MAX_DESCRIPTION,
) -> DescriptionEdit | None:
    """One edit of ``skill``'s description that the failures call for, or None when none is
    left (see the module's docstring for the rules)."""
    additions = _additions(skill, missed, false_triggers)
    removals = _removals(skill, missed, false_triggers)
    ordered = (
        chain(additions, removals)
        if len(missed) >= len(false_triggers)
        else chain(removals, additions)
    )
    return next(
        (
            edit
            for edit in ordered
            if edit.summary not in tried and len(edit.description) <= max_length
        ),
        None,
    )


@dataclass(frozen=True)
class _Phrase:
    words: tuple[str, ...]
    start: int  # where it stands in the text it was found in
    end: int


def _phrases(text: str) -> list[_Phrase]:
    """Every run of 1 to ``MAX_WORDS`` words of ``text`` without punctuation between them, in
    the order they start, whatever their first and last words."""
    tokens = list(_WORD.finditer(text))
    found = []
    for i, first in enumerate(tokens):
        for j in range(i, min(i + MAX_WORDS, len(tokens))):
            if j > i and text[tokens[j - 1].end() : tokens[j].start()].strip():
                break
            words = tuple(token.group().lower() for token in tokens[i : j + 1])
            found.append(_Phrase(words, first.start(), tokens[j].end()))
    return found


def _informative(word: str) -> bool:
    return len(word) > 1 and not word.isdigit() and word not in STOP_WORDS


def _key_phrases(text: str) -> list[_Phrase]:
    return [p for p in _phrases(text) if _informative(p.words[0]) and _informative(p.words[-1])]


def _ranked(counts: Counter[tuple[str, ...]]) -> list[str]:
    """Most frequent first, then the longer, then alphabetically."""
    order = sorted(counts, key=lambda words: (-counts[words], -len(words), " ".join(words)))
    return [" ".join(words) for words in order]


def _additions(
    skill: Skill, missed: Sequence[str], false_triggers: Sequence[str]
) -> Iterator[DescriptionEdit]:
    known = {match.group().lower() for match in _WORD.finditer(skill.description)}
    avoided = {phrase.words for query in false_triggers for phrase in _phrases(query)}
    counts: Counter[tuple[str, ...]] = Counter()
    for query in missed:
        counts.update(
            {
                phrase.words
                for phrase in _key_phrases(query)
                if phrase.words not in avoided
                and any(_informative(word) and word not in known for word in phrase.words)
            }
        )
    for text in _ranked(counts):
        summary = f'add "{text}" to {skill.name}\'s description'
        yield DescriptionEdit(skill, _with_keyword(skill.description, text), summary)


def _with_keyword(description: str, phrase: str) -> str:
    items = _KEYWORDS_ITEMS.search(description)
    if items is not None:
        return f"{description[: items.end()]}, {phrase}{description[items.end() :]}"
    kept = description.rstrip()
    stop = "" if kept.endswith((".", "!", "?")) else "."
    return f"{kept}{stop} {KEYWORDS} {phrase}."


def _removals(
    skill: Skill, missed: Sequence[str], false_triggers: Sequence[str]
) -> Iterator[DescriptionEdit]:
    needed = {match.group().lower() for query in missed for match in _WORD.finditer(query)}
    protected = {part for part in re.split(r"[\W_]+", skill.name.lower()) if part}
    candidates = {
        phrase.words
        for phrase in _key_phrases(skill.description)
        if not any(_informative(word) and word in needed for word in phrase.words)
        and not any(part in protected for word in phrase.words for part in word.split("-"))
    }
    counts: Counter[tuple[str, ...]] = Counter()
    for query in false_triggers:
        counts.update({phrase.words for phrase in _phrases(query)} & candidates)
    for text in _ranked(counts):
        description = _without(skill.description, tuple(text.split()))
        if _WORD.search(description):
            summary = f'remove "{text}" from {skill.name}\'s description'
            yield DescriptionEdit(skill, description, summary)


def _without(description: str, words: tuple[str, ...]) -> str:
    """``description`` with every (non-overlapping) occurrence of the phrase cut out."""
    spans: list[tuple[int, int]] = []
    for phrase in _phrases(description):
        if phrase.words == words and (not spans or phrase.start >= spans[-1][1]):
            spans.append((phrase.start, phrase.end))
    for start, end in reversed(spans):
        description = _cut(description, start, end)
    return _EMPTY_KEYWORDS.sub("", description)


def _cut(text: str, start: int, end: int) -> str:
    """``text`` without ``text[start:end]`` and the comma or space it would leave dangling."""
    left, right = text[:start].rstrip(" \t"), text[end:].lstrip(" \t")
    if right.startswith(","):  # an item of a list: its comma goes with it
        right = right[1:].lstrip(" \t")
    elif not right or right[0] in ".;:!?)\n":  # the last item: ", and" or a comma before it goes
        left = _DANGLING.sub("", left)
    if not left or not right or left.endswith(("\n", "(")) or right[0] in ".,;:!?)\n":
        return left + right
    return f"{left} {right}"
