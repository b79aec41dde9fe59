"""Hostile agents and hostile code under test, run for real.

Each escape must end as a violation, or be invisible or impossible in the bubblewrap sandbox,
and the user's checkout (HEAD, current branch, index, files) and every ref but the run's own
branch must be as they were. Most tests run twice: ``bwrap`` (``sandbox.mode: required``), where
the attack should find nothing to attack, and ``off``, where the guards must notice afterwards.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import overnight
from isolation.kit import (
    BRANCH,
    PRELUDE,
    PY,
    SANDBOXES,
    TAG,
    Checkout,
    attack_repo,
    git,
    outbox,
)
from overnight.errors import LedgerError
from overnight.records import Experiment, Status

IMPROVE = 'Path("value.txt").write_text(f"{value() + 1}\\n")\nprint("one more")\n'
NUMBERED = 'Path("value.txt").write_text(f"{value() + number()}\\n")\nprint("a new value")\n'


def run(root: Path, **options: object) -> overnight.RunSummary:
    return overnight.run(root, tag=TAG, **options)  # type: ignore[arg-type]


def statuses(summary: overnight.RunSummary) -> list[Status]:
    return [e.status for e in summary.experiments]


def values(experiments: list[Experiment]) -> list[float]:
    """Every number a run measured: metrics, repeats and re-measurements of the best."""
    found = [e.metric for e in experiments if e.metric is not None]
    for e in experiments:
        found += [*e.measurements, *e.remeasured]
    return found


def reported(root: Path, name: str = "agent") -> str:
    path = outbox(root) / name
    return path.read_text() if path.exists() else ""


def confined(mode: str) -> bool:
    return mode == "required"


# -- 1. secrets: the environment of code under test, and every /proc it can read -----------------

SECRETS = {
    "OPENAI_API_KEY": "sk-proj-3f9Qa7LmZtW",
    "DATABASE_URL": "postgres://app:hunter2x9@db.internal/prod",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/Xy9Zq2Lw",
    "SENTRY_DSN": "https://5c1e7b0d@o42.ingest.sentry.io/7",
}

SCORE_HUNTS_SECRETS = (
    f"SECRETS = {list(SECRETS.values())!r}\n"
    + """\
import os
from pathlib import Path

def leaks(blob):
    return sum(secret.encode() in blob for secret in SECRETS)

own = leaks("\\0".join(f"{k}={v}" for k, v in os.environ.items()).encode())
elsewhere = read = 0
for entry in Path("/proc").iterdir():
    if not entry.name.isdigit() or int(entry.name) == os.getpid():
        continue
    for name in ("environ", "cmdline"):
        try:
            blob = (entry / name).read_bytes()
        except OSError:
            continue
        read += 1
        elsewhere += leaks(blob)
print(f"own_leak: {own}")
print(f"proc_leak: {elsewhere}")
print(f"proc_read: {read}")
print(f"score: {float(Path('value.txt').read_text())}")
"""
)


@pytest.mark.parametrize("mode", SANDBOXES)
def test_code_under_test_finds_no_secret(make_repo, monkeypatch, mode: str) -> None:
    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    root = attack_repo(
        make_repo, mode, IMPROVE, {"score.py": SCORE_HUNTS_SECRETS}, budget={"experiments": 1}
    )
    # another of the user's processes holding the secrets in its environment and arguments
    holder = subprocess.Popen(
        [PY, "-c", "import time; time.sleep(60)", *SECRETS.values()], env=dict(os.environ)
    )
    try:
        summary = run(root)
    finally:
        holder.kill()
        holder.wait()

    assert statuses(summary) == [Status.BASELINE, Status.KEEP]
    for e in summary.experiments:
        assert e.secondary["own_leak"] == 0  # the environment is an allow-list
        if confined(mode):
            assert e.secondary["proc_leak"] == 0  # no other process is visible
        else:  # unconfined, /proc is open: the probe does find the holder
            assert e.secondary["proc_leak"] > 0


# -- 2. a `git replace` ref that would make the harness read a fake evaluator --------------------

AGENT_PLANTS_REPLACEMENT = (
    """
