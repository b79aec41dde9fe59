"""The brief: what an agent is told, built from the config and the ledger."""

from __future__ import annotations

from pathlib import Path

from overnight.brief import BriefInputs, render_brief
from overnight.config import Config
from overnight.records import CaseOutput, Check, Experiment, Status, SuiteResult
from overnight.tally import Tally


def config(**overrides) -> Config:
    data = {
        "name": "posts",
        "editable": ["SKILL.md"],
        "program": "program.md",
        "evaluate": {"command": "python score.py", "metric": "score", "direction": "maximize"},
        **overrides,
    }
    return Config.model_validate(data)


def experiment(number: int, status: Status, metric: float | None = None, **fields) -> Experiment:
    return Experiment(1, number, "p", status, metric=metric, **fields)


def tree(tmp_path: Path) -> Path:
    (tmp_path / "SKILL.md").write_text("Write a post.\nEnd with a question?\n")
    (tmp_path / "program.md").write_text("Aim for crisp, factual posts.\n")
    return tmp_path


def brief(tmp_path: Path, history, **kwargs) -> str:
    inputs = BriefInputs(
        config=kwargs.pop("config", config()),
        root=tree(tmp_path),
        number=len(history),
        editable_files=["SKILL.md"],
        history=history,
        **kwargs,
    )
    return render_brief(inputs)


def test_brief_holds_task_scores_instructions_history_and_files(tmp_path):
    history = [
        experiment(0, Status.BASELINE, 3.0),
        experiment(1, Status.KEEP, 5.0, description="add a hook"),
        experiment(2, Status.DISCARD, 4.0, description="drop the hook", reason="worse by 1"),
    ]

    text = brief(tmp_path, history)

    assert "Make exactly ONE change that should make `score` higher" in text
    assert "DESCRIPTION:" in text
    assert "Best score: 5 (experiment 1); baseline: 3." in text
    assert "Aim for crisp, factual posts." in text
    assert text.index("#2 discard (-1): drop the hook") < text.index("#1 keep (+2): add a hook")
    assert "### FILE: SKILL.md\n```\nWrite a post.\nEnd with a question?\n```" in text


def test_brief_details_the_last_failures(tmp_path):
    history = [
        experiment(0, Status.BASELINE, 3.0),
        experiment(
            1,
            Status.CRASH,
            description="bigger model",
            reason="[exited with code 1]\nTraceback ... MemoryError",
        ),
        experiment(
            2,
            Status.VIOLATION,
            description="tweak the scorer",
            reason="changed frozen file score.py",
        ),
        experiment(
            3,
            Status.NO_OP,
            description="(the agent failed)",
            reason="the edit did not apply: SEARCH text not found in SKILL.md",
        ),
    ]

    text = brief(tmp_path, history)

    failures = text[text.index("## Last failures") :]
    assert "Experiment 1: crash — bigger model" in failures and "MemoryError" in failures
    assert "changed frozen file score.py" in failures
    assert "SEARCH text not found" in failures


def test_brief_shows_which_case_failed_which_check_with_the_output(tmp_path):
    suite = SuiteResult(
        outputs=[
            CaseOutput("solar", 0, "Hello all!\nWhat do you think?"),
            CaseOutput("bikes", 0, "Fine post."),
        ],
        checks=[
            Check("solar", 0, "last-line-not-question", False, "the last line ends with '?'"),
            Check("solar", 0, "word-count<=300", True, "6 words"),
            Check("bikes", 0, "last-line-not-question", True, "ends with '.'"),
        ],
    )
    history = [experiment(0, Status.BASELINE, 2.0, secondary={"total": 3.0})]

    text = brief(tmp_path, history, best_suite=suite)

    assert "Best score: 2/3" in text
    assert "Checks the best state still fails (1 of 3)" in text
    assert "- case solar: last-line-not-question — the last line ends with '?'" in text
    assert "    What do you think?" in text
    assert "case bikes" not in text


def test_failures_in_a_row_bring_a_firmer_instruction(tmp_path):
    history = [experiment(0, Status.BASELINE, 1.0)] + [
        experiment(n, Status.NO_OP, reason="the agent changed nothing") for n in (1, 2, 3)
    ]

    stuck = brief(tmp_path, history)
    fine = brief(tmp_path, history[:3])

    assert "## You are stuck" in stuck and "3 no-op" in stuck
    assert "You are stuck" not in fine


def test_long_history_is_condensed_under_the_token_budget(tmp_path):
    history = [experiment(0, Status.BASELINE, 1.0)] + [
        experiment(
            n,
            Status.DISCARD,
            0.5,
            description=f"idea number {n} " + "x" * 60,
            reason="worse by 0.5",
        )
        for n in range(1, 2001)
    ]

    text = brief(tmp_path, history, config=config(brief={"max_tokens": 2000}))

    assert len(text) <= 2000 * 4
    assert "#2000 discard" in text  # the newest are there
    assert "older experiments (" in text and "discard)" in text
    assert "idea number 1 " not in text


def test_limits_are_stated(tmp_path):
    text = brief(
        tmp_path,
        [experiment(0, Status.BASELINE, 1.0)],
        config=config(limits={"max_changed_lines": 20, "max_files": 1}),
    )

    assert "at most 20 changed lines and at most 1 files" in text


def test_the_other_workers_experiments_in_flight_are_listed(tmp_path):
    history = [experiment(0, Status.BASELINE, 3.0)]
    in_flight = [
        experiment(4, Status.RUNNING, description="shorter\nhooks"),
        experiment(5, Status.RUNNING),  # its agent has not proposed yet
    ]

    text = brief(tmp_path, history, in_flight=in_flight)
    alone = brief(tmp_path, history)

    assert "## In flight now (other workers: do not duplicate these)" in text
    assert "- experiment 4: shorter hooks\n- experiment 5: (still deciding)" in text
    assert "In flight" not in alone


def test_a_long_history_reads_the_same_from_the_tally(tmp_path: Path) -> None:
    """The loop hands the brief its tally so that the brief reads only the newest experiments;
    what it says is what the whole history says: the last lines, the older ones counted."""
    statuses = [Status.DISCARD, Status.CRASH, Status.KEEP, Status.DISCARD, Status.NO_OP]
    history = [experiment(0, Status.BASELINE, 1.0, commit="c0")]
    for number in range(1, 3001):
        status = statuses[number % len(statuses)]
        commit = f"c{number}" if status is Status.KEEP else None
        parent = next(e.commit for e in reversed(history) if e.status.advances)
        history.append(
            Experiment(1, number, parent or "c0", status, metric=float(number % 7), commit=commit)
        )

    from_history = brief(tmp_path, history)
    from_tally = brief(tmp_path, history, tally=Tally.of(history))

    assert from_tally == from_history
    assert "older experiments (" in from_tally
