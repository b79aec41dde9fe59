"""The edit format: parsing answers (and every way one can be malformed), and strict, atomic
application with the whitespace tolerance, line endings kept, and paths kept inside the tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overnight.agents.edits import Answer, Edit, EditError, apply_edits, parse_answer


def block(path: str, search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH {path}\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def reason_of(excinfo: pytest.ExceptionInfo[EditError]) -> str:
    return excinfo.value.reason


# -- parsing --------------------------------------------------------------------------------


def test_parse_one_block() -> None:
    answer = parse_answer("DESCRIPTION: raise x\n" + block("a.py", "x = 1\n", "x = 2\n"))

    assert answer == Answer("raise x", [Edit("a.py", "x = 1\n", "x = 2\n")])


def test_parse_many_blocks_in_order_with_chat_and_fences_around_them() -> None:
    text = (
        "Sure! Here is my change.\n\n"
        "**DESCRIPTION:** tune both knobs together\n\n"
        "```python\n"
        + block("src/a.py", "    a = 1\n    b = 2\n", "    a = 3\n")
        + "```\n\nand the second file:\n```\n"
        + block("`b.txt`", "old\n", "")
        + "```\nHope this helps."
    )

    answer = parse_answer(text)

    assert answer.description == "tune both knobs together"
    assert answer.edits == [
        Edit("src/a.py", "    a = 1\n    b = 2\n", "    a = 3\n"),
        Edit("b.txt", "old\n", ""),
    ]


def test_parse_empty_search_means_a_new_file_and_crlf_answers_are_read() -> None:
    text = "DESCRIPTION: add notes\r\n" + block("notes.md", "", "# Notes\n").replace("\n", "\r\n")

    (edit,) = parse_answer(text).edits

    assert edit == Edit("notes.md", "", "# Notes\n")
    assert edit.search_lines == []


def test_replacement_may_hold_a_divider_line_and_description_only_outside_blocks() -> None:
    text = "DESCRIPTION: heading\n" + block(
        "doc.rst", "Title\n", "Title\n=======\nDESCRIPTION: not this\n"
    )

    answer = parse_answer(text)

    assert answer.description == "heading"
    assert answer.edits[0].replace_lines == ["Title", "=======", "DESCRIPTION: not this"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (block("a.py", "x\n", "y\n"), "no DESCRIPTION line"),
        ("DESCRIPTION:\n" + block("a.py", "x\n", "y\n"), "DESCRIPTION line is empty"),
        ("DESCRIPTION: something\nI would change x to y.", "no edit block"),
        ("I would change x to y.", "no DESCRIPTION line; add one outside the blocks"),
        (
            "DESCRIPTION: d\n<<<<<<< SEARCH a.py\nx\n>>>>>>> REPLACE\n",
            "block 1 (a.py) has no ======= line before line 4",
        ),
        (
            "DESCRIPTION: d\n<<<<<<< SEARCH a.py\nx\n=======\ny\n",
            "block 1 (a.py) ends without its >>>>>>> REPLACE line (was the answer cut off?)",
        ),
        (
            "DESCRIPTION: d\n<<<<<<< SEARCH a.py\nx\n",
            "block 1 (a.py) ends without its ======= line",
        ),
        (
            "DESCRIPTION: d\n"
            + block("a.py", "x\n", "y\n")
            + "<<<<<<< SEARCH b.py\nx\n=======\ny\n"
            + block("c.py", "x\n", "y\n"),
            "block 2 (b.py) has no >>>>>>> REPLACE line before line 11",
        ),
        (
            "DESCRIPTION: d\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
            "block 1: the <<<<<<< SEARCH line names no file",
        ),
        ("DESCRIPTION: d\nx\n=======\ny\n>>>>>>> REPLACE\n", "line 5 is a >>>>>>> REPLACE line"),
    ],
)
def test_malformed_answers_say_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(EditError) as excinfo:
        parse_answer(text)

    assert expected in reason_of(excinfo)


def test_an_answer_missing_both_parts_names_both() -> None:
    with pytest.raises(EditError) as excinfo:
        parse_answer("Let me think about it.")

    assert "no DESCRIPTION line" in reason_of(excinfo)
    assert "no edit block" in reason_of(excinfo)


# -- applying -------------------------------------------------------------------------------


def test_apply_exact_replaces_the_lines_and_reports_them(tmp_path: Path) -> None:
    path = write(tmp_path, "a.py", "import os\n\nx = 1\ny = 2\n")

    (applied,) = apply_edits(tmp_path, [Edit("a.py", "x = 1\n", "x = 10\nz = 3\n")])

    assert path.read_text() == "import os\n\nx = 10\nz = 3\ny = 2\n"
    assert (applied.path, applied.lines_removed, applied.lines_added) == ("a.py", 1, 2)
    assert not applied.tolerant and not applied.created


def test_edits_apply_in_order_and_later_ones_see_earlier_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "one\ntwo\n")

    apply_edits(tmp_path, [Edit("a.txt", "one\n", "uno\n"), Edit("a.txt", "uno\ntwo\n", "1\n")])

    assert path.read_text() == "1\n"


def test_empty_replacement_deletes_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "keep\ndrop\nkeep too\n")

    apply_edits(tmp_path, [Edit("a.txt", "drop\n", "")])

    assert path.read_text() == "keep\nkeep too\n"


def test_whitespace_tolerant_match_reindents_the_replacement(tmp_path: Path) -> None:
    source = (
        "class A:\n    def f(self):\n        if x:   \n\n            return 1\n        return 2\n"
    )
    path = write(tmp_path, "a.py", source)
    search = "if x:\n    return 1\n"  # indentation, trailing spaces and a blank line differ
    replace = "if x and y:\n    return 3\nelse:\n  return 4\n"

    (applied,) = apply_edits(tmp_path, [Edit("a.py", search, replace)])

    assert path.read_text() == (
        "class A:\n    def f(self):\n"
        "        if x and y:\n            return 3\n        else:\n          return 4\n"
        "        return 2\n"
    )
    assert applied.tolerant and applied.lines_removed == 3 and applied.lines_added == 4


def test_tolerant_match_takes_off_indentation_the_model_added(tmp_path: Path) -> None:
    path = write(tmp_path, "a.py", "def f():\n    return 1\n")

    apply_edits(tmp_path, [Edit("a.py", "        return 1\n", "        x = 1\n      return x\n")])

    assert path.read_text() == "def f():\n    x = 1\n  return x\n"


def test_zero_matches_show_the_closest_lines(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "a = 1\nb = 2\nlearning_rate = 0.01\nepochs = 3\nz = 9\n")

    with pytest.raises(EditError) as excinfo:
        apply_edits(tmp_path, [Edit("a.py", "learning_rate = 0.1\nepochs = 3\n", "x\n")])

    reason = reason_of(excinfo)
    assert reason.startswith("edit 1 (a.py): the SEARCH text was not found in a.py")
    assert reason.endswith("The closest lines are 3-4:\nlearning_rate = 0.01\nepochs = 3")


def test_several_matches_are_counted_with_their_lines(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = 1\ny\nx = 1\nz\n    x = 1\n")

    with pytest.raises(EditError) as excinfo:
        apply_edits(tmp_path, [Edit("a.py", "x = 1\n", "x = 2\n")])
    with pytest.raises(EditError) as tolerant:
        apply_edits(tmp_path, [Edit("a.py", "  x = 1\n", "x = 2\n")])

    assert "occurs 2 times in a.py (at lines 1, 3); include more" in reason_of(excinfo)
    assert "occurs 3 times in a.py (at lines 1, 3, 5)" in reason_of(tolerant)


def test_a_failing_edit_writes_nothing(tmp_path: Path) -> None:
    first = write(tmp_path, "a.txt", "one\n")
    write(tmp_path, "b.txt", "two\n")
    edits = [
        Edit("a.txt", "one\n", "changed\n"),
        Edit("new.txt", "", "created\n"),
        Edit("b.txt", "missing\n", "x\n"),
    ]

    with pytest.raises(EditError, match=r"^edit 3 \(b\.txt\)"):
        apply_edits(tmp_path, edits)

    assert first.read_text() == "one\n"
    assert not (tmp_path / "new.txt").exists()


def test_create_a_file_in_a_new_directory(tmp_path: Path) -> None:
    (applied,) = apply_edits(tmp_path, [Edit("docs/notes.md", "", "# Notes\nline")])

    assert (tmp_path / "docs" / "notes.md").read_text() == "# Notes\nline\n"
    assert applied.created and applied.lines_added == 2


def test_a_created_file_can_be_edited_by_a_later_edit(tmp_path: Path) -> None:
    apply_edits(tmp_path, [Edit("n.txt", "", "a\nb\n"), Edit("n.txt", "b\n", "c\n")])

    assert (tmp_path / "n.txt").read_text() == "a\nc\n"


def test_creating_an_existing_file_or_editing_a_missing_one_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "content\n")

    with pytest.raises(EditError, match=r"SEARCH is empty but a\.txt already exists"):
        apply_edits(tmp_path, [Edit("a.txt", "", "x\n")])
    with pytest.raises(EditError, match=r"b\.txt does not exist; to create it, leave SEARCH"):
        apply_edits(tmp_path, [Edit("b.txt", "x\n", "y\n")])
    with pytest.raises(EditError, match=r"a\.txt/c\.txt cannot be created: a\.txt is a file"):
        apply_edits(tmp_path, [Edit("a.txt/c.txt", "", "y\n")])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("../outside.txt", "is outside the repository"),
        ("sub/../../outside.txt", "is outside the repository"),
        ("link/outside.txt", "is outside the repository"),
        ("escape.txt", "is outside the repository"),
        (".git/hooks/pre-commit", "inside .git"),
        (".overnight/ledger.db", "inside .overnight"),
        (".", "names the repository itself"),
    ],
)
def test_paths_must_stay_inside_the_repository(tmp_path: Path, path: str, expected: str) -> None:
    root = tmp_path / "repo"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "sub").mkdir(parents=True)
    (outside / "outside.txt").write_text("secret\n")
    os.symlink(outside, root / "link")
    os.symlink(outside / "outside.txt", root / "escape.txt")
    before = sorted(p.name for p in outside.iterdir())

    with pytest.raises(EditError) as excinfo:
        apply_edits(root, [Edit(path, "secret\n", "owned\n")])

    assert expected in reason_of(excinfo)
    assert (outside / "outside.txt").read_text() == "secret\n"
    assert sorted(p.name for p in outside.iterdir()) == before
    assert not (tmp_path / "outside.txt").exists()


def test_a_symlink_inside_the_repository_is_followed(tmp_path: Path) -> None:
    real = write(tmp_path, "real.txt", "a\n")
    os.symlink("real.txt", tmp_path / "alias.txt")

    (applied,) = apply_edits(tmp_path, [Edit("alias.txt", "a\n", "b\n")])

    assert real.read_text() == "b\n" and applied.path == "real.txt"


def test_crlf_files_stay_crlf_and_untouched_lines_keep_their_endings(tmp_path: Path) -> None:
    crlf = write(tmp_path, "win.txt", "one\r\ntwo\r\nthree\r\n")
    mixed = write(tmp_path, "mixed.txt", "a\r\nb\nc\r\nd\r\n")

    apply_edits(tmp_path, [Edit("win.txt", "two\n", "2\n2b\n"), Edit("mixed.txt", "d\n", "D\n")])

    assert crlf.read_bytes() == b"one\r\n2\r\n2b\r\nthree\r\n"
    assert mixed.read_bytes() == b"a\r\nb\nc\r\nD\r\n"


def test_a_missing_final_newline_stays_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "one\ntwo")
    other = write(tmp_path, "b.txt", "x\ny")

    apply_edits(tmp_path, [Edit("a.txt", "two\n", "2\n3\n"), Edit("b.txt", "y\n", "")])

    assert path.read_text() == "one\n2\n3"
    assert other.read_text() == "x"


def test_a_byte_order_mark_is_kept_and_binary_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhello\n")
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00binary")

    apply_edits(tmp_path, [Edit("bom.txt", "hello\n", "bye\n")])
    with pytest.raises(EditError, match=r"blob\.bin is not UTF-8 text"):
        apply_edits(tmp_path, [Edit("blob.bin", "x\n", "y\n")])

    assert path.read_bytes() == b"\xef\xbb\xbfbye\n"


# -- properties -----------------------------------------------------------------------------

# U+FEFF is left out: at the start of a file it is a byte order mark, which edits keep apart
LINE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\ufeff"),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=20), data=st.data())
def test_replacing_a_unique_line_changes_exactly_that_line(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], data: st.DataObject
) -> None:
    unique = [i for i, line in enumerate(lines) if line.strip() and lines.count(line) == 1]
    if not unique:
        return
    index = data.draw(st.sampled_from(unique))
    root = tmp_path_factory.mktemp("prop")
    path = write(root, "f.txt", "\n".join(lines) + "\n")

    apply_edits(root, [Edit("f.txt", lines[index] + "\n", "REPLACED\n")])

    expected = [*lines[:index], "REPLACED", *lines[index + 1 :]]
    assert path.read_bytes().decode("utf-8").split("\n")[:-1] == expected


@settings(max_examples=150, deadline=None)
@given(
    description=LINE.filter(
        lambda text: text != "" and text == text.strip(" \t*_`") and text.strip() == text
    ),
    edits=st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9_/]{0,10}\.[a-z]{1,3}", fullmatch=True),
            st.lists(LINE, max_size=4),
            st.lists(LINE, max_size=4),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_a_written_answer_parses_back_to_its_edits(
    description: str, edits: list[tuple[str, list[str], list[str]]]
) -> None:
    markers = ("<<<<", ">>>>", "=======")
    text_lines = [line for _, search, replace in edits for line in search + replace]
    if any(marker in line for line in text_lines for marker in markers):
        return
    written = [
        Edit(path, "".join(s + "\n" for s in search), "".join(r + "\n" for r in replace))
        for path, search, replace in edits
    ]
    text = f"DESCRIPTION: {description}\n" + "".join(
        block(edit.path, edit.search, edit.replace) for edit in written
    )

    answer = parse_answer(text)

    assert answer.description == description
    assert answer.edits == written
