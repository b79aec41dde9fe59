"""The command evaluator: run a command, read the metric it prints, and turn every failure into a
Score with a status and a reason."""

import shlex
import sys

import pytest

from overnight.config import EvaluateConfig
from overnight.evaluators.command import CommandEvaluator, parse_metrics
from overnight.records import Status


def evaluate(tmp_path, command, metric="score", **options):
    config = EvaluateConfig(command=command, metric=metric, **options)
    log = tmp_path / "logs" / "eval.log"
    return CommandEvaluator(config).evaluate(tmp_path, log)


def printing(*lines, exit_code=0):
    """A shell command that prints ``lines`` exactly, then exits with ``exit_code``."""
    script = "".join(f"print({line!r})\n" for line in lines) + f"raise SystemExit({exit_code})\n"
    return f"{sys.executable} -c {shlex.quote(script)}"


def test_reads_the_metric_from_a_name_colon_value_line(tmp_path):
    score = evaluate(tmp_path, printing("training...", "score: 0.25", "done"))

    assert score.ok
    assert score.value == 0.25
    assert score.status is None
    assert score.log_path == (tmp_path / "logs" / "eval.log").as_posix()
    assert "score: 0.25" in score.log_tail
    assert score.seconds > 0


def test_last_occurrence_of_the_metric_wins(tmp_path):
    score = evaluate(tmp_path, printing("score: 3", "score: 2", "score: 1.5"))

    assert score.value == 1.5


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("score=0.5", 0.5),
        ("score = 7", 7.0),
        ("  score:   42  ", 42.0),
        ("score: 1.5e-3", 0.0015),
        ("score: 2E+4", 20000.0),
        ("score: -3.25", -3.25),
        ("score: -1e-2", -0.01),
        ("score: .5", 0.5),
        ("score: +4", 4.0),
    ],
)
def test_metric_line_formats(tmp_path, line, value):
    score = evaluate(tmp_path, printing(line))

    assert score.ok
    assert score.value == pytest.approx(value)


def test_metric_names_with_dots_and_slashes(tmp_path):
    score = evaluate(tmp_path, printing("val/bpb: 0.99", "eval.loss: 1.2"), metric="val/bpb")

    assert score.value == 0.99
    assert score.secondary == {"eval.loss": 1.2}


def test_text_after_the_number_is_not_a_metric_line(tmp_path):
    score = evaluate(tmp_path, printing("score: 0.5 (best so far)"))

    assert score.status is Status.CRASH


def test_regex_reads_the_last_match(tmp_path):
    command = printing("step 1 accuracy=81.5%", "step 2 accuracy=83.25%", "loss: 0.4")

    score = evaluate(tmp_path, command, metric="accuracy", regex=r"accuracy=([\d.]+)%")

    assert score.ok
    assert score.value == 83.25
    assert score.secondary == {"loss": 0.4}


def test_regex_match_that_is_not_a_number_is_a_crash(tmp_path):
    score = evaluate(tmp_path, printing("result: fast"), metric="result", regex=r"result: (\w+)")

    assert score.status is Status.CRASH
    assert score.value is None


def test_secondary_metrics_are_collected_without_the_metric(tmp_path):
    command = printing("score: 0.3", "tokens: 1200", "seconds=4.5", "memory_mb: 512", "note: hi")

    score = evaluate(tmp_path, command)

    assert score.value == 0.3
    assert score.secondary == {"tokens": 1200.0, "seconds": 4.5, "memory_mb": 512.0}


def test_non_zero_exit_is_a_crash_with_the_output_in_the_tail(tmp_path):
    command = printing("score: 0.1", "Traceback: something broke", exit_code=3)

    score = evaluate(tmp_path, command)

    assert score.status is Status.CRASH
    assert score.value is None
    assert not score.ok
    assert "exited with code 3" in score.log_tail
    assert "Traceback: something broke" in score.log_tail


def test_stderr_is_in_the_tail(tmp_path):
    score = evaluate(tmp_path, "echo 'ValueError: bad shape' >&2; exit 1")

    assert score.status is Status.CRASH
    assert "ValueError: bad shape" in score.log_tail


def test_missing_metric_is_a_crash_that_says_what_was_missing(tmp_path):
    score = evaluate(tmp_path, printing("loss: 0.2", "all done"))

    assert score.status is Status.CRASH
    assert score.value is None
    assert "printed no score" in score.log_tail
    assert "'score: <number>'" in score.log_tail
    assert "all done" in score.log_tail
    assert score.secondary == {"loss": 0.2}


def test_missing_regex_match_names_the_regex(tmp_path):
    score = evaluate(tmp_path, printing("nothing"), metric="acc", regex=r"acc=(\d+)")

    assert score.status is Status.CRASH
    assert "printed no acc" in score.log_tail
    assert r"acc=(\d+)" in score.log_tail


@pytest.mark.parametrize("printed", ["nan", "NaN", "inf", "-inf"])
def test_non_finite_metric_is_a_crash(tmp_path, printed):
    score = evaluate(tmp_path, printing(f"score: {printed}"))

    assert score.status is Status.CRASH
    assert score.value is None
    assert "score is" in score.log_tail


def test_timeout(tmp_path):
    score = evaluate(tmp_path, "echo started; sleep 30; echo 'score: 1'", timeout=0.5)

    assert score.status is Status.TIMEOUT
    assert score.value is None
    assert "started" in score.log_tail
    assert score.seconds < 10


def test_runs_in_the_tree_root(tmp_path):
    (tmp_path / "value.txt").write_text("0.75\n")

    score = evaluate(tmp_path, 'echo "score: $(cat value.txt)"')

    assert score.value == 0.75


def key_probe():
    """Prints whether the parent's OPENAI_API_KEY reached the command, and with its value."""
    script = (
        "import os\n"
        "print('score: 1')\n"
        "print('key_set:', int('OPENAI_API_KEY' in os.environ))\n"
        "print('key_matches:', int(os.environ.get('OPENAI_API_KEY') == 'sk-parent'))\n"
    )
    return f"{sys.executable} -c {shlex.quote(script)}"


def test_secret_is_hidden_from_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent")

    score = evaluate(tmp_path, key_probe())

    assert score.value == 1
    assert score.secondary == {"key_set": 0, "key_matches": 0}


def test_env_passthrough_lets_a_secret_through(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent")

    score = evaluate(tmp_path, key_probe(), env_passthrough=["OPENAI_API_KEY"])

    assert score.secondary == {"key_set": 1, "key_matches": 1}


def test_extra_env_reaches_the_command(tmp_path):
    config = EvaluateConfig(command='echo "score: $OVERNIGHT_SEED"', metric="score")

    score = CommandEvaluator(config, extra_env={"OVERNIGHT_SEED": "17"}).evaluate(
        tmp_path, tmp_path / "eval.log"
    )

    assert score.value == 17


def test_evaluator_exposes_metric_and_direction():
    evaluator = CommandEvaluator(EvaluateConfig(command="true", metric="acc", direction="maximize"))

    assert (evaluator.metric, evaluator.direction) == ("acc", "maximize")


def test_parse_metrics_keeps_numeric_lines_and_the_last_value():
    text = "a: 1\nb=2.5\nc: text\nlr: 3e-4\na: 4\nnot a metric line: 5\n"

    assert parse_metrics(text) == {"a": 4.0, "b": 2.5, "lr": 0.0003}


def test_an_exception_line_is_not_a_metric():
    text = "loss: 0.5\nTraceback (most recent call last):\nAssertionError: 3\nValueError = 2\n"
    assert parse_metrics(text) == {"loss": 0.5}
