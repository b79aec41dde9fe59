"""Diffs as the review pages show them: a unified diff split into classed lines, and two texts
compared word by word.

Both return plain records, never HTML: the templates escape every piece of text as they write
it, so a diff or an output holding markup can only ever be shown, never run.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# Words, runs of whitespace, and single punctuation marks: whitespace is kept as its own token so
# that the compared texts are rebuilt exactly, line breaks included.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff; ``kind`` is add, del, hunk, file or context."""

    kind: str
    text: str


@dataclass(frozen=True)
class DiffStats:
    files: list[str]
    added: int
    deleted: int


@dataclass(frozen=True)
class Segment:
    """A run of text that both sides share (same), or only the old (del) or new (ins) one has."""

    kind: str
    text: str


def diff_lines(diff: str) -> list[DiffLine]:
    """Classify each line of a git diff. Header lines are told apart from content by position
    (a file's header runs until its first hunk), so a deleted line that itself starts with
    ``--`` is still a deletion."""
    lines = []
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("diff --git"):
            in_hunk = False
        if line.startswith("@@"):
            in_hunk, kind = True, "hunk"
        elif not in_hunk:
            kind = "file"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "context"
        lines.append(DiffLine(kind, line))
    return lines


def diff_stats(diff: str) -> DiffStats:
    """Which files a diff touches and how many lines it adds and deletes."""
    files = re.findall(r"^diff --git a/(.*?) b/", diff, flags=re.MULTILINE)
    kinds = [line.kind for line in diff_lines(diff)]
    return DiffStats(files, kinds.count("add"), kinds.count("del"))


def word_diff(old: str, new: str) -> tuple[list[Segment], list[Segment]]:
    """(old with its deleted words marked, new with its inserted words marked)."""
    before, after = _TOKEN.findall(old), _TOKEN.findall(new)
    left: list[Segment] = []
    right: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            _append(left, "same", before[i1:i2])
            _append(right, "same", after[j1:j2])
            continue
        _append(left, "del", before[i1:i2])
        _append(right, "ins", after[j1:j2])
    return left, right


def _append(segments: list[Segment], kind: str, tokens: list[str]) -> None:
    if not tokens:
        return
    text = "".join(tokens)
    if segments and segments[-1].kind == kind:
        segments[-1] = Segment(kind, segments[-1].text + text)
    else:
        segments.append(Segment(kind, text))
