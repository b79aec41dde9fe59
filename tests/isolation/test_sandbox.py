"""The sandbox: the bwrap command line it builds, the allow-listed environment, and, where
bubblewrap runs, what code inside it can and cannot reach."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest

from isolation.kit import need
from overnight.config import SandboxConfig
from overnight.errors import UsageError
from overnight.isolation import sandbox as sandbox_module
from overnight.isolation.sandbox import Sandbox, allowed_environment

BWRAP = "/usr/bin/bwrap"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A checkout with its .git, a workspace under .overnight, frozen copies, some data."""
    repo = tmp_path / "repo"
    workspace = repo / ".overnight" / "worktrees" / "t" / "tree"
    store = repo / ".overnight" / "worktrees" / "t" / "frozen"
    for folder in (repo / ".git", workspace, store, repo / "data", tmp_path / "shared"):
        folder.mkdir(parents=True)
    (store / "score.py").write_text("print('score: 1')\n")
    return {"repo": repo, "workspace": workspace, "store": store, "shared": tmp_path / "shared"}


def confined(layout: dict[str, Path], **settings: object) -> Sandbox:
    """A sandbox as ``required`` makes it, whether or not bubblewrap runs here: only its
    command line is looked at."""
    config = SandboxConfig(mode="required", **settings)  # type: ignore[arg-type]
    frozen = {"score.py": layout["store"] / "score.py"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_module, "bubblewrap", lambda: BWRAP)
        return Sandbox.create(
            config, layout["repo"], layout["workspace"], layout["repo"] / ".git", frozen
        )


def pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    """(source, target) of each ``flag source target`` in ``argv``."""
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == flag]


def position(argv: list[str], *words: str) -> int:
    for i in range(len(argv) - len(words) + 1):
        if tuple(argv[i : i + len(words)]) == words:
            return i
    raise AssertionError(f"{' '.join(words)} not in the command line")


# -- the command line -----------------------------------------------------------------------------


def test_no_network_by_default_and_everything_unshared(layout) -> None:
    argv = confined(layout).argv("python3 score.py", layout["workspace"])

    assert argv[0] == BWRAP
    assert "--unshare-all" in argv and "--die-with-parent" in argv
    assert "--share-net" not in argv
    tail = ["--chdir", str(layout["workspace"]), "--", "/bin/sh", "-c", "python3 score.py"]
    assert argv[-6:] == tail


def test_network_only_when_the_config_allows_it(layout) -> None:
    argv = confined(layout, network=True).argv("python3 score.py", layout["workspace"])
    assert "--share-net" in argv


