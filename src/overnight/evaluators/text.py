"""Counting rules for generated text, in one place so every assertion counts the same way.

Words (``words``, ``word_count``)
    Markdown is stripped first (see below). A word is then a run of characters between spaces
    that holds at least one letter or digit: ``don't``, ``well-known``, ``3.5``, ``1,200``,
    ``$3M``, ``40%``, ``e.g.`` and a whole URL are one word each. Surrounding punctuation is
    trimmed. Em and en dashes separate words (``now—then`` is two). Emoji, bullets and lone
    punctuation are not words. Chinese and Japanese are written without spaces, so each Han,
    Hiragana or Katakana character counts as one word, as word processors count them; Korean
    separates words with spaces and is counted like English.

Sentences (``sentences``, ``sentence_count``)
    Markdown is stripped first. A sentence never crosses a line break: posts put one thought per
    line and generated text is rarely hard-wrapped, so a heading, a list item or a one-line hook
    without a full stop is a sentence too. Within a line, ``!`` and ``?`` (and the CJK ``。！？``)
    end a sentence; a ``.`` ends one when followed by a space or the end of the line, except
    after a title (Mr., Dr., Prof., St., vs., e.g., i.e., cf., …) or a single-letter initial
    (J. K. Rowling). After etc., Inc., Ltd., Jr. or a dotted abbreviation (U.S., a.m.) and after
    an ellipsis (``...`` or ``…``), a sentence ends only if the next word starts with a capital.
    Numbers like 3.5 never split (no space follows the point). Pieces without a letter or digit
    (a lone emoji, ``---``) and lines of only hashtags are not sentences.

Lines (``lines``)
    The non-empty lines: a line of only spaces is empty. ``\\r\\n`` and ``\\r`` count as line
    breaks. Lines are taken from the raw text, markdown included.

Characters (``char_count``)
    What a reader sees as one character: accents written as combining marks, emoji modifiers,
    variation selectors and emoji joined by a zero-width joiner do not add to the count, and a
    flag (two regional indicators) is one. Spaces and line breaks count; leading and trailing
    whitespace does not. Markdown counts as written, because platforms limit the raw text.

Statistics (``statistics``)
    A quantity written with digits: ``3.5``, ``1,200``, ``40%``, ``40 percent``, ``$3M``,
    ``€2.5 billion``, ``2x``, ``10k``, ``10+``, ``3 in 4``, ``1 out of 5``. Not statistics: a
    year on its own (1800–2199: ``in 2024``), dates, times, versions, ordinals (``1st``),
    digits inside names (``GPT-4``, ``B2B``, ``COVID-19``), list numbers, URLs, and numbers
    spelt out in words.

Markdown (``strip_markdown``)
    Removes heading markers, block quotes, list bullets and numbers, task boxes, horizontal
    rules, table pipes and separator rows, code-fence lines (the code inside stays), emphasis
    markers (``**``, ``__``, ``~~``, and ``*``/``_`` at word edges, so snake_case survives),
    inline-code backticks and HTML tags; links and images become their text.
"""

from __future__ import annotations

import re
import unicodedata

_CJK_RANGES = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9d\U00020000-\U0003134f"
)
_URL_TEXT = r"(?:https?://|www\.)[^\s<>]+"
_WORD_TOKEN = re.compile(rf"(?P<url>{_URL_TEXT})|(?P<cjk>[{_CJK_RANGES}])|[^\s{_CJK_RANGES}—–]+")
_LEADING_KEPT = "$€£¥₹#@"
_TRAILING_KEPT = "%"
_URL_TRAILING = ".,;:!?)]}'\"»”’"


def strip_markdown(text: str) -> str:
    """The text a reader sees: markdown syntax removed, so it is not counted as words."""
    kept = [_strip_block_syntax(line) for line in _split_lines(text)]
    return _strip_inline_syntax("\n".join(line for line in kept if line is not None))


_FENCE_LINE = re.compile(r"^\s*(?:```|~~~)")
# Possessive quantifiers (*+, ++) keep these linear on long lines of spaces or dashes.
_RULE = re.compile(r"^\s*+(?:(?:-\s*+){3,}|(?:\*\s*+){3,}|(?:_\s*+){3,}|=++\s*+)$")
_TABLE_SEPARATOR = re.compile(r"^\s*+\|?\s*+:?-++:?\s*+(?:\|\s*+:?-++:?\s*+)++\|?\s*+$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s++|$)")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")


