"""``overnight prune`` on real runs: a scripted agent makes planned changes, the loop keeps them
in real git and a real ledger, then each kept change is taken out and measured.

The evaluator reads three flag files, ``parts/a.txt``, ``parts/b.txt`` and ``parts/c.txt``, and
scores ``max(a, b) + c``: once ``a`` is larger, a change that raised ``b`` does nothing."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

import overnight
from conftest import default_config, git
from overnight.config import PolicyConfig
from overnight.errors import EvaluationError, UsageError
from overnight.ledger import Ablation
from overnight.project import Project
from overnight.pruning import CRASH, DROPPED, ENTANGLED, KEPT, removal_hurts
from overnight.records import Status
from stand_ins.support import porcelain, rev, run_cli, start_cli, wait_until

SCORE = """\
from pathlib import Path
a, b, c = (float(Path(f"parts/{name}.txt").read_text()) for name in "abc")
print(f"score: {max(a, b) + c}")
"""

# b builds on a: without a, a tree with b crashes.
NEEDS_A = """\
import sys
from pathlib import Path
a, b, c = (float(Path(f"parts/{name}.txt").read_text()) for name in "abc")
if b > 0 and a == 0:
    sys.exit("b needs a")
print(f"score: {max(a, b) + c}")
"""

# Noise of sd 1, drawn afresh for every seed and every tree; each seed is printed to the
# measurement's log (the sandbox lets an evaluation write nowhere but its tree).
NOISY = """\
import os, random
from pathlib import Path
texts = [Path(f"parts/{name}.txt").read_text() for name in "abc"]
a, b, c = (float(t) for t in texts)
seed = os.environ["OVERNIGHT_SEED"]
print(f"seed: {seed}")
noise = random.Random(seed + "|" + "|".join(texts)).gauss(0, 1)
print(f"score: {max(a, b) + c + noise}")
"""

# Hangs when measuring the tree without experiment 2 (a is back at 0) while HANG is set (passed
# through to the evaluation), after a line in its log.
HANGS = """\
import os, time
from pathlib import Path
a, b, c = (float(Path(f"parts/{name}.txt").read_text()) for name in "abc")
if a == 0 and os.environ.get("HANG"):
    print("hanging", flush=True)
    time.sleep(60)
print(f"score: {max(a, b) + c}")
"""

# The scripted agent: experiment N writes the files of step N of plan.json.
AGENT = """\
import json, os
from pathlib import Path
step = json.loads(Path("plan.json").read_text())[int(os.environ["OVERNIGHT_EXPERIMENT"]) - 1]
for path, text in step["files"].items():
    Path(path).write_text(text)
