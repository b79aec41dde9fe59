"""The ``overnight`` command, run as a user runs it: a subprocess of the installed entry point.
Checks exit codes (0 done, 1 run failed, 2 bad usage or config), one-line errors without a
traceback, and that each command's output says what it should."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from conftest import SCORE_PY, default_config, git
from overnight.config import load_config
from overnight.ledger import RunRecord
from overnight.records import Experiment, Status
from overnight.view import log_table, resume_command
from report_projects import at_work, workers_project
from stand_ins.support import (
    command_agent,
    ledger_rows,
    overnight_command,
    porcelain,
    rev,
    run_cli,
    run_rows,
)

FAST_DIGITS = {"DIGITS_TIME_BUDGET": "0.3"}


def assert_one_line_error(result, code: int, *words: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


# -- demo, then log and status on what it did ---------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    target = tmp_path_factory.mktemp("demo") / "digits"
    result = run_cli("demo", str(target), "--experiments", "3", **FAST_DIGITS)
    return target, result


def test_demo_runs_the_example_and_summarises(demo) -> None:
    target, result = demo
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    assert "Stopped: experiment budget spent: 3 of 3" in out
    assert "worker 0" not in out
    assert "val_loss: baseline " in out and "-> best " in out and "after 3 experiments" in out
    rows = ledger_rows(target)
    assert [r["number"] for r in rows] == [0, 1, 2, 3]
    assert rows[0]["status"] == "baseline"
    (run,) = run_rows(target)
    branch = f"overnight/{run['tag']}"
    assert f"Branch {branch} is at the best state" in out.replace("\n", " ")
    best = [r for r in rows if r["status"] in ("baseline", "keep")][-1]
    assert rev(target, branch) == best["commit_sha"]
    assert porcelain(target) == ""


def test_log_table(demo) -> None:
    target, _ = demo
    result = run_cli("log", str(target))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "val_loss" in out and "baseline" in out and "description" in out
    for row in ledger_rows(target):
        assert row["status"] in out


def test_the_log_table_lists_the_newest_experiments_unless_asked_for_all() -> None:
    """A long run's table shows its last 50 experiments and says how to see them all; each
    row's delta is against the best state before it."""
    run = RunRecord(1, "t", "overnight/t", "demo", "score", "maximize", "b", {}, 0.0, None, None)
    history = [Experiment(1, 0, "b", Status.BASELINE, metric=1.0, commit="b")]
    for number in range(1, 120):
        status = Status.KEEP if number % 10 == 0 else Status.DISCARD
        history.append(Experiment(1, number, "b", status, metric=1.0 + number / 100))

    def text(limit: int | None) -> str:
        console = Console(width=160, record=True)
        console.print(log_table(run, history, limit))
        return console.export_text()

    short, every = text(50), text(None)
    assert "the last 50 of 120 experiments (--all lists every one)" in short

    def row(number: int) -> str:
        return rf"^\W*{number} \W+"

    assert re.search(row(70) + "keep", short, re.M) and not re.search(row(69), short, re.M)
    assert re.search(row(0) + "baseline", every, re.M) and "--all" not in every
    assert re.search(row(71) + r"discard\W+1\.71\W+\+0\.01 ", short, re.M)  # against #70


