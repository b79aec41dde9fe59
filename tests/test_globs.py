"""Globs for editable and frozen: one predictable meaning, relative to the repository root."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overnight.globs import compile_glob, matches, select


def test_star_stays_within_one_segment():
    assert matches("train.py", ["*.py"])
    assert matches("src/a.py", ["src/*.py"])
    assert not matches("src/x/a.py", ["src/*.py"])
    assert not matches("src/a.py", ["*.py"])
    assert not matches("train.pyc", ["*.py"])


@pytest.mark.parametrize("path", ["src/a.py", "src/x/b.py", "src/x/y/b.py"])
def test_double_star_spans_any_number_of_segments(path):
    assert matches(path, ["src/**/*.py"])


@pytest.mark.parametrize("path", ["a.py", "lib/a.py", "src/a.txt", "srcx/a.py"])
def test_double_star_keeps_the_fixed_parts(path):
    assert not matches(path, ["src/**/*.py"])


def test_trailing_double_star_matches_everything_below():
    assert matches("data/a.csv", ["data/**"])
    assert matches("data/x/y/z.csv", ["data/**"])
    assert not matches("other/a.csv", ["data/**"])


def test_leading_double_star_matches_at_any_depth():
    assert matches("conftest.py", ["**/conftest.py"])
    assert matches("a/b/conftest.py", ["**/conftest.py"])
    assert not matches("a/b/myconftest.py", ["**/conftest.py"])


def test_question_mark_is_one_character_not_a_slash():
    assert matches("run1.py", ["run?.py"])
    assert not matches("run12.py", ["run?.py"])
    assert not matches("run.py", ["run?.py"])
    assert not matches("a/b", ["a?b"])


def test_character_classes():
    assert matches("v1.txt", ["v[123].txt"])
    assert not matches("v4.txt", ["v[123].txt"])
    assert matches("v7.txt", ["v[0-9].txt"])
    assert matches("v4.txt", ["v[!123].txt"])
    assert not matches("v2.txt", ["v[!123].txt"])


def test_unclosed_bracket_is_literal():
    assert matches("a[b.txt", ["a[b.txt"])
    assert not matches("ab.txt", ["a[b.txt"])


def test_plain_name_matches_only_at_the_root():
    assert matches("train.py", ["train.py"])
    assert not matches("sub/train.py", ["train.py"])
    assert not matches("train.py.bak", ["train.py"])


def test_leading_dot_slash_and_whitespace_are_ignored():
    assert matches("train.py", ["./train.py"])
    assert matches("train.py", [" train.py "])


def test_regex_characters_in_names_are_literal():
    assert matches("a+b(1).py", ["a+b(1).py"])
    assert not matches("aab1.py", ["a+b(1).py"])
    assert not matches("trainXpy", ["train.py"])


def test_matches_any_of_several_patterns():
    assert matches("b.txt", ["a.txt", "b.txt"])
    assert not matches("c.txt", ["a.txt", "b.txt"])
    assert not matches("a.txt", [])


def test_select_returns_sorted_matches():
    paths = ["src/z.py", "README.md", "src/a.py", "src/deep/m.py", "setup.py"]

    assert select(paths, ["src/**/*.py", "README.md"]) == [
        "README.md",
        "src/a.py",
        "src/deep/m.py",
        "src/z.py",
    ]
    assert select(paths, ["*.toml"]) == []


def test_compile_glob_anchors_at_both_ends():
    pattern = compile_glob("b.py")

    assert pattern.match("b.py")
    assert not pattern.match("ab.py")
    assert not pattern.match("b.pyx")


SEGMENT = st.text(alphabet="abcXYZ019_-.+()$^{}|", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)
LITERAL_PATH = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)


@given(LITERAL_PATH, LITERAL_PATH)
def test_literal_path_matches_itself_only(path, other):
    assert matches(path, [path])
    assert matches(other, [path]) == (other == path)
    for near in (path + "x", "x" + path, "sub/" + path, path + "/x", path[:-1]):
        assert not matches(near, [path])