repo = user_repo()
out("agent", f"repo_found: {int(repo is not None)}\\n")
if repo is not None and number() == 1:
    fake = subprocess.run(
        ["git", "-C", str(repo), "hash-object", "-w", "--stdin"],
        input='print("score: 1000")\\n', capture_output=True, text=True,
    ).stdout.strip()
    git(repo, "replace", "-f", git(repo, "rev-parse", "HEAD:score.py"), fake)
"""
    + IMPROVE
)


def replacements(root: Path) -> str:
    return git(root, "for-each-ref", "refs/replace")


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_planted_replace_ref_changes_nothing_measured(make_repo, monkeypatch, mode) -> None:
    root = attack_repo(make_repo, mode, AGENT_PLANTS_REPLACEMENT, monkeypatch=monkeypatch)
    before = Checkout.of(root)

    summary = run(root)

    if confined(mode):  # the agent finds no repository to plant it in
        assert reported(root) == "repo_found: 0\n" * 2
        assert statuses(summary) == [Status.BASELINE, Status.KEEP, Status.KEEP]
    else:
        assert statuses(summary) == [Status.BASELINE, Status.VIOLATION, Status.KEEP]
        assert ".git/refs/replace/" in summary.experiments[1].reason
    assert max(values(summary.experiments)) == summary.best == 1.0 + len(summary.kept)
    assert replacements(root) == ""  # undone
    assert Checkout.of(root) == before


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_replace_ref_already_there_is_not_followed(make_repo, monkeypatch, mode) -> None:
    """However it got there, a replacement never reaches the workspace or the frozen copies,
    on a start or on a resume (which exports the frozen files again)."""
    root = attack_repo(make_repo, mode, IMPROVE, budget={"experiments": 1})
    fake = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        input='print("score: 1000")\n',
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(root, "replace", git(root, "rev-parse", "HEAD:score.py"), fake)
    assert git(root, "show", "HEAD:score.py") == 'print("score: 1000")'  # git itself follows it

    first = run(root)
    again = run(root, resume=True, experiments=2)

    assert [e.metric for e in again.experiments] == [1.0, 2.0, 3.0]
    assert first.experiments[0].metric == 1.0
    assert git(root, "show", f"{BRANCH}:score.py") == git(root, "show", "HEAD:score.py")


# -- 3. moving HEAD, branches and tags of the user's repository ------------------------------------

MOVE_REFS = """
def move_refs(repo):
    git(repo, "commit", "--allow-empty", "-q", "-m", "moved by hostile code")
    git(repo, "update-ref", "refs/heads/side", git(repo, "rev-parse", "HEAD"))
    git(repo, "tag", "planted")
    git(repo, "symbolic-ref", "HEAD", "refs/heads/side")
"""

AGENT_MOVES_REFS = (
    MOVE_REFS
    + """
repo = user_repo()
out("agent", f"repo_found: {int(repo is not None)}\\n")
if repo is not None and number() == 1:
    move_refs(repo)
"""
    + IMPROVE
)

SCORE_MOVES_REFS = (
    PRELUDE
    + MOVE_REFS
    + """
repo = user_repo()
if repo is not None and value() > 1:
    move_refs(repo)
print(f"repo_found: {int(repo is not None)}")
print(f"score: {value()}")
"""
)

MOVED = ".git/HEAD, .git/refs/heads/main, .git/refs/heads/side, .git/refs/tags/planted"


@pytest.mark.parametrize("actor", ["agent", "evaluation"])
@pytest.mark.parametrize("mode", SANDBOXES)
def test_moving_the_users_refs(make_repo, monkeypatch, mode: str, actor: str) -> None:
    by_agent = actor == "agent"
    files = {} if by_agent else {"score.py": SCORE_MOVES_REFS}
    root = attack_repo(
        make_repo, mode, AGENT_MOVES_REFS if by_agent else IMPROVE, files, monkeypatch
    )
    git(root, "branch", "side")
    base = git(root, "rev-parse", "HEAD")
    before = Checkout.of(root)

    summary = run(root)

    experiments = summary.experiments
    if confined(mode):  # nothing untrusted sees a repository
        assert statuses(summary) == [Status.BASELINE, Status.KEEP, Status.KEEP]
        if by_agent:
            assert reported(root) == "repo_found: 0\n" * 2
        else:
            assert {e.secondary["repo_found"] for e in experiments} == {0}
    else:
        assert experiments[1].status is Status.VIOLATION
        assert f"changed git's own files or refs: {MOVED}" in experiments[1].reason
        if by_agent:  # the next experiment starts from the same best state
            assert experiments[2].status is Status.KEEP and experiments[2].parent_commit == base
    assert Checkout.of(root) == before  # HEAD, main, side, tags: all put back
    tip = git(root, "rev-parse", BRANCH)
    assert tip == (summary.best_experiment.commit or base)
    assert git(root, "rev-list", "--count", f"{base}..{tip}") == str(len(summary.kept))


AGENT_MOVES_THE_RUN_BRANCH = """
repo = user_repo()
if repo is not None and number() == 1:
    fake = git(repo, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "not a keep")
    git(repo, "update-ref", "refs/heads/overnight/t", fake)
