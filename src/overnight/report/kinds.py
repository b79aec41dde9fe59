"""How the pages group an experiment's status: one colour and one legend entry per kind."""

from __future__ import annotations

from overnight.records import Status

CATEGORIES = {
    "baseline": "baseline",
    "keep": "keep",
    "discard": "discard",
    "crash": "crash / timeout",
    "rejected": "rejected (violation, no-op, overfit…)",
}
_CATEGORY = {
    Status.BASELINE: "baseline",
    Status.KEEP: "keep",
    Status.DISCARD: "discard",
    Status.CRASH: "crash",
    Status.TIMEOUT: "crash",
    Status.STALE: "discard",  # won on a past state; its replay on the best is its own row
    Status.CONFLICT: "discard",
}


def category(status: Status) -> str:
    return _CATEGORY.get(status, "rejected")
