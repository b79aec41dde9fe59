"""``overnight compare``: two versions (revisions or files) scored by the same evaluation, in
temporary worktrees that never outlive the comparison."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import SCORE_PY, default_config, git
from overnight import api
from overnight.compare import compare
from overnight.config import CONFIG_NAME
from overnight.errors import UsageError
from overnight.project import Project
from stand_ins.support import run_cli, start_cli, wait_until
from test_cli import assert_one_line_error
from test_triggers import SKILL, activation_project


def commit(root: Path, files: dict[str, str], message: str = "change") -> None:
    for path, text in files.items():
        (root / path).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def worktrees_left(root: Path) -> list[str]:
    """Leftovers: directories under .overnight/worktrees, and worktrees git still knows."""
    folder = root / ".overnight" / "worktrees"
    on_disk = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    known = git(root, "worktree", "list", "--porcelain").count("worktree ")
    return on_disk + ["(registered)"] * (known - 1)


# -- a metric ----------------------------------------------------------------------------------


@pytest.fixture
def metric_repo(make_repo) -> Path:
    """value.txt 1.0, then 2.0 at HEAD."""
    root = make_repo()
    commit(root, {"value.txt": "2.0\n"}, "two")
    return root


def test_two_revisions_side_by_side(metric_repo: Path) -> None:
    lines: list[str] = []
    result = api.compare("HEAD~1", "HEAD", metric_repo, repeats=2, progress=lines.append)

    assert (result.a.kind, result.b.kind) == ("revision", "revision")
    assert result.a.commit == git(metric_repo, "rev-parse", "HEAD~1")
    assert result.a.values == [1.0, 1.0] and result.b.values == [2.0, 2.0]
    assert result.a.secondary() == {"extra": 7.0}
    assert result.difference == 1.0 and result.test == "student"
    assert result.winner == "B" and result.p == 0.0  # no noise at all: any gain is sure
    assert result.verdict == "B is better: score 2 vs 1, p < 0.001"
    assert lines == [  # the sides take turns
        "A (HEAD~1): measurement 1 of 2",
        "B (HEAD): measurement 1 of 2",
        "A (HEAD~1): measurement 2 of 2",
        "B (HEAD): measurement 2 of 2",
    ]
    assert worktrees_left(metric_repo) == []
    assert git(metric_repo, "status", "--porcelain") == ""


# Measurement 0 reads 0.3 high, measurement 1 0.3 low (the seed varies with the measurement).
NOISY_SCORE_PY = """\
import os
from pathlib import Path
value = float(Path("value.txt").read_text())
print(f"score: {value + (0.3, -0.3)[int(os.environ['OVERNIGHT_SEED']) % 2]}")
"""


def test_a_noisy_metric_needs_a_credible_gain(make_repo) -> None:
    evaluate = {**default_config()["evaluate"], "seeds": "vary"}
    root = make_repo({"score.py": NOISY_SCORE_PY}, default_config(evaluate=evaluate))
    commit(root, {"value.txt": "1.1\n"})

    close = api.compare("HEAD~1", "HEAD", root, repeats=2)
    assert close.a.sd == pytest.approx(0.6 / 2**0.5)
    assert close.winner is None and 0.05 < close.p < 0.5
    assert close.verdict.startswith("no clear difference: score A 1 vs B 1.1, p = ")

    one = api.compare("HEAD~1", "HEAD", root, repeats=1)
    assert one.p is None and "one measurement each" in one.verdict


def test_the_measurement_comes_from_the_working_tree(make_repo) -> None:
    """The old revision measured itself ten times higher; the working tree (with an uncommitted
    change to the frozen score.py) decides how both sides are measured."""
    root = make_repo({"score.py": SCORE_PY.replace("{value}", "{value * 10}")})
    commit(root, {"score.py": SCORE_PY, "value.txt": "2.0\n"}, "fix the measurement")
    (root / "score.py").write_text(SCORE_PY.replace("{value}", "{value + 0.5}"))

    result = api.compare("HEAD~1", "HEAD", root)

    assert result.a.values == [1.5] and result.b.values == [2.5]
    assert set(result.measured) == {"overnight.yaml", "score.py"}
    assert git(root, "show", "HEAD~1:score.py") != (root / "score.py").read_text()  # untouched


def test_a_file_against_a_revision_replaces_the_only_editable_file(
    metric_repo: Path, tmp_path: Path
) -> None:
    candidate = tmp_path / "candidate.txt"
    candidate.write_text("3.0\n")

    result = api.compare("HEAD", candidate, metric_repo)

    assert result.b.kind == "file" and result.b.replaces == "value.txt"
    assert result.b.commit == git(metric_repo, "rev-parse", "HEAD")
    assert result.b.label == f"{candidate} as value.txt"
    assert (result.a.values, result.b.values) == ([2.0], [3.0])
    assert (metric_repo / "value.txt").read_text() == "2.0\n"


TWO_FILES_SCORE_PY = """\
from pathlib import Path
a, b = (float(Path(name).read_text()) for name in ("a.txt", "b.txt"))
print(f"score: {a + 10 * b}")
"""


@pytest.fixture
def two_files(make_repo) -> Path:
    config = default_config(editable=["a.txt", "b.txt"])
    return make_repo({"score.py": TWO_FILES_SCORE_PY, "a.txt": "1\n", "b.txt": "1\n"}, config)


def test_file_against_file_with_as(two_files: Path, tmp_path: Path) -> None:
    (tmp_path / "low.txt").write_text("2\n")
    (tmp_path / "high.txt").write_text("3\n")

    result = api.compare(
        str(tmp_path / "low.txt"), str(tmp_path / "high.txt"), two_files, as_path="b.txt"
    )

    assert (result.a.replaces, result.b.replaces) == ("b.txt", "b.txt")
    assert (result.a.values, result.b.values) == ([21.0], [31.0])
    with pytest.raises(UsageError, match=r"2 editable files \(a.txt, b.txt\).*--as PATH"):
        api.compare(str(tmp_path / "low.txt"), "HEAD", two_files)
    with pytest.raises(UsageError, match="not an editable file"):
        api.compare(str(tmp_path / "low.txt"), "HEAD", two_files, as_path="score.py")
    with pytest.raises(UsageError, match="A and B are revisions"):
        api.compare("HEAD", "HEAD", two_files, as_path="a.txt")
    assert worktrees_left(two_files) == []


# -- failures and cleanup --------------------------------------------------------------------


def test_a_crashing_side_fails_with_exit_1_and_leaves_no_worktree(metric_repo: Path) -> None:
    commit(metric_repo, {"value.txt": "not a number\n"}, "broken")

    result = run_cli("compare", "HEAD~1", "HEAD", str(metric_repo), "--repeats", "2")

    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "B failed (crash): [exited with code 1]" in out
    assert worktrees_left(metric_repo) == []
    data = api.compare("HEAD~1", "HEAD", metric_repo, repeats=3)
    assert len(data.b.scores) == 1 and data.a.values == [2.0, 2.0, 2.0]  # B stopped at once


def test_worktrees_are_removed_when_the_evaluation_raises(
    metric_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Exploding:
        def evaluate(self, root: Path, log: Path, seed: int = 0) -> None:
            assert (root / "value.txt").exists() and root.parent.name == "worktrees"
            raise KeyboardInterrupt

    monkeypatch.setattr("overnight.compare.make_evaluator", lambda *args: Exploding())
    with pytest.raises(KeyboardInterrupt):
        compare(Project.open(metric_repo), "HEAD~1", "HEAD")
    assert worktrees_left(metric_repo) == []


def test_sigterm_removes_the_worktrees(make_repo, tmp_path: Path) -> None:
    slow = "import time; time.sleep(60)\n" + SCORE_PY
    root = make_repo({"score.py": slow})
    out = tmp_path / "out.txt"
    process = start_cli(["compare", "HEAD", "HEAD", str(root)], out)
    try:
        wait_until(lambda: len(worktrees_left(root)) >= 4, what="two worktrees")
        wait_until(lambda: (root / ".overnight/logs/compare/A.log").exists(), what="the log")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 130, out.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert worktrees_left(root) == []


def test_worktrees_of_a_killed_comparison_are_removed_next_time(metric_repo: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that no longer runs
    stale = metric_repo / ".overnight" / "worktrees" / f"compare-{gone.pid}-A-x"
    stale.parent.mkdir(parents=True)
    git(metric_repo, "worktree", "add", "--detach", str(stale), "HEAD")

    api.compare("HEAD", "HEAD", metric_repo)

    assert worktrees_left(metric_repo) == []


def test_a_bad_revision_or_a_missing_file_is_one_line_and_exit_2(metric_repo: Path) -> None:
    assert_one_line_error(
        run_cli("compare", "HEAD", "no-such-branch", str(metric_repo)),
        2,
        "B: 'no-such-branch' is neither a file nor a git revision",
    )
    assert_one_line_error(
        run_cli("compare", "missing/alt.txt", "HEAD", str(metric_repo)),
        2,
        "A: 'missing/alt.txt' is neither a file nor a git revision",
    )
    assert worktrees_left(metric_repo) == []


# -- a suite -------------------------------------------------------------------------------------

GENERATOR = """\
from pathlib import Path

