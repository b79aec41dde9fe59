"""The edit format a model answers in, and its strict application to the working tree.

An answer is a description line and one or more search/replace blocks; all blocks together are
one change::

    DESCRIPTION: one line saying what the change is and why it should help

    <<<<<<< SEARCH path/relative/to/the/repository
    the exact lines of the file to replace
    =======
    the lines to put in their place
    >>>>>>> REPLACE

Parsing (``parse_answer``):

- Marker lines stand alone: ``<<<<<<< SEARCH <path>``, ``=======``, ``>>>>>>> REPLACE``. The
  first ``=======`` line of a block ends its SEARCH text, so SEARCH text cannot hold a line that
  is exactly ``=======`` (its replacement can).
- Text outside blocks is ignored (models chat), and so are code fences around blocks.
- The first ``DESCRIPTION:`` line outside blocks is the description; markdown emphasis around
  it is tolerated.
- An empty SEARCH (no lines, or blank lines only) creates a new file with the replacement text.
- A missing description, a block without its ``=======`` or ``>>>>>>> REPLACE`` line, a SEARCH
  line without a path, or an answer without any block is an ``EditError`` whose reason tells the
  model what to fix.

Applying (``apply_edits``) is strict and atomic: every edit is checked before any file is
written, so a failing edit leaves the tree untouched. Edits apply in order; a later edit sees
what earlier ones did.

- A path must be relative and stay inside the repository once symlinks are resolved, and may not
  lead into ``.git`` or the harness's own state directory.
- SEARCH text is whole lines and must occur exactly once in the file. When it does not occur
  exactly, it is looked for again with a whitespace tolerance: each line compared without its
  leading and trailing whitespace, and blank lines ignored on both sides. A tolerant match
  replaces the file's lines from the first matched line to the last, and the replacement is
  re-indented by the difference between the indentation of SEARCH's first non-blank line and
  that of the file's line it matched. Only whitespace is ever tolerated.
- No match at all is reported with the closest lines of the file; more than one match with the
  line numbers of each, asking for more context.
- Each file keeps its line endings (a CRLF file stays CRLF, new lines take the file's dominant
  ending), its final newline or the lack of one, and a byte-order mark if it has one.
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from overnight.workspace import STATE_DIR

OFF_LIMITS = (".git", STATE_DIR)
MAX_SHOWN_LINES = 30  # of the closest lines quoted when SEARCH text is not found
CANDIDATES_SCORED = 20  # windows compared character by character after a ranking by words

_START = re.compile(r"^\s*<{5,9}\s*SEARCH\b(.*)$")
_DIVIDER = re.compile(r"^\s*={7}\s*$")
_END = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_DESCRIPTION = re.compile(r"^[\s*_#>`-]*DESCRIPTION[*_`]*\s*:[\s*_`]*(.*?)[\s*]*$", re.I)
_WORD = re.compile(r"\w+|[^\w\s]+")
_PATH_DECORATION = " \t:`'\"*"


class EditError(Exception):
    """An answer that cannot be parsed or applied; ``reason`` is written for the model to act
    on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Edit:
    """Replace ``search`` with ``replace`` in ``path``; both are whole lines separated by
    newlines (a final newline is optional). An empty ``search`` creates the file."""

    path: str
    search: str
    replace: str

    @property
    def search_lines(self) -> list[str]:
        lines = _split(self.search)
        return lines if any(line.strip() for line in lines) else []

    @property
    def replace_lines(self) -> list[str]:
        return _split(self.replace)


@dataclass(frozen=True)
class Answer:
    description: str
    edits: list[Edit]


@dataclass(frozen=True)
class Applied:
    """What one edit did: the file it changed (relative to the root, symlinks resolved)."""

    path: str
    lines_removed: int
    lines_added: int
    created: bool = False
    tolerant: bool = False  # matched only with the whitespace tolerance


# -- parsing --------------------------------------------------------------------------------