print(step["description"])
"""

# b, then a (which makes b redundant), then c: three keeps, the first of them worth nothing.
REDUNDANT_B = [
    ("add b", {"parts/b.txt": "1\n"}),
    ("add a, larger than b", {"parts/a.txt": "2\n"}),
    ("add c", {"parts/c.txt": "1\n"}),
]


def planned_run(make_repo, plan, score=SCORE, policy=None, evaluate=None, name=None) -> Path:
    """A repository where the loop has run ``plan`` (one step per experiment) on ``overnight/t``."""
    config = default_config(
        editable=["parts/*.txt"],
        frozen=["score.py", "agent.py", "plan.json"],
        agent={"kind": "command", "command": f"{sys.executable} agent.py"},
        budget={"experiments": len(plan)},
        policy=policy or {"kind": "greedy"},
    )
    config["evaluate"].update(evaluate or {})
    steps = [{"description": d, "files": files} for d, files in plan]
    files = {
        "score.py": score,
        "agent.py": AGENT,
        "plan.json": json.dumps(steps),
        **{f"parts/{name}.txt": "0\n" for name in "abc"},
    }
    root = make_repo(files, config, name=name)
    overnight.run(root, tag="t")
    return root


def statuses(root: Path) -> list[Status]:
    return [e.status for e in overnight.history(root)[1]]


def prune_rows(root: Path) -> list[dict]:
    db = sqlite3.connect(root / ".overnight" / "ledger.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM prunes ORDER BY rowid")]
    finally:
        db.close()


def part(root: Path, name: str) -> str:
    return (root / "parts" / f"{name}.txt").read_text().strip()


def verdicts(result) -> list[tuple[int, str]]:
    return [(row.number, row.verdict) for row in result.rows]


# -- what is dropped and what stays ------------------------------------------------------------


def test_a_change_that_matters_stays_and_one_that_does_nothing_goes(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    assert statuses(root) == [Status.BASELINE, Status.KEEP, Status.KEEP, Status.KEEP]
    tip = rev(root, "overnight/t")
    (root / "notes.txt").write_text("the user's own, untracked\n")
    (root / "staged.txt").write_text("the user's own, staged\n")
    git(root, "add", "staged.txt")

    result = overnight.prune(root)

    assert verdicts(result) == [(1, DROPPED), (2, KEPT), (3, KEPT)]
    assert [row.worth for row in result.rows] == [0.0, 2.0, 1.0]
    assert [row.metric_without for row in result.rows] == [3.0, 1.0, 2.0]
    assert (result.baseline, result.best, result.pruned) == (0.0, 3.0, 3.0)
    # the branch tip is the best state without b, one commit on top of the old tip
    assert git(root, "rev-parse", "overnight/t~1") == tip
    assert (
        git(root, "log", "-1", "--format=%s", "overnight/t") == "prune: drop experiment 1 (add b)"
    )
    assert git(root, "show", "overnight/t:parts/b.txt") == "0"
    assert (part(root, "a"), part(root, "b"), part(root, "c")) == ("2", "0", "1")
    assert git(root, "branch", "--show-current") == "overnight/t"
    assert git(root, "show", "--name-only", "--format=", "overnight/t") == "parts/b.txt"
    assert porcelain(root).splitlines() == ["A  staged.txt", "?? notes.txt"]
    assert (root / "notes.txt").read_text() == "the user's own, untracked\n"
    rows = prune_rows(root)
    run_id = overnight.history(root)[0].id
    assert [(r["run_id"], r["number"], r["verdict"]) for r in rows] == [
        (run_id, 1, "dropped"),
        (run_id, 2, "kept"),
        (run_id, 3, "kept"),
    ]
    assert rows[0]["description"] == "add b" and rows[1]["worth"] == 2.0
    assert all(r["at"] > 0 for r in rows)
    ledger = Project.open(root).ledger()
    try:
        assert ledger.ablations(run_id) == result.rows
    finally:
        ledger.close()


def test_a_second_prune_skips_what_the_first_dropped(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    overnight.prune(root)
    tip = rev(root, "overnight/t")

    messages: list[str] = []
    again = overnight.prune(root, "t", progress=messages.append)

    assert verdicts(again) == [(2, KEPT), (3, KEPT)]
    assert "skipping #1: dropped by an earlier prune" in messages
    assert rev(root, "overnight/t") == tip
    assert len(prune_rows(root)) == 5


def test_dry_run_changes_nothing(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    tip = rev(root, "overnight/t")

    result = overnight.prune(root, dry_run=True)

    assert result.dry_run
    assert verdicts(result) == [(1, DROPPED), (2, KEPT), (3, KEPT)]
    assert rev(root, "overnight/t") == tip
    assert porcelain(root) == ""
    assert (part(root, "a"), part(root, "b"), part(root, "c")) == ("2", "1", "1")
    assert prune_rows(root) == []


def test_later_removals_build_on_earlier_drops(make_repo) -> None:
    # the score is max(a, b + c): once a is large, b and c are both redundant
    plan = [
        ("add b", {"parts/b.txt": "1\n"}),
        ("add c", {"parts/c.txt": "1\n"}),
        ("add a, larger than b and c together", {"parts/a.txt": "5\n"}),
    ]
    root = planned_run(make_repo, plan, score=SCORE.replace("max(a, b) + c", "max(a, b + c)"))

    result = overnight.prune(root)

    # without b: max(5, 1) = 5, dropped; then without c too: max(5, 0) = 5, dropped
    assert verdicts(result) == [(1, DROPPED), (2, DROPPED), (3, KEPT)]
    assert len(result.dropped) == 2 and result.pruned == 5.0
    assert git(root, "log", "-2", "--format=%s", "overnight/t").splitlines() == [
        "prune: drop experiment 2 (add c)",
        "prune: drop experiment 1 (add b)",
    ]
    assert (part(root, "a"), part(root, "b"), part(root, "c")) == ("5", "0", "0")
    tip = rev(root, "overnight/t")
    with pytest.raises(UsageError, match="was pruned"):  # a resume would drop the pruned commits
        overnight.run(root, resume=True, tag="t")
    assert rev(root, "overnight/t") == tip


def test_an_entangled_change_stays(make_repo) -> None:
    plan = [
        ("a to 1", {"parts/a.txt": "1\n"}),
        ("a to 2", {"parts/a.txt": "2\n"}),  # edits the line the first change wrote
        ("add c", {"parts/c.txt": "1\n"}),
    ]
    root = planned_run(make_repo, plan)
    tip = rev(root, "overnight/t")

    result = overnight.prune(root)

    assert verdicts(result) == [(1, ENTANGLED), (2, KEPT), (3, KEPT)]
    assert result.rows[0].metric_without is None and result.rows[0].worth is None
    assert result.rows[1].metric_without == 2.0  # a back at 1, not at 0
    assert rev(root, "overnight/t") == tip
    assert porcelain(root) == ""
    assert [r["verdict"] for r in prune_rows(root)] == ["entangled", "kept", "kept"]


def test_a_change_whose_removal_crashes_is_needed(make_repo) -> None:
    plan = [("add a", {"parts/a.txt": "1\n"}), ("add b on top of a", {"parts/b.txt": "3\n"})]
    root = planned_run(make_repo, plan, score=NEEDS_A)
    assert statuses(root) == [Status.BASELINE, Status.KEEP, Status.KEEP]
    tip = rev(root, "overnight/t")

    result = overnight.prune(root)

    assert verdicts(result) == [(1, CRASH), (2, KEPT)]
    assert result.rows[0].metric_without is None and result.rows[0].worth is None
    assert rev(root, "overnight/t") == tip
    assert porcelain(root) == ""
    assert part(root, "a") == "1"


def test_minimize_reads_lower_as_better(make_repo) -> None:
    plan = [
        ("add b", {"parts/b.txt": "1\n"}),
        ("add a, larger than b", {"parts/a.txt": "2\n"}),
    ]
    root = planned_run(
        make_repo,
        plan,
        score=SCORE.replace("max(a, b) + c", "10 - max(a, b)"),
        evaluate={"direction": "minimize"},
    )

    result = overnight.prune(root)

    assert verdicts(result) == [(1, DROPPED), (2, KEPT)]
    assert result.rows[1].worth == 2.0  # 10 without it against 8 with it: worth 2 points


# -- the decision rule -------------------------------------------------------------------------

BEST = [10.5, 9.7, 10.9, 10.1, 10.3]  # mean 10.3
WITHOUT = [10.0, 9.6, 10.4, 9.9, 10.1]  # mean 10.0: a loss of 0.3 that noise explains (p ~ 0.12)


def test_greedy_keeps_any_loss_above_min_delta() -> None:
    assert removal_hurts(BEST, WITHOUT, PolicyConfig(kind="greedy"), "maximize")
    assert not removal_hurts(BEST, WITHOUT, PolicyConfig(kind="greedy", min_delta=0.5), "maximize")
    assert not removal_hurts(BEST, BEST, PolicyConfig(kind="greedy"), "maximize")
    assert not removal_hurts(BEST, WITHOUT, PolicyConfig(kind="greedy"), "minimize")


def test_noise_aware_keeps_only_a_credible_loss() -> None:
    policy = PolicyConfig(kind="noise-aware", alpha=0.05)

    assert not removal_hurts(BEST, WITHOUT, policy, "maximize")  # p ~ 0.12: dropped
    assert removal_hurts(BEST, WITHOUT, PolicyConfig(kind="noise-aware", alpha=0.2), "maximize")
    assert removal_hurts(BEST, [v - 2 for v in WITHOUT], policy, "maximize")
    assert removal_hurts(BEST, [v + 2 for v in WITHOUT], policy, "minimize")
    assert not removal_hurts(
        BEST, [v - 2 for v in WITHOUT], policy.model_copy(update={"min_delta": 3.0}), "maximize"
    )


def test_noise_aware_prune_with_repeats_and_varied_seeds(make_repo) -> None:
    plan = [
        ("add b", {"parts/b.txt": "10\n"}),
        ("add a, larger than b", {"parts/a.txt": "20\n"}),
        ("add c", {"parts/c.txt": "10\n"}),
    ]
    root = planned_run(
        make_repo,
        plan,
        score=NOISY,
        policy={"kind": "noise-aware", "alpha": 0.05},
        evaluate={"repeats": 5, "seeds": "vary"},
    )
    assert statuses(root) == [Status.BASELINE, Status.KEEP, Status.KEEP, Status.KEEP]

    result = overnight.prune(root)

    assert verdicts(result) == [(1, DROPPED), (2, KEPT), (3, KEPT)]
    assert abs(result.rows[0].worth) < 2  # noise only
    assert result.rows[1].worth == pytest.approx(20, abs=2)
    assert result.best == pytest.approx(30, abs=1.5)
    # the best state and three trees without a change, each measured with seeds 0..4
    logs = root / ".overnight" / "logs" / "t" / "prune"
    for name in ("best", "0001", "0002", "0003"):
        seeds = [
            (logs / (f"{name}.{n}.log" if n else f"{name}.log")).read_text().split()[1]
            for n in range(5)
        ]
        assert seeds == ["0", "1", "2", "3", "4"], name
    assert len(list(logs.glob("*.log"))) == 4 * 5
    assert git(root, "show", "overnight/t:parts/b.txt") == "0"


# -- refusals ----------------------------------------------------------------------------------


def test_refuses_without_a_run(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B[:1])
    fresh = make_repo(config=default_config())

    with pytest.raises(UsageError, match="no run yet"):
        overnight.prune(fresh)
    with pytest.raises(UsageError, match="no run 'nope'"):
        overnight.prune(root, "nope")


def test_refuses_while_the_run_is_going(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    tip = rev(root, "overnight/t")
    lock = Project.open(root).lock()
    lock.acquire()
    try:
        with pytest.raises(UsageError, match="another overnight run is active"):
            overnight.prune(root)
    finally:
        lock.release()
    assert rev(root, "overnight/t") == tip


def test_refuses_a_run_stopped_in_the_middle_of_an_experiment(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    ledger = Project.open(root).ledger()
    try:
        run = ledger.run(tag="t")
        assert run is not None
        ledger.begin(run.id, 4, rev(root, "overnight/t"), {})
    finally:
        ledger.close()

    with pytest.raises(UsageError, match="--resume"):
        overnight.prune(root)


def test_refuses_uncommitted_editable_files(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    tip = rev(root, "overnight/t")
    (root / "parts" / "c.txt").write_text("7\n")

    with pytest.raises(UsageError, match=r"uncommitted changes .*parts/c\.txt"):
        overnight.prune(root)

    assert rev(root, "overnight/t") == tip
    assert part(root, "c") == "7"
    assert prune_rows(root) == []


def test_refuses_a_run_without_keeps(make_repo) -> None:
    root = planned_run(make_repo, [("a below zero", {"parts/a.txt": "-1\n"})])
    assert statuses(root) == [Status.BASELINE, Status.DISCARD]

    with pytest.raises(UsageError, match="kept no change"):
        overnight.prune(root)


def test_refuses_when_every_keep_was_dropped_already(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B[:1])
    ledger = Project.open(root).ledger()
    try:
        run = ledger.run(tag="t")
        assert run is not None
        ledger.record_ablation(run.id, Ablation(1, "add b", 0.0, 0.0, DROPPED, 1.0))
    finally:
        ledger.close()

    with pytest.raises(UsageError, match="dropped by an earlier prune"):
        overnight.prune(root)


def test_switches_to_the_run_branch_when_clean(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    assert git(root, "branch", "--show-current") == "main"  # a run never switches the checkout

    result = overnight.prune(root)

    assert git(root, "branch", "--show-current") == "overnight/t"
    assert verdicts(result)[0] == (1, DROPPED)
    assert porcelain(root) == ""


def test_refuses_to_switch_from_a_dirty_tree(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    (root / "parts" / "a.txt").write_text("9\n")

    with pytest.raises(UsageError, match="uncommitted changes"):
        overnight.prune(root)

    assert git(root, "branch", "--show-current") == "main"
    assert part(root, "a") == "9"


def test_refuses_when_the_best_state_no_longer_evaluates(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    tip = rev(root, "overnight/t")
    git(root, "switch", "-q", "overnight/t")  # the evaluation breaks on the run branch itself
    (root / "score.py").write_text("import sys\nsys.exit(3)\n")
    git(root, "commit", "-q", "-am", "break the evaluation")

    with pytest.raises(EvaluationError, match="best state"):
        overnight.prune(root)

    assert rev(root, "overnight/t~1") == tip
    assert porcelain(root) == ""


# -- errors and interruptions leave the tree at the branch tip -------------------------------------


def test_an_error_in_the_middle_leaves_the_tree_at_the_tip(make_repo, monkeypatch) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    tip = rev(root, "overnight/t")
    calls = []
    original = Project.evaluator

    def failing_evaluator(self, use_cache: bool = True):
        evaluator = original(self, use_cache)
        measure = evaluator.evaluate

        def evaluate(root, log_path, seed=0):
            calls.append(log_path.name)
            if len(calls) == 3:  # the best, without #1, then without #2: fail there
                raise RuntimeError("the machine fell over")
            return measure(root, log_path, seed)

        evaluator.evaluate = evaluate  # type: ignore[method-assign]
        return evaluator

    monkeypatch.setattr(Project, "evaluator", failing_evaluator)

    with pytest.raises(RuntimeError, match="fell over"):
        overnight.prune(root)

    assert calls == ["best.log", "0001.log", "0002.log"]
    assert rev(root, "overnight/t~1") == tip  # the drop made before the error stands
    assert porcelain(root) == ""
    assert (part(root, "a"), part(root, "b"), part(root, "c")) == ("2", "0", "1")
    assert [r["number"] for r in prune_rows(root)] == [1]


def test_ctrl_c_twice_abandons_the_measurement_and_cleans_up(make_repo, tmp_path: Path) -> None:
    root = planned_run(make_repo, REDUNDANT_B, score=HANGS, evaluate={"env_passthrough": ["HANG"]})
    tip = rev(root, "overnight/t")
    out = tmp_path / "prune.out"
    log = root / ".overnight" / "logs" / "t" / "prune" / "0002.log"

    process = start_cli(["prune", str(root)], out, HANG="1")
    try:
        wait_until(lambda: log.is_file() and "hanging" in log.read_text(), what="the hang")
        process.send_signal(signal.SIGINT)
        wait_until(lambda: "stopping after this measurement" in out.read_text(), what="notice")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()

    text = out.read_text()
    assert "Traceback" not in text
    assert "Stopped: stopped by SIGINT after 1 of 3 changes" in text
    assert rev(root, "overnight/t~1") == tip  # the first drop was committed before the stop
    assert porcelain(root) == ""
    assert (part(root, "a"), part(root, "b")) == ("2", "0")


# -- the command line --------------------------------------------------------------------------


def test_cli_prints_the_ablation_table(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)

    result = run_cli("prune", str(root), "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "prune of t (overnight/t), dry run" in result.stdout
    assert "score without" in result.stdout and "worth" in result.stdout
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "add b" in lines["1"] and "dropped" in lines["1"] and "+0" in lines["1"]
    assert "kept" in lines["2"] and "+2" in lines["2"]
    assert "score: baseline 0 -> best 3 -> pruned 3, 1 of 3 changes dropped" in result.stdout
    assert "Dry run" in result.stdout
    assert "measuring the best state" in result.stderr

    result = run_cli("prune", str(root), "--run", "t")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Branch overnight/t is at the pruned state" in result.stdout
    assert git(root, "log", "-1", "--format=%s") == "prune: drop experiment 1 (add b)"


def test_cli_refusal_is_one_line(make_repo) -> None:
    root = planned_run(make_repo, REDUNDANT_B)
    (root / "parts" / "a.txt").write_text("5\n")

    result = run_cli("prune", str(root))

    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "uncommitted changes" in lines[0] and "parts/a.txt" in lines[0]
