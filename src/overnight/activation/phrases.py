"""The offline description agent's logic: one edit a step, the kind a skill author would make.

Which skill (``choose_edit``): the one with the most failures on the training queries (misses
plus false triggers, ties by name), or the next one when it has no edit left.

Which edits of one skill's description (``skill_edits``), the longer list of failures first,
misses on a tie:

- for *misses* (queries that should trigger the skill and did not): add a sentence "Use when
  the user wants to <actions> <things>." naming the concepts those queries share
  (``overnight.activation.concepts``). A concept the description lacks, found in the most
  missed queries, is the *seed*; the missed queries with it are the group, and the sentence
  names the seed and the group's other actions, things, formats and names, most shared first;
- for *false triggers* (queries that triggered it but should not): add "Not for <near miss>."
  naming what those queries share that none of the skill's own queries and not its description
  mention ("Not for general questions about <it>." when they all ask to be told something),
  then remove a sentence or closing clause of the description
  (``overnight.activation.sentences``) whose concepts false triggers share and none of the
  skill's own queries does. The first sentence, which says what the skill is, stays.

Sentences are built by the grammar in ``overnight.activation.clauses`` and never repeat three
words of a training query in a row, bar names and formats: a wording that would is replaced by
the other one, then concepts are dropped, least shared first, until one does not.

Each edit names the queries it is meant to fix (its *targets*). A query that ``RESIST_AFTER``
failed experiments have already aimed at goes last: edits aimed only at such queries come after
all others; after ``GIVE_UP_AFTER`` it is not aimed at any more. Each edit also has a one-line
summary, which is its identity: one whose summary is in ``tried`` (or has the same words in
another order) is never proposed again. No
edit makes a description longer than ``max_length``, and the same inputs give the same edit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from overnight.activation.clauses import Clause, not_for, use_when
from overnight.activation.concepts import Concept, concepts, copied_runs, is_question, keys, words
from overnight.activation.metrics import QueryOutcome
from overnight.activation.sentences import appended, units, without
from overnight.activation.skills import MAX_DESCRIPTION, Skill

RESIST_AFTER = 2  # failed experiments aimed at a query before edits for other queries go first
GIVE_UP_AFTER = 4  # failed experiments aimed at a query before no edit is aimed at it
SEEDS = 6  # seeds tried per skill and kind of edit: more would only vary the same groups
MAX_ACTIONS, MAX_THINGS, MAX_NAMES = 2, 2, 2  # what one sentence names at most


@dataclass(frozen=True)
class DescriptionEdit:
    skill: Skill  # as it was; its path is the file to rewrite
    description: str  # the new description
    summary: str  # one line saying what changed; also the edit's identity in ``tried``
    targets: tuple[str, ...] = ()  # the failing queries it is meant to fix


@dataclass(frozen=True)
class Failures:
    """One skill's training queries, as the last measurement left them."""

    missed: Sequence[str]  # should trigger it and did not
    false_triggers: Sequence[str]  # triggered it and should not
    own: Sequence[str] = ()  # every query that should trigger it, missed or not


def choose_edit(
    skills: Sequence[Skill],
    outcomes: Sequence[QueryOutcome],
    tried: Collection[str],
    max_length: int = MAX_DESCRIPTION,
    attempts: Mapping[str, int] | None = None,
) -> DescriptionEdit | None:
    """The next edit: of the skill with the most failures in ``outcomes`` that has one left,
    aimed at queries that have not resisted ``RESIST_AFTER`` attempts (counted in
    ``attempts``) if any edit is."""
    attempts = attempts or {}
    training = [o.query for o in outcomes]
    failures = {
        skill.name: Failures(
            [o.query for o in outcomes if o.expected == skill.name != o.predicted],
            [o.query for o in outcomes if o.predicted == skill.name != o.expected],
            [o.query for o in outcomes if o.expected == skill.name],
        )
        for skill in skills
    }
    ranked = sorted(
        skills,
        key=lambda s: (
            -len(failures[s.name].missed) - len(failures[s.name].false_triggers),
            s.name,
        ),
    )
    said = {_gist(summary) for summary in tried}
    later: DescriptionEdit | None = None
    for skill in ranked:
        for edit in skill_edits(skill, failures[skill.name], training, attempts):
            if _gist(edit.summary) in said or len(edit.description) > max_length:
                continue
            if any(attempts.get(query, 0) < RESIST_AFTER for query in edit.targets):
                return edit
            later = later or edit
    return later