def parse_answer(text: str) -> Answer:
    """The description and the edits of a model's answer, or an ``EditError`` saying what is
    wrong with it."""
    lines = text.replace("\r\n", "\n").split("\n")
    description: str | None = None
    edits: list[Edit] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _START.match(line):
            edit, index = _read_block(lines, index, len(edits) + 1)
            edits.append(edit)
            continue
        if _END.match(line):
            raise EditError(
                f"line {index + 1} is a >>>>>>> REPLACE line without a <<<<<<< SEARCH line "
                "before it"
            )
        if description is None and (match := _DESCRIPTION.match(line)):
            description = match.group(1).strip()
        index += 1
    return Answer(_checked(description, edits), edits)


def _read_block(lines: Sequence[str], start: int, number: int) -> tuple[Edit, int]:
    """The block whose SEARCH line is ``lines[start]``, and the index after its end."""
    start_match = _START.match(lines[start])
    assert start_match is not None
    path = start_match.group(1).strip().strip(_PATH_DECORATION)
    name = f"block {number}" + (f" ({path})" if path else "")
    if not path:
        raise EditError(
            f"{name}: the <<<<<<< SEARCH line names no file; write the path after SEARCH, "
            "e.g. `<<<<<<< SEARCH src/app.py`"
        )
    search, index = _section(lines, start + 1, _DIVIDER, name, "=======")
    replace, index = _section(lines, index + 1, _END, name, ">>>>>>> REPLACE")
    return Edit(path, _join(search), _join(replace)), index + 1


def _section(
    lines: Sequence[str], start: int, closer: re.Pattern[str], name: str, closer_text: str
) -> tuple[list[str], int]:
    """The lines from ``start`` up to the line matching ``closer``, and that line's index."""
    for index in range(start, len(lines)):
        line = lines[index]
        if closer.match(line):
            return list(lines[start:index]), index
        if _START.match(line) or (closer is _DIVIDER and _END.match(line)):
            raise EditError(
                f"{name} has no {closer_text} line before line {index + 1} "
                f"({line.strip()[:40]}); every block is SEARCH, =======, REPLACE in that order"
            )
    raise EditError(
        f"{name} ends without its {closer_text} line (was the answer cut off?); "
        "every block is SEARCH, =======, REPLACE in that order"
    )


def _checked(description: str | None, edits: Sequence[Edit]) -> str:
    """The description, once the answer has one and at least one edit."""
    problems = []
    if description is None:
        problems.append(
            "the answer has no DESCRIPTION line; add one outside the blocks: "
            "`DESCRIPTION: <what the change is and why>`"
        )
    elif not description:
        problems.append("the DESCRIPTION line is empty; say on it what the change is and why")
    if not edits:
        problems.append(
            "the answer has no edit block; give the change as <<<<<<< SEARCH <path> / ======= "
            "/ >>>>>>> REPLACE blocks"
        )
    if problems or description is None:
        raise EditError("; ".join(problems))
    return description


# -- applying -------------------------------------------------------------------------------


@dataclass
class _File:
    """A text file as lines without their endings, each ending kept apart so that untouched
    lines are written back byte for byte."""

    lines: list[str]
    ends: list[str]
    newline: str = "\n"
    bom: bool = False
    existed: bool = True
    changed: bool = False

    @classmethod
    def parse(cls, data: bytes) -> _File:
        bom = data.startswith(codecs.BOM_UTF8)
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8") if bom else data.decode("utf-8")
        lines, ends = [], []
        *complete, last = text.split("\n")
        for line in complete:
            crlf = line.endswith("\r")
            lines.append(line[:-1] if crlf else line)
            ends.append("\r\n" if crlf else "\n")
        if last:
            lines.append(last)
            ends.append("")
        crlf_count = ends.count("\r\n")
        newline = "\r\n" if crlf_count > len(ends) - crlf_count - ends.count("") else "\n"
        return cls(lines, ends, newline, bom)

    def replace(self, start: int, stop: int, new: Sequence[str]) -> None:
        """Put ``new`` in place of lines ``start:stop``; a file without a final newline keeps
        lacking one."""
        unterminated = stop == len(self.lines) and stop > start and self.ends[stop - 1] == ""
        ends = [self.newline] * len(new)
        if unterminated and new:
            ends[-1] = ""
        elif unterminated and start > 0:
            self.ends[start - 1] = ""
        self.lines[start:stop] = list(new)
        self.ends[start:stop] = ends
        self.changed = True

    def render(self) -> bytes:
        text = "".join(line + end for line, end in zip(self.lines, self.ends, strict=True))
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode("utf-8")


