"""Starting a run, or resuming one, with git and the ledger made to agree first.

A new run refuses a tree whose editable or frozen files are uncommitted, creates the run branch
and backs up the user's other uncommitted files. A resume undoes whatever a killed harness left
half done (a commit not yet recorded, a change not yet reverted) and records it as
``interrupted`` so that numbering continues.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from overnight.agents import check_agent, make_agent
from overnight.errors import UsageError
from overnight.ledger import Ledger, RunRecord, Unfinished
from overnight.loop import Loop, Observer, SilentObserver
from overnight.policy import StopRules, make_policy
from overnight.process import kill_leftovers
from overnight.project import Project
from overnight.prune import DROPPED
from overnight.records import Experiment, Status
from overnight.review import tip_revert
from overnight.scope import Scope, scope_for
from overnight.workspace import Change, Workspace

BRANCH_PREFIX = "overnight/"


@dataclass(frozen=True)
class RunOptions:
    tag: str | None = None
    resume: bool = False
    experiments: int | None = None  # overrides budget.experiments (the run's total)
    hours: float | None = None  # overrides budget.hours, counted from this start
    use_cache: bool = True  # reuse cached outputs of unchanged cases


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
    ledger = project.ledger()
    observer = observer or SilentObserver()
    if options.resume:
        run = _resume(project, workspace, ledger, scope, options.tag, observer)
    else:
        run = _start(project, workspace, ledger, scope, options.tag)
    return Loop(
        project=project,
        run=run,
        workspace=workspace,
        ledger=ledger,
        scope=scope,
        agent=make_agent(config.agent, project.log_dir / run.tag, config.evaluate),
        evaluator=project.evaluator(options.use_cache),
        policy=make_policy(config.policy, config.evaluate.repeats),
        stop_rules=StopRules(budget, config.stop, config.evaluate.direction),
        backup_dir=project.state_dir / "backup" / run.tag,
        observer=observer,
    )


def _start(
    project: Project, workspace: Workspace, ledger: Ledger, scope: Scope, tag: str | None
) -> RunRecord:
    state = workspace.state()
    dirty = [p for p in state.entries if scope.is_editable(p) or scope.is_frozen(p)]
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
    workspace.create_branch(BRANCH_PREFIX + tag)
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
    backup = project.state_dir / "backup" / tag
    workspace.backup_user_files(state, (), backup)
    workspace.protect_internals(backup)
    return run


def _free_tag(workspace: Workspace, ledger: Ledger, stem: str) -> str:
    tag, suffix = stem, 1
    while workspace.branch_exists(BRANCH_PREFIX + tag) or ledger.run(tag=tag):
        suffix += 1
        tag = f"{stem}-{suffix}"
    return tag


def _resume(
    project: Project,
    workspace: Workspace,
    ledger: Ledger,
    scope: Scope,
    tag: str | None,
    observer: Observer,
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
    history = ledger.experiments(run.id)
    advancing = [e for e in history if e.status.advances]
    if history and not advancing:
        raise UsageError(f"run {run.tag!r} has no working baseline; fix it and start a new run")
    if any(a.verdict == DROPPED for a in ledger.ablations(run.id)):
        raise UsageError(
            f"run {run.tag!r} was pruned, so its branch is past its last keep: start a new run,"
            " which begins from the pruned state"
        )
    best = advancing[-1].commit if advancing else run.base_commit
    if revert := tip_revert(history, ledger.reverts(run.id)):  # a review took a keep out
        best = revert.commit
    assert best is not None
    backup = project.state_dir / "backup" / run.tag
    for pgid in kill_leftovers(project.log_dir / run.tag, project.root):
        observer.message(f"ended process group {pgid}, left running by the interrupted run")
    for name in workspace.protect_internals(backup):
        observer.message(f"put back {name}, changed during the interrupted experiment")
    if workspace.current_branch() != run.branch:
        dirty = [p for p in workspace.state().entries if scope.is_editable(p) or scope.is_frozen(p)]
        if dirty:
            raise UsageError(
                f"not on {run.branch} and editable files are uncommitted: {', '.join(dirty)}"
            )
        workspace.switch(run.branch)
    if workspace.head() != best:  # a keep committed but not recorded
        workspace.reset_branch(run.branch, best)
    unfinished = ledger.running(run.id)
    reverted = _revert_leftovers(workspace, scope, history, unfinished, best, run.branch, backup)
    if unfinished and unfinished.number == 0:
        ledger.forget(run.id, 0)  # the baseline is simply measured again
    elif unfinished:
        ledger.record(
            Experiment(
                run_id=run.id,
                number=unfinished.number,
                parent_commit=unfinished.parent_commit,
                status=Status.INTERRUPTED,
                changed_files=reverted,
                started_at=unfinished.started_at,
                reason="the harness stopped during this experiment; reverted on resume",
            )
        )
        observer.message(f"experiment {unfinished.number} was interrupted; reverted and recorded")
    ledger.reopen_run(run.id)
    return run


def _revert_leftovers(
    workspace: Workspace,
    scope: Scope,
    history: list[Experiment],
    unfinished: Unfinished | None,
    best: str,
    branch: str,
    backup: Path,
) -> list[str]:
    """Put back what a killed harness left changed: editable or frozen files, the last recorded
    experiment's files (recorded but not yet reverted), and files new since the unfinished
    experiment began. The user's other files are left alone."""
    state = workspace.state()
    suspects = {p for p in state.entries if scope.is_editable(p) or scope.is_frozen(p)}
    if history:
        suspects |= set(history[-1].changed_files) & set(state.entries)
    if unfinished:
        suspects |= set(state.entries) - set(unfinished.recovery.get("before", {}).get("paths", []))
    if suspects:
        workspace.restore(Change(sorted(suspects)), best, branch, backup=backup)
    return sorted(suspects)
