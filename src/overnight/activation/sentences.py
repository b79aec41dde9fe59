"""A description as a skill author edits it: whole sentences, and clauses that can go without
breaking the sentence they close.

A sentence ends at ``.``, ``!`` or ``?`` (closing quotes and brackets included) followed by the
end of the text or by white space and then a capital, a digit, a quote or a bracket, unless the
word before the stop is an abbreviation such as "e.g."; a blank line, or a line break before a
list item, ends one too.

What may be removed (a *unit*): any sentence but the first, which says what the skill is; a
clause that closes a sentence after a comma, semicolon or dash and starts with a word such as
"including", "such as" or "especially" (the sentence keeps its stop). Removing a unit is
slicing it out, with the space before or after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STOP = re.compile(r"[.!?]+[\"')\]’”]*(?=\s|\Z)")
_AFTER_STOP = re.compile(r"\s+(?=[A-Z0-9\"'(\[“‘*-]|\Z)|\s*\Z")
_BREAK = re.compile(r"\n[ \t]*\n\s*|\n[ \t]*(?=(?:[-*•]|\d+[.)])[ \t])")
_ABBREVIATED = "e.g i.e eg ie vs cf approx incl no mr mrs ms dr st fig"
_ABBREVIATIONS = frozenset(_ABBREVIATED.split())
_CLOSING_CLAUSE = re.compile(
    r"(?:[,;]|\s[-–—])\s+(?:including|such as|especially|e\.g\.|for example|for instance|"
    r"like|whether|which|so that|while|via|with)\b[^,;]*?(?=[.!?]+[\"')\]’”]*\Z)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def sentences(text: str) -> list[Span]:
    """Where each sentence of ``text`` stands, without the white space around it."""
    ends = {match.end() for match in _BREAK.finditer(text)}
    for match in _STOP.finditer(text):
        word = re.search(r"[\w.]*$", text[: match.start()])
        before = word.group().lower().rstrip(".") if word else ""
        if before not in _ABBREVIATIONS and _AFTER_STOP.match(text, match.end()):
            ends.add(match.end())
    spans, start = [], 0
    for end in [*sorted(ends), len(text)]:
        chunk = text[start:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            spans.append(Span(start + lead, start + len(chunk.rstrip())))
        start = end
    return spans


def sentence_texts(text: str) -> list[str]:
    return [text[span.start : span.end] for span in sentences(text)]


def units(text: str) -> list[Span]:
    """Every part of ``text`` that can be removed whole (see the module's docstring), in the
    order they start; removing one is ``text[:start] + text[end:]``."""
    found = []
    spans = sentences(text)
    for index, span in enumerate(spans):
        if index > 0:  # the white space before it goes with it
            found.append(Span(spans[index - 1].end, span.end))
        sentence = text[span.start : span.end]
        clause = _CLOSING_CLAUSE.search(sentence)
        if clause is not None and len(sentence[: clause.start()].split()) >= 3:
            found.append(Span(span.start + clause.start(), span.start + clause.end()))
    return sorted(found, key=lambda unit: (unit.start, unit.end))


def without(text: str, unit: Span) -> str:
    return text[: unit.start] + text[unit.end :]


def appended(text: str, sentence: str) -> str:
    """``text`` with ``sentence`` after its last one; white space at its end stays at the end,
    and a last sentence without a stop gets one."""
    body = text.rstrip()
    stop = "" if body.endswith((".", "!", "?", '."', ".)")) else "."
    return f"{body}{stop} {sentence}{text[len(body) :]}"


def cut_sentences(before: str, after: str) -> list[str]:
    """The sentences of ``after`` that were cut or stretched in the middle: not a sentence of
    ``before`` (nor one less some of its units), yet made of one's words with some missing or
    some added. New sentences and whole removals are fine."""
    whole = _reductions(before)
    old = [_words(sentence) for sentence in sentence_texts(before)]
    cut = []
    for sentence in sentence_texts(after):
        if sentence in whole:
            continue
        new = _words(sentence)
        if any(_within(new, words) or _within(words, new) for words in old):
            cut.append(sentence)
    return cut


def _reductions(text: str) -> set[str]:
    """The sentences of ``text``, each also less its closing clauses."""
    found: set[str] = set()
    pending = sentence_texts(text)
    while pending:
        sentence = pending.pop()
        if sentence not in found:
            found.add(sentence)
            pending.extend(without(sentence, unit) for unit in units(sentence))
    return found


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def _within(short: list[str], long: list[str]) -> bool:
    """Whether ``short`` is ``long`` with some words left out (in order)."""
    if len(short) >= len(long) or not short:
        return False
    rest = iter(long)
    return all(word in rest for word in short)
