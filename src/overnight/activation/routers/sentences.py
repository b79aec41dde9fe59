"""The sentences of a description, which the embedding router scores a query against one by one.

A long description dilutes its embedding: a query about one of five things a skill does can be
far from the whole and close to the sentence that names it. A sentence ends at ``.``, ``!`` or
``?`` followed by a space and a capital, a digit or an opening quote or bracket, or at a line
break; so ``.pdf`` and ``3.5`` stay whole, and an abbreviation such as ``e.g.`` does not end one.
A piece of fewer than ``MIN_WORDS`` words ("PDF.", "Keywords: forms.") joins the sentence before
it (or after it, when first): alone, a word or two would match any query that mentions them.

A sentence that rules something out ("Not for scanned images.", "Do not use it for ...") is an
exclusion: embeddings do not understand negation, so it would draw the very queries it excludes.
The router scores it apart, as evidence against the skill.
"""

from __future__ import annotations

import re

MIN_WORDS = 3
EXCLUDING = ("not for ", "not meant for ", "do not use", "don't use", "never use", "avoid using")
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.")
_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\s*\n\s*")


def sentences(description: str) -> list[str]:
    """The sentences of ``description`` in order, stripped; one when it has no break."""
    pieces: list[str] = []
    for piece in _END.split(description.strip()):
        if not piece:
            continue
        if pieces and pieces[-1].lower().endswith(ABBREVIATIONS):
            pieces[-1] = f"{pieces[-1]} {piece}"
        else:
            pieces.append(piece)
    merged: list[str] = []
    for piece in pieces:
        if merged and (len(piece.split()) < MIN_WORDS or len(merged[-1].split()) < MIN_WORDS):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged


def is_exclusion(sentence: str) -> bool:
    """Whether ``sentence`` says what the skill is not for."""
    return sentence.lower().lstrip(" -*").startswith(EXCLUDING)