def test_the_host_is_read_only_and_the_private_places_are_empty(layout) -> None:
    argv = confined(layout).argv("true", layout["workspace"])
    root = position(argv, "--ro-bind", "/", "/")
    tmpfs = [argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"]

    assert root < position(argv, "--tmpfs", "/tmp")
    assert "/tmp" in tmpfs
    assert str(Path.home().resolve()) in tmpfs
    assert str(layout["repo"]) in tmpfs  # the checkout, its .git and .overnight: all hidden
    assert argv[position(argv, "--proc") + 1] == "/proc"


def test_the_workspace_is_writable_on_top_of_the_hidden_checkout(layout) -> None:
    argv = confined(layout).argv("true", layout["workspace"])
    workspace = str(layout["workspace"])

    assert pairs(argv, "--bind") == [(workspace, workspace)]
    assert position(argv, "--tmpfs", str(layout["repo"])) < position(argv, "--bind")


def test_frozen_files_are_bound_read_only_over_the_workspace(layout) -> None:
    argv = confined(layout).argv("true", layout["workspace"])
    frozen = (str(layout["store"] / "score.py"), str(layout["workspace"] / "score.py"))

    assert frozen in pairs(argv, "--ro-bind")
    assert position(argv, "--bind") < position(argv, "--ro-bind", *frozen)  # on top


def test_exposed_paths_are_read_only_and_missing_ones_left_out(layout) -> None:
    shared = str(layout["shared"])
    sandbox = confined(layout, expose=[shared, "data", "missing", "/no/such/place"])
    argv = sandbox.argv("true", layout["workspace"])
    binds = pairs(argv, "--ro-bind")

    assert (shared, shared) in binds
    data = (str(layout["repo"] / "data"), str(layout["workspace"] / "data"))
    assert data in binds
    assert position(argv, "--bind") < position(argv, "--ro-bind", *data)
    assert not any("missing" in s or "/no/such" in s for pair in binds for s in pair)
    assert "missing exposed paths: missing, /no/such/place" in sandbox.hint()
    assert "no network" in sandbox.hint()


def test_the_toolchain_inside_a_hidden_folder_is_shown_read_only(tmp_path: Path) -> None:
    shown = sandbox_module.toolchain((Path(sys.prefix).parent,))
    assert Path(sys.prefix) in shown or Path(sys.prefix).resolve() in shown


# -- choosing the sandbox --------------------------------------------------------------------------


def test_off_is_unconfined_and_says_so(layout) -> None:
    sandbox = Sandbox.create(
        SandboxConfig(mode="off"), layout["repo"], layout["workspace"], layout["repo"] / ".git"
    )
    assert not sandbox.confined
    assert sandbox.hidden == [layout["repo"].resolve()]
    assert "isolation: none (sandbox.mode is off)" in sandbox.describe()
    assert sandbox.hint() == ""


def test_required_without_bubblewrap_refuses_to_start(layout, monkeypatch) -> None:
    monkeypatch.setattr(sandbox_module, "bubblewrap", lambda: None)
    with pytest.raises(UsageError, match="bubblewrap is not usable"):
        Sandbox.create(
            SandboxConfig(mode="required"),
            layout["repo"],
            layout["workspace"],
            layout["repo"] / ".git",
        )
    auto = Sandbox.create(
        SandboxConfig(), layout["repo"], layout["workspace"], layout["repo"] / ".git"
    )
    assert not auto.confined and "bubblewrap is not available" in auto.describe()


def test_the_checkout_as_workspace_hides_git_and_state_inside(layout, monkeypatch) -> None:
    monkeypatch.setattr(sandbox_module, "bubblewrap", lambda: BWRAP)
    repo = layout["repo"].resolve()
    sandbox = Sandbox.create(SandboxConfig(), repo, repo, repo / ".git")
    assert sandbox.confined and sandbox.hidden == []
    assert sorted(sandbox.hidden_inside) == [repo / ".git", repo / ".overnight"]
    argv = sandbox.argv("true", repo)
    assert position(argv, "--bind", str(repo), str(repo)) < position(
        argv, "--tmpfs", str(repo / ".git")
    )


def test_a_git_directory_elsewhere_is_hidden_too(layout, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.git"
    elsewhere.mkdir()
    sandbox = Sandbox.create(
        SandboxConfig(mode="off"), layout["repo"], layout["workspace"], elsewhere
    )
    assert sandbox.hidden == [layout["repo"].resolve(), elsewhere.resolve()]


# -- the environment -------------------------------------------------------------------------------

HARNESS_ENV = {
    "PATH": "/usr/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C",
    "TERM": "xterm",
    "TZ": "UTC",
    "USER": "me",
    "LOGNAME": "me",
    "VIRTUAL_ENV": "/venv",
    "CUDA_VISIBLE_DEVICES": "0",
    "NVIDIA_VISIBLE_DEVICES": "all",
    "OVERNIGHT_SEED": "3",
    # anything else is left out, secrets with innocent names included
    "HOME": "/home/me",
    "OPENAI_API_KEY": "sk-1",
    "DATABASE_URL": "postgres://u:pw@db/prod",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/x",
    "SENTRY_DSN": "https://k@sentry/1",
    "PYTHONPATH": "/evil",
    "LD_PRELOAD": "/evil.so",
    "GIT_DIR": "/repo/.git",
    "SSH_AUTH_SOCK": "/tmp/agent.sock",
}


def test_the_environment_is_an_allow_list() -> None:
    kept = allowed_environment(source=HARNESS_ENV)
    assert sorted(kept) == sorted(
        [
            "PATH",
            "LANG",
            "LC_ALL",
            "TERM",
            "TZ",
            "USER",
            "LOGNAME",
            "VIRTUAL_ENV",
            "CUDA_VISIBLE_DEVICES",
            "NVIDIA_VISIBLE_DEVICES",
            "OVERNIGHT_SEED",
        ]
    )
    assert allowed_environment(["DATABASE_URL"], HARNESS_ENV)["DATABASE_URL"] == (
        "postgres://u:pw@db/prod"
    )


def test_an_unconfined_run_gets_only_the_allow_list(tmp_path: Path, monkeypatch) -> None:
    for name, value in HARNESS_ENV.items():
        if name not in ("PATH", "HOME"):
            monkeypatch.setenv(name, value)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    done = Sandbox.none(workspace).run(
        f"{sys.executable} -c 'import os; print(sorted(os.environ))'",
        tmp_path / "env.log",
        timeout=20,
        extra={"OVERNIGHT_SEED": "0"},
    )
    assert done.returncode == 0
    names = eval(done.tail())  # the list the command printed
    leaked = {"OPENAI_API_KEY", "DATABASE_URL", "SLACK_WEBHOOK_URL", "SENTRY_DSN"}
    assert not leaked & set(names)
    assert not {"PYTHONPATH", "LD_PRELOAD", "GIT_DIR", "SSH_AUTH_SOCK"} & set(names)
    assert {"HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "OVERNIGHT_SEED"} <= set(names)


# -- inside bubblewrap -----------------------------------------------------------------------------

PROBE = """\
import os, socket, sys
from pathlib import Path
repo, home, port = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
host, in_tmp, harness = sys.argv[4], sys.argv[5], sys.argv[6]
def can_write(path):
    try:
        with open(path, "a"):
            return 1
    except OSError:
        return 0
def can_connect():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return 1
    except OSError:
        return 0
print("git", int((repo / ".git").exists()))
print("checkout", int((repo / "secret.txt").exists()))
print("ledger", int((repo / ".overnight" / "ledger.db").exists()))
print("home", " ".join(sorted(os.listdir(home))) or "-")
print("tmp", int(os.path.exists(in_tmp)))
print("harness", int(os.path.exists(f"/proc/{harness}")))
print("frozen", can_write("score.py"))
print("workspace", can_write("new.txt"))
print("host", can_write(host))
print("net", can_connect())
"""


def toolchain_in(home: Path) -> list[Path]:
    found = sandbox_module.toolchain((home,))
    return [p for p in found if p.is_relative_to(home)]


def probe(layout, tmp_path: Path, **settings: object) -> dict[str, str]:
    need("required")
    repo = layout["repo"]
    (repo / "secret.txt").write_text("the user's\n")
    (repo / ".overnight" / "ledger.db").write_text("")
    (layout["workspace"] / "probe.py").write_text(PROBE)
    (layout["workspace"] / "score.py").write_text("the workspace's own copy\n")
    in_tmp = tmp_path / "in-tmp.txt"  # the host's /tmp
    in_tmp.write_text("")
    made = Sandbox.create(
        SandboxConfig(mode="required", **settings),  # type: ignore[arg-type]
        repo,
        layout["workspace"],
        repo / ".git",
        {"score.py": layout["store"] / "score.py"},
    )
    with socket.socket() as server, tempfile.NamedTemporaryFile(dir="/var/tmp") as host:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        command = (
            f"{sys.executable} probe.py {repo} {Path.home()} {port} {host.name} {in_tmp} "
            f"{os.getpid()}"
        )
        done = made.run(command, tmp_path / "probe.log", timeout=20)
    assert done.returncode == 0, done.tail()
    return dict(line.split(" ", 1) for line in done.tail().splitlines())


def test_inside_the_sandbox_nothing_of_the_user_is_reachable(layout, tmp_path: Path) -> None:
    seen = probe(layout, tmp_path)
    assert seen["git"] == seen["checkout"] == seen["ledger"] == "0"
    assert seen["tmp"] == "0" and seen["harness"] == "0"
    # an empty home, but for the interpreter's own folders when they live there (read-only)
    home = Path.home().resolve()
    shown = {p.relative_to(home).parts[0] for p in toolchain_in(home)}
    assert set(seen["home"].split()) - {"-"} <= shown
    assert seen["frozen"] == seen["host"] == "0"
    assert seen["workspace"] == "1"
    assert seen["net"] == "0"
    assert (layout["workspace"] / "new.txt").exists()


def test_the_network_can_be_allowed(layout, tmp_path: Path) -> None:
    assert probe(layout, tmp_path, network=True)["net"] == "1"


def test_a_tool_keeps_home_and_network_but_not_the_checkout(layout, tmp_path: Path) -> None:
    need("required")
    repo = layout["repo"]
    (repo / "secret.txt").write_text("the user's\n")
    agent_dir = repo / ".overnight" / "worktrees" / "t" / "agent"
    agent_dir.mkdir()
    made = Sandbox.create(SandboxConfig(mode="required"), repo, layout["workspace"], repo / ".git")
    checks = [
        f"test -e {repo / 'secret.txt'} && echo checkout",
        f"test -e {repo / '.git'} && echo git",
        f"test -e {layout['store'] / 'score.py'} && echo frozen-store",
        f"echo brief > {agent_dir / 'brief.md'} && echo agent-dir",
        "echo edit > value.txt && echo workspace",
        f"test -d {Path.home()} && echo home",
        f"test -e /proc/{os.getpid()} && echo harness",
    ]
    done = made.run_tool(
        "; ".join(checks),
        tmp_path / "tool.log",
        timeout=20,
        env=dict(os.environ),
        writable=[agent_dir],
    )
    lines = done.tail().splitlines()
    assert not {"checkout", "git", "frozen-store", "harness"} & set(lines)
    assert {"agent-dir", "workspace", "home"} <= set(lines)
    assert (agent_dir / "brief.md").read_text() == "brief\n"


def test_a_toolchain_in_tmp_is_still_there_in_the_private_tmp(
    layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A virtual environment made under /tmp (a CI job's clone) must not vanish under the
    sandbox's empty /tmp; the rest of the host's /tmp still does."""
    need("required")
    with (
        tempfile.TemporaryDirectory(dir="/tmp") as venv,
        tempfile.NamedTemporaryFile(dir="/tmp") as other,
    ):
        tool = Path(venv) / "bin" / "hello-from-tmp"
        tool.parent.mkdir()
        tool.write_text("#!/bin/sh\necho hello\n")
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")
        sandbox_module.toolchain.cache_clear()
        made = Sandbox.create(
            SandboxConfig(mode="required"),
            layout["repo"],
            layout["workspace"],
            layout["repo"] / ".git",
        )
        try:
            done = made.run(
                f"hello-from-tmp; test -e {other.name} && echo visible || echo hidden",
                tmp_path / "tool.log",
                timeout=20,
            )
        finally:
            sandbox_module.toolchain.cache_clear()

    assert done.returncode == 0, done.tail()
    assert done.tail().split() == ["hello", "hidden"]
