"""The concepts a request is about, so that queries which say the same thing in other words can
be grouped, and a description can name what they share instead of quoting one of them.

A query is reduced to its content words: stop words, request fillers ("help", "please"),
numbers, ordinals, dates and single letters go. Each word left gets a *key* (a light stem:
``drafting`` and ``drafts`` are ``draft``, ``invoices`` is ``invoice``) and a *role*:

- ``action``: a verb of the lexicon below; one that is also a common noun ("chart", "test")
  only when it opens the request, as in an imperative ("chart these numbers");
- ``format``: a file format (``pdf``, ``.docx``);
- ``name``: a product or proper name: capitalized inside the request, or with a dot or a digit
  in it (``p5.js``), kept with its spelling;
- ``object``: any other content word that can be a noun (files, things, domains).

Whether a word can be a noun comes from lemminflect's English lexicon. A word it knows only as a
verb, an adjective or an adverb ("behaves", "stale", "never") is no object; one it knows as both
noun and verb or adverb ("rates", "looks", "behind") is one only where a noun stands: after an
article, a possessive, a preposition, an action or a name ("the look", "draft invoices", "my
Slack profile"), at the end of a compound ("pivot tables", not "the usage keeps climbing") or at
its start; one it knows as noun and adjective is none before a noun ("a dark theme"). Words it
does not know keep the rules above.

``copied_runs`` is how copying is measured: the runs of ``n`` words of a text that also occur
word for word in one of the queries, less those made only of names and formats, which can be
said no other way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lemminflect import getAllLemmas

Role = Literal["action", "format", "name", "object"]

_STOP = """
    a about above after again against all also am an and any anyone anything are as at be
    because been before being below between both but by can could did do does doing done down
    during each either else etc even ever every few for from further get gets getting give go
    going got had has have having he her here hers herself him himself his how however i if in
    into is it its itself just let like many may me might mine more most much
    must my myself need needs no nor not now of off on once one only or other our ours
    ourselves out over own please quite rather really same shall she should so some something
    such than thank thanks that the their theirs them themselves then there these they thing
    things this those through to too under until up upon us use used uses using very via want
    wants was way we were what whatever when where whether which while who whom whose why will
    with within without would yes yet you your yours yourself yourselves
    actually again already anyway around basically bit certain ok okay hey hi hello kind lot
    lots maybe quick quickly sort stuff sure someone somebody somewhere help helps helping let's
    lets     i'm i'd i've don't can't won't isn't it's that's what's we're you're we've
    need able new good nice great little big last next first second third today tomorrow
    yesterday tonight week weekend month year time times day days thing better best along
    separate fresh bulk vague whole entire simple small large user users across among onto
    per inside outside throughout toward towards zero two three four five six seven eight nine
    ten twos threes
"""
STOP_WORDS = frozenset(_STOP.split())
QUESTION_OPENINGS = (
    "what ", "what's ", "why ", "who ", "whose ", "when ", "where ", "which ", "how does ",
    "how do ", "how is ", "how are ", "is ", "are ", "does ", "do ", "explain ", "tell me ",
    "define ", "describe what ", "recommend ",
)  # fmt: skip
# Words after which a word that can be a noun or a verb is a noun.
_NOUN_MARKERS_WORDS = """
    a an the this that these those my our your their his her its each every any some no of
    for with about in on from into at by like than
"""
NOUN_MARKERS = frozenset(_NOUN_MARKERS_WORDS.split())
# Words that may follow a noun phrase's last noun ("" is punctuation or the end).
PHRASE_ENDS = frozenset(["", "and", "or", "to", "of", "for", "with", "about", "in", "on", "from",
                         "into", "at", "by"])  # fmt: skip
_DATES_WORDS = """
    monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december
