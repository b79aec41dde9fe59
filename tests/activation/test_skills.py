"""SKILL.md front matter: reading name and description, every malformed file as one clear
error, and rewriting the description alone, every other byte kept, in a form that reads back
exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overnight.activation.skills import Skill, read_skill, read_skills, write_description
from overnight.errors import ConfigError


def skill_file(tmp_path: Path, text: str, name: str = "SKILL.md") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def rewritten(tmp_path: Path, text: str, description: str) -> str:
    path = skill_file(tmp_path, text)
    write_description(path, description)
    assert read_skill(path).description == description
    return path.read_bytes().decode("utf-8")


# -- reading ----------------------------------------------------------------------------------


def test_reads_name_and_description_and_tolerates_other_keys(tmp_path: Path) -> None:
    path = skill_file(
        tmp_path,
        "---\nname: extract-pdf\ndescription: Extract text from PDF files.\nlicense: MIT\n"
        "metadata:\n  version: 2\n---\n# Extract PDF\n",
    )

    assert read_skill(path) == Skill("extract-pdf", "Extract text from PDF files.", path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'It''s: quoted'", "It's: quoted"),
        ('"tab\\there # not a comment"', "tab\there # not a comment"),
        ("plain words # a comment", "plain words"),
        ("a long plain\n  value over\n  three lines", "a long plain value over three lines"),
        (">\n  folded\n  lines\n\n  para\n", "folded lines\npara\n"),
        ("|-\n  literal\n    indented\n", "literal\n  indented"),
        ("\n  on the next line", "on the next line"),
    ],
)
def test_reads_every_scalar_style(tmp_path: Path, value: str, expected: str) -> None:
    path = skill_file(tmp_path, f"---\nname: x\ndescription: {value}\n---\nbody\n")

    assert read_skill(path).description == expected


def test_reads_crlf_files_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = skill_file(tmp_path, "\ufeff---\r\nname: x\r\ndescription: |\r\n  a\r\n  b\r\n---\r\n")

    assert read_skill(path).description == "a\nb\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("# No front matter\n", "SKILL.md: has no front matter: the first line must be ---"),
        ("\n---\nname: x\n---\n", "SKILL.md: has no front matter: the first line must be ---"),
        ("---\nname: x\ndescription: y\n", "SKILL.md: front matter is never closed by a --- line"),
        ("---", "SKILL.md: front matter is never closed by a --- line"),
        ("---\n---\nbody\n", "SKILL.md: front matter is empty: it needs a name and a description"),
        ("---\n- a\n- b\n---\n", "SKILL.md: front matter must be a mapping of fields"),
        ("---\ndescription: y\n---\n", "SKILL.md: name: is missing from the front matter"),
        ("---\nname: x\n---\n", "SKILL.md: description: is missing from the front matter"),
        ("---\nname: x\ndescription:\n---\n", "SKILL.md: description: is empty"),
        ("---\nname: ''\ndescription: y\n---\n", "SKILL.md: name: is empty"),
        ("---\nname: x\ndescription: '  '\n---\n", "SKILL.md: description: is empty"),
        ("---\nname: x\ndescription: 12\n---\n", "SKILL.md: description: must be text, got int"),
        ("---\nname: [x]\ndescription: y\n---\n", "SKILL.md: name: must be text, got list"),
        (
            "---\nname: x\ndescription: 2024-01-01\n---\n",
            "SKILL.md: description: must be text, got date",
        ),
        (
            "---\nname: x\ndescription: y\ndescription: z\n---\n",
            "SKILL.md: description: is given more than once",
        ),
        (
            "---\nname: x\ndescription: y\nbad: [unclosed\n---\n",
            "SKILL.md: line 5: invalid YAML: ",
        ),
        ("---\nname: x\ndescription: a: b\n---\n", "SKILL.md: line 3: invalid YAML: "),
        ("---\nname: x\n\ndescription: \x01\n---\n", "SKILL.md: line 4: invalid YAML: character"),
    ],
)
def test_malformed_files_are_one_line_errors_naming_the_field(
    tmp_path: Path, text: str, error: str
) -> None:
    path = skill_file(tmp_path, text)

    with pytest.raises(ConfigError) as excinfo:
        read_skill(path)

    message = str(excinfo.value).replace(str(tmp_path) + "/", "")
    assert message.startswith(error)
    assert "\n" not in message


def test_unreadable_files_are_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin" / "SKILL.md"
    latin.parent.mkdir()
    latin.write_bytes("---\nname: x\ndescription: caf\xe9\n---\n".encode("latin-1"))

    with pytest.raises(ConfigError, match=r"SKILL\.md: not found"):
        read_skill(tmp_path / "missing" / "SKILL.md")
    with pytest.raises(ConfigError, match=r"SKILL\.md: is not UTF-8 text"):
        read_skill(latin)


def test_read_skills_refuses_two_skills_of_one_name(tmp_path: Path) -> None:
    first = skill_file(tmp_path, "---\nname: pdf\ndescription: one\n---\n", "a/SKILL.md")
    other = skill_file(tmp_path, "---\nname: docx\ndescription: two\n---\n", "b/SKILL.md")
    same = skill_file(tmp_path, "---\nname: pdf\ndescription: three\n---\n", "c/SKILL.md")

    assert [skill.name for skill in read_skills([first, other])] == ["pdf", "docx"]
    with pytest.raises(ConfigError) as excinfo:
        read_skills([first, other, same])
    assert str(excinfo.value) == f"{same}: name: 'pdf' is also the name in {first}"


# -- writing ----------------------------------------------------------------------------------


def test_a_plain_value_becomes_double_quoted_and_its_comment_stays(tmp_path: Path) -> None:
    text = "---\nname: x\ndescription: old words  # why\nlicense: MIT\n---\n# Body\n"

    new = rewritten(tmp_path, text, 'Use for: "quotes", #tags\tand \\ too')

    assert new == (
        "---\nname: x\n"
        'description: "Use for: \\"quotes\\", #tags\\tand \\\\ too"  # why\n'
        "license: MIT\n---\n# Body\n"
    )


def test_a_multi_line_plain_value_is_replaced_whole(tmp_path: Path) -> None:
    text = "---\nname: x\ndescription: old words\n  over two lines\nlicense: MIT\n---\n"

    assert rewritten(tmp_path, text, "- new") == (
        '---\nname: x\ndescription: "- new"\nlicense: MIT\n---\n'
    )


def test_a_folded_value_stays_folded_and_is_wrapped(tmp_path: Path) -> None:
    text = "---\nname: x\ndescription: >\n    Old text\n    here.\n\nlicense: MIT\n---\nbody"
    words = " ".join(f"word{i}:" for i in range(30))

    new = rewritten(tmp_path, text, words)

    lines = new.split("\n")
    assert lines[:3] == ["---", "name: x", "description: >-"]
    assert all(line.startswith("    word") and len(line) <= 100 for line in lines[3:-4])
    assert lines[-4:] == ["", "license: MIT", "---", "body"]


def test_a_literal_value_stays_literal_with_its_indentation(tmp_path: Path) -> None:
    text = "---\nname: x\ndescription: |\n    old\n# note\nlicense: MIT\n---\n"

    assert rewritten(tmp_path, text, "first\n  second\n\nthird\n") == (
        "---\nname: x\ndescription: |\n    first\n      second\n\n    third\n"
        "# note\nlicense: MIT\n---\n"
    )
    assert rewritten(tmp_path, text, "one line") == (
        "---\nname: x\ndescription: |-\n    one line\n# note\nlicense: MIT\n---\n"
    )


@pytest.mark.parametrize(
    ("description", "written"),
    [
        (" leading space", '" leading space"'),
        ("ends in two newlines\n\n", '"ends in two newlines\\n\\n"'),
        ("carriage\rreturn", '"carriage\\rreturn"'),
        ("bell\x07 and \u2028 separator", '"bell\\x07 and \\u2028 separator"'),
    ],
)
def test_a_block_value_falls_back_to_double_quotes_when_the_text_needs_them(
    tmp_path: Path, description: str, written: str
) -> None:
    text = "---\nname: x\ndescription: >\n  old\n---\n"

    assert rewritten(tmp_path, text, description) == f"---\nname: x\ndescription: {written}\n---\n"


def test_crlf_a_byte_order_mark_and_a_missing_final_newline_are_kept(tmp_path: Path) -> None:
    text = "\ufeff---\r\nname: x\r\ndescription: >\r\n  old\r\nlicense: MIT\r\n---\r\nno newline"

    assert rewritten(tmp_path, text, "new\ntext") == (
        "\ufeff---\r\nname: x\r\ndescription: |-\r\n  new\r\n  text\r\nlicense: MIT\r\n"
        "---\r\nno newline"
    )


def test_a_flow_mapping_gets_a_double_quoted_value(tmp_path: Path) -> None:
    text = "---\n{name: x, description: old, license: MIT}\n---\n"

    assert rewritten(tmp_path, text, "a, b: c") == (
        '---\n{name: x, description: "a, b: c", license: MIT}\n---\n'
    )


def test_writing_refuses_an_empty_description_and_anchored_values(tmp_path: Path) -> None:
    plain = skill_file(tmp_path, "---\nname: x\ndescription: old\n---\n")
    aliased = skill_file(tmp_path, "---\nname: &n x\ndescription: *n\n---\n", "b/SKILL.md")

    with pytest.raises(ConfigError, match="description: the new description is empty"):
        write_description(plain, " \n")
    with pytest.raises(ConfigError, match="description: has a YAML anchor, alias or tag"):
        write_description(aliased, "new")
    assert plain.read_text() == "---\nname: x\ndescription: old\n---\n"


def test_writing_a_malformed_file_is_the_error_reading_it_is(tmp_path: Path) -> None:
    path = skill_file(tmp_path, "---\nname: x\n---\n")

    with pytest.raises(ConfigError, match="description: is missing"):
        write_description(path, "new")


OLD_VALUES = {
    "plain": "old words here",
    "single-quoted": "'old: value'",
    "double-quoted": '"old \\n value"  # a comment',
    "multi-line plain": "old text\n  continued",
    "next line": "\n  old text",
    "folded": ">\n  Old folded\n  text.\n",
    "literal": "|-\n    line one\n      two",
    "literal with blank lines": "|\n  a\n\n  b\n\n",
}
texts = st.text(min_size=1).filter(str.strip)
prose = st.from_regex(r"[A-Za-z]\S*( {1,2}\S+){0,60}\n?", fullmatch=True).filter(str.strip)
lines = st.lists(st.text(alphabet=" \tab#:-'\"", max_size=8), min_size=1).map("\n".join)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    style=st.sampled_from(sorted(OLD_VALUES)),
    position=st.sampled_from(["first", "middle", "last"]),
    description=st.one_of(texts, prose, lines.filter(str.strip)),
    body=st.text(),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_any_description_round_trips_and_nothing_else_changes(
    tmp_path: Path, style: str, position: str, description: str, body: str, newline: str
) -> None:
    entry = f"description: {OLD_VALUES[style]}\n"
    before = {"first": "", "middle": "name: x\n", "last": "name: x\nlicense: MIT\n"}[position]
    after = {"first": "name: x\nlicense: MIT\n", "middle": "license: MIT\n", "last": ""}[position]
    head = ("---\n" + before).replace("\n", newline)
    tail = (after + "---\n").replace("\n", newline) + body
    path = skill_file(tmp_path, head + entry.replace("\n", newline) + tail)

    write_description(path, description)

    text = path.read_bytes().decode("utf-8")
    assert read_skill(path).description == description
    assert text.startswith(head)
    assert text.endswith(tail)
    front = yaml.safe_load(text[len("---") : -len(f"---{newline}{body}")])
    assert front == {"name": "x", "description": description, "license": "MIT"}