def _gist(summary: str) -> frozenset[str]:
    """What an edit says, whatever the order: "a or b" and "b or a" are one edit."""
    return frozenset(words(summary))


def next_edit(
    skill: Skill,
    missed: Sequence[str],
    false_triggers: Sequence[str],
    tried: Collection[str],
    max_length: int = MAX_DESCRIPTION,
) -> DescriptionEdit | None:
    """The first edit of ``skill`` not in ``tried`` and within ``max_length``, or None."""
    failures = Failures(missed, false_triggers, missed)
    edits = skill_edits(skill, failures, [*missed, *false_triggers], {})
    return next(
        (e for e in edits if e.summary not in tried and len(e.description) <= max_length), None
    )


def skill_edits(
    skill: Skill, failures: Failures, training: Sequence[str], attempts: Mapping[str, int]
) -> Iterator[DescriptionEdit]:
    """Every edit of ``skill`` the failures call for, best first (see the module's docstring);
    the same summary may come twice."""

    def live(queries: Sequence[str]) -> list[str]:
        return sorted({q for q in queries if attempts.get(q, 0) < GIVE_UP_AFTER})

    missed, false_triggers = live(failures.missed), live(failures.false_triggers)
    additions = _additions(skill, missed, false_triggers, training)
    exclusions = _exclusions(skill, false_triggers, failures.own, training)
    removals = _removals(skill, false_triggers, failures.own)
    if len(missed) >= len(false_triggers):
        yield from additions
        yield from exclusions
        yield from removals
    else:
        yield from exclusions
        yield from removals
        yield from additions


def _additions(
    skill: Skill, missed: Sequence[str], false_triggers: Sequence[str], training: Sequence[str]
) -> Iterator[DescriptionEdit]:
    known = keys(skill.description) | keys(skill.name.replace("-", " "))
    avoided = set().union(*(keys(q) for q in false_triggers))
    clauses = _clauses(missed, known, avoided, include_known=True)
    return _sentence_edits(skill, clauses, use_when, training)


def _exclusions(
    skill: Skill, false_triggers: Sequence[str], own: Sequence[str], training: Sequence[str]
) -> Iterator[DescriptionEdit]:
    protected = keys(skill.description) | keys(skill.name.replace("-", " "))
    protected |= set().union(*(keys(q) for q in own))
    clauses = (
        (
            group,
            replace(clause, actions=(), questions=True) if all(map(is_question, group)) else clause,
        )
        for group, clause in _clauses(false_triggers, protected, protected, include_known=False)
    )
    return _sentence_edits(skill, clauses, not_for, training)


def _sentence_edits(
    skill: Skill,
    clauses: Iterator[tuple[tuple[str, ...], Clause]],
    grammar: Callable[[Clause], list[str]],
    training: Sequence[str],
) -> Iterator[DescriptionEdit]:
    """One appended sentence per clause that names something, worded by ``grammar`` and kept
    clear of the training queries' wording."""
    for group, clause in clauses:
        if not (clause.things or clause.formats or clause.names):
            continue
        sentence = _uncopied(clause, grammar, training)
        if sentence is not None:
            summary = f'add "{sentence}" to {skill.name}\'s description'
            yield DescriptionEdit(skill, appended(skill.description, sentence), summary, group)