"""
_DATES = frozenset(_DATES_WORDS.split())
_FORMATS_WORDS = """
    pdf docx xlsx xls xlsm csv tsv pptx ppt json yaml yml xml html htm css js jsx ts tsx
    md markdown txt rtf odt ods odp png jpg jpeg gif svg webp bmp tiff mp4 mov mp3 wav sql py
    ipynb zip epub tex latex
"""
FORMATS = frozenset(_FORMATS_WORDS.split())
# Products often written in lower case in a request, as they are spelled.
_PRODUCT_NAMES = """
    Excel PowerPoint Slack GitHub Figma Notion Jira Python JavaScript TypeScript React
    Playwright Git API MCP Docker Kubernetes AWS SQL LaTeX Markdown
"""
PRODUCTS = {name.lower(): name for name in _PRODUCT_NAMES.split()}
# Verbs a request starts with. Those that are also common nouns are actions only at the start.
_VERBS = """
    analyze analyse annotate apply archive audit automate benchmark brainstorm build bundle
    calculate capture clean combine compare compile compose compress configure convert crawl
    create crop debug decrypt deploy describe detect diagnose download draw edit embed encrypt
    enhance estimate evaluate explain explore export extract fill filter flatten forecast
    generate highlight import improve install integrate investigate launch lint manage measure
    merge migrate monitor optimize optimise organize organise outline paint parse polish predict
    prepare preview proofread prototype publish read rebase redact refactor render reorganize
    repair replace reproduce research resize restyle revise rewrite rotate scaffold schedule
    scrape send simulate sort split submit summarize summarise swap sync transcribe transform
    translate troubleshoot tune tweak upload validate verify visualize visualise watermark write
    add fix find check move copy turn run load make
"""
_NOUN_VERBS = """
    chart code comment commit count design document draft format label list map mock model plan
    plot print process profile program query record report review scan search set shape share
    sign sketch style sum tag test track type update change present
"""
VERBS = frozenset(_VERBS.split()) | frozenset(_NOUN_VERBS.split())
NOUN_VERBS = frozenset(_NOUN_VERBS.split())
_DOUBLED_WORDS = """
    plan map run set chat ship tag log zip sum pin cut fit drop stop swap crop scan format
    program commit debug submit wrap trim plot split put spin skim
"""
DOUBLED = frozenset(_DOUBLED_WORDS.split())
_IRREGULAR_PAST = {
    "build": ("built",),
    "draw": ("drew", "drawn"),
    "write": ("wrote", "written"),
    "rewrite": ("rewrote", "rewritten"),
    "find": ("found",),
    "run": ("ran",),
    "send": ("sent",),
    "spin": ("spun",),
}
_UNCOUNTABLE_WORDS = """
    data information content feedback research software code text music art advice evidence
    equipment news mail documentation analytics media copy knowledge metadata traffic logic
    typography branding scope usage auth
