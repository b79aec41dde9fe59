"""Outputs of model calls and generators, kept under ``.overnight/cache`` by what determines them.

The key is a digest of everything an output depends on (the generator's config, the rendered
prompt or the tree, the case's variables, the repeat index), so re-evaluating an unchanged tree
makes no call at all. Failures are never stored: a case that errored is tried again next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


class OutputCache:
    def __init__(self, directory: Path, enabled: bool = True) -> None:
        self.directory = directory
        self.enabled = enabled

    @staticmethod
    def key(identity: dict[str, Any]) -> str:
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Write atomically, so a killed run never leaves half an entry behind."""
        if not self.enabled:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(value, out)
        os.replace(temporary, path)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"
