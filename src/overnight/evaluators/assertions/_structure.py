"""Structure assertions: how a post or an article is built, line by line.

first-line-standalone-sentence
    The first non-empty line, markdown markers aside, is exactly one sentence (by the rules of
    ``overnight.evaluators.text``) ending in ``.``, ``!``, ``?`` or an ellipsis, possibly
    followed by closing quotes or brackets; and the next line is blank, or there is none. This
    is the hook of a post: one line that stands alone before the reader clicks "more".
last-line-not-question
    The last non-empty line that is not only hashtags does not end with ``?`` (trailing emoji,
    quotes and markdown markers aside): posts that close by asking for engagement fail.
contains-statistic
    At least ``min`` (default 1) statistics as ``text.statistics`` defines them.
required-sections
    Each of ``sections`` is the text of a markdown heading (``#`` lines or underlined with
    ``===``/``---``). Comparison ignores case, emphasis, surrounding emoji or punctuation, a
    trailing colon and leading numbering (``2.``, ``IV.``).
cites-sources
    At least ``min`` (default 1) sources: each distinct http(s) link counts, and so does each
    numbered reference ``[n]``, ``[^n]`` or ``(n)`` in the text that a line starting with
    ``[n]``, ``[^n]:`` or ``(n)`` lists; a link on such a line belongs to that reference.
seo-title
    The title is, in this order, an HTML ``<title>``, a ``Title:`` line (also ``SEO title:``,
    ``Meta title:``, ``Page title:``), or the first markdown H1: the explicit ones first, since
    a page's H1 and its search title may differ. Its length in characters is within min..max
    (default 30..60).
meta-description
    The description is an HTML ``<meta name="description" content="…">`` or a
    ``Meta description:`` (or ``SEO description:``) line; its length is within min..max
    (default 120..160).
"""

from __future__ import annotations

import html
import re
from typing import ClassVar

from pydantic import Field

from overnight.evaluators import text
from overnight.evaluators.assertions._base import (
    BuiltinAssertion,
    CheckContext,
    Text,
    plural,
    quote,
    quote_all,
)
from overnight.evaluators.assertions._size import Bounded, within

_SENTENCE_END = re.compile(r"(?:[.!?…]|[。！？])[\"'”’»)\]」』]*$")


class FirstLineStandaloneSentence(BuiltinAssertion):
    name: ClassVar[str] = "first-line-standalone-sentence"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        numbered = _numbered_lines(output)
        if not numbered:
            return False, "output is empty: no first line"
        number, first = numbered[0]
        found = text.sentences(first)
        plain = text.strip_markdown(first).strip()
        if len(found) > 1:
            return False, f"first line holds {len(found)} sentences: {quote_all(found[:3], 30)}"
        if not found or not _SENTENCE_END.search(plain):
            return False, f"no sentence ends the first line (line {number}): {quote(plain)}"
        following = _raw_lines(output)[number : number + 1]
        if following and following[0].strip():
            return False, f"line {number + 1} follows the first line with no blank line between"
        words = plural(text.word_count(first), "word")
        return True, f"first line (line {number}) is one sentence of {words}, standing alone"


def _numbered_lines(output: str) -> list[tuple[int, str]]:
    """The non-empty lines with their 1-based line numbers."""
    return [(i, line.rstrip()) for i, line in enumerate(_raw_lines(output), 1) if line.strip()]


def _raw_lines(output: str) -> list[str]:
    return output.replace("\r\n", "\n").replace("\r", "\n").split("\n")


_QUESTION_MARKS = ("?", "？")


class LastLineNotQuestion(BuiltinAssertion):
    name: ClassVar[str] = "last-line-not-question"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        candidates = [(n, ln) for n, ln in _numbered_lines(output) if not text.is_hashtags(ln)]
        if not candidates:
            return True, "no last line to end with a question (no text lines)"
        number, last = candidates[-1]
        plain = text.strip_markdown(last).strip()
        ending = next((c for c in reversed(plain) if c.isalnum() or c in "?？.!…:;,"), "")
        if ending in _QUESTION_MARKS:
            return False, f"last line (line {number}) ends with a question: {quote(plain)}"
        ends = quote(ending) if ending else "no letter or punctuation"
        return True, f"last line (line {number}) ends with {ends}: {quote(plain)}"