def without_closing_hashes(heading: str) -> str:
    """``Title ##`` as ``Title``: markdown allows closing hashes after a space."""
    text = heading.rstrip()
    bare = text.rstrip("#")
    return bare.rstrip() if bare != text and (not bare or bare[-1].isspace()) else text


def _strip_block_syntax(line: str) -> str | None:
    """One line without its block markers; None for a line that is only syntax."""
    if _FENCE_LINE.match(line) or _RULE.match(line) or _TABLE_SEPARATOR.match(line):
        return None
    if _HEADING.match(line):
        line = without_closing_hashes(_HEADING.sub("", line))
    line = _BULLET.sub("", _QUOTE.sub("", line))
    if line.lstrip().startswith("|"):
        line = line.replace("|", " ")
    return line


_INLINE_RULES = (
    # Bracket classes exclude both brackets, so runs of "[" or "(" stay linear.
    (re.compile(r"!\[([^\[\]\n]*)\]\([^()\n]*\)"), r"\1"),  # image: its alt text
    (re.compile(r"\[([^\[\]\n]+)\](?:\([^()\n]*\)|\[[^\[\]\n]*\])"), r"\1"),  # link: its text
    (re.compile(r"<((?:https?://|mailto:)[^<>\s]+)>"), r"\1"),  # autolink: the address
    (re.compile(r"</?[A-Za-z][^<>\n]*>"), ""),  # HTML tag
    (re.compile(r"`+"), ""),  # inline code
    (re.compile(r"\*\*|__|~~"), ""),  # strong, strikethrough
    (re.compile(r"(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)"), ""),  # emphasis at word edges
)


def _strip_inline_syntax(text: str) -> str:
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text


def words(text: str) -> list[str]:
    """The words of ``text`` by the rules above, trimmed of surrounding punctuation."""
    found = []
    for match in _WORD_TOKEN.finditer(strip_markdown(text)):
        if match.group("url"):
            found.append(match.group().rstrip(_URL_TRAILING))
        elif match.group("cjk"):
            found.append(match.group())
        else:
            word = _trim_punctuation(match.group())
            if any(char.isalnum() for char in word):
                found.append(word)
    return found


def _trim_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and not (token[start].isalnum() or token[start] in _LEADING_KEPT):
        start += 1
    while end > start and not (token[end - 1].isalnum() or token[end - 1] in _TRAILING_KEPT):
        end -= 1
    return token[start:end]


def word_count(text: str) -> int:
    return len(words(text))


