"""Workers on a Ray cluster: each is an actor with a repository, a lane and an agent of its own,
on whichever node Ray places it; the integrator, the ledger and the run branch stay here.

A step travels as ``(base as a git bundle, the record, the brief, the context)`` and comes back as
``(the record, the change, the changed files as a bundle, the logs)``. A bundle holds only the
objects the other side lacks, so after the first experiment a step carries a few kilobytes. The
registry of changes tried is an actor too, asked by every worker before it measures. A worker
whose node dies loses its step, which is recorded as interrupted; a new actor takes its place on
a node that is still there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from overnight.agents import make_agent
from overnight.config import RayExecutorConfig
from overnight.engine.executor import WorkerLost, in_thread
from overnight.engine.lane import LaneSpec, make_lane
from overnight.engine.resources import Slot
from overnight.engine.step import Interruptible, Registry, Step, StepRunner, TriedChanges
from overnight.errors import UsageError
from overnight.isolation.tree import TreeChange
from overnight.layers import owned_descriptions
from overnight.policy import make_policy
from overnight.process import PGID_SUFFIX, kill_logged
from overnight.project import Project
from overnight.records import Experiment
from overnight.workspace import GIT_ENV, Workspace

POLL_S = 0.05  # how often a waiting step looks whether the run is being abandoned
CONNECT_TIMEOUT_S = 5.0  # for the first look at the cluster's address
_BUNDLE_REF = "refs/overnight/shipped"  # the one ref a bundle names; never written anywhere


@dataclass(frozen=True)
class Shipment:
    """Commits sent between the integrator and a worker: a git bundle of what the receiver
    lacks, and the commit it brings."""

    commit: str
    bundle: bytes


def ship(git_dir: Path, commit: str, known: set[str]) -> Shipment:
    """``commit`` with every object it needs that ``known`` commits do not already bring.

    A bundle is a header (the commits the receiver must have, then the one it gets) and a pack;
    ``git bundle create`` wants a branch to name, so the header is written here and the pack
    comes from ``pack-objects``, which takes object names as they are."""
    revisions = f"{commit}\n" + "".join(f"^{k}\n" for k in sorted(known))
    pack = _git(git_dir, "pack-objects", "--revs", "--stdout", "-q", stdin=revisions.encode())
    header = "# v2 git bundle\n" + "".join(f"-{k}\n" for k in sorted(known))
    header += f"{commit} {_BUNDLE_REF}\n\n"
    return Shipment(commit, header.encode() + pack)


def receive(git_dir: Path, shipment: Shipment) -> None:
    """The shipment's objects into the repository at ``git_dir``; no ref moves."""
    with tempfile.NamedTemporaryFile(suffix=".bundle") as file:
        file.write(shipment.bundle)
        file.flush()
        _git(git_dir, "bundle", "unbundle", file.name)