class ContainsStatistic(BuiltinAssertion):
    name: ClassVar[str] = "contains-statistic"
    min: int = Field(default=1, ge=1)

    @property
    def label(self) -> str:
        return self.name if self.min == 1 else f"{self.name}>={self.min}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        found = text.statistics(output)
        if not found:
            return False, (
                "no statistic (a figure like 40%, 3.5, 1,200, $3M, 2x or 3 in 4; "
                "a year alone does not count)"
            )
        counted = f"{plural(len(found), 'statistic')}, first {quote(found[0])}"
        if len(found) < self.min:
            return False, f"{counted}; min {self.min}"
        return True, counted


_ATX_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s++(?P<text>.*\S)")
_SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(?:=++|-{2,}+)\s*+$")
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*[.)]?|[ivxlcdm]+[.)])\s+")


def headings(output: str) -> list[tuple[int, str]]:
    """``(level, text)`` of every markdown heading outside code blocks, in order."""
    raw = _raw_lines(output)
    found = []
    in_code = False
    for i, line in enumerate(raw):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        atx = _ATX_HEADING.match(line)
        if in_code or not line.strip() or _SETEXT_UNDERLINE.match(line):
            continue
        if atx:
            found.append((len(atx.group(1)), text.without_closing_hashes(atx.group("text"))))
        elif i + 1 < len(raw) and _SETEXT_UNDERLINE.match(raw[i + 1]):
            found.append((1 if "=" in raw[i + 1] else 2, line.strip()))
    return found


_EDGE_SYMBOLS = re.compile(r"^[\W_]+|[\W_]+$")


def _normalized(heading: str) -> str:
    plain = " ".join(text.strip_markdown(heading).split()).casefold()
    return _EDGE_SYMBOLS.sub("", _NUMBERING.sub("", plain))


class RequiredSections(BuiltinAssertion):
    name: ClassVar[str] = "required-sections"
    templated: ClassVar[tuple[str, ...]] = ("sections",)
    sections: list[Text] = Field(min_length=1)

    @property
    def label(self) -> str:
        return f"{self.name} ({len(self.sections)})"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        present = [heading for _, heading in headings(output)]
        normalized = {_normalized(heading) for heading in present}
        missing = [s for s in self.sections if _normalized(s) not in normalized]
        total = len(self.sections)
        if not missing:
            return True, f"all {total} sections present among {plural(len(present), 'heading')}"
        seen = quote_all(present[:5], 30) if present else "none"
        return False, (
            f"missing {len(missing)} of {total} sections: {quote_all(missing, 30)} "
            f"(headings found: {seen})"
        )


_LINK = re.compile(r"https?://[^\s<>()\[\]{}\"'`]+")
_REFERENCE_ENTRY = re.compile(
    r"^[ \t]*(?P<label>\[\^?(?P<a>\d{1,3})\]:?|\((?P<b>\d{1,3})\))[ \t]+\S.*$", re.MULTILINE
)
_REFERENCE_MARKER = re.compile(r"\[\^?(?P<a>\d{1,3})\]|\((?P<b>\d{1,3})\)")


def links(output: str) -> list[str]:
    """Distinct http(s) links, in order of first appearance."""
    found = (match.group().rstrip(".,;:!?") for match in _LINK.finditer(output))
    return list(dict.fromkeys(found))


def _reference_number(match: re.Match[str]) -> int:
    return int(match.group("a") or match.group("b"))


class CitesSources(BuiltinAssertion):
    name: ClassVar[str] = "cites-sources"
    min: int = Field(default=1, ge=1)

    @property
    def label(self) -> str:
        return self.name if self.min == 1 else f"{self.name}>={self.min}"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        entries: dict[int, str] = {}
        labels = set()
        for entry in _REFERENCE_ENTRY.finditer(output):
            entries.setdefault(_reference_number(entry), entry.group())
            labels.add(entry.start("label"))
        markers = [m for m in _REFERENCE_MARKER.finditer(output) if m.start() not in labels]
        listed = sorted({_reference_number(m) for m in markers} & entries.keys())
        in_entries = {link for number in listed for link in links(entries[number])}
        loose = [link for link in links(output) if link not in in_entries]
        count = len(listed) + len(loose)
        counted = (
            f"{plural(count, 'source')} ({plural(len(loose), 'link')}, "
            f"{plural(len(listed), 'numbered reference')})"
        )
        unlisted = sorted({int(m.group("a")) for m in markers if m.group("a")} - entries.keys())
        if unlisted:
            counted += f"; cited but not listed: {', '.join(f'[{n}]' for n in unlisted)}"
        if count < self.min:
            return False, f"{counted}, min {self.min}"
        return True, counted