def test_log_tsv_is_results_tsv(demo, tmp_path: Path) -> None:
    target, _ = demo
    result = run_cli("log", str(target), "--tsv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("commit\tval_loss\tstatus\tdescription")
    rows = ledger_rows(target)
    assert [line.split("\t")[2] for line in lines[1:]] == [r["status"] for r in rows]
    first = lines[1].split("\t")
    assert first[0] == rows[0]["commit_sha"][:7]
    assert float(first[1]) == pytest.approx(rows[0]["metric"])
    assert result.stdout == (target / ".overnight" / "results.tsv").read_text()

    written = tmp_path / "results.tsv"
    again = run_cli("log", str(target), "--tsv", "-o", str(written))
    assert again.returncode == 0 and written.read_text() == result.stdout


def test_log_json(demo) -> None:
    target, _ = demo
    result = run_cli("log", str(target), "--json")
    assert result.returncode == 0, result.stderr
    data = [json.loads(line) for line in result.stdout.splitlines()]  # JSON Lines
    rows = ledger_rows(target)
    assert [d["number"] for d in data] == [r["number"] for r in rows]
    assert [d["status"] for d in data] == [r["status"] for r in rows]
    assert data[0]["metric"] == rows[0]["metric"]
    assert all("train.py" in d["diff"] for d in data[1:])


def test_status(demo) -> None:
    target, _ = demo
    result = run_cli("status", str(target))
    assert result.returncode == 0, result.stderr
    (run,) = run_rows(target)
    out = " ".join(result.stdout.split())
    assert f"run {run['tag']} on branch overnight/{run['tag']}" in out
    assert "stopped: experiment budget spent: 3 of 3" in out
    assert "3 experiments" in out and "val_loss: baseline" in out and "-> best" in out
    assert "worker 0" not in out  # one worker: no figures per worker


# -- two workers: the figures of each, at the end of the run and in status ------------------------


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = workers_project(tmp_path_factory.mktemp("workers") / "two", run=False)
    result = run_cli("run", str(root), "--tag", "workers-1")
    assert result.returncode == 0, result.stdout + result.stderr
    return root, " ".join(result.stdout.split())


def test_the_summary_of_two_workers_has_a_line_each(two_workers) -> None:
    _, out = two_workers
    assert re.search(r"worker 0: 1 experiment, [\d.]+ an hour, busy \d+%; 1 kept, 0 stale", out)
    assert "worker 1: 2 experiments (1 replay), " in out and "; 1 kept, 1 stale, 0 conflicts" in out
    assert "now:" not in out


def test_status_of_two_workers_says_what_each_runs_now(two_workers) -> None:
    root, _ = two_workers
    ended = " ".join(run_cli("status", str(root)).stdout.split())
    assert "stopped: experiment budget spent" in ended
    assert "worker 0: 1 experiment, " in ended and "worker 1: 2 experiments (1 replay)" in ended
    assert "now:" not in ended

    with at_work(root, [1]) as (running,):
        live = run_cli("status", str(root))

    assert live.returncode == 0, live.stderr
    out = " ".join(live.stdout.split())
    assert ": running" in out
    assert "0 conflicts; now: idle worker 1:" in out and f"0 conflicts; now: #{running}" in out


def test_log_tsv_and_json_together_is_bad_usage(demo) -> None:
    target, _ = demo
    assert_one_line_error(run_cli("log", str(target), "--tsv", "--json"), 2, "--tsv", "--json")


# -- init -------------------------------------------------------------------------------------


def test_init_example_creates_a_repository(tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = run_cli("init", str(target), "--example", "digits")
    assert result.returncode == 0, result.stderr
    assert git(target, "rev-list", "--count", "HEAD") == "1"
    assert porcelain(target) == ""
    tracked = git(target, "ls-files").split()
    assert {"overnight.yaml", "train.py", "prepare.py"} <= set(tracked)
    assert load_config(target / "overnight.yaml").name == "digits"
    # and it evaluates as it is
    score = run_cli("eval", str(target), "--json", **FAST_DIGITS)
    assert score.returncode == 0, score.stderr
    assert json.loads(score.stdout)["metric"] == "val_loss"

    assert_one_line_error(run_cli("init", str(target), "--example", "digits"), 2, "not empty")


def test_init_unknown_example(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("init", str(tmp_path / "x"), "--example", "nope"), 2, "no example 'nope'", "digits"
    )


def test_init_writes_a_starter_config(tmp_path: Path) -> None:
    target = tmp_path / "project"
    result = run_cli("init", str(target))
    assert result.returncode == 0, result.stderr
    config = load_config(target / "overnight.yaml")  # valid as written
    assert config.editable and config.evaluate.metric
    assert not (target / ".git").exists()
    assert_one_line_error(run_cli("init", str(target)), 2, "exists already")


# -- eval ---------------------------------------------------------------------------------------


def test_eval_prints_the_metric_and_touches_nothing(make_repo) -> None:
    root = make_repo()
    head = rev(root, "HEAD")
    result = run_cli("eval", str(root))
    assert result.returncode == 0, result.stderr
    assert "score: 1" in result.stdout and "extra: 7" in result.stdout

    as_json = run_cli("eval", str(root), "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["metric"] == "score" and data["value"] == 1.0 and data["status"] == "ok"
    assert data["secondary"] == {"extra": 7.0}
    assert Path(data["log"]).is_file()

    assert rev(root, "HEAD") == head and git(root, "branch", "--show-current") == "main"
    assert git(root, "branch", "--list", "overnight/*") == ""
    assert porcelain(root) == ""
    assert not (root / ".overnight" / "ledger.db").exists() or ledger_rows(root) == []


def test_eval_of_a_crashing_tree_exits_1(make_repo) -> None:
    root = make_repo({"value.txt": "oops\n"})
    result = run_cli("eval", str(root), "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["value"] is None and data["status"] == "crash"


# -- run: exit codes and refusals ---------------------------------------------------------------


def test_run_completes_with_exit_0(make_repo) -> None:
    root = make_repo(config=default_config(agent=command_agent("improve")))
    head = rev(root, "HEAD")
    result = run_cli("run", str(root), "--experiments", "2", "--tag", "cli")
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "score: baseline 1 -> best 3" in out
    assert [r["status"] for r in ledger_rows(root)] == ["baseline", "keep", "keep"]
    # the best state is on the run branch; the checkout was not touched, and the user is told
    assert git(root, "show", "overnight/cli:value.txt") == "3.0"
    assert "Your checkout was not touched: `git switch overnight/cli`" in out
    assert git(root, "branch", "--show-current") == "main" and rev(root, "HEAD") == head
    assert (root / "value.txt").read_text() == "1.0\n" and porcelain(root) == ""
    # the same tag again is refused
    assert_one_line_error(run_cli("run", str(root), "--tag", "cli"), 2, "exists already")


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_run_with_checkout_switches_only_a_clean_checkout(make_repo, dirty: bool) -> None:
    root = make_repo({"README.md": "readme\n"}, default_config(agent=command_agent("improve")))
    head = rev(root, "HEAD")
    if dirty:  # tracked, but neither editable nor frozen: the run may start
        (root / "README.md").write_text("my edit\n")
    result = run_cli("run", str(root), "--experiments", "1", "--tag", "co", "--checkout")
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert git(root, "show", "overnight/co:value.txt") == "2.0"
    if dirty:
        assert "Your checkout has uncommitted changes, so it stays as it was" in out
        assert git(root, "branch", "--show-current") == "main" and rev(root, "HEAD") == head
        assert (root / "README.md").read_text() == "my edit\n"
        assert (root / "value.txt").read_text() == "1.0\n"
    else:
        assert "Your checkout is now on overnight/co." in out
        assert git(root, "branch", "--show-current") == "overnight/co"
        assert (root / "value.txt").read_text() == "2.0\n" and porcelain(root) == ""


def test_baseline_crash_exits_1(make_repo) -> None:
    root = make_repo({"value.txt": "oops\n"}, default_config(agent=command_agent("improve")))
    result = run_cli("run", str(root), "--tag", "t")
    assert result.returncode == 1, result.stdout + result.stderr
    # the message shows the evaluation's log tail (its own traceback), never overnight's
    assert result.stderr.startswith("error: the baseline evaluation failed (crash)")
    assert "ValueError" in result.stderr
    assert not re.search(r'File "[^"]*/overnight/\w+\.py"', result.stderr)
    assert [r["status"] for r in ledger_rows(root)] == ["crash"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"value.txt": "5.0\n"}, "value.txt"),  # editable, modified
        ({"score.py": SCORE_PY + "# local tweak\n"}, "score.py"),  # frozen, modified
        ({"extra.txt": "untracked\n"}, "extra.txt"),  # untracked, matching an editable glob
    ],
    ids=["editable", "frozen", "untracked-editable"],
)
def test_dirty_tree_is_refused(make_repo, change: dict[str, str], named: str) -> None:
    root = make_repo(config=default_config(editable=["value.txt", "*.txt"]))
    for path, text in change.items():
        (root / path).write_text(text)
    head = rev(root, "HEAD")
    result = run_cli("run", str(root))
    assert_one_line_error(result, 2, "uncommitted", named)
    assert rev(root, "HEAD") == head and git(root, "branch", "--show-current") == "main"
    assert git(root, "branch", "--list", "overnight/*") == ""
    for path, text in change.items():
        assert (root / path).read_text() == text  # left as the user had it


def test_untracked_file_outside_the_globs_is_allowed(make_repo) -> None:
    root = make_repo(config=default_config(agent=command_agent("improve")))
    (root / "scratch.md").write_text("mine\n")
    result = run_cli("run", str(root), "--experiments", "1", "--tag", "t")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "scratch.md").read_text() == "mine\n"
    assert porcelain(root) == "?? scratch.md"


