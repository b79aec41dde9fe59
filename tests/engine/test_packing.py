"""Long runs keep git healthy: the objects experiments leave behind are packed as the run goes,
by git's own ``gc --auto``."""

from __future__ import annotations

import sys

import overnight
import overnight.loop
from conftest import default_config, git

AGENT = """\
import os
from pathlib import Path
Path("value.txt").write_text(os.environ["OVERNIGHT_EXPERIMENT"] + "\\n")
"""
SCORE = """\
from pathlib import Path
print("score:", float(Path("value.txt").read_text()))
"""


def objects(root) -> dict[str, int]:
    """``git count-objects -v``: ``count`` is the loose objects, ``packs`` the packs."""
    lines = git(root, "count-objects", "-v").splitlines()
    return {key: int(value) for key, value in (line.split(": ") for line in lines)}


def test_loose_objects_are_packed_every_so_many_experiments(make_repo, monkeypatch) -> None:
    monkeypatch.setattr(overnight.loop, "PACK_EVERY", 4)
    monkeypatch.setattr(overnight.loop, "PACK_LOOSE", 1)  # any loose object is too many
    root = make_repo(
        {"value.txt": "0\n", "score.py": SCORE, "agent.py": AGENT},
        default_config(
            frozen=["score.py", "agent.py"],
            agent={"kind": "command", "command": f"{sys.executable} agent.py"},
            budget={"experiments": 8},
        ),
    )

    summary = overnight.run(root, tag="t")

    keeps = [e for e in summary.experiments if e.status.value == "keep"]
    assert len(keeps) == 8  # every experiment made objects: a tree and a commit
    counted = objects(root)
    assert counted["count"] < 8 and counted["packs"] >= 1
    assert git(root, "rev-parse", "overnight/t") == keeps[-1].commit  # nothing lost
    assert git(root, "fsck", "--no-dangling") == ""