_LABELLED_LINE = r"^[ \t]*+[*_]*+[ \t]*+{label}[ \t]*+[*_]*+[ \t]*+:[ \t*_]*+(?P<text>.*\S)"
_TITLE_LINE = re.compile(
    _LABELLED_LINE.format(label=r"(?:(?:seo|meta|page)[ \t]++)?title"),
    re.IGNORECASE | re.MULTILINE,
)
_DESCRIPTION_LINE = re.compile(
    _LABELLED_LINE.format(label=r"(?:meta|seo)[ \t]++description"), re.IGNORECASE | re.MULTILINE
)
_META_TAG = re.compile(r"<meta\b[^<>]*+>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"(?<![\w:-])([\w:-]++)\s*+=\s*+(\"[^\"]*+\"|'[^']*+'|[^\s>]++)")


class SeoTitle(Bounded):
    name: ClassVar[str] = "seo-title"
    what: ClassVar[str] = "title"
    where_to_look: ClassVar[str] = "no <title>, Title: line or H1"
    min: int | None = Field(default=30, ge=0)
    max: int | None = Field(default=60, ge=0)

    def _found(self, output: str) -> tuple[str, str] | None:
        """``(text, where it came from)``, or None."""
        html_title = _html_title(output)
        if html_title is not None:
            return html_title, "<title>"
        match = _TITLE_LINE.search(output)
        if match:
            return match.group("text"), "a Title: line"
        h1 = next((heading for level, heading in headings(output) if level == 1), None)
        return (h1, "the H1") if h1 is not None else None

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        found = self._found(output)
        if found is None:
            return False, f"no {self.what} found ({self.where_to_look})"
        raw, where = found
        value = _clean(raw)
        length = text.char_count(value)
        passed, reason = within(length, plural(length, "char"), self.min, self.max)
        return passed, f"{self.what} {quote(value, 30)} from {where}: {reason}"


class MetaDescription(SeoTitle):
    name: ClassVar[str] = "meta-description"
    what: ClassVar[str] = "meta description"
    where_to_look: ClassVar[str] = 'no <meta name="description"> or Meta description: line'
    min: int | None = Field(default=120, ge=0)
    max: int | None = Field(default=160, ge=0)

    def _found(self, output: str) -> tuple[str, str] | None:
        for tag in _META_TAG.finditer(output):
            attributes = {
                key.lower(): value.strip("\"'") for key, value in _ATTRIBUTE.findall(tag.group())
            }
            if attributes.get("name", "").lower() == "description" and "content" in attributes:
                return attributes["content"], '<meta name="description">'
        match = _DESCRIPTION_LINE.search(output)
        return (match.group("text"), "a Meta description: line") if match else None


def _html_title(output: str) -> str | None:
    """The text of the first ``<title>…</title>``, found without a regex: a page full of
    unclosed tags must not make the search quadratic."""
    lowered = output.lower()
    start = lowered.find("<title")
    opened = lowered.find(">", start) if start >= 0 else -1
    closed = lowered.find("</title", opened) if opened >= 0 else -1
    return output[opened + 1 : closed] if closed >= 0 else None


def _clean(value: str) -> str:
    """The text a search result would show: entities decoded, markdown and quotes removed."""
    plain = " ".join(text.strip_markdown(html.unescape(value)).split())
    for opening, closing in ('""', "“”", "''"):
        if len(plain) > 1 and plain[0] == opening and plain[-1] == closing:
            return plain[1:-1].strip()
    return plain


FAMILY = (
    FirstLineStandaloneSentence,
    LastLineNotQuestion,
    ContainsStatistic,
    RequiredSections,
    CitesSources,
    SeoTitle,
    MetaDescription,
)