def test_run_outside_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "overnight.yaml").write_text(yaml.safe_dump(default_config()))
    (plain / "value.txt").write_text("1.0\n")
    (plain / "score.py").write_text(SCORE_PY)
    result = run_cli("run", str(plain))
    assert_one_line_error(result, 2, "not inside a git repository")  # exit 2, as the README says


def test_run_without_a_config(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("run", str(tmp_path)), 2, "overnight.yaml", "not found")


def test_run_with_a_bad_config_names_the_field(make_repo) -> None:
    config = default_config()
    config["evaluate"]["timeout"] = "soon"
    root = make_repo(config=config)
    assert_one_line_error(run_cli("run", str(root)), 2, "evaluate.timeout")


@pytest.mark.parametrize(
    "args",
    [
        ["run", ".", "--experiments", "abc"],
        ["no-such-command"],
        ["run", ".", "--bogus"],
        ["demo", ".", "--experiments", "0"],
    ],
    ids=["bad-number", "unknown-command", "unknown-option", "out-of-range"],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip()


def test_log_and_status_before_any_run(make_repo) -> None:
    root = make_repo()
    assert_one_line_error(run_cli("log", str(root)), 2, "no run yet")
    assert_one_line_error(run_cli("status", str(root)), 2, "no run yet")


def test_help_and_version() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "init", "run", "eval", "log", "status"):
        assert command in result.stdout
    version = run_cli("--version")
    assert version.returncode == 0 and "0.1.0" in version.stdout


