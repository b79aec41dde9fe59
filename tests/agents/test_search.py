"""The offline search agent's local moves: knob discovery, literal rewriting, steps, and learning
from history."""

from __future__ import annotations

import ast
import json
import math
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overnight.agents.base import AgentContext
from overnight.agents.knobs import (
    Knob,
    find_knobs,
    format_value,
    knobs_in_source,
    moves,
    reach,
    set_knob,
    with_value,
)
from overnight.agents.search import Memory, SearchAgent, candidates, config_identity
from overnight.config import KnobConfig, SearchAgentConfig
from overnight.errors import AgentError, SearchExhausted
from overnight.records import Experiment, Proposal, Status


@pytest.fixture(autouse=True)
def local_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the local moves: the default sampler where Optuna is absent."""
    monkeypatch.setattr("overnight.agents.search.available", lambda sampler: False)


TRAIN = """\
\"\"\"A toy training script.\"\"\"

import math

# Optimisation
LEARNING_RATE = 0.001  # peak step size
BATCH_SIZE = 64   # examples per step
USE_BIAS = True
OFFSET = -3
MODEL = "mlp"
schedule = 0.5
_PRIVATE = 7


def train():
    INNER = 3
    return LEARNING_RATE * INNER
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def knobs_of(text: str, **config: KnobConfig) -> dict[str, Knob]:
    return {knob.name: knob for knob in knobs_in_source(text, "train.py", config)}


def knob(text: str, name: str, **config: KnobConfig) -> Knob:
    return knobs_of(text, **config)[name]


def make_context(
    root: Path,
    history: Sequence[Experiment] = (),
    number: int = 1,
    files: Sequence[str] = ("train.py",),
) -> AgentContext:
    return AgentContext(
        root=root,
        number=number,
        editable_files=list(files),
        editable_globs=list(files),
        history=list(history) or [baseline()],
        best_metric=None,
        direction="minimize",
        brief_path=root / "brief.md",
    )


def baseline() -> Experiment:
    return Experiment(run_id=1, number=0, parent_commit="c0", status=Status.BASELINE)


def row(number: int, status: Status, proposal: Proposal) -> Experiment:
    """A ledger row as a resumed run would read it back: meta through JSON."""
    meta = json.loads(json.dumps(proposal.meta))
    return Experiment(
        run_id=1,
        number=number,
        parent_commit=f"c{number}",
        status=status,
        description=proposal.description,
        agent_meta=meta,
    )


def simulate(
    root: Path,
    config: SearchAgentConfig,
    statuses: Sequence[Status],
    files: Sequence[str] = ("train.py",),
    history: Sequence[Experiment] = (),
) -> tuple[list[Proposal], list[Experiment]]:
    """Run the loop by hand: propose, keep the change or restore the files, record a row.

    A new agent object answers every call, as after a restart, so nothing may live in memory.
    """
    history = list(history) or [baseline()]
    proposals = []
    for status in statuses:
        number = len(history)
        saved = {file: (root / file).read_bytes() for file in files}
        proposal = SearchAgent(config).propose(make_context(root, history, number, files))
        if status != Status.KEEP:
            for file, content in saved.items():
                (root / file).write_bytes(content)
        history.append(row(number, status, proposal))
        proposals.append(proposal)
    return proposals, history


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


# ---------------------------------------------------------------- discovery


def test_finds_module_level_upper_case_literals_of_each_kind() -> None:
    found = knobs_of(TRAIN)
    assert sorted(found) == ["BATCH_SIZE", "LEARNING_RATE", "OFFSET", "USE_BIAS"]
    assert (found["LEARNING_RATE"].kind, found["LEARNING_RATE"].value) == ("float", 0.001)
    assert (found["BATCH_SIZE"].kind, found["BATCH_SIZE"].value) == ("int", 64)
    assert (found["USE_BIAS"].kind, found["USE_BIAS"].value) == ("bool", True)
    assert (found["OFFSET"].kind, found["OFFSET"].value, found["OFFSET"].text) == ("int", -3, "-3")
    assert found["LEARNING_RATE"].line == 6
    assert found["LEARNING_RATE"].key == "train.py:LEARNING_RATE"


def test_annotated_assignments_are_knobs_and_bare_annotations_are_not() -> None:
    found = knobs_of("DROPOUT: float = 0.1\nLAYERS: int = 2\nLATER: int\n")
    assert {name: k.value for name, k in found.items()} == {"DROPOUT": 0.1, "LAYERS": 2}