def answer(word):
    rules = Path("rules.txt").read_text().split()
    out = word
    if "good" in rules:
        out += " GOOD"
    if f"special:{word}" in rules:
        out += " SPECIAL"
    return out
"""

CASES = [f"c{i}" for i in range(1, 8)]


def suite_file(cases: list[str], assertions: list[dict]) -> str:
    suite = {
        "generate": {"kind": "python", "function": "gen.py:answer"},
        "cases": [{"id": c, "vars": {"word": c}} for c in cases]
        + [{"id": "h1", "vars": {"word": "h1"}, "holdout": True}],
        "assert": assertions,
    }
    return yaml.safe_dump(suite, sort_keys=False)


ASSERTIONS = [{"type": "contains", "value": "GOOD"}, {"type": "contains", "value": "SPECIAL"}]


@pytest.fixture
def suite_repo(tmp_path: Path) -> Path:
    """rules "special:c1" at HEAD~1 (with an older, smaller suite), "good special:c2" at HEAD."""
    root = tmp_path / "suite"
    root.mkdir()
    config = {
        "name": "suite",
        "editable": ["rules.txt"],
        "frozen": ["gen.py"],
        "evaluate": {"kind": "suite", "suite": "suite.yaml"},
    }
    files = {
        CONFIG_NAME: yaml.safe_dump(config, sort_keys=False),
        "gen.py": GENERATOR,
        "rules.txt": "special:c1\n",
        "suite.yaml": suite_file(["c1", "c2"], ASSERTIONS[:1]),
    }
    for name, text in files.items():
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    commit(root, {"rules.txt": "good special:c2\n", "suite.yaml": suite_file(CASES, ASSERTIONS)})
    return root


def test_suites_pair_the_checks_and_mark_the_flips(suite_repo: Path) -> None:
    result = api.compare("HEAD~1", "HEAD", suite_repo)

    assert result.test == "sign"
    assert (result.a.values, result.b.values) == ([1.0], [8.0])  # HEAD's suite on both sides
    assert result.a.cases()["c1"] == (1, 2) and result.b.cases()["c1"] == (1, 2)
    flips = {(f.case_id, f.assertion): f.better for f in result.flipped}
    assert flips[("c1", "contains 'SPECIAL'")] is False
    assert flips[("c2", "contains 'SPECIAL'")] is True
    assert all(flips[(c, "contains 'GOOD'")] for c in CASES)
    assert (result.better, result.worse) == (8, 1)
    assert result.p == pytest.approx(10 / 512)
    assert result.verdict == "B is better: 8/14 vs 1/14, p = 0.02"
    held = (result.a.held_out, result.b.held_out)
    assert [(s.suite.passed, s.suite.total) for s in held] == [(0, 2), (1, 2)]

    backwards = api.compare("HEAD", "HEAD~1", suite_repo)
    assert backwards.winner == "A" and backwards.verdict.startswith("A is better: 8/14 vs 1/14")


def test_the_suite_table_and_the_held_out_line(suite_repo: Path) -> None:
    result = run_cli("compare", "HEAD~1", "HEAD", str(suite_repo))

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    c1 = next(line for line in lines if line.startswith("│ c1 "))
    assert "1/2" in c1 and "+ contains 'GOOD'" in c1 and "− contains 'SPECIAL'" in c1
    c2 = next(line for line in lines if line.startswith("│ c2 "))
    assert "0/2" in c2 and "2/2" in c2
    total = next(line for line in lines if line.startswith("│ total"))
    assert "1/14" in total and "8/14" in total and "8 better, 1 worse" in total
    assert "held out (never shown to an agent): A 0/2 · B 1/2" in result.stdout
    assert lines[-1] == "B is better: 8/14 vs 1/14, p = 0.02"
    assert "suite.yaml" in lines[1] and "gen.py" in lines[1]


def test_json_shape(suite_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "rules.txt").write_text("good special:c2\n")

    result = run_cli("compare", "HEAD", str(tmp_path / "rules.txt"), str(suite_repo), "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    keys = "metric direction kind repeats a b difference test p flips better worse winner verdict"
    assert set(data) >= set(keys.split())
    assert data["kind"] == "suite" and data["winner"] is None and data["flips"] == []
    assert data["verdict"] == "no difference: A 8/14 vs B 8/14; the same checks pass"
    a, b = data["a"], data["b"]
    assert (a["kind"], b["kind"], b["replaces"]) == ("revision", "file", "rules.txt")
    assert a["suite"]["passed"] == 8 and a["suite"]["total"] == 14
    assert a["suite"]["cases"]["c1"] == {"passed": 1, "total": 2}
    assert b["held_out"] == {"status": "ok", "value": 1.0, "passed": 1, "total": 2}
    assert "suite.yaml" in data["measured_from_working_tree"]


# -- skill triggers ---------------------------------------------------------------------------


def test_triggers_compare_the_metric_and_the_queries(tmp_path: Path) -> None:
    root = activation_project(tmp_path, holdout=0)
    better = tmp_path / "commit.md"
    description = "Reword commit messages; a commit subject for staged changes or a diff."
    better.write_text(SKILL.format(name="commit", description=description))
    target = "skills/commit/SKILL.md"

    result = api.compare("HEAD", better, root, as_path=target)

    assert result.kind == "triggers" and result.test == "sign"
    assert set(result.b.secondary()) == {"accuracy", "precision", "recall", "f1"}
    assert result.b.secondary()["recall"] > result.a.secondary()["recall"]
    assert result.flipped and all(f.better for f in result.flipped)
    assert result.verdict.startswith("no clear difference: f1 A 0.")  # too few queries to tell
    shown = run_cli("compare", "HEAD", str(better), str(root), "--as", target)
    assert shown.returncode == 0, shown.stderr
    for word in ("f1: higher is better", "recall", "precision", "checks that flip"):
        assert word in shown.stdout
    for flip in result.flipped:
        assert flip.case_id in shown.stdout


def test_help_explains_the_arguments() -> None:
    result = run_cli("compare", "--help")
    text = " ".join(result.stdout.split())
    assert "git revision" in text and "--as PATH" in text and "working tree" in text