# Abbreviations after which a full stop never ends a sentence: a name or a number follows.
_TITLES = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "vs", "e.g", "i.e", "cf", "approx", "fig", "eq"}
    | {"col", "lt", "sgt", "capt", "rev", "hon"}
)
# Abbreviations that often end a sentence too: they end one when a capital follows.
_ENDINGS = frozenset({"etc", "inc", "ltd", "co", "corp", "jr", "sr", "al"})
_DOTTED = re.compile(r"^(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}$")
_INITIAL = re.compile(r"^[A-HJ-Z]$")  # not "I"
_HASHTAGS_ONLY = re.compile(r"^\s*(?:#[\w-]+[\s,]*)+$")
_CLOSERS = "\"'”’»)\\]」』"
_TERMINATOR = re.compile(
    rf"(?<![.!?…])(?P<mark>[.!?…]++)[{_CLOSERS}]*+(?=\s|$)|[。！？]++[{_CLOSERS}]*+"
)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` by the rules above, each stripped of surrounding space."""
    found = []
    for line in _split_lines(strip_markdown(text)):
        if not is_hashtags(line):
            found.extend(piece for piece in _split_line(line) if _has_word(piece))
    return found


def is_hashtags(line: str) -> bool:
    """A line of only hashtags, as posts end: not a sentence, and not a post's last words."""
    return bool(_HASHTAGS_ONLY.match(line))


def _split_line(line: str) -> list[str]:
    pieces, start = [], 0
    for match in _TERMINATOR.finditer(line):
        if _ends_sentence(line, match):
            pieces.append(line[start : match.end()].strip())
            start = match.end()
    pieces.append(line[start:].strip())
    return pieces


def _ends_sentence(line: str, match: re.Match[str]) -> bool:
    mark = match.group("mark")
    following = line[match.end() :].lstrip()
    if mark is None or "!" in mark or "?" in mark or not following:
        return True
    capital_follows = following[0].isupper()
    if mark != ".":
        return capital_follows  # an ellipsis: a pause unless a new sentence starts
    before = line[: match.start()].split()
    word = before[-1].lstrip("\"'“‘([") if before else ""
    if word.lower() in _TITLES or _INITIAL.match(word):
        return False
    if word.lower() in _ENDINGS or _DOTTED.match(word):
        return capital_follows
    return True


def _has_word(piece: str) -> bool:
    return any(char.isalnum() for char in piece)


def sentence_count(text: str) -> int:
    return len(sentences(text))


def lines(text: str) -> list[str]:
    """The non-empty lines of ``text``, trailing whitespace removed."""
    return [line.rstrip() for line in _split_lines(text) if line.strip()]


def line_count(text: str) -> int:
    return len(lines(text))


def _split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


_ZERO_WIDTH_JOINER = "\u200d"


def char_count(text: str) -> int:
    """Characters as a reader sees them (see the rules above)."""
    count = 0
    previous = ""
    for char in unicodedata.normalize("NFC", text.replace("\r\n", "\n").strip()):
        joined = previous == _ZERO_WIDTH_JOINER or (_is_regional(previous) and _is_regional(char))
        if not (joined or _is_modifier(char)):
            count += 1
        previous = "" if joined and _is_regional(char) else char
    return count


def _is_modifier(char: str) -> bool:
    point = ord(char)
    return (
        unicodedata.combining(char) != 0
        or char == _ZERO_WIDTH_JOINER
        or 0xFE00 <= point <= 0xFE0F  # variation selectors
        or 0x1F3FB <= point <= 0x1F3FF  # skin tones
        or 0xE0020 <= point <= 0xE007F  # tag characters of subdivision flags
    )


def _is_regional(char: str) -> bool:
    return len(char) == 1 and 0x1F1E6 <= ord(char) <= 0x1F1FF


_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_NUMBER_START = r"(?<![\w.,:/])(?<!\w-)"
_NUMBER_END = r"(?![\w:/]|[.,]\d|-\d)"
_STATISTIC = re.compile(
    rf"{_NUMBER_START}(?P<ratio>(?:{_NUMBER})\s+(?:in|out\s+of|of)\s+(?:{_NUMBER})){_NUMBER_END}"
    rf"|(?P<currency>[$€£¥₹])?{_NUMBER_START}(?P<number>{_NUMBER})"
    r"(?P<unit>\s?%|\s(?:percent|per\s?cent|million|billion|trillion|thousand)\b"
    r"|(?:x|×|k|K|m|M|bn|B|mn)(?!\w)|\+)?"
    rf"{_NUMBER_END}"
)
_URL = re.compile(_URL_TEXT)
_YEAR = re.compile(r"1[89]\d\d|2[01]\d\d")


def statistics(text: str) -> list[str]:
    """The quantities in ``text`` as written, in order (see the rules above)."""
    plain = _URL.sub(" ", strip_markdown(text))
    return [match.group().strip() for match in _STATISTIC.finditer(plain) if not _is_year(match)]


def _is_year(match: re.Match[str]) -> bool:
    return bool(
        match.group("number")
        and not (match.group("currency") or match.group("unit"))
        and _YEAR.fullmatch(match.group("number"))
    )


_LANGUAGE_ALIASES = {"python": {"python", "py", "python3"}, "json": {"json", "jsonc", "json5"}}
_FENCED_BLOCK = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n"
    r"(?P<body>(?:(?![ \t]*(?P=fence))[^\n]*\n)*?)"  # lines up to the closing fence
    r"[ \t]*(?P=fence)[ \t]*$",
    re.MULTILINE,
)


def strip_code_fence(text: str, language: str) -> str:
    """The code inside a fenced block: the whole text when it is one fence (labelled
    ``language`` or not labelled), else the first block labelled ``language``; otherwise the
    text unchanged. Models often fence code they were asked to return bare."""
    names = _LANGUAGE_ALIASES.get(language.lower(), {language.lower()})
    whole = _FENCED_BLOCK.fullmatch(text.strip())
    if whole and _info_language(whole) in names | {""}:
        return whole.group("body")
    for block in _FENCED_BLOCK.finditer(text):
        if _info_language(block) in names:
            return block.group("body")
    return text


def _info_language(block: re.Match[str]) -> str:
    info = block.group("info").split()
    return info[0].lower() if info else ""
