"""Starting a run, or resuming one, with git and the ledger made to agree first.

A new run refuses a checkout whose editable or frozen files are uncommitted (the run starts from
its HEAD, and those edits would silently be left out) and creates the run branch at HEAD without
switching to it: the checkout is never touched while a run goes on. A resume checks that the
ledger's rows are the harness's own, moves the run branch back to the last recorded best (a keep
committed but not recorded), ends processes a killed harness left running, and records the
unfinished experiment as ``interrupted`` so that numbering continues; its workspace is simply
made again.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from overnight.agents import check_agent, make_agent
from overnight.config import BudgetConfig, CommandAgentConfig, RayExecutorConfig
from overnight.engine.cluster import RayExecutor, check_cluster
from overnight.engine.executor import Executor, ThreadExecutor
from overnight.engine.lane import LaneSpec, make_lane
from overnight.engine.resources import Slot, assign, cpu_cores, visible_gpus
from overnight.engine.step import description_file
from overnight.errors import UsageError, WorkspaceError
from overnight.isolation.files import remove_tree
from overnight.isolation.guards import GitGuard
from overnight.isolation.views import agent_views
from overnight.ledger import Ledger, RunRecord
from overnight.loop import Loop, Observer, SilentObserver
from overnight.policy import StopRules, make_policy
from overnight.process import kill_leftovers
from overnight.project import Project
from overnight.pruning import DROPPED
from overnight.records import Experiment, Status
from overnight.review import tip_revert
from overnight.scope import Scope, scope_for
from overnight.workspace import Workspace

BRANCH_PREFIX = "overnight/"


@dataclass(frozen=True)
class RunOptions:
    tag: str | None = None
    resume: bool = False
    experiments: int | None = None  # overrides budget.experiments (the run's total)
    hours: float | None = None  # overrides budget.hours, counted from this start
    use_cache: bool = True  # reuse cached outputs of unchanged cases
    workers: int | None = None  # overrides workers: experiments in flight at once


def open_loop(project: Project, options: RunOptions, observer: Observer | None = None) -> Loop:
    config = project.config
    budget = config.budget.model_copy(
        update={
            k: v
            for k, v in (("experiments", options.experiments), ("hours", options.hours))
            if v is not None
        }
    )
    workspace = project.workspace()
    workspace.exclude_state_dir()
    scope = scope_for(config, workspace.files(), other_layers=project.other_layers)
    check_agent(config.agent)
    workers = options.workers or config.workers
    if isinstance(config.executor, RayExecutorConfig):  # Ray places workers and their GPUs
        check_cluster(config.executor)
        slots = [Slot(worker=i) for i in range(workers)]
    else:  # before anything is made: too few GPUs leaves no branch and no run behind
        slots = assign(
            workers,
            config.resources,
            visible_gpus() if config.resources.gpus else [],
            cpu_cores() if config.resources.cpus else [],
        )
    ledger = project.ledger()
    observer = observer or SilentObserver()
    if options.resume:
        run = _resume(project, workspace, ledger, options.tag, observer)
        return _loop(project, workspace, ledger, scope, run, slots, budget, options, observer)
    run = _start(project, workspace, ledger, scope, options.tag)
    try:
        return _loop(project, workspace, ledger, scope, run, slots, budget, options, observer)
    except BaseException:
        undo_start(project, ledger, run)
        raise


def _loop(
    project: Project,
    workspace: Workspace,
    ledger: Ledger,
    scope: Scope,
    run: RunRecord,
    slots: list[Slot],
    budget: BudgetConfig,
    options: RunOptions,
    observer: Observer,
) -> Loop:
    """The loop of ``run``, its lanes made and its executor started."""
    config = project.config
    workers = len(slots)
    views = {}
    if isinstance(config.agent, CommandAgentConfig):  # agents that read files
        views = agent_views(
            [config, *project.other_layers], lambda path: workspace.show(run.base_commit, path)
        )
    # with several workers the integrator moves the run branch while others' windows are open,
    # so it checks that ref itself; one worker's guard watches it like any other
    unwatched = f"refs/heads/{run.branch}" if len(slots) > 1 else None
    spec = LaneSpec(project, scope, run.tag, run.base_commit, views, options.use_cache, unwatched)
    lanes = [make_lane(spec, workspace, slot) for slot in slots]
    observer.message(lanes[0].sandbox.describe())
    log_dir = project.log_dir / run.tag
    executor: Executor = ThreadExecutor(log_dir)
    if isinstance(config.executor, RayExecutorConfig):
        executor = RayExecutor(config.executor, spec, workers, config.resources.gpus, log_dir)
        observer.message(
            f"workers on the Ray cluster at {config.executor.address}: {workers},"
            " each in its own workspace and sandbox"
        )
    elif len(lanes) > 1:
        observer.message(f"{len(lanes)} workers, each in its own workspace and sandbox")
    return Loop(
        project=project,
        run=run,
        lanes=lanes,
        ledger=ledger,
        scope=scope,
        agent=make_agent(config.agent, project.log_dir / run.tag, config.evaluate),
        policy=make_policy(config.policy, config.evaluate.repeats),
        stop_rules=StopRules(budget, config.stop, config.evaluate.direction),
        observer=observer,
        executor=executor,
    )


def undo_start(project: Project, ledger: Ledger, run: RunRecord) -> None:
    """Take back a new run that failed before its first experiment was recorded: its branch
    (if still at its base), its ledger rows, its workspaces and logs. A failed start leaves
    nothing for ``status`` to show or ``--resume`` to find."""
    with contextlib.suppress(WorkspaceError):  # moved on meanwhile: then it is someone's work
        project.workspace().git("update-ref", "-d", f"refs/heads/{run.branch}", run.base_commit)
    ledger.forget_run(run.id)
    for folder in (project.state_dir / "worktrees" / run.tag, project.log_dir / run.tag):
        remove_tree(folder)


def _start(
    project: Project, workspace: Workspace, ledger: Ledger, scope: Scope, tag: str | None
) -> RunRecord:
    dirty = [p for p in workspace.changed_files() if scope.is_editable(p) or scope.is_frozen(p)]
    if dirty:
        raise UsageError(
            f"uncommitted changes in editable or frozen files: {', '.join(sorted(dirty))} "
            "(commit or stash them first)"
        )
    config = project.config
    day = time.strftime("%Y-%m-%d")
    tag = tag or _free_tag(workspace, ledger, f"{config.layer}-{day}" if config.layer else day)
    if workspace.branch_exists(BRANCH_PREFIX + tag) or ledger.run(tag=tag):
        raise UsageError(f"run {tag!r} exists already: use --resume, or another --tag")
    workspace.git("branch", "--no-track", BRANCH_PREFIX + tag, "HEAD")
    run = ledger.create_run(
        tag,
        BRANCH_PREFIX + tag,
        config.name,
        config.evaluate.metric,
        config.evaluate.direction,
        workspace.head(),
        config.model_dump(mode="json"),
        config.layer,
    )
    return run


def _free_tag(workspace: Workspace, ledger: Ledger, stem: str) -> str:
    tag, suffix = stem, 1
    while workspace.branch_exists(BRANCH_PREFIX + tag) or ledger.run(tag=tag):
        suffix += 1
        tag = f"{stem}-{suffix}"
    return tag


def _resume(
    project: Project, workspace: Workspace, ledger: Ledger, tag: str | None, observer: Observer
) -> RunRecord:
    layer = project.config.layer
    run = ledger.run(tag=tag, layer=layer)
    if run is None:
        raise UsageError(
            f"no run {tag!r} to resume"
            if tag
            else f"no run of layer {layer} to resume"
            if layer
            else "no run to resume in this project"
        )
    if run.layer != layer:
        raise UsageError(
            f"run {run.tag!r} improves layer {run.layer}: resume it with --layer {run.layer}"
            if run.layer
            else f"run {run.tag!r} was made without layers; start a new run for this layer"
        )
    ledger.verify(run.id)
    history = ledger.experiments(run.id)
    advancing = [e for e in history if e.status.advances]
    if history and not advancing:
        raise UsageError(f"run {run.tag!r} has no working baseline; fix it and start a new run")
    if any(a.verdict == DROPPED for a in ledger.ablations(run.id)):
        raise UsageError(
            f"run {run.tag!r} was pruned, so its branch is past its last keep: start a new run,"
            " which begins from the pruned state"
        )
    if (holder := workspace.checked_out_at(run.branch)) is not None:
        where = "your checkout is" if holder.resolve() == workspace.root else f"{holder} is"
        raise UsageError(
            f"{where} on {run.branch}, which the run moves: switch it to another branch "
            "first (git switch -), then resume"
        )
    best = advancing[-1].commit if advancing else run.base_commit
    if revert := tip_revert(history, ledger.reverts(run.id)):  # a review took a keep out
        best = revert.commit
    assert best is not None
    for pgid in kill_leftovers(project.log_dir / run.tag, project.root):
        observer.message(f"ended process group {pgid}, left running by the interrupted run")
    if workspace.branch_exists(run.branch):
        tip = workspace.git("rev-parse", f"refs/heads/{run.branch}").strip()
        if tip != best:  # a keep committed but not recorded, or the end's return to the best
            workspace.git("update-ref", f"refs/heads/{run.branch}", best, tip)
    else:
        workspace.git("update-ref", f"refs/heads/{run.branch}", best)
    for unfinished in ledger.unfinished(run.id):
        if unfinished.number == 0:
            ledger.forget(run.id, 0)  # the baseline is simply measured again
            continue
        if digests := unfinished.recovery.get("git"):
            own = f"refs/heads/{run.branch}"  # set back to the best above, whatever moved it
            now = GitGuard.digests(GitGuard(workspace.git_dir, unwatched=own).snapshot())
            if changed := GitGuard.changes(
                {k: v.encode() for k, v in digests.items() if k != own},
                {k: v.encode() for k, v in now.items()},
            ):
                observer.message(
                    "changed in .git during the interrupted experiment (check them): "
                    + ", ".join(changed)
                )
        described = description_file(project.log_dir / run.tag, unfinished.number)
        ledger.record(
            Experiment(
                run_id=run.id,
                number=unfinished.number,
                parent_commit=unfinished.parent_commit,
                status=Status.INTERRUPTED,
                description=described.read_text("utf-8") if described.is_file() else "",
                started_at=unfinished.started_at,
                worker=unfinished.worker,
                reason="the harness stopped during this experiment; its workspace was discarded",
            )
        )
        observer.message(f"experiment {unfinished.number} was interrupted and recorded")
    ledger.reopen_run(run.id)
    return run