def test_ignores_everything_that_is_not_a_single_module_level_literal() -> None:
    text = """\
lower = 1
Mixed_Case = 2
_HIDDEN = 3
A, B = 1, 2
C = D = 4
SUM = 1 + 2
CALL = int("5")
PAIR = (1, 2)
NAME = "adam"
RAW = b"x"
IMAG = 2j
HUGE = 1e999
NEG_BOOL = -True
AGAIN = 1
AGAIN = 2
if True:
    INSIDE_IF = 5
class Config:
    IN_CLASS = 6
def f():
    IN_FUNCTION = 7
KEPT = 8
"""
    assert list(knobs_of(text)) == ["KEPT"]


def test_strings_are_knobs_only_with_declared_choices() -> None:
    assert "MODEL" not in knobs_of(TRAIN)
    found = knobs_of(TRAIN, MODEL=KnobConfig(choices=["mlp", "cnn"]))
    assert (found["MODEL"].kind, found["MODEL"].value, found["MODEL"].text) == (
        "choice",
        "mlp",
        '"mlp"',
    )


def test_numbers_with_declared_choices_move_through_the_choices() -> None:
    batch = knob(TRAIN, "BATCH_SIZE", BATCH_SIZE=KnobConfig(choices=[32, 64, 128, 256]))
    assert batch.kind == "choice"
    assert reach(batch, "next") == [128, 256]
    assert reach(batch, "prev") == [32]


def test_config_by_plain_name_applies_in_any_file_and_by_path_in_that_file_only(
    tmp_path: Path,
) -> None:
    write(tmp_path, "a.py", "RATE = 0.5\n")
    write(tmp_path, "pkg/b.py", "RATE = 0.5\n")
    config = {"RATE": KnobConfig(max=0.6), "pkg/b.py:RATE": KnobConfig(freeze=True)}
    found = {k.key: k for k in find_knobs(tmp_path, ["pkg/b.py", "a.py", "a.py"], config)}
    assert list(found) == ["a.py:RATE", "pkg/b.py:RATE"]
    assert found["a.py:RATE"].settings.max == 0.6 and not found["a.py:RATE"].frozen
    assert found["pkg/b.py:RATE"].frozen


def test_seed_like_names_are_frozen_unless_the_config_names_them() -> None:
    text = "SEED = 0\nDATA_SEED = 1\nSEEDLING = 2\n"
    found = knobs_of(text)
    assert found["SEED"].frozen and found["DATA_SEED"].frozen and not found["SEEDLING"].frozen
    assert not knobs_of(text, SEED=KnobConfig())["SEED"].frozen


def test_unreadable_and_broken_files_have_no_knobs(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "RATE = (\n")
    write(tmp_path, "good.py", "RATE = 1\n")
    found = find_knobs(tmp_path, ["broken.py", "missing.py", "good.py"])
    assert [k.key for k in found] == ["good.py:RATE"]


# ---------------------------------------------------------------- rewriting


def test_rewrite_changes_only_the_literal(tmp_path: Path) -> None:
    path = write(tmp_path, "train.py", TRAIN)
    target = knob(TRAIN, "BATCH_SIZE")
    assert set_knob(tmp_path, target, 128) == "128"
    after = path.read_text(encoding="utf-8")
    assert changed_lines(TRAIN, after) == [
        ("BATCH_SIZE = 64   # examples per step\n", "BATCH_SIZE = 128   # examples per step\n")
    ]


def test_rewrite_of_a_negative_number_replaces_sign_and_digits(tmp_path: Path) -> None:
    path = write(tmp_path, "train.py", TRAIN)
    set_knob(tmp_path, knob(TRAIN, "OFFSET"), -6)
    assert changed_lines(TRAIN, path.read_text()) == [("OFFSET = -3\n", "OFFSET = -6\n")]
    set_knob(tmp_path, knob(path.read_text(), "OFFSET"), 2)
    assert "OFFSET = 2\n" in path.read_text()


def test_unicode_before_the_literal_on_the_same_line(tmp_path: Path) -> None:
    text = 'LABEL = "größe → ∞"; RATE = 0.25  # ä comment ✓\nNEXT = 1\n'
    path = write(tmp_path, "train.py", text)
    rate = knob(text, "RATE")
    assert rate.text == "0.25"
    set_knob(tmp_path, rate, 0.5)
    assert path.read_text(encoding="utf-8") == text.replace("0.25", "0.5")