"""
UNCOUNTABLE = frozenset(_UNCOUNTABLE_WORDS.split())

# Endings of adjectives, adverbs and participles, which a description is not built on.
_MODIFIER_ENDINGS = (
    "ly", "ous", "ful", "less", "ive", "able", "ible", "ical", "ish", "ed", "ing", "ory", "ional",
    "ic", "ent", "ant", "est",
)  # fmt: skip
_NOUNS_LIKE_MODIFIERS = frozenset(
    ["graphic", "topic", "logic", "music", "traffic", "rubric", "metric", "client", "agent",
     "content", "event", "component", "document", "comment", "statement", "assignment",
     "environment", "requirement", "assessment", "deployment", "payment", "department",
     "accountant", "assistant", "variant", "applicant", "participant", "restaurant", "test",
     "request", "interest", "manifest", "contest", "string", "thing", "meeting", "heading",
     "setting", "building", "drawing", "painting", "listing", "pricing", "onboarding", "family",
     "supply", "reply", "story", "history", "category", "memory", "inventory", "directory",
     "repository", "factory", "feed", "seed", "bed", "speed", "shed", "reed", "need", "ic",
     "spreadsheet", "file", "table", "variable", "cable", "bible", "periodical"]
)  # fmt: skip
_WORD = re.compile(r"\.?[^\W_]+(?:[-.'’][^\W_]+)*")
_RUN_WORD = re.compile(r"[^\W_]+")
_NUMERIC = re.compile(r"\d+(?:st|nd|rd|th|s|k|m|px|pt|%)?")


@dataclass(frozen=True)
class Concept:
    key: str  # the same for every inflection: what queries are grouped by
    role: Role
    surface: str  # how a description names it: a name's spelling, a verb's base, a noun


def concepts(text: str) -> list[Concept]:
    """The content words of ``text`` as concepts, in order, each key once."""
    found: dict[str, Concept] = {}
    opening = True
    before: Concept | str = ""  # the concept or word just before this one
    matches = list(_WORD.finditer(text))
    for index, match in enumerate(matches):
        token = match.group()
        concept = _concept(token, opening, match.start() > 0)
        if concept is not None and concept.role == "object":
            after = _next_word(text, matches, index)
            concept = _as_noun(concept, token.lower(), before, after)
        if token.lower() not in ("and", "or") or not isinstance(before, Concept):
            before = concept or token.lower()  # "invoices and receipts": as after "invoices"
        if concept is None:
            continue
        opening = False
        found.setdefault(concept.key, concept)
    return list(found.values())


def is_question(text: str) -> bool:
    """Whether ``text`` asks to be told something ("What does MCP stand for?", "Explain git
    rebase") rather than for work to be done: near misses of a skill are often questions about
    its domain."""
    lowered = text.strip().lower()
    return lowered.startswith(QUESTION_OPENINGS) or (
        lowered.endswith("?") and not lowered.startswith(("can you", "could you", "would you"))
    )


def keys(text: str) -> set[str]:
    """The keys of ``text``'s concepts, whatever their role: what a text already covers."""
    return {concept.key for concept in concepts(text)}


def _concept(token: str, opening: bool, inside: bool) -> Concept | None:
    word = re.sub(r"['’]s$", "", token)
    lower = word.lower()
    bare = lower.lstrip(".")
    if (
        len(bare) < 2
        or bare in STOP_WORDS
        or bare in _DATES
        or _NUMERIC.fullmatch(bare)
        or "'" in bare
        or "’" in bare
    ):
        return None
    if bare in FORMATS:
        return Concept(bare, "format", format_name(bare))
    if bare in PRODUCTS:
        return Concept(bare, "name", PRODUCTS[bare])
    if "." in bare or any(char.isdigit() for char in bare) or (inside and word[0].isupper()):
        if bare in _VERB_FORMS and opening:  # "Draft a memo" is an imperative, not a name
            return Concept(_VERB_FORMS[bare], "action", _VERB_FORMS[bare])
        return Concept(bare, "name", word.lstrip("."))
    base = _VERB_FORMS.get(lower)
    if base is not None and (opening or base not in NOUN_VERBS):
        return Concept(base, "action", base)
    if lower.endswith(_MODIFIER_ENDINGS) and lower not in _NOUNS_LIKE_MODIFIERS:
        return None  # an adjective, an adverb or a participle says how, not what
    noun = singular(lower)
    return Concept(noun, "object", noun)


def _as_noun(concept: Concept, word: str, before: Concept | str, after: str) -> Concept | None:
    """``concept`` where ``word`` stands as a noun; None where it cannot be one here: a verb
    ("the cache invalidates"), an adjective before a noun ("a warmer theme")."""
    readings = getAllLemmas(word)
    if not readings or set(readings) == {"NOUN"}:
        return concept
    if "NOUN" not in readings:
        return None
    if "ADJ" in readings and _can_be_noun(after):
        return None
    if set(readings) == {"NOUN", "ADJ"}:
        return concept
    if isinstance(before, Concept) and before.role == "object":  # a compound's end, or a verb
        return concept if after in PHRASE_ENDS else None
    if isinstance(before, Concept) and before.role == "action":
        return concept
    if isinstance(before, Concept):  # a name's or format's compound, or its verb ("MCP stands")
        ends = after in ("", "and", "or") or (_can_be_noun(after) and after not in NOUN_MARKERS)
        return concept if ends else None
    if not before:  # the text's first word: a noun only as a compound's start, or alone
        return concept if not after or (_can_be_noun(after) and after not in NOUN_MARKERS) else None
    return concept if before in NOUN_MARKERS else None


def _next_word(text: str, matches: list[re.Match[str]], index: int) -> str:
    """The word after ``matches[index]`` in the same phrase; "" at punctuation or the end."""
    if index + 1 == len(matches):
        return ""
    following = matches[index + 1]
    gap = text[matches[index].end() : following.start()]
    return following.group().lower() if not gap.strip() else ""


def _can_be_noun(word: str) -> bool:
    """Whether ``word`` may be the noun an adjective before it qualifies."""
    readings = getAllLemmas(word)
    return "NOUN" in readings and not {"ADV", "ADP", "PRON"} & set(readings)


def format_name(word: str) -> str:
    """How a description spells a format: ``.docx`` for Office files, ``PDF`` for others."""
    return f".{word}" if word.endswith("x") and len(word) == 4 else word.upper()


def singular(word: str) -> str:
    """A plural noun's singular, by rule; other words as they are."""
    if word in UNCOUNTABLE or len(word) < 4 or word.endswith(("ss", "us", "is", "ics")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def plural(noun: str) -> str:
    if noun in UNCOUNTABLE or noun.endswith("ics"):
        return noun
    if noun.endswith("is"):
        return noun[:-2] + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def gerund(verb: str) -> str:
    if verb in DOUBLED:
        return verb + verb[-1] + "ing"
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")):
        return verb[:-1] + "ing"
    return verb + "ing"


def _regular_past(verb: str) -> str:
    if verb in DOUBLED:
        return verb + verb[-1] + "ed"
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "o", "u"):
        return verb[:-1] + "ied"
    return verb + "ed"


def _verb_forms() -> dict[str, str]:
    forms: dict[str, str] = {}
    for verb in sorted(VERBS):
        past = _IRREGULAR_PAST.get(verb, (_regular_past(verb),))
        for form in (verb, plural(verb), gerund(verb), *past):
            forms.setdefault(form, verb)
    return forms


_VERB_FORMS = _verb_forms()


def words(text: str) -> list[str]:
    """The lowercased words of ``text`` as runs are counted: punctuation separates them."""
    return [match.group().lower() for match in _RUN_WORD.finditer(text)]


def copied_runs(text: str, queries: Iterable[str], n: int = 3) -> list[tuple[str, ...]]:
    """The runs of ``n`` words of ``text`` found word for word in a query, in order, less those
    made only of names and formats (see the module's docstring)."""
    seen: set[tuple[str, ...]] = set()
    named: set[str] = set()
    for query in queries:
        tokens = words(query)
        seen.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        named.update(_name_words(query))
    tokens = words(text)
    runs = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return [run for run in runs if run in seen and not set(run) <= named]


def runs(text: str, n: int = 3) -> list[tuple[str, ...]]:
    tokens = words(text)
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _name_words(text: str) -> set[str]:
    """The words of the names and formats ``text`` mentions."""
    named = {c.surface for c in concepts(text) if c.role in ("name", "format")}
    return {word for name in named for word in words(name)}


def ranked(counts: dict[str, int], order: Sequence[str]) -> list[str]:
    """Keys by count, most first; a tie goes to the one met first in ``order``."""
    position = {key: index for index, key in reversed(list(enumerate(order)))}
    return sorted(counts, key=lambda key: (-counts[key], position.get(key, len(order)), key))
