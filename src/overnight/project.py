"""A project: a repository with an ``overnight.yaml`` at its root, and where its state lives.

A config with ``layers`` describes several loops over one repository (skill activation and
output quality, say); a project is opened for one of them, and knows the others so that what
they measure stays out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from overnight.cache import OutputCache
from overnight.config import CONFIG_NAME, Config, load_layers
from overnight.config_file import check_layer
from overnight.errors import ConfigError
from overnight.evaluators import Evaluator, make_evaluator
from overnight.isolation.sandbox import Sandbox
from overnight.ledger import Ledger
from overnight.lock import RunLock
from overnight.scope import scope_for
from overnight.workspace import STATE_DIR, Workspace


@dataclass(frozen=True)
class Project:
    root: Path
    config: Config
    other_layers: tuple[Config, ...] = field(default=())

    @classmethod
    def open(cls, directory: Path | str = ".", layer: str | None = None) -> Project:
        """The project in ``directory``, for ``layer`` when its config has layers."""
        root = Path(directory).resolve()
        configs = load_layers(root / CONFIG_NAME)
        check_layer([name for name in configs if name is not None], layer)
        if layer is None:
            return cls(root, configs[None])
        others = tuple(config for name, config in configs.items() if name != layer)
        return cls(root, configs[layer], others)

    @staticmethod
    def layers(directory: Path | str = ".") -> list[str]:
        """The layer names of the config in ``directory``, in file order; empty without."""
        root = Path(directory).resolve()
        return [name for name in load_layers(root / CONFIG_NAME) if name is not None]

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def results_path(self) -> Path:
        """autoresearch's ``results.tsv``, one per layer."""
        layer = self.config.layer
        return self.state_dir / (f"results-{layer}.tsv" if layer else "results.tsv")

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def ledger(self) -> Ledger:
        return Ledger(self.state_dir / "ledger.db")

    def workspace(self) -> Workspace:
        return Workspace(self.root)

    def evaluator(
        self, use_cache: bool = True, root: Path | None = None, sandbox: Sandbox | None = None
    ) -> Evaluator:
        """An evaluator of the tree at ``root`` (the checkout by default), whose processes run in
        ``sandbox`` (by default the checkout's own: see ``checkout_sandbox``)."""
        cache = OutputCache(self.state_dir / "cache", enabled=use_cache)
        sandbox = sandbox or self.checkout_sandbox()
        return make_evaluator(self.config.evaluate, root or self.root, cache, sandbox)

    def checkout_sandbox(self) -> Sandbox:
        """For commands that measure the checkout itself (eval, prune, review --apply): writable,
        with its ``.git`` and ``.overnight/`` hidden and the frozen files read-only in place."""
        workspace = self.workspace()
        files = workspace.files()
        try:
            frozen = scope_for(self.config, files, other_layers=self.other_layers).frozen_files(
                files
            )
        except ConfigError:
            frozen = []
        return Sandbox.create(
            self.config.sandbox,
            self.root,
            self.root,
            workspace.git_dir,
            {path: self.root / path for path in frozen},
        )

    def lock(self) -> RunLock:
        return RunLock(self.state_dir / "lock")