def test_multi_byte_characters_inside_a_string_knob(tmp_path: Path) -> None:
    text = "MODE = 'ü'  # ✓\n"
    path = write(tmp_path, "train.py", text)
    mode = knob(text, "MODE", MODE=KnobConfig(choices=["ü", "ß"]))
    set_knob(tmp_path, mode, "ß")
    assert path.read_text(encoding="utf-8") == "MODE = 'ß'  # ✓\n"


def test_rewrite_keeps_crlf_form_feeds_bom_and_declared_encoding(tmp_path: Path) -> None:
    crlf = "# r\u00e9glage\r\n\x0cRATE = 0.1\r\nOTHER = 2\r\n"
    path = tmp_path / "crlf.py"
    path.write_bytes(b"\xef\xbb\xbf" + crlf.encode("utf-8"))
    rate = find_knobs(tmp_path, ["crlf.py"])[0]
    set_knob(tmp_path, rate, 0.2)
    assert path.read_bytes() == b"\xef\xbb\xbf" + crlf.replace("0.1", "0.2").encode("utf-8")

    latin = "# -*- coding: latin-1 -*-\nNOTE = 'caf\u00e9'; RATE = 3\n"
    path = tmp_path / "latin.py"
    path.write_bytes(latin.encode("latin-1"))
    rate = find_knobs(tmp_path, ["latin.py"])[0]
    set_knob(tmp_path, rate, 4)
    assert path.read_bytes() == latin.replace("= 3", "= 4").encode("latin-1")


def test_rewrite_refuses_a_file_that_changed_under_it(tmp_path: Path) -> None:
    write(tmp_path, "train.py", TRAIN)
    stale = knob(TRAIN, "BATCH_SIZE")
    write(tmp_path, "train.py", "# moved\n" + TRAIN)
    with pytest.raises(AgentError, match="changed"):
        set_knob(tmp_path, stale, 128)


@pytest.mark.parametrize(
    ("value", "like", "expected"),
    [
        (0.002, "0.001", "0.002"),
        (2e-05, "1e-05", "2e-05"),
        (6e-4, "3e-4", "6e-4"),
        (2000.0, "1e3", "2e3"),
        (0.0316, "1E+2", "3.16E-2"),
        (2.0, "1.0", "2.0"),
        (2_000_000, "1_000_000", "2_000_000"),
        (128, "64", "128"),
        (False, "True", "False"),
        ("cnn", "'mlp'", "'cnn'"),
        ("cnn", '"mlp"', '"cnn"'),
        ("it's", '"mlp"', '"it\'s"'),
        (0.5, '"relu"', "0.5"),
    ],
)
def test_values_are_written_in_the_style_of_the_literal_they_replace(
    value: bool | int | float | str, like: str, expected: str
) -> None:
    assert format_value(value, like) == expected
    written = ast.literal_eval(expected)
    assert type(written) is type(value) and written == value


finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(old=finite_floats, new=finite_floats, scientific=st.booleans())
def test_any_float_rewrite_keeps_the_file_parseable_and_the_other_lines(
    old: float, new: float, scientific: bool
) -> None:
    literal = f"{old:e}" if scientific else repr(old)
    text = f"# ∂ head\nA = 1\nX = {literal}  # ünïcode ✓\nB = 'b'\n"
    target = knob(text, "X")
    rewritten = with_value(text, target, format_value(new, target.text))
    again = knob(rewritten, "X")
    assert again.value == new and type(again.value) is float
    assert [line for line in rewritten.splitlines() if not line.startswith("X =")] == [
        line for line in text.splitlines() if not line.startswith("X =")
    ]
    assert rewritten.splitlines()[2].endswith("  # ünïcode ✓")


# ---------------------------------------------------------------- steps


def values(text: str, name: str, move: str, **config: KnobConfig) -> list[object]:
    return reach(knob(text, name, **config), move)


def test_positive_floats_step_on_a_log_scale_with_finer_levels() -> None:
    assert values("LR = 0.001\n", "LR", "up") == [0.002, 0.001414, 0.001189]
    assert values("LR = 0.001\n", "LR", "down") == [0.0005, 0.0007071, 0.0008409]
    assert values("SCALE = 1.0\n", "SCALE", "up")[0] == 2.0


def test_negative_floats_scale_their_magnitude_and_keep_their_sign() -> None:
    assert values("SHIFT = -0.5\n", "SHIFT", "up")[0] == -0.25
    assert values("SHIFT = -0.5\n", "SHIFT", "down")[0] == -1.0