Path("value.txt").write_text(f"{value() - 1}\\n")
print("worse")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_moving_the_run_branch(make_repo, monkeypatch, mode: str) -> None:
    root = attack_repo(make_repo, mode, AGENT_MOVES_THE_RUN_BRANCH, monkeypatch=monkeypatch)
    base = git(root, "rev-parse", "HEAD")

    summary = run(root)

    assert git(root, "rev-parse", BRANCH) == base  # nothing was kept: the tip is the baseline
    if not confined(mode):
        assert summary.experiments[1].status is Status.VIOLATION
        assert "refs/heads/overnight/t" in summary.experiments[1].reason


# -- code under test that runs git (a build script, a test suite) --------------------------------

SCORE_RESETS_GIT = """\
import subprocess
from pathlib import Path
top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
subprocess.run(["git", "reset", "-q", "--hard"], capture_output=True)
print(f"repo_found: {int(top.returncode == 0)}")
print(f"score: {float(Path('value.txt').read_text())}")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_git_in_the_code_under_test_finds_no_repository(make_repo, mode: str) -> None:
    root = attack_repo(make_repo, mode, IMPROVE, {"score.py": SCORE_RESETS_GIT, "README.md": "a\n"})
    (root / "README.md").write_text("a\nthe user's edit, not committed\n")
    before = Checkout.of(root)

    summary = run(root)

    assert Checkout.of(root) == before
    assert statuses(summary) == [Status.BASELINE, Status.KEEP, Status.KEEP]
    assert all(e.secondary["repo_found"] == 0 for e in summary.experiments)


# -- the harness's own state: the workspace's index ---------------------------------------------

SCORE_STAGES_A_FAKE_SCORER = (
    PRELUDE
    + """
repo = user_repo()
if repo is not None and value() > 1:
    tree = Path.cwd()
    env = {
        **os.environ,
        "GIT_DIR": str(repo / ".git"),
        "GIT_WORK_TREE": str(tree),
        "GIT_INDEX_FILE": str(tree.parent / "index"),
    }
    fake = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        input='print("score: 1000")\\n', env=env, capture_output=True, text=True,
    ).stdout.strip()
    subprocess.run(["git", "update-index", "--cacheinfo", f"100644,{fake},score.py"], env=env)