def _git(git_dir: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", *args],
        env={**_plain_env(), "GIT_DIR": str(git_dir)},
        input=stdin,
        capture_output=True,
    )
    if done.returncode != 0:
        raise UsageError(f"git {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _plain_env() -> dict[str, str]:
    return {**os.environ, **GIT_ENV}


@dataclass(frozen=True)
class Outcome:
    """A step's result as it comes back from a worker."""

    record: Experiment
    change: TreeChange | None
    messages: list[str]
    candidate: Shipment | None  # the changed files, for the integrator to commit or merge
    logs: dict[str, bytes]  # the step's log files, by name


@dataclass(frozen=True)
class HistoryNews:
    """The rows of the agents' history a worker lacks: from row ``start`` on."""

    start: int
    rows: list[Experiment]

    def apply_to(self, history: list[Experiment]) -> None:
        assert self.start <= len(history), "news must follow the news sent before it"
        del history[self.start :]
        history.extend(self.rows)


class HistoryFeed:
    """What one worker holds of the agents' history, so that a step carries only the rows
    finished since that worker's last step rather than the whole run: the history only grows,
    one row per experiment."""

    def __init__(self) -> None:
        self.sent = 0

    def news(self, history: Sequence[Experiment]) -> HistoryNews:
        start = self.sent if self.sent <= len(history) else 0  # a shorter one: start again
        self.sent = len(history)
        return HistoryNews(start, list(history[start:]))


class RemoteWorker:
    """One worker's side: made on its node by Ray, it holds a clone of the repository (grown by
    bundles), a lane and an agent, and runs the steps it is sent."""

    def __init__(self, spec: LaneSpec, base: Shipment, worker: int, registry: Registry) -> None:
        import ray

        self.root = Path(tempfile.mkdtemp(prefix="overnight-worker-"))
        subprocess.run(["git", "init", "-q", str(self.root)], check=True, env=_plain_env())
        git_dir = self.root / ".git"
        receive(git_dir, base)
        _git(git_dir, "update-ref", "HEAD", base.commit)  # a repository with a commit
        config = spec.project.config
        project = Project(self.root, config, spec.project.other_layers)
        workspace = Workspace(self.root)
        workspace.exclude_state_dir()
        gpus = tuple(str(g) for g in ray.get_gpu_ids())  # Ray gives each worker its own
        here = replace(spec, project=project, unwatched=None)
        self.lane = make_lane(here, workspace, Slot(worker=worker, gpus=gpus))
        self.log_dir = project.log_dir / spec.tag
        self.runner = StepRunner(
            config=config,
            agent=make_agent(config.agent, self.log_dir, config.evaluate),
            policy=make_policy(config.policy, config.evaluate.repeats),
            scope=spec.scope,
            owned=owned_descriptions(config, spec.project.other_layers, self.lane.tree.path),
            log_dir=self.log_dir,
            tried=registry,
        )
        self.git_dir = git_dir
        self.history: list[Experiment] = []  # the agents' history, grown by each step's news

    def ready(self) -> bool:
        return True

    def attempt(self, base: Shipment, step: Step, brief: str, news: HistoryNews) -> Outcome:
        news.apply_to(self.history)
        receive(self.git_dir, base)
        lane = self.lane
        lane.prepare(base.commit)
        lane.write_views()
        brief_path = lane.agent_dir() / "brief.md"
        brief_path.write_text(brief, encoding="utf-8")
        assert step.context is not None
        context = replace(
            step.context,
            history=self.history,
            root=lane.tree.path,
            editable_files=lane.editable_files,
            brief_path=brief_path,
            sandbox=lane.sandbox,
        )
        here = replace(step, lane=lane, context=context, snapshot=lane.snapshot())
        self.runner.attempt(here, _never_interrupted)
        change = here.change
        candidate = None
        if change is not None and not change.empty:
            commit = lane.tree.git("commit-tree", change.tree, "-p", base.commit, "-m", "candidate")
            candidate = ship(self.git_dir, commit.strip(), {base.commit})
        return Outcome(here.record, change, here.messages, candidate, self._take_logs())

    def weigh_replay(self, merged: Shipment, base: str, step: Step) -> Outcome:
        receive(self.git_dir, merged)
        lane = self.lane
        lane.prepare(base)
        tree = _git(self.git_dir, "rev-parse", f"{merged.commit}^{{tree}}").decode().strip()
        change = lane.tree.reset_to_tree(tree, base)
        here = replace(step, lane=lane, change=change, snapshot=lane.snapshot())
        self.runner.weigh_replay(here, _never_interrupted)
        return Outcome(here.record, change, here.messages, None, self._take_logs())

    def abort(self) -> None:
        """End the processes the current step started (a second actor thread runs this)."""
        kill_logged(self.log_dir)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _take_logs(self) -> dict[str, bytes]:
        """The logs written since the last step, handed over and removed here."""
        logs: dict[str, bytes] = {}
        if not self.log_dir.is_dir():
            return logs
        for path in self.log_dir.iterdir():
            if path.is_file() and not path.name.endswith(PGID_SUFFIX):
                logs[path.name] = path.read_bytes()
                path.unlink()
        return logs


class RegistryActor:
    """The registry of changes tried, as an actor every worker asks."""

    def __init__(self) -> None:
        self.tried = TriedChanges()

    def seed(self, claimed: dict[str, int]) -> None:
        self.tried = TriedChanges(claimed)

    def claim(self, key: str, number: int) -> int:
        return self.tried.claim(key, number)

    def release(self, key: str, number: int) -> None:
        self.tried.release(key, number)


@dataclass(frozen=True)
class RemoteRegistry:
    handle: Any  # a RegistryActor's handle; it travels to every worker

    def claim(self, key: str, number: int) -> int:
        import ray

        return ray.get(self.handle.claim.remote(key, number))

    def release(self, key: str, number: int) -> None:
        import ray

        ray.get(self.handle.release.remote(key, number))


def _never_interrupted() -> contextlib.nullcontext[None]:
    """On a worker a step runs to its end unless the integrator ends its processes."""
    return contextlib.nullcontext()


class RayExecutor:
    """Steps on a Ray cluster, one actor per worker."""

    remote = True

    def __init__(
        self, settings: RayExecutorConfig, spec: LaneSpec, workers: int, gpus: int, log_dir: Path
    ) -> None:
        ray = _import_ray()
        try:
            ray.init(
                address=settings.address,
                namespace="overnight",
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(
                f"cannot reach the Ray cluster at {settings.address}: {exc}"
                " (start one with `ray start --head`, or set executor.address)"
            ) from None
        self.settings, self.spec, self.gpus, self.log_dir = settings, spec, gpus, log_dir
        self.git_dir = Workspace(spec.project.root).git_dir
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()  # the registry dies with this node only
        self._registry = (
            ray.remote(RegistryActor)
            .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, False))
            .remote()
        )
        self._worker_class = ray.remote(RemoteWorker)
        self._actors = [self._start_worker(worker) for worker in range(workers)]
        self._known = [{spec.base_commit} for _ in range(workers)]
        self._fed = [HistoryFeed() for _ in range(workers)]
        for worker, actor in enumerate(self._actors):
            if not self._started(actor):
                self.close()
                raise UsageError(
                    f"the Ray cluster has no room for {workers} workers with {self._needs()}"
                    f" each (worker {worker} did not start in {settings.start_timeout:g} s)"
                )

    def _start_worker(self, worker: int) -> Any:
        """A worker on whichever node has room, made from a bundle of the run's first state."""
        options: dict[str, Any] = {
            "num_cpus": self.settings.cpus,
            "num_gpus": self.gpus,
            "max_concurrency": 2,  # a step, and an abort beside it
        }
        if self.settings.resources:
            options["resources"] = dict(self.settings.resources)
        base = ship(self.git_dir, self.spec.base_commit, set())
        registry = RemoteRegistry(self._registry)
        return self._worker_class.options(**options).remote(self.spec, base, worker, registry)

    def _started(self, actor: Any) -> bool:
        """Whether ``actor`` is up (placed, its clone made) within the start timeout."""
        ray = _import_ray()
        ready, _ = ray.wait([actor.ready.remote()], timeout=self.settings.start_timeout)
        if not ready:
            return False
        try:
            return ray.get(ready[0])
        except Exception as exc:  # its constructor's failure, said in words
            raise UsageError(f"a Ray worker could not start: {exc}") from None

    def _needs(self) -> str:
        needs = [f"{self.settings.cpus:g} CPU", f"{self.gpus} GPU"]
        needs += [f"{amount:g} {name}" for name, amount in self.settings.resources.items()]
        return ", ".join(needs)

    def registry(self, claimed: dict[str, int]) -> Registry:
        ray = _import_ray()
        ray.get(self._registry.seed.remote(claimed))
        return RemoteRegistry(self._registry)

    def attempt(self, runner: StepRunner, step: Step, interruptible: Interruptible) -> Future[None]:
        worker = step.lane.worker
        base = step.record.parent_commit
        shipment = ship(self.git_dir, base, self._known[worker])
        assert step.context is not None
        path = step.context.brief_path
        brief = path.read_text(encoding="utf-8") if path.exists() else ""  # none for some agents
        history = step.context.history
        context = replace(step.context, sandbox=None, history=())
        travelling = replace(step, context=context, snapshot=None)
        self._known[worker].add(base)

        def call() -> Any:  # the news is taken only when it is sent
            news = self._fed[worker].news(history)
            return self._actors[worker].attempt.remote(shipment, _portable(travelling), brief, news)

        return in_thread(self._await, step, call, interruptible)

    def weigh_replay(
        self, runner: StepRunner, step: Step, interruptible: Interruptible
    ) -> Future[None]:
        worker = step.lane.worker
        base = step.record.parent_commit
        assert step.change is not None
        merged = step.lane.tree.git("commit-tree", step.change.tree, "-p", base, "-m", "replay")
        shipment = ship(self.git_dir, merged.strip(), self._known[worker])
        self._known[worker].add(base)

        def call() -> Any:
            return self._actors[worker].weigh_replay.remote(shipment, base, _portable(step))

        return in_thread(self._await, step, call, interruptible)

    def _await(self, step: Step, call: Any, interruptible: Interruptible) -> None:
        """The worker's outcome, merged into ``step``: its record, its change (objects
        received), its logs written where this run keeps them. A lost worker is replaced."""
        ray = _import_ray()
        from ray.exceptions import RayActorError

        ref = call()
        while True:
            with interruptible():
                pass
            ready, _ = ray.wait([ref], timeout=POLL_S)
            if ready:
                break
        try:
            outcome: Outcome = ray.get(ref)
        except RayActorError as exc:
            raise self._replace(step.lane.worker, exc) from None
        if outcome.candidate is not None:
            receive(self.git_dir, outcome.candidate)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, data in outcome.logs.items():
            (self.log_dir / name).write_bytes(data)
        record = outcome.record
        if record.log_path:
            record.log_path = (self.log_dir / Path(record.log_path).name).as_posix()
        vars(step.record).update(vars(record))
        step.change = outcome.change
        step.messages += outcome.messages

    def _replace(self, worker: int, cause: Exception) -> WorkerLost:
        """A new actor for a lost worker, on a node that is still there; the worker is dropped
        when none has room."""
        what = f"its worker was lost ({type(cause).__name__}: its node died or it crashed)"
        self._actors[worker] = self._start_worker(worker)
        self._known[worker] = {self.spec.base_commit}
        self._fed[worker] = HistoryFeed()
        try:
            started = self._started(self._actors[worker])
        except UsageError:
            started = False
        if started:
            return WorkerLost(f"{what}; a new worker took its place", replaced=True)
        return WorkerLost(f"{what}; no node has room for a new one", replaced=False)

    def abandon(self) -> None:
        ray = _import_ray()
        calls = [actor.abort.remote() for actor in self._actors]
        ray.wait(calls, num_returns=len(calls), timeout=2.0)
        kill_logged(self.log_dir)

    def close(self) -> None:
        ray = _import_ray()
        for actor in self._actors:
            with contextlib.suppress(Exception):  # a worker already gone has nothing to clean
                ray.get(actor.close.remote(), timeout=10)
            ray.kill(actor)
        ray.kill(self._registry)
        ray.shutdown()


def check_cluster(settings: RayExecutorConfig) -> None:
    """Ray installed and the cluster answering, before a run is made that could not go on."""
    _import_ray()
    _check_reachable(settings.address)


def _check_reachable(address: str) -> None:
    """Ray retries an address that does not answer for minutes, in log lines; a ``host:port``
    that refuses a connection is said at once."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UsageError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): start it with"
            " `ray start --head`, or set executor.address"
        ) from None


def _portable(step: Step) -> Step:
    """The step as it travels: its lane stays here (the worker has its own)."""
    return replace(step, lane=None)  # type: ignore[arg-type]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError('executor kind ray needs Ray: pip install "overnight[ray]"') from None
    return ray