def test_zero_floats_move_up_to_a_small_value_and_below_zero_only_when_allowed() -> None:
    assert values("DECAY = 0.0\n", "DECAY", "up")[0] == 0.01
    assert values("DECAY = 0.0\n", "DECAY", "down") == []
    assert values("BIAS = 0.0\n", "BIAS", "down", BIAS=KnobConfig(min=-1))[0] == -0.01


def test_floats_in_the_upper_half_of_a_range_scale_their_distance_to_max() -> None:
    unit = KnobConfig(min=0, max=1)
    assert values("MOMENTUM = 0.9\n", "MOMENTUM", "up", MOMENTUM=unit)[0] == 0.95
    assert values("MOMENTUM = 0.9\n", "MOMENTUM", "down", MOMENTUM=unit)[0] == 0.8
    assert values("BETA = 0.999\n", "BETA", "up", BETA=unit)[0] == 0.9995
    assert values("DROPOUT = 0.1\n", "DROPOUT", "up", DROPOUT=unit)[0] == 0.2
    assert values("DROPOUT = 0.0\n", "DROPOUT", "up", DROPOUT=unit)[0] == 0.01
    assert values("DROPOUT = 0.0\n", "DROPOUT", "down", DROPOUT=unit) == []
    assert values("P = 1.0\n", "P", "up", P=unit) == []
    assert values("P = 1.0\n", "P", "down", P=unit)[0] == 0.99
    assert values("P = 0.6\n", "P", "down", P=unit)[0] == 0.3  # 0.2 would cross the middle
    assert values("W = 0.0\n", "W", "down", W=KnobConfig(min=-1, max=1))[0] == -0.02
    wide = KnobConfig(min=0.0001, max=1.0)
    assert values("LR = 0.005\n", "LR", "up", LR=wide) == [0.01, 0.007071, 0.005946]
    assert values("LR = 0.0002\n", "LR", "down", LR=wide) == [0.0001, 0.0001414, 0.0001682]


def test_one_sided_bounds_clamp_and_a_move_that_clamps_to_the_value_is_no_move() -> None:
    capped = KnobConfig(max=0.003)
    assert values("LR = 0.002\n", "LR", "up", LR=capped)[0] == 0.003
    assert values("LR = 0.003\n", "LR", "up", LR=capped) == []


def test_linear_floats_add_a_tenth_of_the_range_or_of_the_value() -> None:
    linear = KnobConfig(log=False)
    assert values("T = 0.7\n", "T", "up", T=linear) == [0.77, 0.735, 0.7175]
    ranged = KnobConfig(log=False, min=0, max=2)
    assert values("T = 0.7\n", "T", "down", T=ranged)[0] == 0.5


def test_ints_step_by_about_a_tenth_and_double_or_halve() -> None:
    assert values("N = 5\n", "N", "up") == [6]
    assert values("N = 20\n", "N", "up") == [22, 21]
    assert values("N = 300\n", "N", "down") == [270, 285, 293]
    assert values("N = 5\n", "N", "double") == [10]
    assert values("N = 5\n", "N", "halve") == [2]
    assert all(type(v) is int for v in values("N = 300\n", "N", "down"))


def test_positive_ints_stay_at_least_one_unless_min_says_otherwise() -> None:
    assert values("N = 1\n", "N", "down") == []
    assert values("N = 1\n", "N", "halve") == []
    assert values("N = 1\n", "N", "down", N=KnobConfig(min=0)) == [0]
    assert values("N = 0\n", "N", "up") == [1]
    assert values("N = 0\n", "N", "down") == []
    assert values("N = 0\n", "N", "double") == []


def test_negative_ints_stay_negative_and_halve_toward_zero() -> None:
    assert values("K = -3\n", "K", "halve") == [-1]
    assert values("K = -3\n", "K", "double") == [-6]
    assert values("K = -3\n", "K", "up") == [-2]
    assert values("K = -1\n", "K", "up") == []


def test_ints_respect_declared_bounds() -> None:
    bounded = KnobConfig(min=2, max=8)
    assert values("N = 7\n", "N", "up", N=bounded) == [8]
    assert values("N = 7\n", "N", "double", N=bounded) == [8]
    assert values("N = 8\n", "N", "up", N=bounded) == []
    assert values("N = 3\n", "N", "halve", N=bounded) == [2]
    assert values("N = 32\n", "N", "up", N=KnobConfig(min=8, max=512)) == [35, 33]


def test_log_setting_chooses_the_int_moves() -> None:
    assert moves(knob("N = 8\n", "N")) == ("up", "down", "double", "halve")
    assert moves(knob("N = 8\n", "N", N=KnobConfig(log=True))) == ("double", "halve")
    assert moves(knob("N = 8\n", "N", N=KnobConfig(log=False))) == ("up", "down")