print(f"score: {value()}")
"""
)


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_keep_commits_what_was_measured(make_repo, monkeypatch, mode: str) -> None:
    root = attack_repo(
        make_repo, mode, IMPROVE, {"score.py": SCORE_STAGES_A_FAKE_SCORER}, monkeypatch
    )
    scorer = git(root, "show", "HEAD:score.py")

    summary = run(root)

    assert git(root, "show", f"{BRANCH}:score.py") == scorer
    assert 1000.0 not in values(summary.experiments)


# -- 4. leftovers: ignored files an evaluation writes must not reach a later measurement ----------

HELPER = "PLANTED_BY = None\n"

SCORE_PLANTS_LEFTOVERS = """\
import json, os, py_compile, sys
from pathlib import Path
import helper
here = Path("value.txt").read_text().strip()
found = [m for m in (getattr(json, "PLANTED_BY", None), helper.PLANTED_BY) if m not in (None, here)]
# for whoever runs next in this directory: a module shadowing json, and bytecode for helper
# that Python would load without looking at helper.py
Path("json.py").write_text(f"PLANTED_BY = {here!r}\\n")
source = Path(os.environ.get("TMPDIR", "/tmp")) / "fake_helper.py"
source.write_text(f"PLANTED_BY = {here!r}\\n")
Path("__pycache__").mkdir(exist_ok=True)
py_compile.compile(
    str(source),
    cfile=f"__pycache__/helper.{sys.implementation.cache_tag}.pyc",
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
)
noise = [0.0, 0.1, -0.1, 0.05, -0.05, 0.1][int(os.environ["OVERNIGHT_SEED"]) % 6]
print(f"leftovers: {len(found)}")
print(f"score: {float(here) + noise + 1000 * len(found)}")
"""

# 1: a gain within the noise, measured three times and discarded, so the best is measured again
# right after another tree was; 2: a clear gain
LEFTOVER_AGENT = """
Path("value.txt").write_text(f"{value() + {1: 0.08, 2: 1}[number()]}\\n")
print("step")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_leftovers_of_one_evaluation_never_reach_the_next(make_repo, mode: str) -> None:
    root = attack_repo(
        make_repo,
        mode,
        LEFTOVER_AGENT,
        {
            "score.py": SCORE_PLANTS_LEFTOVERS,
            "helper.py": HELPER,
            ".gitignore": "json.py\n__pycache__/\n*.pyc\n",
        },
        frozen=["score.py", "agent.py", "helper.py"],
        evaluate={"repeats": 3, "seeds": "vary"},
        policy={"kind": "noise-aware"},
    )

    summary = run(root)

    experiments = summary.experiments
    assert all(e.status is not Status.VIOLATION for e in experiments), statuses(summary)
    assert any(e.remeasured for e in experiments)  # the best was measured again, after a reset
    assert all(e.secondary.get("leftovers", 0) == 0 for e in experiments)
    assert max(values(experiments)) < 1000
    tip = git(root, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert "json.py" not in tip and not any(p.endswith(".pyc") for p in tip)


AGENT_HIDES_A_FILE = (
    """
rules = "json.py\\n"
home, xdg = Path(os.environ["HOME"]), Path(os.environ["XDG_CONFIG_HOME"])
for ignore in (home / ".config" / "git" / "ignore", xdg / "git" / "ignore"):
    ignore.parent.mkdir(parents=True, exist_ok=True)
    ignore.write_text(rules)
(home / "excludes").write_text(rules)
(home / ".gitconfig").write_text(f"[core]\\n\\texcludesFile = {home / 'excludes'}\\n")
Path("json.py").write_text("PLANTED_BY = 'the agent'\\n")
"""
    + IMPROVE
)

SCORE_SEES_JSON = """\
import json
from pathlib import Path
print(f"planted: {int(hasattr(json, 'PLANTED_BY'))}")
print(f"score: {float(Path('value.txt').read_text())}")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_global_git_ignore_hides_nothing_from_the_harness(
    make_repo, monkeypatch, tmp_path: Path, mode: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    root = attack_repo(
        make_repo,
        mode,
        AGENT_HIDES_A_FILE,
        {"score.py": SCORE_SEES_JSON},
        budget={"experiments": 1},
    )

    summary = run(root)

    assert statuses(summary) == [Status.BASELINE, Status.VIOLATION]
    violation = summary.experiments[1]
    assert "changed json.py, which is outside the editable globs" in violation.reason
    assert "json.py" in violation.changed_files
    assert violation.metric is None  # never measured


AGENT_PLANTS_A_FILTER = (
    """
home, xdg = Path(os.environ["HOME"]), Path(os.environ["XDG_CONFIG_HOME"])
outbox = Path(os.environ["OVERNIGHT_ATTACK_OUT"])
if number() == 1:
    real = outbox / "real-score.py"
    real.write_text(Path("score.py").read_text())
    (home / "attributes").write_text("score.py filter=hide\\n")
    config = (
        "[core]\\n"
        f"\\tattributesFile = {home / 'attributes'}\\n"
        '[filter "hide"]\\n'
        f"\\tclean = \\"sh -c 'env > {outbox / 'ran'}; cat {real}'\\"\\n"
    )
    (home / ".gitconfig").write_text(config)
    (xdg / "git").mkdir(parents=True, exist_ok=True)
    (xdg / "git" / "config").write_text(config)
    Path("score.py").write_text('print("score: 1000")\\n')
"""
    + IMPROVE
)


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_global_git_config_runs_nothing_in_the_harness(
    make_repo, monkeypatch, tmp_path: Path, mode: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", SECRETS["OPENAI_API_KEY"])
    root = attack_repo(
        make_repo, mode, AGENT_PLANTS_A_FILTER, monkeypatch=monkeypatch, budget={"experiments": 1}
    )

    summary = run(root)

    assert not (outbox(root) / "ran").exists()  # no command of the agent's ran in the harness
    assert statuses(summary) == [Status.BASELINE, Status.VIOLATION]
    assert "changed frozen file score.py" in summary.experiments[1].reason
    assert 1000.0 not in values(summary.experiments)


# -- 5. re-measurements of the best are guarded too ------------------------------------------------

SCORE_TAMPERS_ON_REMEASUREMENT = """\
import os
from pathlib import Path
value = float(Path("value.txt").read_text())
if int(os.environ["OVERNIGHT_SEED"]) >= 3:  # attempts past evaluate.repeats: re-measurements
    try:
        with open("score.py", "a") as handle:
            handle.write("# tampered while the best was measured again\\n")
        print("tampered: 1")
        value = 1000.0
    except OSError:
        print("tampered: 0")
print(f"score: {value}")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_remeasurements_of_the_best_are_guarded(make_repo, mode: str) -> None:
    root = attack_repo(
        make_repo,
        mode,
        IMPROVE,
        {"score.py": SCORE_TAMPERS_ON_REMEASUREMENT},
        evaluate={"repeats": 3, "seeds": "vary"},
        policy={"kind": "noise-aware"},
        budget={"experiments": 1},
    )

    summary = run(root)

    kept = summary.experiments[1]
    assert statuses(summary) == [Status.BASELINE, Status.KEEP]
    assert kept.remeasured and 1000.0 not in values(summary.experiments)
    assert set(kept.remeasured) == {2.0}
    if confined(mode):  # the frozen scorer is read-only: the write failed, nothing to report
        assert kept.secondary.get("tampered", 0) == 0
        assert "re-measuring" not in kept.reason
    else:  # the tampering measurement is dropped and the best is trusted no further
        assert (
            "re-measuring the best state: the evaluation changed guarded files at run time: "
            "score.py" in kept.reason
        )
    assert git(root, "show", f"{BRANCH}:score.py") == git(root, "show", "HEAD:score.py")


# -- 6. an evaluation of two processes: the first rewrites the scorer, the last puts it back ------

TAMPER = """\
import os, sys
from pathlib import Path
stash = Path(os.environ.get("TMPDIR", "/tmp")) / "real-score.py"
if float(Path("value.txt").read_text()) > 1:
    if sys.argv[1:] == ["restore"]:
        if stash.exists():
            Path("score.py").write_text(stash.read_text())
    else:
        real = Path("score.py").read_text()
        try:
            Path("score.py").write_text('print("score: 1000")\\n')
            stash.write_text(real)
            print("rewritten: 1")
        except OSError:
            print("rewritten: 0")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_scorer_rewritten_and_put_back_is_caught(make_repo, mode: str) -> None:
    root = attack_repo(
        make_repo,
        mode,
        IMPROVE,
        {"tamper.py": TAMPER},
        frozen=["score.py", "agent.py", "tamper.py"],
        evaluate={"command": f"{PY} tamper.py && {PY} score.py && {PY} tamper.py restore"},
        budget={"experiments": 1},
    )
    scorer = (root / "score.py").read_text()

    summary = run(root)

    measured = summary.experiments[1]
    if confined(mode):  # the write failed; the real scorer's output stands
        assert measured.status is Status.KEEP
        assert measured.metric == 2.0 and measured.secondary["rewritten"] == 0
    else:  # same content, but its ctime moved
        assert measured.status is Status.VIOLATION
        assert "the evaluation changed guarded files at run time: score.py" in measured.reason
        assert measured.secondary["rewritten"] == 1
    assert (root / "score.py").read_text() == scorer


# -- 7. guarded files made into things that hang or crash a reader ---------------------------------

# experiment N makes value.txt the N-th kind of odd thing; the last one improves it
ODD_AGENT = """
kinds = os.environ["OVERNIGHT_ATTACK_KINDS"].split()
target = Path("value.txt")
if number() <= len(kinds):
    kind = kinds[number() - 1]
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
        (target / "inside").write_text("3.0\\n")
        os.chmod(target, 0o500)
    elif kind == "symlink":
        target.symlink_to("score.py")
    else:
        target.write_text("3.0\\n")
        os.chmod(target, 0)
    print(f"made value.txt a {kind}")
else:
    target.write_text("2.0\\n")
    print("set value to 2")
"""

ODD_WORDS = {
    "fifo": "value.txt was replaced by a FIFO",
    "directory": "value.txt was replaced by a directory",
    "symlink": "made value.txt a symbolic link",
    "unreadable": "value.txt was made unreadable",
}


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_guarded_file_made_odd_is_a_violation(make_repo, monkeypatch, mode: str) -> None:
    kinds = [k for k in ODD_WORDS if k != "unreadable" or os.geteuid() != 0]  # root reads all
    monkeypatch.setenv("OVERNIGHT_ATTACK_KINDS", " ".join(kinds))
    root = attack_repo(
        make_repo, mode, ODD_AGENT, evaluate={"timeout": 5}, budget={"experiments": len(kinds)}
    )
    before = Checkout.of(root)
    started = time.monotonic()

    summary = run(root)
    again = run(root, resume=True, experiments=len(kinds) + 1)

    assert time.monotonic() - started < 30  # nothing ever waited on the FIFO
    assert statuses(summary) == [Status.BASELINE] + [Status.VIOLATION] * len(kinds)
    for kind, experiment in zip(kinds, summary.experiments[1:], strict=True):
        assert ODD_WORDS[kind] in experiment.reason
    assert statuses(again)[-1] is Status.KEEP and again.best == 2.0  # from a clean tree
    assert Checkout.of(root) == before


SCORE_LEAVES_A_FIFO = """\
import os
from pathlib import Path
value = float(Path("value.txt").read_text())
if value > 1:
    os.unlink("value.txt")
    os.mkfifo("value.txt")
print(f"score: {value}")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_an_evaluation_leaving_a_fifo_is_a_violation(make_repo, mode: str) -> None:
    root = attack_repo(
        make_repo, mode, NUMBERED, {"score.py": SCORE_LEAVES_A_FIFO}, evaluate={"timeout": 5}
    )
    started = time.monotonic()

    summary = run(root)

    assert time.monotonic() - started < 30
    assert statuses(summary) == [Status.BASELINE, Status.VIOLATION, Status.VIOLATION]
    for e in summary.experiments[1:]:
        assert "the evaluation changed guarded files at run time: value.txt" in e.reason
    assert summary.experiments[2].metric == 3.0  # the next tree was made afresh


# -- 8. the ledger ---------------------------------------------------------------------------------

SCORE_FORGES_A_ROW = """\
import os, sqlite3
from pathlib import Path
value = float(Path("value.txt").read_text())
ledger = Path(os.environ["OVERNIGHT_ATTACK_REPO"]) / ".overnight" / "ledger.db"
print(f"ledger_visible: {int(os.path.exists(ledger))}")
if value > 1 and ledger.exists():
    db = sqlite3.connect(ledger, timeout=10)
    with db:
        db.execute(
            "INSERT INTO experiments (run_id, number, parent_commit, status, metric, started_at)"
            " SELECT id, 77, base_commit, 'keep', 1000, 0 FROM runs WHERE tag = 't'"
        )
    db.close()
print(f"score: {value}")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_the_ledger_is_hidden_or_forgery_is_reported(make_repo, monkeypatch, mode: str) -> None:
    root = attack_repo(
        make_repo,
        mode,
        IMPROVE,
        {"score.py": SCORE_FORGES_A_ROW},
        monkeypatch,
        budget={"experiments": 1},
    )

    summary = run(root)

    visible = {e.secondary["ledger_visible"] for e in summary.experiments}
    if confined(mode):
        assert visible == {0}
        again = run(root, resume=True, experiments=2)
        assert statuses(again) == [Status.BASELINE, Status.KEEP, Status.KEEP]
    else:
        assert visible == {1}
        with pytest.raises(LedgerError) as raised:
            run(root, resume=True, experiments=2)
        message = str(raised.value)
        assert "\n" not in message
        assert "experiment 77" in message and "not written by overnight" in message
    assert statuses(summary) == [Status.BASELINE, Status.KEEP]


# -- 9. held-out cases -----------------------------------------------------------------------------

HIDDEN = "zebra-held-out-91"

GENERATOR = """\
from pathlib import Path

def answer(word):
    return f"{word} GOOD" if "good" in Path("rules.txt").read_text() else word
"""

AGENT_READS_THE_SUITE = (
    f"HIDDEN = {HIDDEN!r}\n"
    """
found = {"workspace": Path("suite.yaml").read_text()}
repo = Path(os.environ["OVERNIGHT_ATTACK_REPO"])
for name, path in (
    ("checkout", repo / "suite.yaml"),
    ("frozen", Path.cwd().parent / "frozen" / "suite.yaml"),
    ("config", Path("overnight.yaml")),
):
    try:
        found[name] = path.read_text()
    except OSError:
        found[name] = ""
for name, text in found.items():
    out("agent", f"{name}: {int(HIDDEN in text)} {int('v1' in text)}\\n")
Path("rules.txt").write_text("good\\n")
print("be good")
"""
)


@pytest.mark.parametrize("mode", SANDBOXES)
def test_a_command_agent_cannot_read_held_out_cases(make_repo, monkeypatch, mode: str) -> None:
    cases = [{"id": f"v{i}", "vars": {"word": f"v{i}"}} for i in (1, 2, 3)]
    cases += [{"id": "held", "vars": {"word": HIDDEN}, "holdout": True}]
    suite = {
        "generate": {"kind": "python", "function": "gen.py:answer"},
        "cases": cases,
        "assert": [{"type": "regex", "pattern": "GOOD"}],
    }
    root = attack_repo(
        make_repo,
        mode,
        AGENT_READS_THE_SUITE,
        {"rules.txt": "bad\n", "gen.py": GENERATOR, "suite.yaml": yaml.safe_dump(suite)},
        monkeypatch,
        editable=["rules.txt"],
        frozen=["gen.py", "agent.py", "suite.yaml"],
        evaluate={"kind": "suite", "suite": "suite.yaml"},
        budget={"experiments": 1},
    )

    summary = run(root)

    seen = dict(line.split(": ") for line in reported(root).splitlines())
    assert seen["workspace"] == "0 1"  # the visible cases, without the held-out one
    assert seen["config"] == "0 0"
    assert seen["frozen"] == "0 0"
    if confined(mode):  # nothing of the checkout, the real suite file included
        assert seen["checkout"] == "0 0"
    assert statuses(summary) == [Status.BASELINE, Status.KEEP]
    assert summary.experiments[1].held_out is not None  # measured on all cases, apart
    assert git(root, "show", f"{BRANCH}:suite.yaml") == git(root, "show", "HEAD:suite.yaml")


# -- 10. the user's checkout, while a run goes on --------------------------------------------------

AGENT_LOOKS_AROUND = (
    """
repo = Path(os.environ["OVERNIGHT_ATTACK_REPO"])
state = repo / ".overnight"
seen = [state / "ledger.db", state / "logs", repo / ".git", repo / "notes.txt", repo / "score.py"]
out("agent", " ".join(str(int(p.exists())) for p in seen) + "\\n")
"""
    + IMPROVE
)


class UserEdits:
    """The user at work while the run goes on: at experiment 1 they edit a tracked file and
    write an untracked one in their checkout."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run_started(self, run: object, budget: object) -> None:
        pass

    def experiment_started(self, number: int, history: list[Experiment]) -> None:
        if number == 1:
            (self.root / "README.md").write_text("readme\nmy edit, in progress\n")
            (self.root / "notes.txt").write_text("my notes\n")

    def experiment_finished(self, experiment: Experiment, history: list[Experiment]) -> None:
        pass

    def message(self, text: str) -> None:
        pass


@pytest.mark.parametrize("mode", SANDBOXES)
def test_the_checkout_is_never_touched(make_repo, monkeypatch, mode: str) -> None:
    root = attack_repo(make_repo, mode, AGENT_LOOKS_AROUND, {"README.md": "readme\n"}, monkeypatch)
    base = git(root, "rev-parse", "HEAD")
    index = (root / ".git" / "index").read_bytes()

    summary = run(root, observer=UserEdits(root))

    assert statuses(summary) == [Status.BASELINE, Status.KEEP, Status.KEEP]
    assert (root / "README.md").read_text() == "readme\nmy edit, in progress\n"
    assert (root / "notes.txt").read_text() == "my notes\n"
    assert (root / "value.txt").read_text() == "1.0\n"  # the best lives on the run branch
    assert git(root, "rev-parse", "HEAD") == base
    assert git(root, "branch", "--show-current") == "main"
    assert (root / ".git" / "index").read_bytes() == index
    assert git(root, "show", f"{BRANCH}:value.txt") == "3.0"
    assert git(root, "status", "--porcelain") == " M README.md\n?? notes.txt"
    assert not (root / ".overnight" / "worktrees" / TAG / "tree").exists()  # gone at the end
    looks = reported(root).splitlines()
    if confined(mode):  # nothing of the checkout: not its state, its .git, its files
        assert looks == ["0 0 0 0 0"] * 2


# -- the agent's own folder (the brief), which the harness writes again at every experiment -------

AGENT_BOOBYTRAPS_THE_BRIEF = (
    """
brief = Path(os.environ["OVERNIGHT_BRIEF"])
if number() == 1:
    brief.unlink()
    if os.environ["OVERNIGHT_ATTACK_KIND"] == "fifo":
        os.mkfifo(brief)  # the harness would wait for a reader forever
    else:  # the harness would write the next brief into the user's checkout
        brief.symlink_to(Path(os.environ["OVERNIGHT_ATTACK_REPO"]) / "README.md")
"""
    + NUMBERED
)


class FifoReader:
    """Holds the read end of a FIFO the agent left as its brief, opened just before the harness
    writes the next brief, so that a harness that writes into it does not block for ever; what
    it wrote there can be read back afterwards."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def run_started(self, run: object, budget: object) -> None:
        pass

    def experiment_started(self, number: int, history: list[Experiment]) -> None:
        if number == 2 and self.path.is_fifo():
            self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)

    def experiment_finished(self, experiment: Experiment, history: list[Experiment]) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def written(self) -> bytes:
        if self.fd is None:
            return b""
        try:
            return os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return b""
        finally:
            os.close(self.fd)


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
@pytest.mark.parametrize("mode", SANDBOXES)
def test_the_brief_is_written_safely(make_repo, monkeypatch, mode: str, kind: str) -> None:
    monkeypatch.setenv("OVERNIGHT_ATTACK_KIND", kind)
    root = attack_repo(
        make_repo, mode, AGENT_BOOBYTRAPS_THE_BRIEF, {"README.md": "readme\n"}, monkeypatch
    )
    before = Checkout.of(root)
    fifo = FifoReader(root / ".overnight" / "worktrees" / TAG / "agent" / "brief.md")

    summary = run(root, observer=fifo)

    assert fifo.written() == b""  # no brief went into the agent's FIFO
    assert statuses(summary)[-1] is Status.KEEP
    assert Checkout.of(root) == before  # no brief went into the user's README.md


AGENT_PLANTS_DATA = (
    """
Path("data").mkdir(exist_ok=True)
Path("data/answer.txt").write_text("1000\\n")
"""
    + IMPROVE
)

SCORE_READS_DATA = """\
from pathlib import Path
planted = Path("data/answer.txt")
bonus = float(planted.read_text()) if planted.is_file() else 0.0
print(f"score: {float(Path('value.txt').read_text()) + bonus}")
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_an_exposed_folder_the_checkout_lacks_cannot_be_planted(make_repo, mode: str) -> None:
    """``sandbox.expose: [data]`` with no data/ in the checkout: the folder is ignored in the
    workspace, so what an agent writes there is no change the harness sees; it is swept with
    every other ignored file before the evaluation, which never reads it."""
    root = attack_repo(
        make_repo,
        mode,
        AGENT_PLANTS_DATA,
        {"score.py": SCORE_READS_DATA},
        sandbox={"mode": mode, "expose": ["data"]},
    )

    summary = run(root, experiments=2)

    assert max(values(summary.experiments)) < 1000, statuses(summary)