def _removals(
    skill: Skill, false_triggers: Sequence[str], own: Sequence[str]
) -> Iterator[DescriptionEdit]:
    false_keys = [keys(q) for q in false_triggers]
    own_keys = [keys(q) for q in own]
    scored = []
    for unit in units(skill.description):
        covered = keys(skill.description[unit.start : unit.end])
        hit = tuple(q for q, k in zip(false_triggers, false_keys, strict=True) if k & covered)
        kept = sum(1 for k in own_keys if k & covered)
        if hit and not kept:
            scored.append((kept - len(hit), unit.start, unit, hit))
    for _, _, unit, hit in sorted(scored, key=lambda item: item[:2]):
        part = " ".join(skill.description[unit.start : unit.end].split())
        summary = f'remove "{part}" from {skill.name}\'s description'
        yield DescriptionEdit(skill, without(skill.description, unit), summary, hit)


def _clauses(
    queries: Sequence[str], known: set[str], avoided: set[str], include_known: bool
) -> Iterator[tuple[tuple[str, ...], Clause]]:
    """For each seed, most shared first: the queries that have it and what they share."""
    found = {query: [c for c in concepts(query) if c.key not in avoided] for query in queries}
    counts = Counter(c.key for query in queries for c in found[query])
    met = [c for query in queries for c in found[query]]
    first = {c.key: c for c in reversed(met)}  # each key as the first query has it
    order = list(dict.fromkeys(c.key for c in met))
    order.sort(key=lambda key: -counts[key])  # stable: first met first among equals
    seeds = [key for key in order if key not in known][:SEEDS]
    for seed in seeds:
        group = tuple(q for q in queries if any(c.key == seed for c in found[q]))
        allowed = [
            key
            for key in order
            if key == seed
            or (
                (include_known or key not in known)
                and any(c.key == key for q in group for c in found[q])
            )
        ]
        ranked = sorted(allowed, key=lambda key: (key != seed, key in known, order.index(key)))
        yield group, _clause([first[key] for key in ranked], group)


def _clause(ranked: Sequence[Concept], group: Sequence[str]) -> Clause:
    """The first few concepts of each role; things next to each other in a query are said as
    one compound ("jazz nights")."""
    actions = [c.surface for c in ranked if c.role == "action"][:MAX_ACTIONS]
    formats = [c.surface for c in ranked if c.role == "format"][:MAX_NAMES]
    names = [c.surface for c in ranked if c.role == "name"][:MAX_NAMES]
    things: list[str] = []
    for concept in (c for c in ranked if c.role == "object"):
        if len(things) == MAX_THINGS:
            break
        compound = _compound(things, concept.surface, group)
        if compound is not None:
            things[things.index(compound[0])] = " ".join(compound)
        else:
            things.append(concept.surface)
    if not (things or formats):
        actions = []
    return Clause(tuple(actions), tuple(things), tuple(formats), tuple(names))


def _compound(things: Sequence[str], noun: str, group: Sequence[str]) -> tuple[str, str] | None:
    for thing in things:
        if " " in thing:
            continue
        for query in group:
            words = [c.key for c in concepts(query)]
            for left, right in pairwise(words):
                if (left, right) == (thing, noun) and f"{left} {right}" in query.lower():
                    return thing, noun
    return None


def _uncopied(
    clause: Clause, grammar: Callable[[Clause], list[str]], training: Sequence[str]
) -> str | None:
    """The first wording of ``clause``, or of it less its last concepts, that copies no run of
    three words from the training queries."""
    parts = [("names", n) for n in clause.names[::-1]]
    parts += [("things", t) for t in clause.things[:0:-1]]
    parts += [("actions", a) for a in clause.actions[:0:-1]]
    current = clause
    while True:
        for sentence in grammar(current):
            if not copied_runs(sentence, training):
                return sentence
        if not parts:
            return None
        field, value = parts.pop(0)
        kept = tuple(v for v in getattr(current, field) if v != value)
        current = replace(current, **{field: kept})