def test_a_log_scale_int_refines_its_doubling_and_halving() -> None:
    log = KnobConfig(log=True)
    assert values("N = 64\n", "N", "double", N=log) == [128, 91, 76]
    assert values("N = 64\n", "N", "halve", N=log) == [32, 45, 54]
    assert values("N = 2\n", "N", "halve", N=log) == [1]  # 1.41 and 1.68 round to 1 and 2
    assert values("N = 5\n", "N", "double") == [10]  # up/down refine an int without log


def test_bools_flip_and_choices_walk_the_list() -> None:
    assert values("FLAG = True\n", "FLAG", "flip") == [False]
    modes = KnobConfig(choices=["a", "b", "c"])
    assert values("MODE = 'b'\n", "MODE", "next", MODE=modes) == ["c"]
    assert values("MODE = 'b'\n", "MODE", "prev", MODE=modes) == ["a"]
    assert values("MODE = 'z'\n", "MODE", "next", MODE=modes) == ["a", "b", "c"]
    assert values("MODE = 'z'\n", "MODE", "prev", MODE=modes) == ["c", "b", "a"]
    repeated = KnobConfig(choices=["a", "b", "a"])
    assert values("MODE = 'b'\n", "MODE", "next", MODE=repeated) == ["a"]


def test_choices_tell_true_from_one() -> None:
    mixed = KnobConfig(choices=[1, True, "1"])
    assert values("X = True\n", "X", "next", X=mixed) == ["1"]
    assert values("X = True\n", "X", "prev", X=mixed) == [1]


bounds = st.one_of(st.none(), st.integers(-1000, 1000))


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(st.integers(-10_000, 10_000), st.floats(-1e6, 1e6)),
    low=bounds,
    high=bounds,
    log=st.sampled_from([None, True, False]),
)
def test_every_step_stays_in_bounds_keeps_its_type_and_goes_the_named_way(
    value: float, low: int | None, high: int | None, log: bool | None
) -> None:
    if low is not None and high is not None and low > high:
        low, high = high, low
    text = f"X = {value!r}\n"
    target = knob(text, "X", X=KnobConfig(min=low, max=high, log=log))
    for move in moves(target):
        for new in reach(target, move):
            assert type(new) is type(value) and new != value
            assert math.isfinite(new)
            inside = (low is None or new >= low) and (high is None or new <= high)
            was_inside = (low is None or value >= low) and (high is None or value <= high)
            assert inside or not was_inside
            if move == "up":
                assert new > value
            elif move == "down":
                assert new < value
            elif was_inside and move == "double":
                assert abs(new) > abs(value)
            elif was_inside and move == "halve":
                assert abs(new) < abs(value)


# ---------------------------------------------------------------- the agent


def test_a_proposal_changes_one_literal_and_records_what_a_later_call_needs(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "train.py", TRAIN)
    proposal = SearchAgent(SearchAgentConfig(seed=1)).propose(make_context(tmp_path))
    meta = proposal.meta
    assert len(changed_lines(TRAIN, path.read_text())) == 1
    old_text = knobs_of(TRAIN)[meta["name"]].text
    new_text = knobs_of(path.read_text())[meta["name"]].text
    assert proposal.description == f"{meta['name']} {old_text} -> {new_text}"
    assert meta["file"] == "train.py" and meta["knob"] == f"train.py:{meta['name']}"
    assert (
        set(meta["before"])
        == set(meta["after"])
        == {
            "train.py:LEARNING_RATE",
            "train.py:BATCH_SIZE",
            "train.py:USE_BIAS",
            "train.py:OFFSET",
        }
    )
    differing = [key for key in meta["before"] if meta["before"][key] != meta["after"][key]]
    assert differing == [meta["knob"]]
    assert meta["after"][meta["knob"]] == meta["new"]
    assert knobs_of(path.read_text())[meta["name"]].value == meta["new"]
    json.dumps(meta)  # the ledger stores it as JSON


def test_description_is_one_line_with_old_and_new_literals(tmp_path: Path) -> None:
    write(tmp_path, "train.py", "LEARNING_RATE = 0.001  # step\n")
    config = SearchAgentConfig(knobs={"LEARNING_RATE": KnobConfig(log=True)})
    descriptions = set()
    for seed in range(20):
        write(tmp_path, "train.py", "LEARNING_RATE = 0.001  # step\n")
        descriptions.add(
            SearchAgent(config.model_copy(update={"seed": seed}))
            .propose(make_context(tmp_path))
            .description
        )
    assert descriptions == {
        "LEARNING_RATE 0.001 -> 0.002",
        "LEARNING_RATE 0.001 -> 0.0005",
    }