def apply_edits(root: Path, edits: Iterable[Edit]) -> list[Applied]:
    """Apply ``edits`` in order under ``root``, all or nothing: each is checked against the
    files as earlier edits left them, and files are written only once every edit applies. An
    ``OSError`` while writing is raised as it is: no answer can repair it."""
    base = root.resolve()
    files: dict[Path, _File] = {}
    applied = []
    for number, edit in enumerate(edits, start=1):
        target = _target(base, edit.path)
        relative = target.relative_to(base).as_posix()
        if target not in files:
            files[target] = _load(target, relative)
        try:
            applied.append(_apply(files[target], edit, relative))
        except EditError as exc:
            raise EditError(f"edit {number} ({edit.path}): {exc.reason}") from None
    for target, file in files.items():
        if file.changed:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.render())
    return applied


def _target(base: Path, path: str) -> Path:
    """The file ``path`` names under ``base``, refused unless it stays inside."""
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).drive or path.startswith("\\"):
        raise EditError(f"{path} is an absolute path; give paths relative to the repository")
    try:
        target = (base / path).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise EditError(f"{path} is not a usable path ({exc})") from None
    if not target.is_relative_to(base):
        raise EditError(f"{path} is outside the repository; edit only files inside it")
    parts = target.relative_to(base).parts
    if not parts:
        raise EditError(f"{path} names the repository itself, not a file")
    if parts[0] in OFF_LIMITS:
        raise EditError(f"{path} is inside {parts[0]}, which belongs to git or the harness")
    return target