# -- what each command imports: the reading commands start without the heavy parts -------------

HEAVY = ("rich", "pydantic", "jinja2", "fastapi", "litellm", "torch", "ray", "optuna", "numpy")
IMPORTED = """
import sys
from overnight.cli import main
sys.argv = ["overnight", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = {HEAVY!r}
print("IMPORTED", sorted({{m.split(".")[0] for m in sys.modules if m.split(".")[0] in heavy}}))
print("API", "overnight.api" in sys.modules, "overnight.config" in sys.modules)
"""


def imported_by(*args: str) -> tuple[list[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED.format(HEAVY=HEAVY), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    heavy = next(line for line in result.stdout.splitlines() if line.startswith("IMPORTED"))
    api = next(line for line in result.stdout.splitlines() if line.startswith("API"))
    return json.loads(heavy.removeprefix("IMPORTED ").replace("'", '"')), api


def test_help_imports_no_library_at_all() -> None:
    heavy, api = imported_by("--help")
    assert heavy == []
    assert api == "API False False"


def test_status_and_log_read_the_ledger_without_the_config_models(demo) -> None:
    target, _ = demo
    for command in (["status"], ["log"], ["log", "--tsv"], ["log", "--json"]):
        heavy, api = imported_by(*command, str(target))
        assert heavy == ([] if command[1:] else ["rich"]), command
        assert api == "API True False", command  # the ledger, not the pydantic models


def test_status_reads_a_run_while_the_config_is_broken(demo, tmp_path) -> None:
    """A reading command needs only the config's layer names: a mistake elsewhere in the
    file (being fixed while the run goes on, say) does not hide the run."""
    target, _ = demo
    copy = tmp_path / "copy"
    shutil.copytree(target, copy)
    config = copy / "overnight.yaml"
    fields = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**fields, "budget": {"experiments": "many"}}))
    assert run_cli("status", str(copy)).returncode == 0
    assert_one_line_error(run_cli("eval", str(copy)), 2, "budget.experiments")
    config.write_text("[not, a, mapping]\n")
    assert_one_line_error(run_cli("status", str(copy)), 2, "overnight.yaml", "mapping")


def test_the_public_names_stay_themselves_whatever_is_imported() -> None:
    """The package's names load on first use; importing every module first must not let a
    module stand in for a public name of the same spelling."""
    import importlib
    import pkgutil
    import types

    import overnight

    for module in pkgutil.walk_packages(overnight.__path__, "overnight."):
        if not module.name.startswith(("overnight.server", "overnight.activation.routers.emb")):
            importlib.import_module(module.name)
    for name in overnight.__all__:
        assert not isinstance(getattr(overnight, name), types.ModuleType), name
    assert overnight.prune.__module__ == "overnight.api"


# -- square brackets are text: an output, a reason or a description is never markup ------------

LOUD = "[/INST] [bold]loud[/bold] [red]"
BRACKET_AGENT = f"""\
from pathlib import Path
Path("value.txt").write_text(str(float(Path("value.txt").read_text()) + 1))
print("DESCRIPTION: {LOUD}")
"""


def test_brackets_in_a_failing_evaluation_are_printed_as_they_are(make_repo) -> None:
    root = make_repo({"value.txt": "1.0\n", "score.py": f"print({LOUD!r})\nraise SystemExit(3)\n"})
    result = run_cli("eval", str(root))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert LOUD in result.stderr and "[exited with code 3]" in result.stderr
    assert "None:" not in result.stdout + result.stderr


def test_a_metric_that_never_prints_is_said(make_repo) -> None:
    root = make_repo({"value.txt": "1.0\n", "score.py": "print('nothing to see')\n"})
    result = run_cli("eval", str(root))
    assert result.returncode == 1
    assert "printed no score (a line 'score: <number>' not found)" in result.stderr