def test_no_knobs_is_an_agent_error_naming_the_files(tmp_path: Path) -> None:
    write(tmp_path, "train.py", "rate = 0.1\nNAME = 'x'\n")
    write(tmp_path, "notes.md", "RATE = 1\n")
    context = make_context(tmp_path, files=["train.py", "notes.md"])
    with pytest.raises(AgentError, match=r"UPPER_CASE int, float or bool.*train\.py.*choices"):
        SearchAgent().propose(context)
    with pytest.raises(AgentError, match="no editable Python files"):
        SearchAgent().propose(make_context(tmp_path, files=["notes.md"]))


def test_frozen_knobs_are_never_touched(tmp_path: Path) -> None:
    write(tmp_path, "train.py", TRAIN)
    config = SearchAgentConfig(knobs={"LEARNING_RATE": KnobConfig(freeze=True)})
    statuses = [Status.DISCARD, Status.KEEP, Status.DISCARD] * 10
    proposals, _ = simulate(tmp_path, config, statuses)
    touched = {p.meta["name"] for p in proposals}
    assert "LEARNING_RATE" not in touched
    assert touched == {"BATCH_SIZE", "USE_BIAS", "OFFSET"}
    assert "LEARNING_RATE = 0.001  # peak step size" in (tmp_path / "train.py").read_text()


def test_every_knob_frozen_is_exhaustion_that_says_so(tmp_path: Path) -> None:
    write(tmp_path, "train.py", "SEED = 1\nRATE = 0.1\n")
    config = SearchAgentConfig(knobs={"RATE": KnobConfig(freeze=True)})
    with pytest.raises(SearchExhausted, match="frozen"):
        SearchAgent(config).propose(make_context(tmp_path))


def test_never_proposes_a_configuration_already_seen(tmp_path: Path) -> None:
    write(tmp_path, "train.py", TRAIN)
    pattern = [Status.DISCARD, Status.DISCARD, Status.KEEP, Status.CRASH, Status.DISCARD]
    proposals, _ = simulate(tmp_path, SearchAgentConfig(seed=3), pattern * 12)
    seen = [config_identity(proposals[0].meta["before"])]
    for proposal in proposals:
        after = config_identity(proposal.meta["after"])
        assert after not in seen
        seen.append(after)
        seen.append(config_identity(proposal.meta["before"]))


def test_a_tiny_space_is_exhausted_then_refuses(tmp_path: Path) -> None:
    write(tmp_path, "train.py", "FLAG = True\nMODE = 'a'\n")
    config = SearchAgentConfig(knobs={"MODE": KnobConfig(choices=["a", "b", "c"])})
    proposals, history = simulate(tmp_path, config, [Status.DISCARD] * 3)
    assert sorted(p.description for p in proposals) == [
        "FLAG True -> False",
        "MODE 'a' -> 'b'",
        "MODE 'a' -> 'c'",
    ]
    with pytest.raises(SearchExhausted, match="every neighbour"):
        SearchAgent(config).propose(make_context(tmp_path, history, len(history)))


def test_an_interrupted_experiment_does_not_count_as_tried(tmp_path: Path) -> None:
    write(tmp_path, "train.py", "FLAG = True\n")
    proposals, history = simulate(tmp_path, SearchAgentConfig(), [Status.INTERRUPTED])
    again = SearchAgent().propose(make_context(tmp_path, history, 2))
    assert again.description == proposals[0].description == "FLAG True -> False"
    history.append(row(2, Status.DISCARD, again))
    write(tmp_path, "train.py", "FLAG = True\n")
    with pytest.raises(SearchExhausted):
        SearchAgent().propose(make_context(tmp_path, history, 3))


def test_a_keep_is_followed_up_in_the_same_direction(tmp_path: Path) -> None:
    for seed in range(10):
        write(tmp_path, "train.py", TRAIN)
        config = SearchAgentConfig(seed=seed)
        first, history = simulate(tmp_path, config, [Status.KEEP])
        move = first[0].meta["move"]
        if move == "flip":
            continue  # flipping back is the configuration just left
        follow = SearchAgent(config).propose(make_context(tmp_path, history, 2))
        assert (follow.meta["knob"], follow.meta["move"]) == (first[0].meta["knob"], move)
        assert follow.meta["old"] == first[0].meta["new"]