def _load(target: Path, relative: str) -> _File:
    if target.is_dir():
        raise EditError(f"{relative} is a directory, not a file")
    if not target.exists():
        blocker = next((p for p in target.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise EditError(f"{relative} cannot be created: {blocker.name} is a file")
        return _File([], [], existed=False)
    try:
        return _File.parse(target.read_bytes())
    except UnicodeDecodeError:
        raise EditError(f"{relative} is not UTF-8 text and cannot be edited this way") from None
    except OSError as exc:
        raise EditError(f"{relative} cannot be read ({exc.strerror})") from None


def _apply(file: _File, edit: Edit, relative: str) -> Applied:
    search, replace = edit.search_lines, edit.replace_lines
    if not search:
        return _create(file, replace, relative)
    if not file.existed and not file.changed:
        raise EditError(
            f"{relative} does not exist; to create it, leave SEARCH empty and put the whole "
            "file in the replacement"
        )
    start, stop, tolerant = _locate(file.lines, search, relative)
    if tolerant:
        replace = _reindent(replace, _indent(_first_text(search)), _indent(file.lines[start]))
    file.replace(start, stop, replace)
    return Applied(relative, stop - start, len(replace), tolerant=tolerant)


def _create(file: _File, replace: Sequence[str], relative: str) -> Applied:
    if any(line.strip() for line in file.lines):
        raise EditError(
            f"SEARCH is empty but {relative} already exists; to change it, quote in SEARCH the "
            "lines to replace"
        )
    removed = len(file.lines)
    file.replace(0, removed, replace)
    if file.ends:
        file.ends[-1] = file.newline  # a file we write ends with a newline
    return Applied(relative, removed, len(replace), created=not file.existed)


def _locate(lines: Sequence[str], search: Sequence[str], relative: str) -> tuple[int, int, bool]:
    """Where ``search`` occurs once: exactly, else with the whitespace tolerance."""
    exact = _exact_matches(lines, search)
    if len(exact) == 1:
        return exact[0], exact[0] + len(search), False
    if len(exact) > 1:
        raise _ambiguous(relative, exact)
    tolerant = _tolerant_matches(lines, search)
    if len(tolerant) == 1:
        return tolerant[0][0], tolerant[0][1], True
    if len(tolerant) > 1:
        raise _ambiguous(relative, [start for start, _ in tolerant])
    raise EditError(_not_found(lines, search, relative))


def _exact_matches(lines: Sequence[str], search: Sequence[str]) -> list[int]:
    size = len(search)
    return [
        start
        for start in range(len(lines) - size + 1)
        if lines[start] == search[0] and list(lines[start : start + size]) == list(search)
    ]


def _tolerant_matches(lines: Sequence[str], search: Sequence[str]) -> list[tuple[int, int]]:
    """(start, stop) of each match comparing stripped non-blank lines only."""
    wanted = [line.strip() for line in search if line.strip()]
    kept = [(index, line.strip()) for index, line in enumerate(lines) if line.strip()]
    texts = [text for _, text in kept]
    size = len(wanted)
    return [
        (kept[start][0], kept[start + size - 1][0] + 1)
        for start in range(len(kept) - size + 1)
        if texts[start : start + size] == wanted
    ]


def _ambiguous(relative: str, starts: Sequence[int]) -> EditError:
    where = ", ".join(str(start + 1) for start in starts[:10])
    return EditError(
        f"the SEARCH text occurs {len(starts)} times in {relative} (at lines {where}); "
        "include more of the surrounding lines so that it matches exactly once"
    )


def _not_found(lines: Sequence[str], search: Sequence[str], relative: str) -> str:
    reason = f"the SEARCH text was not found in {relative}"
    if not lines:
        return f"{reason}, which is empty"
    start, stop = _closest(lines, search)
    shown = lines[start : min(stop, start + MAX_SHOWN_LINES)]
    return (
        f"{reason}; SEARCH must repeat lines of the file exactly. "
        f"The closest lines are {start + 1}-{start + len(shown)}:\n" + "\n".join(shown)
    )


def _closest(lines: Sequence[str], search: Sequence[str]) -> tuple[int, int]:
    """The window of the file most like ``search``, comparing line with line: all windows by
    the words they share (cheap), then the best few by the lines' character similarity."""
    size = min(len(search), len(lines))
    wanted = [line.strip() for line in search[:size]]
    wanted_words = [_words(line) for line in wanted]
    words = [_words(line) for line in lines]

    def shared(start: int) -> int:
        window = words[start : start + size]
        return sum(len(a & b) for a, b in zip(wanted_words, window, strict=True))

    def similarity(start: int) -> float:
        window = [line.strip() for line in lines[start : start + size]]
        return sum(
            difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
            for a, b in zip(wanted, window, strict=True)
        )

    ranked = sorted(range(len(lines) - size + 1), key=lambda start: -shared(start))
    best = max(ranked[:CANDIDATES_SCORED], key=lambda start: (similarity(start), -start))
    return best, best + size


def _reindent(lines: Sequence[str], model: str, actual: str) -> list[str]:
    """``lines`` shifted from the model's indentation ``model`` to the file's ``actual``."""
    return [_shift(line, model, actual) if line.strip() else line for line in lines]


def _shift(line: str, model: str, actual: str) -> str:
    if line.startswith(model):
        return actual + line[len(model) :]
    if actual.startswith(model):  # the file is indented deeper: add the difference
        return actual[len(model) :] + line
    if model.startswith(actual):  # the model indented deeper: take the excess off
        excess = len(model) - len(actual)
        leading = len(line) - len(line.lstrip())
        return line[min(excess, leading) :]
    return line


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _first_text(lines: Sequence[str]) -> str:
    return next(line for line in lines if line.strip())


def _words(line: str) -> frozenset[str]:
    return frozenset(_WORD.findall(line))


def _split(text: str) -> list[str]:
    if not text:
        return []
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") else lines


def _join(lines: Sequence[str]) -> str:
    return "".join(line + "\n" for line in lines)