def test_a_successful_eval_prints_no_failure_line(make_repo) -> None:
    result = run_cli("eval", str(make_repo()))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and "None" not in result.stdout


def test_brackets_in_a_description_survive_run_log_and_status(make_repo) -> None:
    root = make_repo(
        {"value.txt": "1.0\n", "score.py": SCORE_PY, "agent.py": BRACKET_AGENT},
        default_config(
            frozen=["score.py", "agent.py"],
            agent={"kind": "command", "command": f"{sys.executable} agent.py"},
        ),
    )
    run = run_cli("run", str(root), "--experiments", "1", "--tag", "t")
    assert run.returncode == 0, run.stdout + run.stderr
    assert LOUD in run.stdout
    for command in ("log", "status"):
        shown = run_cli(command, str(root))
        assert shown.returncode == 0 and "Traceback" not in shown.stderr
        assert LOUD in shown.stdout, (command, shown.stdout)


def test_a_piped_log_keeps_every_column(make_repo, demo) -> None:
    target, _ = demo
    env = {name: value for name, value in os.environ.items() if name != "COLUMNS"}
    piped = subprocess.run(
        [*overnight_command(), "log", str(target)], capture_output=True, text=True, env=env
    )
    assert piped.returncode == 0, piped.stderr
    rows = [line for line in piped.stdout.splitlines() if line.lstrip("│ ").startswith("1 ")]
    commit = ledger_rows(target)[1]["commit_sha"]
    assert rows and (commit is None or commit[:7] in rows[0]), piped.stdout


def test_init_does_not_make_a_path_of_missing_folders(tmp_path: Path) -> None:
    far = tmp_path / "no" / "such" / "place"
    for args in (["init", str(far)], ["init", "--example", "digits", str(far)]):
        assert_one_line_error(run_cli(*args), 2, "does not exist")
    assert not (tmp_path / "no").exists()


def test_the_next_step_after_an_example_is_a_command_that_works(tmp_path: Path) -> None:
    made = run_cli("init", "--example", "skill-trigger", str(tmp_path / "skills"))
    said = " ".join(made.stdout.split())
    assert 'pip install "overnight[embed]"' in said and "--layer activation" in said
    posts = run_cli("init", "--example", "social-posts", str(tmp_path / "posts"))
    said = " ".join(posts.stdout.split())
    assert 'pip install "overnight[llm]"' in said and "OPENAI_API_KEY" in said


def test_reading_commands_outside_a_repository_say_git_init(tmp_path: Path) -> None:
    (tmp_path / "overnight.yaml").write_text(yaml.safe_dump(default_config()))
    for command in ("status", "log"):
        assert_one_line_error(run_cli(command, str(tmp_path)), 2, "git init")
    assert not (tmp_path / ".overnight").exists()  # a reader creates nothing


def test_the_log_says_why_an_experiment_was_not_kept() -> None:
    run = RunRecord(1, "t", "overnight/t", "demo", "score", "maximize", "b", {}, 0.0, None, None)
    history = [
        Experiment(1, 0, "b", Status.BASELINE, metric=1.0, commit="b"),
        Experiment(
            1,
            1,
            "b",
            Status.DISCARD,
            metric=1.0005,
            description="nudge",
            reason="better by 0.0005, not more than min_delta 0.001",
        ),
        Experiment(1, 2, "b", Status.NO_OP, description="idle", reason="the agent changed nothing"),
        Experiment(1, 3, "b", Status.CRASH, description="boom", reason="[exited with code 1]\nx"),
    ]
    console = Console(width=200, record=True)
    console.print(log_table(run, history))
    shown = console.export_text()
    assert "nudge  better by 0.0005, not more than min_delta 0.001" in shown
    assert "idle  the agent changed nothing" in shown
    assert "boom  [exited with code 1]" in shown and "\nx" not in shown


def test_an_error_with_brackets_is_printed_as_it_is() -> None:
    result = run_cli("init", "--example", "[bold]nope[/INST]")
    assert_one_line_error(result, 2, "no example '[bold]nope[/INST]'")


def test_every_command_that_reads_a_run_names_it_with_tag_or_run() -> None:
    for command in ("log", "prune", "review", "report"):
        shown = run_cli(command, "--help").stdout
        assert "--tag, --run TAG" in " ".join(shown.split()), command


def test_the_resume_command_names_the_run_and_its_layer() -> None:
    layered = RunRecord(
        1, "q-1", "overnight/q-1", "demo", "score", "maximize", "b", {}, 0.0, None, None, "quality"
    )
    assert resume_command(layered) == "overnight run --resume --tag q-1 --layer quality"