def test_follow_up_continues_a_float_that_improved(tmp_path: Path) -> None:
    write(tmp_path, "train.py", "LR = 0.002\nWD = 0.1\n")
    kept = {
        "knob": "train.py:LR",
        "name": "LR",
        "file": "train.py",
        "old": 0.001,
        "new": 0.002,
        "move": "up",
        "before": {"train.py:LR": 0.001, "train.py:WD": 0.1},
        "after": {"train.py:LR": 0.002, "train.py:WD": 0.1},
    }
    history = [baseline(), Experiment(1, 1, "c1", Status.KEEP, agent_meta=kept)]
    for seed in range(5):
        write(tmp_path, "train.py", "LR = 0.002\nWD = 0.1\n")
        proposal = SearchAgent(SearchAgentConfig(seed=seed)).propose(
            make_context(tmp_path, history, 2)
        )
        assert proposal.description == "LR 0.002 -> 0.004"


def test_stepping_back_where_a_keep_came_from_takes_a_finer_step(tmp_path: Path) -> None:
    text = "LR = 0.002\n"
    before = {"train.py:LR": 0.001}
    after = {"train.py:LR": 0.002}
    meta = {"knob": "train.py:LR", "move": "up", "old": 0.001, "new": 0.002}
    history = [
        baseline(),
        Experiment(1, 1, "c1", Status.KEEP, agent_meta={**meta, "before": before, "after": after}),
    ]
    memory = Memory.from_history(history)
    memory.seen.add(config_identity(after))
    options = {
        c.move: c
        for c in candidates(
            list(knobs_in_source(text, "train.py", {})), after, memory.seen, memory.changes
        )
    }
    assert (options["down"].value, options["down"].level) == (0.001414, 1)
    assert (options["up"].value, options["up"].level) == (0.004, 0)


def test_moves_that_helped_are_preferred(tmp_path: Path) -> None:
    """A went up twice with success; B failed both ways, C once; the last row is no keep."""
    state = {"A": 2.5, "B": 10.0, "C": 10.0}
    history = [baseline()]

    def record(status: Status, name: str, move: str, new: float) -> None:
        before = {f"train.py:{key}": value for key, value in state.items()}
        after = {**before, f"train.py:{name}": new}
        meta = {"knob": f"train.py:{name}", "move": move, "old": state[name], "new": new}
        meta |= {"before": before, "after": after}
        history.append(Experiment(1, len(history), "c", status, agent_meta=meta))
        if status == Status.KEEP:
            state[name] = new

    record(Status.DISCARD, "B", "up", 20.0)
    record(Status.CRASH, "B", "down", 5.0)
    record(Status.KEEP, "A", "up", 5.0)
    record(Status.KEEP, "A", "up", 10.0)
    record(Status.DISCARD, "C", "down", 5.0)
    picks: Counter[tuple[str, str]] = Counter()
    for seed in range(200):
        write(tmp_path, "train.py", "A = 10.0\nB = 10.0\nC = 10.0\n")
        proposal = SearchAgent(SearchAgentConfig(seed=seed)).propose(
            make_context(tmp_path, history, len(history))
        )
        picks[(proposal.meta["name"], proposal.meta["move"])] += 1
    assert picks[("A", "up")] > 120
    assert picks[("A", "up")] > 10 * (picks[("B", "up")] + picks[("B", "down")])
    assert len(picks) >= 3  # the others still get explored


def test_same_seed_and_history_give_the_same_proposal_and_seeds_differ(tmp_path: Path) -> None:
    statuses = [Status.DISCARD, Status.KEEP, Status.DISCARD, Status.DISCARD] * 4
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        root = tmp_path / name
        write(root, "train.py", TRAIN)
        proposals, _ = simulate(root, SearchAgentConfig(seed=seed), statuses)
        runs[name] = [p.description for p in proposals]
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]
    assert (tmp_path / "a" / "train.py").read_text() == (tmp_path / "b" / "train.py").read_text()


def test_a_restart_reads_the_same_history_the_same_way(tmp_path: Path) -> None:
    write(tmp_path, "train.py", TRAIN)
    _, history = simulate(tmp_path, SearchAgentConfig(seed=2), [Status.DISCARD] * 5)
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(tmp_path / "train.py", copy / "train.py")
    one = SearchAgent(SearchAgentConfig(seed=2)).propose(make_context(tmp_path, history, 6))
    two = SearchAgent(SearchAgentConfig(seed=2)).propose(make_context(copy, history, 6))
    assert one == two


