"""A lane: one worker's equipment, and the guarded steps that run on it.

A lane is a disposable workspace (``isolation/tree.py``), the sandbox its code runs in, an
evaluator of that workspace and, where code runs unconfined, a guard on ``.git``. Lanes share
nothing: with several workers each experiment in flight has its own, so one never sees another's
files, and the integrator alone writes the ledger and moves the run branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from overnight.engine.resources import Slot
from overnight.evaluators import Evaluator
from overnight.isolation.files import remove_tree
from overnight.isolation.guards import GitGuard, Snapshot, StatGuard
from overnight.isolation.sandbox import Sandbox
from overnight.isolation.tree import ExperimentTree
from overnight.project import Project
from overnight.records import Experiment, Score, Status
from overnight.scope import Scope
from overnight.workspace import Workspace

Measured = TypeVar("Measured")  # a Score, or a Gate: anything code under test produced


@dataclass
class Lane:
    worker: int
    tree: ExperimentTree
    sandbox: Sandbox
    evaluator: Evaluator
    scope: Scope
    git_guard: GitGuard | None = None  # watches .git where untrusted code runs unconfined
    views: dict[str, str] = field(default_factory=dict)  # held-out items removed, for agents
    editable_files: list[str] = field(default_factory=list)
    frozen_files: list[str] = field(default_factory=list)
    _listed: str | None = None  # the commit the file lists are of
    _measured: bool = False  # a measurement ran since the tree was last swept

    def prepare(self, commit: str) -> None:
        """The workspace reset to ``commit``, with the exposed data linked in. The file lists
        change only with the commit (a keep), so most experiments reuse them."""
        self.tree.reset(commit)
        self._measured = False
        self.sandbox.link_exposed()
        if self._listed != commit:
            files = self.tree.files()
            self.editable_files = self.scope.editable_files(files)
            self.frozen_files = self.scope.frozen_files(files)
            self._listed = commit

    def agent_dir(self) -> Path:
        """The folder the agent may write to, made again if an unconfined agent swapped it."""
        folder = self.tree.directory / "agent"
        if folder.is_symlink() or not folder.is_dir():
            remove_tree(folder)
            folder.mkdir(parents=True)
        return folder

    def write_views(self) -> None:
        """The agent's views of the suite and query files, held-out items removed."""
        for path, text in self.views.items():
            target = self.tree.path / path
            target.unlink(missing_ok=True)
            target.write_text(text, encoding="utf-8")

    def check_views(self) -> list[str]:
        """The agent's views must be as written; then the real files go back, so the change and
        the evaluation see those."""
        touched = [p for p, text in self.views.items() if _text_or_none(self.tree.path / p) != text]
        self.tree.put_back(list(self.views))
        return [f"changed frozen file {path}" for path in touched]

    def snapshot(self) -> Snapshot | None:
        return self.git_guard.snapshot() if self.git_guard else None

    def check_git(self, snapshot: Snapshot | None) -> list[str]:
        """Unconfined only: refs or git files changed since ``snapshot`` are undone and named."""
        if self.git_guard is None or snapshot is None:
            return []
        changed = self.git_guard.changes(snapshot, self.git_guard.snapshot())
        if not changed:
            return []
        failed = self.git_guard.undo(snapshot, changed)
        problem = f"changed git's own files or refs: {', '.join('.git/' + n for n in changed)}"
        if failed:
            problem += f" (could not be undone: {', '.join(failed)})"
        return [problem]

    def guarded_paths(self, changed: Sequence[str] = (), deleted: Sequence[str] = ()) -> list[str]:
        return sorted({*self.frozen_files, *self.editable_files, *changed} - set(deleted))

    def guarded(
        self, record: Experiment, measure: Callable[[], Measured], guarded: list[str]
    ) -> Measured | None:
        """One measurement, guarded: None (and a violation) if it changed a guarded file (even
        one it put back), or, unconfined, git's refs or files. Frozen files are bound read-only
        in the sandbox, so there the check can only confirm it. What an earlier measurement
        left in the workspace is swept first."""
        try:
            if self._measured:
                self.tree.clean()
        except OSError as exc:
            record.status = Status.VIOLATION
            record.reason = f"left the workspace in a state it cannot be swept in ({exc.strerror})"
            return None
        files = StatGuard.take(self.tree.path, guarded)
        snapshot = self.snapshot()
        self._measured = True
        score = measure()
        changed = files.changed()
        problems = self.check_git(snapshot)
        if changed or problems:
            record.status = Status.VIOLATION
            record.reason = "; ".join(
                [f"the evaluation changed guarded files at run time: {', '.join(changed)}"]
                * bool(changed)
                + problems
            )
            return None
        if isinstance(score, Score) and not score.ok and (hint := self.sandbox.hint()):
            return replace(score, log_tail=f"{score.log_tail}\n{hint}")  # type: ignore[return-value]
        return score


@dataclass(frozen=True)
class LaneSpec:
    """What every lane of a run is made from; a remote worker gets it to make its own."""

    project: Project
    scope: Scope
    tag: str  # the run's
    base_commit: str  # the run's first state: frozen files are exported from it
    views: dict[str, str]
    use_cache: bool
    unwatched: str | None  # a ref the git guard leaves to the integrator, who moves it


def make_lane(spec: LaneSpec, workspace: Workspace, slot: Slot) -> Lane:
    """One worker's workspace, sandbox and evaluator; the first worker's folder is the run's
    own, the others' sit beside it."""
    project = spec.project
    folder = project.state_dir / "worktrees" / spec.tag
    if slot.worker:
        folder = folder / f"worker-{slot.worker}"
    tree = ExperimentTree(workspace, folder)
    tree.reset(spec.base_commit)
    frozen = spec.scope.frozen_files(tree.files())
    sandbox = Sandbox.create(project.config.sandbox, project.root, tree.path, workspace.git_dir)
    sandbox = replace(sandbox, slot=slot)
    if sandbox.confined:  # frozen files are bound read-only from copies made from git objects
        store = tree.directory / "frozen"
        tree.export(spec.base_commit, frozen, store)
        sandbox = replace(sandbox, frozen={path: store / path for path in frozen})
    exposed = project.config.sandbox.expose
    tree.exclude(p for p in exposed if not Path(p).expanduser().is_absolute())
    return Lane(
        worker=slot.worker,
        tree=tree,
        sandbox=sandbox,
        evaluator=project.evaluator(spec.use_cache, tree.path, sandbox),
        scope=spec.scope,
        git_guard=None if sandbox.confined else GitGuard(workspace.git_dir, spec.unwatched),
        views=spec.views,
    )


def _text_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None
