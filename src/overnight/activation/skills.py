"""Skills as an agent sees them before it chooses one: a name and a description.

A skill lives in a ``SKILL.md`` whose YAML front matter, between a first line ``---`` and the
next ``---`` line, holds at least ``name`` and ``description``; other keys are allowed and kept::

    ---
    name: extract-pdf
    description: Extract text and tables from PDF files.
    license: MIT
    ---
    # Instructions the agent reads once it has chosen the skill

``write_description`` changes the description and nothing else: the body and every other line
of the front matter stay byte for byte as they were, line endings, a missing final newline and a
byte-order mark included. The new value is written in a form YAML reads back exactly, whatever
it holds (colons, ``#``, quotes, a leading ``-``): a block scalar when the old value was one and
the new text fits that style (``>`` folded, wrapped at ``FOLD_WIDTH``, or ``|`` literal), a
plain or single-quoted scalar on one line when the old value was one and the new text reads back
exactly so, otherwise a double-quoted scalar on one line, with escapes.

Every problem is a ``ConfigError`` naming the file and the field (or the line of a YAML error).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from overnight.errors import ConfigError

MAX_DESCRIPTION = 1024  # characters: the Agent Skills limit on a description
FOLD_WIDTH = 100  # the longest line a folded description is wrapped to, indentation included
REQUIRED = ("name", "description")

_BOM = "\ufeff"
_OPENING = re.compile(r"---[ \t]*(?:\r?\n|\Z)")
_CLOSING = re.compile(r"^---[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
# What may stand as itself inside quotes or a block: YAML's printable characters less its line
# breaks (\x85, \u2028, \u2029) and the byte-order mark. Everything else is escaped.
_PLAIN = "\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"
_QUOTED_ESCAPE = re.compile(f'[^{_PLAIN}]|["\\\\]')
_NOT_FOLDABLE = re.compile(f"[^{_PLAIN}\t]")
_NOT_LITERAL = re.compile(f"[^{_PLAIN}\t\n]")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r"}


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    path: Path | None = None  # the SKILL.md it was read from, if any


def read_skill(path: Path) -> Skill:
    """The skill in ``path``; a malformed file is a ConfigError naming it and the field."""
    document = _Document.read(path)
    return Skill(document.fields["name"], document.fields["description"], path)


def read_skills(paths: Iterable[Path]) -> list[Skill]:
    """Every skill in order; two with the same name could not be told apart by a router."""
    skills: list[Skill] = []
    seen: dict[str, Path] = {}
    for path in paths:
        skill = read_skill(path)
        if skill.name in seen:
            raise ConfigError(
                str(path), "name", f"{skill.name!r} is also the name in {seen[skill.name]}"
            )
        seen[skill.name] = path
        skills.append(skill)
    return skills


def write_description(path: Path, description: str) -> None:
    """Replace the description in ``path``, leaving every other byte of the file as it was."""
    if not description.strip():
        raise ConfigError(str(path), "description", "the new description is empty")
    document = _Document.read(path)
    path.write_bytes(document.with_description(description).encode("utf-8"))


def without_description(path: Path) -> str:
    """The whole file but its description's value: what must stay as it is while only the
    description is being improved."""
    document = _Document.read(path)
    start, end = document.value.start_mark.index, document.value.end_mark.index
    return document.head + document.front[:start] + document.front[end:] + document.tail


@dataclass(frozen=True)
class _Document:
    """A SKILL.md cut around its front matter, with the description's place in it."""

    file: str
    head: str  # a byte-order mark, if any, and the opening ``---`` line
    front: str  # the front matter, every line with its line ending
    tail: str  # the closing ``---`` line and the body
    fields: dict[str, Any]
    key: yaml.Node  # the ``description`` key and its value, located in ``front``
    value: yaml.Node

    @classmethod
    def read(cls, path: Path) -> _Document:
        file = str(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise ConfigError(file, None, "not found") from None
        except OSError as exc:
            raise ConfigError(file, None, f"cannot be read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise ConfigError(file, None, "is not UTF-8 text") from None
        skip = len(_BOM) if text.startswith(_BOM) else 0
        opening = _OPENING.match(text, skip)
        if opening is None:
            raise ConfigError(file, None, "has no front matter: the first line must be ---")
        closing = _CLOSING.search(text, opening.end())
        if closing is None:
            raise ConfigError(file, None, "front matter is never closed by a --- line")
        front = text[opening.end() : closing.start()]
        root, fields = _load(front, file)
        key, value = _description_node(root, file)
        return cls(file, text[: opening.end()], front, text[closing.start() :], fields, key, value)

    def with_description(self, description: str) -> str:
        """The whole file with ``description`` in place of the old value."""
        start, end = self.value.start_mark.index, self.value.end_mark.index
        if start < self.key.end_mark.index or self.front[start] in "&*!":
            raise ConfigError(
                self.file, "description", "has a YAML anchor, alias or tag; cannot rewrite it"
            )
        new = None
        if self.value.style in ("|", ">"):
            # The line breaks that close a block scalar stay: they separate it from what follows.
            end = start + len(self.front[start:end].rstrip("\r\n"))
            indent = _indentation(self.front[start:end])
            newline = "\r\n" if self.head.endswith("\r\n") else "\n"
            if self.value.style == ">":
                new = _folded(description, indent, newline)
            new = new or _literal(description, indent, newline)
        elif self.value.style in (None, "'"):  # plain or single-quoted: kept when it reads back
            quoted = _single_quoted(description) if self.value.style else description
            new = quoted if self._reads_back(start, end, quoted, description) else None
        new = new or _double_quoted(description)
        return self.head + self.front[:start] + new + self.front[end:] + self.tail

    def _reads_back(self, start: int, end: int, value: str, description: str) -> bool:
        """Whether ``value`` in place of the old one gives ``description`` and the same other
        fields: a plain scalar cannot hold every text, and where it can depends on its context."""
        if _NOT_FOLDABLE.search(value):  # one line of printable text
            return False
        try:
            fields = yaml.safe_load(self.front[:start] + value + self.front[end:])
        except yaml.YAMLError:
            return False
        return fields == {**self.fields, "description": description}


def _load(front: str, file: str) -> tuple[yaml.MappingNode, dict[str, Any]]:
    """The front matter's node tree (for positions) and its values, each field checked."""
    try:
        loader = yaml.SafeLoader(front)
        try:
            root = loader.get_single_node()
            fields = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError(file, _error_line(exc, front), f"invalid YAML: {_problem(exc)}") from None
    if fields is None:
        raise ConfigError(file, None, "front matter is empty: it needs a name and a description")
    if not isinstance(root, yaml.MappingNode) or not isinstance(fields, dict):
        raise ConfigError(file, None, "front matter must be a mapping of fields")
    for field in REQUIRED:
        if field not in fields:
            raise ConfigError(file, field, "is missing from the front matter")
        value = fields[field]
        if value is not None and not isinstance(value, str):
            raise ConfigError(file, field, f"must be text, got {type(value).__name__}")
        if value is None or not value.strip():
            raise ConfigError(file, field, "is empty")
    return root, fields


def _description_node(root: yaml.MappingNode, file: str) -> tuple[yaml.Node, yaml.Node]:
    keys = [key.value for key, _ in root.value if isinstance(key, yaml.ScalarNode)]
    for field in REQUIRED:
        if keys.count(field) > 1:
            raise ConfigError(file, field, "is given more than once")
    return next(
        (key, value)
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode) and key.value == "description"
    )


def _error_line(exc: yaml.YAMLError, front: str) -> str:
    """The line of the file (the opening ``---`` is line 1) where YAML gave up."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return f"line {mark.line + 2}"
    position = getattr(exc, "position", len(front))  # a ReaderError: a forbidden character
    line = front.count("\n", 0, position) + 2
    return f"line {line}"


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        return f"character {exc.character!r} is not allowed"
    return getattr(exc, "problem", None) or str(exc).splitlines()[0]


def _indentation(block: str) -> str:
    """The indentation of a block scalar's first content line, which the new value keeps."""
    content = next(line for line in block.splitlines()[1:] if line.strip(" "))
    return content[: len(content) - len(content.lstrip(" "))]


def _single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _double_quoted(text: str) -> str:
    return '"' + _QUOTED_ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)  # every character that needs escaping lies in the basic plane
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _folded(text: str, indent: str, newline: str) -> str | None:
    """``>-`` with lines broken only at single spaces between words, so that folding them back
    (each break read as one space) gives ``text``; None when ``text`` cannot be folded exactly."""
    if _NOT_FOLDABLE.search(text) or text[0] in " \t" or text[-1] in " \t":
        return None
    lines: list[str] = []
    for word in re.split(r"(?<=\S) (?=\S)", text):
        if lines and len(indent) + len(lines[-1]) + 1 + len(word) <= FOLD_WIDTH:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return ">-" + "".join(newline + indent + line for line in lines)


def _literal(text: str, indent: str, newline: str) -> str | None:
    """``|`` (text ending in one newline) or ``|-`` (none); None when ``text`` cannot be written
    as a literal block exactly: a first line starting with whitespace would be read as
    indentation, and more than one final newline needs ``|+``, which would swallow the blank
    lines that follow it."""
    if _NOT_LITERAL.search(text) or text[0] in " \t\n" or text.endswith("\n\n"):
        return None
    header, body = ("|", text[:-1]) if text.endswith("\n") else ("|-", text)
    return header + "".join(newline + (indent + line if line else "") for line in body.split("\n"))