def test_failures_of_every_kind_lower_a_move_and_keeps_raise_it() -> None:
    def experiment(status: Status) -> Experiment:
        return Experiment(1, 1, "c", status, agent_meta={"knob": "f.py:A", "move": "up"})

    memory = Memory.from_history(
        [baseline()]
        + [experiment(s) for s in (Status.CRASH, Status.TIMEOUT, Status.VIOLATION, Status.NO_OP)]
        + [experiment(Status.DISCARD), experiment(Status.KEEP), experiment(Status.INTERRUPTED)]
    )
    assert memory.scores[("f.py:A", "up")] == -2 * 4 - 1 + 1
    assert memory.follow_up == ("f.py:A", "up")  # an interrupted row measures nothing

    other_agent = Experiment(1, 9, "c", Status.KEEP, agent_meta={"note": "hand edit"})
    memory.learn(other_agent)
    assert memory.follow_up is None and len(memory.scores) == 1


def test_declared_bounds_hold_over_a_whole_run(tmp_path: Path) -> None:
    write(tmp_path, "train.py", "MOMENTUM = 0.9\nLAYERS = 3\nDROPOUT = 0.0\n")
    config = SearchAgentConfig(
        knobs={
            "MOMENTUM": KnobConfig(min=0, max=0.99),
            "LAYERS": KnobConfig(min=1, max=6),
            "DROPOUT": KnobConfig(min=0, max=0.5),
        }
    )
    limits = {"MOMENTUM": (0, 0.99), "LAYERS": (1, 6), "DROPOUT": (0, 0.5)}
    proposals, _ = simulate(tmp_path, config, [Status.KEEP, Status.DISCARD, Status.DISCARD] * 10)
    for proposal in proposals:
        low, high = limits[proposal.meta["name"]]
        assert low <= proposal.meta["new"] <= high
        assert type(proposal.meta["new"]) is type(proposal.meta["old"])


def test_a_change_measured_from_another_configuration_is_stale_not_forbidden() -> None:
    text = "A = 1.0\nB = 1.0\n"
    knobs = knobs_in_source(text, "train.py", {})
    here = {"train.py:A": 1.0, "train.py:B": 1.0}
    old_meta = {
        "knob": "train.py:A",
        "move": "up",
        "old": 1.0,
        "new": 2.0,
        "before": {"train.py:A": 1.0, "train.py:B": 0.5},
        "after": {"train.py:A": 2.0, "train.py:B": 0.5},
    }
    memory = Memory.from_history(
        [baseline(), Experiment(1, 1, "c", Status.DISCARD, agent_meta=old_meta)]
    )
    options = {
        (c.knob.name, c.move): c for c in candidates(knobs, here, memory.seen, memory.changes)
    }
    assert options[("A", "up")].value == 2.0 and not options[("A", "up")].fresh
    assert options[("A", "down")].fresh and options[("B", "up")].fresh


def test_knobs_in_several_files_are_all_searched(tmp_path: Path) -> None:
    write(tmp_path, "train.py", "LR = 0.1\n")
    write(tmp_path, "model/net.py", "WIDTH = 16\n")
    write(tmp_path, "README.md", "RATE = 1\n")
    files = ["train.py", "model/net.py", "README.md"]
    proposals, _ = simulate(tmp_path, SearchAgentConfig(), [Status.DISCARD] * 8, files=files)
    assert {p.meta["file"] for p in proposals} == {"train.py", "model/net.py"}
    assert all(set(p.meta["before"]) == {"train.py:LR", "model/net.py:WIDTH"} for p in proposals)


def test_two_workers_started_at_once_do_not_make_the_same_move(tmp_path: Path) -> None:
    """Experiments 1 and 2 start from the same state, where one move is left; when 2's agent
    proposes, 1's row in flight says nothing yet, but the agent remembers what it proposed."""
    first, second = tmp_path / "one", tmp_path / "two"
    for root in (first, second):
        write(root, "train.py", "WIDTH = 1\n")
    agent = SearchAgent(SearchAgentConfig(knobs={"WIDTH": KnobConfig(choices=[1, 2])}))
    unproposed = Experiment(run_id=1, number=1, parent_commit="c0", status=Status.RUNNING)

    one = agent.propose(make_context(first, number=1))

    assert one.description == "WIDTH 1 -> 2"
    with pytest.raises(SearchExhausted):
        agent.propose(replace(make_context(second, number=2), in_flight=[unproposed]))
